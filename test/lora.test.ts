// LoRA adapters (native/llama/lora, adapter_io): forward against merged weights computed with plain tensor ops,
// PEFT's on-disk format both ways, merge, the adapter switch, training only the adapter, and clear errors for bad
// adapters.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, Tensor, manualSeed, noGrad, tensor } from '../src';
import { AdamW } from '../src/nn/optim';
import { optimizeSaliency } from '../src/atman';
import { resolveConfig } from '../src/config';
import { policyUpdate } from '../src/train/policy-update';
import { disposeReference, readReference, referenceLogits } from './family_reference';
import { expectClose } from './helpers';
import { greedyByForward, tinyLlamaConfig, writeTinyLlama } from './llama_helpers';
import { ALL_TARGETS, loraKey, mergeIntoReference, targetShape, writePeftAdapter } from './lora_helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-lora-'));
const baseDir = writeTinyLlama(path.join(tmp, 'base'), { layers: 2 });
const qwenDir = writeTinyLlama(path.join(tmp, 'qwen2'), { family: 'qwen2', layers: 2, seed: 3 });
const qwen3Dir = writeTinyLlama(path.join(tmp, 'qwen3'), { family: 'qwen3', layers: 2, seed: 4, headDim: 32 });
const cfgOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>;
const ids = tensor([[5, 17, 42, 3, 99, 250, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8]], { dtype: 'int64' });
const idsArray = ids.toArray() as number[][];

const logitsOf = (m: LlamaModel) => noGrad(() => m.forward(ids));
const disposeAll = (t: Record<string, Tensor>) => Object.values(t).forEach((x) => x.dispose());

afterAll(() => {
  ids.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('addLora', () => {
  test('at init (B = 0) the model computes exactly what the base does; A is kaiming-uniform, B zero, PEFT names', async () => {
    const m = await LlamaModel.load(baseDir);
    const before = logitsOf(m);
    expect(m.hasAdapter).toBe(false);
    manualSeed(1);
    m.addLora({ r: 4 });
    expect(m.adapter).toEqual({ r: 4, alpha: 8, dropout: 0, targetModules: ALL_TARGETS, enabled: true });
    expect(() => m.save(path.join(tmp, 'refused'))).toThrow(/has a LoRA adapter.*saveAdapter\(dir\).*mergeAdapter\(\) first/);
    expect(fs.existsSync(path.join(tmp, 'refused'))).toBe(false);
    const after = logitsOf(m);
    expect(after.toArray()).toEqual(before.toArray());
    const named = m.adapterParameters();
    expect(named).toHaveLength(2 * 7 * 2);
    const c = cfgOf(baseDir);
    for (const [name, t] of named) {
      const [, layer, , target, ab] = /layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$/.exec(name)!;
      expect(name).toBe(loraKey(Number(layer), target, ab as 'A' | 'B'));
      const [out, inF] = targetShape(c, target);
      expect(t.shape).toEqual(ab === 'A' ? [4, inF] : [out, 4]);
      expect(t.dtype).toBe('float32');
      if (ab === 'B') expect(t.abs().max().item()).toBe(0);
      else {
        expect(t.abs().max().item()).toBeLessThanOrEqual(1 / Math.sqrt(inF));
        expect(t.abs().max().item()).toBeGreaterThan(0.5 / Math.sqrt(inF));
      }
    }
    expect(m.namedParameters().slice(-named.length).map(([n]) => n)).toEqual(named.map(([n]) => n));
    for (const t of [before, after, ...named.map(([, t]) => t)]) t.dispose();
    m.dispose();
  });

  test('options are checked with errors that name them', async () => {
    const m = await LlamaModel.load(baseDir);
    expect(() => m.addLora({ r: 0 })).toThrow(/LoRA r must be a positive integer/);
    expect(() => m.addLora({ r: 4, alpha: -1 })).toThrow(/alpha must be a positive number/);
    expect(() => m.addLora({ r: 4, dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => m.addLora({ r: 4, targetModules: ['lm_head' as 'q_proj'] })).toThrow(/"lm_head" is not supported; targets: q_proj/);
    expect(() => m.addLora({ r: 4, targetModules: [] })).toThrow(/non-empty list/);
    expect(() => m.addLora({ rank: 4 } as never)).toThrow(/unknown option 'rank'/);
    expect(() => m.mergeAdapter()).toThrow(/has no LoRA adapter/);
    expect(() => m.saveAdapter(path.join(tmp, 'none'))).toThrow(/has no LoRA adapter/);
    expect(m.hasAdapter).toBe(false);
    m.dispose();
  });
});

describe('forward with an adapter equals the merged weights W + (alpha / r) B A computed with plain tensor ops', () => {
  test.each([
    ['llama, every target', baseDir, ALL_TARGETS],
    ['llama, q and v only', baseDir, ['q_proj', 'v_proj']],
    ['qwen2 (q/k/v biases), MLP only', qwenDir, ['gate_proj', 'up_proj', 'down_proj']],
    ['qwen3 (q/k head norms, head_dim 32 != hidden / heads), every target', qwen3Dir, ALL_TARGETS],
  ])('%s', async (_name, dir, targets) => {
    const adapterDir = path.join(tmp, `adapter-${path.basename(dir)}-${targets.length}`);
    const r = 3, alpha = 5;
    const tensors = writePeftAdapter(adapterDir, cfgOf(dir), { r, alpha, targets });
    const m = await LlamaModel.load(dir, { dtype: 'float64' });
    await m.loadAdapter(adapterDir);
    expect(m.adapter).toEqual({ r, alpha, dropout: 0, targetModules: targets, enabled: true });
    const ref = readReference(dir);
    const base = referenceLogits(ref, idsArray);
    mergeIntoReference(ref, tensors, alpha / r);
    const expected = referenceLogits(ref, idsArray);
    const got = logitsOf(m);
    expectClose(got, expected, 1e-6, 1e-6); // rotary angles in float32, as transformers (the reference: float64)
    // the adapter really acts
    expect(got.sub(base).abs().max().item()).toBeGreaterThan(1e-3);
    // disabled: the base alone (GRPO's KL reference), and enabled again afterwards
    const disabled = m.withAdapterDisabled(() => logitsOf(m));
    expect(m.adapter!.enabled).toBe(true);
    expectClose(disabled, base, 1e-6, 1e-6);
    // greedy generation (KV cache + decoding step) runs the adapter too
    const prompt = idsArray[0].slice(0, 4);
    const gen = await m.generate([prompt], { maxNewTokens: 6, temperature: 0 });
    expect(gen.tokens[0]).toEqual(greedyByForward(m, prompt, 6));
    // ... and so does decoding on a merged copy of the projections (ATMAN_LORA_DECODE=merge)
    process.env.ATMAN_LORA_DECODE = 'merge';
    try {
      expect((await m.generate([prompt], { maxNewTokens: 6, temperature: 0 })).tokens[0]).toEqual(gen.tokens[0]);
    } finally {
      delete process.env.ATMAN_LORA_DECODE;
    }
    expect(m.hasAdapter).toBe(true);
    // an async fn keeps the adapter off until it settles: generation of the base
    const baseModel = await LlamaModel.load(dir, { dtype: 'float64' });
    const baseGen = await baseModel.generate([prompt], { maxNewTokens: 6, temperature: 0 });
    const offGen = await m.withAdapterDisabled(() => m.generate([prompt], { maxNewTokens: 6, temperature: 0 }));
    expect(offGen.tokens).toEqual(baseGen.tokens);
    expect(m.adapter!.enabled).toBe(true);
    baseModel.dispose();
    for (const t of [base, expected, got, disabled]) t.dispose();
    disposeReference(ref);
    disposeAll(tensors);
    m.dispose();
  });
});

describe("PEFT's format", () => {
  test('save -> load round trip is exact; the files hold PEFT names and config fields', async () => {
    const m = await LlamaModel.load(baseDir);
    const src = path.join(tmp, 'peft-src');
    const tensors = writePeftAdapter(src, cfgOf(baseDir), { r: 2, alpha: 16, targets: ['q_proj', 'o_proj', 'down_proj'] });
    await m.loadAdapter(src);
    const out = path.join(tmp, 'saved', 'adapter');
    m.saveAdapter(out);
    expect(fs.readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA', r: 2, lora_alpha: 16, lora_dropout: 0, bias: 'none', task_type: 'CAUSAL_LM', fan_in_fan_out: false,
      use_rslora: false, use_dora: false, modules_to_save: null, layers_to_transform: null, base_model_name_or_path: 'tiny',
    });
    expect([...config.target_modules].sort()).toEqual(['down_proj', 'o_proj', 'q_proj']);
    const { load } = await import('../src');
    const saved = load(path.join(out, 'adapter_model.safetensors'));
    expect(Object.keys(saved.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(saved.tensors)) expect(t.toArray()).toEqual(tensors[k].toArray());
    const m2 = await LlamaModel.load(baseDir);
    await m2.loadAdapter(out);
    const a = logitsOf(m), b = logitsOf(m2);
    expect(b.toArray()).toEqual(a.toArray());
    for (const t of [a, b, ...Object.values(saved.tensors)]) t.dispose();
    disposeAll(tensors);
    m.dispose();
    m2.dispose();
  });

  test('an adapter trained here (addLora) saves and loads with its options', async () => {
    const m = await LlamaModel.load(baseDir);
    m.addLora({ r: 8, alpha: 4, dropout: 0.1, targetModules: ['k_proj', 'up_proj'], baseModel: 'meta-llama/x' });
    const out = path.join(tmp, 'fresh-adapter');
    m.saveAdapter(out);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ r: 8, lora_alpha: 4, lora_dropout: 0.1, base_model_name_or_path: 'meta-llama/x', target_modules: ['k_proj', 'up_proj'] });
    const m2 = await LlamaModel.load(baseDir);
    await m2.loadAdapter(out);
    expect(m2.adapter).toEqual({ r: 8, alpha: 4, dropout: 0.1, targetModules: ['k_proj', 'up_proj'], enabled: true });
    const a = m.adapterParameters(), b = m2.adapterParameters();
    expect(b.map(([n]) => n)).toEqual(a.map(([n]) => n));
    a.forEach(([, t], i) => expect(b[i][1].toArray()).toEqual(t.toArray()));
    for (const [, t] of [...a, ...b]) t.dispose();
    m.dispose();
    m2.dispose();
  });

  test('"all-linear" target_modules and a bfloat16 adapter file load (as float32)', async () => {
    const dir = path.join(tmp, 'all-linear');
    const tensors = writePeftAdapter(dir, cfgOf(baseDir), {
      r: 2, alpha: 2, edit: (t, c) => {
        c.target_modules = 'all-linear';
        for (const k of Object.keys(t)) t[k] = t[k].bfloat16();
      },
    });
    const m = await LlamaModel.load(baseDir);
    await m.loadAdapter(dir);
    expect(m.adapter!.targetModules).toEqual(ALL_TARGETS);
    const p = m.adapterParameters();
    expect(p.every(([, t]) => t.dtype === 'float32')).toBe(true);
    for (const [, t] of p) t.dispose();
    disposeAll(tensors);
    m.dispose();
  });

  const bad: [string, (dir: string) => void, RegExp][] = [
    ['missing directory', (d) => fs.rmSync(d, { recursive: true }), /is not a directory/],
    ['missing safetensors', (d) => fs.rmSync(path.join(d, 'adapter_model.safetensors')), /adapter_model\.safetensors is missing/],
    ['missing config', (d) => fs.rmSync(path.join(d, 'adapter_config.json')), /adapter_config\.json is missing/],
    ['config not JSON', (d) => fs.writeFileSync(path.join(d, 'adapter_config.json'), '{r: 4'), /not valid JSON/],
    ['DoRA', (d) => editConfig(d, { use_dora: true }), /DoRA \(use_dora\) is not supported/],
    ['rsLoRA', (d) => editConfig(d, { use_rslora: true }), /use_rslora.*is not supported/],
    ['other peft type', (d) => editConfig(d, { peft_type: 'IA3' }), /peft_type must be "LORA"/],
    ['bias', (d) => editConfig(d, { bias: 'all' }), /bias must be "none"/],
    ['modules_to_save', (d) => editConfig(d, { modules_to_save: ['lm_head'] }), /modules_to_save .* is not supported/],
    ['unknown target', (d) => editConfig(d, { target_modules: ['q_proj', 'embed_tokens'] }), /target module "embed_tokens" is not supported: atman-native adapts q_proj/],
    ['regex target', (d) => editConfig(d, { target_modules: '.*proj' }), /regular expression/],
    ['r not an integer', (d) => editConfig(d, { r: 2.5 }), /r must be a positive integer/],
    ['tensor shape', (d) => editTensors(d, (t) => {
      t[loraKey(1, 'v_proj', 'B')] = tensor([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]]);
    }), /'base_model\.model\.model\.layers\.1\.self_attn\.v_proj\.lora_B\.weight' has shape \[3, 2\], expected \[32, 2\]/],
    ['rank differs from r', (d) => editConfig(d, { r: 3 }), /has shape \[2, 64\], expected \[3, 64\]/],
    ['unknown tensor', (d) => editTensors(d, (t) => (t['base_model.model.lm_head.lora_A.weight'] = tensor([[1]]))), /unknown tensor 'base_model\.model\.lm_head\.lora_A\.weight'/],
    ['tensor of an untargeted module', (d) => editConfig(d, { target_modules: ['q_proj'] }), /adapts \w+_proj, which adapter_config\.json's target_modules does not name/],
    ['missing tensor', (d) => editTensors(d, (t) => delete t[loraKey(0, 'up_proj', 'A')]), /'base_model\.model\.model\.layers\.0\.mlp\.up_proj\.lora_A\.weight' is missing/],
    ['layer beyond the model', (d) => editTensors(d, (t) => (t[loraKey(5, 'q_proj', 'A')] = tensor([[1]]))), /for layer 5, the model has 2/],
    ['integer tensor', (d) => editTensors(d, (t) => (t[loraKey(0, 'q_proj', 'A')] = tensor([[1]], { dtype: 'int64' }))), /is int64, not floating point/],
  ];
  function editConfig(d: string, changes: Record<string, unknown>) {
    const file = path.join(d, 'adapter_config.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...changes }));
  }
  function editTensors(d: string, edit: (t: Record<string, Tensor>) => void) {
    writePeftAdapterSync(d, edit);
  }
  function writePeftAdapterSync(d: string, edit: (t: Record<string, Tensor>) => void) {
    disposeAll(writePeftAdapter(d, cfgOf(baseDir), { r: 2, alpha: 4, edit: (t) => edit(t) }));
  }

  test.each(bad)('a bad adapter (%s) rejects with an Error naming the cause; the model is unchanged', async (_name, spoil, message) => {
    const dir = path.join(tmp, `bad-${_name.replace(/\W+/g, '-')}`);
    disposeAll(writePeftAdapter(dir, cfgOf(baseDir), { r: 2, alpha: 4 }));
    spoil(dir);
    const m = await LlamaModel.load(baseDir);
    await expect(m.loadAdapter(dir)).rejects.toThrow(message);
    expect(m.hasAdapter).toBe(false);
    m.dispose();
  });
});

describe('mergeAdapter', () => {
  test('merged forward equals the unmerged one; the merged model saves and loads as a plain model', async () => {
    const adapterDir = path.join(tmp, 'merge-adapter');
    const tensors = writePeftAdapter(adapterDir, cfgOf(baseDir), { r: 4, alpha: 8 });
    for (const dtype of ['float64', 'float32'] as const) {
      const m = await LlamaModel.load(baseDir, { dtype });
      await m.loadAdapter(adapterDir);
      const unmerged = logitsOf(m);
      m.mergeAdapter();
      expect(m.hasAdapter).toBe(false);
      expect(m.adapterParameters()).toEqual([]);
      const merged = logitsOf(m);
      expectClose(merged, unmerged, dtype === 'float64' ? 1e-10 : 2e-5, dtype === 'float64' ? 1e-10 : 2e-5);
      const out = path.join(tmp, `merged-${dtype}`);
      m.save(out);
      const again = await LlamaModel.load(out);
      const reloaded = logitsOf(again);
      expect(reloaded.toArray()).toEqual(merged.toArray());
      for (const t of [unmerged, merged, reloaded]) t.dispose();
      m.dispose();
      again.dispose();
    }
    disposeAll(tensors);
  });
});

describe('training the adapter', () => {
  test('with an adapter only A and B are trainable; gradients reach them and not the base', async () => {
    const m = await LlamaModel.load(baseDir);
    m.requiresGrad_(true);
    manualSeed(0);
    m.addLora({ r: 2 });
    const base = m.namedParameters().filter(([n]) => !n.includes('lora_'));
    const trainable = m.trainableParameters();
    expect(trainable).toHaveLength(2 * 7 * 2);
    expect(base.every(([, t]) => !t.requiresGrad)).toBe(true);
    expect(trainable.every((t) => t.requiresGrad)).toBe(true);
    const loss = m.tokenLogprobs(ids).sum().neg();
    loss.backward();
    expect(base.every(([, t]) => t.grad === null)).toBe(true);
    const gradB = m.adapterParameters().filter(([n]) => n.includes('lora_B')).map(([, t]) => t.grad!.abs().max().item() as number);
    expect(Math.min(...gradB)).toBeGreaterThan(0);
    // requiresGrad_(false) freezes the adapter too (mask optimization runs on base + adapter, all frozen)
    m.requiresGrad_(false);
    expect(m.parameters().every((t) => !t.requiresGrad)).toBe(true);
    for (const t of [loss, ...trainable, ...base.map(([, t]) => t)]) t.dispose();
    m.dispose();
  });

  test('the mask optimization runs on base + adapter with everything frozen (no gradient reaches A or B), then restores', async () => {
    const adapterDir = path.join(tmp, 'mask-adapter');
    const tensors = writePeftAdapter(adapterDir, cfgOf(baseDir), { r: 2, alpha: 4 });
    const m = await LlamaModel.load(baseDir);
    await m.loadAdapter(adapterDir);
    m.requiresGrad_(true);
    const example = { ids: [5, 17, 42, 3, 99, 250, 7, 8, 9, 10], cotStart: 3, cotEnd: 8, answerStart: 8, answerEnd: 10 };
    const withAdapter = await optimizeSaliency(m, [example], { steps: 3 });
    const base = await m.withAdapterDisabled(() => optimizeSaliency(m, [example], { steps: 3 }));
    expect(withAdapter[0].logpFull).not.toBeCloseTo(base[0].logpFull, 3); // the adapter took part
    const adapter = m.adapterParameters();
    expect(adapter.every(([, t]) => t.requiresGrad && t.grad === null)).toBe(true);
    expect(m.namedParameters().filter(([n]) => !n.includes('lora_')).every(([, t]) => !t.requiresGrad)).toBe(true);
    for (const [, t] of adapter) t.dispose();
    disposeAll(tensors);
    m.dispose();
  });

  test('a bfloat16 base with a float32 adapter: forward close to float32, gradients float32 on A and B only', async () => {
    const adapterDir = path.join(tmp, 'bf16-adapter');
    const tensors = writePeftAdapter(adapterDir, cfgOf(baseDir), { r: 2, alpha: 4 });
    const f32 = await LlamaModel.load(baseDir);
    await f32.loadAdapter(adapterDir);
    const bf16 = await LlamaModel.load(baseDir, { dtype: 'bfloat16' });
    await bf16.loadAdapter(adapterDir);
    const a = logitsOf(f32), b = logitsOf(bf16);
    expect(b.dtype).toBe('bfloat16');
    expectClose(b.float(), a, 0.1, 0.05);
    bf16.requiresGrad_(true);
    const loss = bf16.tokenLogprobs(ids).sum().neg();
    loss.backward();
    const p = bf16.adapterParameters();
    expect(p.every(([, t]) => t.dtype === 'float32' && t.grad !== null && t.grad.dtype === 'float32')).toBe(true);
    expect(p.every(([, t]) => Number.isFinite(t.grad!.abs().max().item()))).toBe(true);
    for (const t of [a, b, loss, ...p.map(([, t]) => t)]) t.dispose();
    disposeAll(tensors);
    f32.dispose();
    bf16.dispose();
  });

  test('activation checkpointing gives the same gradients, dropout included (the same masks are redrawn)', async () => {
    const adapterDir = path.join(tmp, 'ckpt-adapter');
    const tensors = writePeftAdapter(adapterDir, cfgOf(baseDir), { r: 2, alpha: 4, edit: (_t, c) => (c.lora_dropout = 0.3) });
    const grads = async (checkpointing: boolean, seed: number) => {
      const m = await LlamaModel.load(baseDir);
      await m.loadAdapter(adapterDir);
      m.requiresGrad_(true).setGradientCheckpointing(checkpointing);
      manualSeed(seed);
      const loss = m.tokenLogprobs(ids).sum().neg();
      loss.backward();
      const out = m.adapterParameters().map(([, t]) => t.grad!.toArray());
      loss.dispose();
      m.dispose();
      return out;
    };
    const plain = await grads(false, 11), checkpointed = await grads(true, 11), other = await grads(false, 12);
    checkpointed.forEach((g, i) => expectClose(g as number[][], plain[i] as number[][], 1e-6, 1e-5));
    expect(other).not.toEqual(plain); // dropout acts while training
    // and not outside training: a no-grad forward is deterministic and ignores dropout
    const m = await LlamaModel.load(baseDir);
    await m.loadAdapter(adapterDir);
    m.requiresGrad_(true);
    const a = logitsOf(m), b = logitsOf(m);
    expect(a.toArray()).toEqual(b.toArray());
    for (const t of [a, b]) t.dispose();
    m.dispose();
    disposeAll(tensors);
  });

  test('a GRPO update changes only the adapter (base bit-identical); the KL reference is the base without the adapter', async () => {
    const m = await LlamaModel.load(baseDir);
    manualSeed(0);
    m.addLora({ r: 2 });
    m.requiresGrad_(true);
    const params = m.trainableParameters();
    const snapshot = (named: [string, Tensor][]) => new Map(named.map(([n, t]) => [n, t.toArray()]));
    const baseBefore = snapshot(m.namedParameters().filter(([n]) => !n.includes('lora_')));
    const adapterBefore = snapshot(m.adapterParameters());
    const cfg = resolveConfig({ overrides: { grpo: { beta: 0.1, numIterations: 2 }, optim: { lr: 1e-2 } } });
    const adam = new AdamW(params, { lr: 1e-2 });
    const rows = [{ promptIds: [5, 17, 42], tokens: [3, 99, 250, 7] }, { promptIds: [1, 2], tokens: [3, 4, 5] }].map((r) => ({ ...r, truncated: false }));
    const update = await policyUpdate({
      model: m, reference: 'adapterDisabled', adam, params, rows, advantages: [1, -1], grpo: cfg.grpo, optim: cfg.optim,
      temperature: 1, maxCompletionLength: 8, padTokenId: 0, gradientCheckpointing: false, step: 0,
    });
    expect(update.applied).toBe(2);
    // the first iteration starts at the base (B = 0): KL 0 then; the second sees the updated adapter
    expect(update.metrics.kl).toBeGreaterThan(0);
    const baseAfter = snapshot(m.namedParameters().filter(([n]) => !n.includes('lora_')));
    expect(baseAfter).toEqual(baseBefore);
    const adapterAfter = snapshot(m.adapterParameters());
    const changed = [...adapterAfter.keys()].filter((k) => JSON.stringify(adapterAfter.get(k)) !== JSON.stringify(adapterBefore.get(k)));
    expect(changed.length).toBe(adapterAfter.size);
    for (const t of params) t.dispose();
    m.dispose();
  });
});
