// LoRA adapters vs PEFT (peft + transformers), both ways, on the fixtures of scripts/make_peft_fixture.py
// (test/fixtures/lora/: base/ and one PEFT adapter directory per case with expected.json):
// - a PEFT adapter loads here and gives PEFT's logits (adapter on, disabled, merged), greedy tokens through generate
//   (the fused CUDA decoding step with the low-rank products, CUDA graph on and off, the unfused step, and the fused
//   step on merged copies with ATMAN_LORA_DECODE=merge);
// - an adapter trained here is written in PEFT's format to $ATMAN_LORA_OURS (default <tmp>/atman-lora-ours) with
//   our logits; `python3 scripts/make_peft_fixture.py --check-ours DIR` (scripts/gpu-check.sh runs it after this
//   suite) loads it with PEFT and compares.
// - LoRA training on CUDA: gradients with activation checkpointing and dropout (the CUDA generator path) equal the
//   plain ones, and `train --lora.r 16` runs on the tiny model with adapter-only checkpoints.
// Skips itself without CUDA, and the PEFT parts without the fixture directory (scripts/gpu-check.sh copies it in).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as at from '../../src';
import { LlamaModel, Tensor, noGrad, tensor } from '../../src';
import { AdamW } from '../../src/nn/optim';
import { train } from '../../src/train/trainer';
import { withUnfused, writeTinyLlama } from '../llama_helpers';
import { tinyRunConfig } from '../tiny_run';

const ROOT = path.join(__dirname, '../fixtures/lora');
const BASE = path.join(ROOT, 'base');
const CASES = ['all_r4', 'qv_r8_alpha4', 'mlp_r2'];
const TOL = 1e-4;
const OURS = process.env.ATMAN_LORA_OURS ?? path.join(os.tmpdir(), 'atman-lora-ours');

const ready = at.cuda.isAvailable() && fs.existsSync(BASE);
if (at.cuda.isAvailable() && !ready)
  console.warn(`lora_parity: skipped, no fixtures in ${ROOT}: run python3 scripts/make_peft_fixture.py OUTDIR and copy OUTDIR/lora there`);
const describeReady = ready ? describe : describe.skip;

interface Expected {
  input_ids: number[][];
  logits: number[][][];
  base_logits: number[][][];
  merged_logits: number[][][];
  greedy: { prompt: number[]; tokens: number[] }[];
}

const expectedOf = (name: string): Expected => JSON.parse(fs.readFileSync(path.join(ROOT, name, 'expected.json'), 'utf8'));
const maxAbsDiff = (a: Tensor, e: number[][][]): number =>
  noGrad(() => at.tidy(() => a.cpu().double().sub(tensor(e).double()).abs().max().item() as number));

describeReady.each(CASES.flatMap((c) => ['cpu', 'cuda'].map((d) => [c, d] as const)))('PEFT adapter %s on %s', (name, device) => {
  let model: LlamaModel | undefined;
  afterAll(() => model?.dispose());
  const get = async (): Promise<[LlamaModel, Expected]> => {
    if (model === undefined) {
      model = await LlamaModel.load(BASE, { device, dtype: 'float32' });
      await model.loadAdapter(path.join(ROOT, name));
    }
    return [model, expectedOf(name)];
  };
  const ids = (e: Expected) => tensor(e.input_ids, { dtype: 'int64' }).to(device);

  test(`logits within ${TOL} of PEFT's, with the adapter on and disabled`, async () => {
    const [m, e] = await get();
    expect(maxAbsDiff(noGrad(() => m.forward(ids(e))), e.logits)).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(noGrad(() => m.withAdapterDisabled(() => m.forward(ids(e)))), e.base_logits)).toBeLessThanOrEqual(TOL);
  });

  test("greedy tokens of generate equal PEFT's (fused step with and without a CUDA graph, and unfused)", async () => {
    const [m, e] = await get();
    for (const g of e.greedy) {
      const graph = await m.generate([g.prompt], { maxNewTokens: g.tokens.length, temperature: 0, cudaGraph: true });
      const eager = await m.generate([g.prompt], { maxNewTokens: g.tokens.length, temperature: 0, cudaGraph: false });
      const unfused = await withUnfused(() => m.generate([g.prompt], { maxNewTokens: g.tokens.length, temperature: 0, cudaGraph: false }));
      process.env.ATMAN_LORA_DECODE = 'merge'; // the alternative: decoding on a merged copy of the projections
      const merged = await m.generate([g.prompt], { maxNewTokens: g.tokens.length, temperature: 0, cudaGraph: true }).finally(() => delete process.env.ATMAN_LORA_DECODE);
      expect({ graph: graph.tokens[0], eager: eager.tokens[0], unfused: unfused.tokens[0], merged: merged.tokens[0] })
        .toEqual({ graph: g.tokens, eager: g.tokens, unfused: g.tokens, merged: g.tokens });
    }
  });

  test(`mergeAdapter gives PEFT's merge_and_unload logits within ${TOL}`, async () => {
    const e = expectedOf(name);
    const m = await LlamaModel.load(BASE, { device, dtype: 'float32' });
    await m.loadAdapter(path.join(ROOT, name));
    m.mergeAdapter();
    expect(maxAbsDiff(noGrad(() => m.forward(ids(e))), e.merged_logits)).toBeLessThanOrEqual(TOL);
    m.dispose();
  });
});

describeReady('an adapter trained here, for PEFT to load (scripts/make_peft_fixture.py --check-ours)', () => {
  test(`written to ${OURS}: adapter/ in PEFT format and expected.json with our logits`, async () => {
    const m = await LlamaModel.load(BASE, { device: 'cuda', dtype: 'float32' });
    at.manualSeed(5);
    m.addLora({ r: 6, alpha: 3, targetModules: ['k_proj', 'o_proj', 'up_proj'], baseModel: BASE });
    m.requiresGrad_(true);
    const params = m.trainableParameters();
    const adam = new AdamW(params, { lr: 1e-2 });
    const ids = tensor([[5, 17, 42, 3, 99, 250, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8]], { dtype: 'int64' }).to('cuda');
    for (let i = 0; i < 2; i++) {
      adam.zeroGrad();
      const loss = m.tokenLogprobs(ids).sum().neg();
      loss.backward();
      adam.step();
      loss.dispose();
    }
    m.requiresGrad_(false);
    const logits = noGrad(() => m.forward(ids));
    const base = noGrad(() => m.withAdapterDisabled(() => m.forward(ids)));
    expect(maxAbsDiff(logits, base.cpu().toArray() as number[][][])).toBeGreaterThan(1e-3); // trained: B is not zero
    fs.rmSync(OURS, { recursive: true, force: true });
    m.saveAdapter(path.join(OURS, 'adapter'));
    fs.writeFileSync(path.join(OURS, 'expected.json'), JSON.stringify({ base: path.resolve(BASE), input_ids: ids.cpu().toArray(), logits: logits.cpu().toArray() }));
    // it loads back here with the same logits
    const again = await LlamaModel.load(BASE, { device: 'cuda', dtype: 'float32' });
    await again.loadAdapter(path.join(OURS, 'adapter'));
    expect(maxAbsDiff(noGrad(() => again.forward(ids)), logits.cpu().toArray() as number[][][])).toBe(0);
    for (const t of [...params, logits, base, ids]) t.dispose();
    m.dispose();
    again.dispose();
  });
});

const describeCuda = at.cuda.isAvailable() ? describe : describe.skip;

describeCuda('LoRA training on CUDA', () => {
  test('activation checkpointing with dropout gives the plain gradients (float32, fused kernels)', async () => {
    const dir = writeTinyLlama(fs.mkdtempSync(path.join(os.tmpdir(), 'atman-lora-gpu-')), { hidden: 128, heads: 2, kvHeads: 2, intermediate: 160 });
    const ids = tensor([[5, 17, 42, 3, 99, 250, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8]], { dtype: 'int64' }).to('cuda');
    const grads = async (checkpointing: boolean, seed: number) => {
      const m = await LlamaModel.load(dir, { device: 'cuda', dtype: 'float32' });
      at.manualSeed(0);
      m.addLora({ r: 4, dropout: 0.2 });
      m.requiresGrad_(true).setGradientCheckpointing(checkpointing);
      at.manualSeed(seed);
      const loss = m.tokenLogprobs(ids).sum().neg();
      loss.backward();
      const out = m.adapterParameters().map(([, t]) => t.grad!.cpu());
      loss.dispose();
      m.dispose();
      return out;
    };
    const plain = await grads(false, 3), checkpointed = await grads(true, 3), other = await grads(false, 4);
    const diff = (a: Tensor[], b: Tensor[]) => Math.max(...a.map((t, i) => t.sub(b[i]).abs().max().item() as number));
    expect(diff(checkpointed, plain)).toBeLessThanOrEqual(1e-4);
    expect(diff(other, plain)).toBeGreaterThan(0); // dropout acts
    ids.dispose();
  });

  test("train --lora.r 16 on the tiny model: finite losses, adapter-only checkpoints, the run's adapter", async () => {
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-lora-gpu-runs-'));
    const cfg = tinyRunConfig(runsDir, 'lora-cuda', 2, { device: 'cuda', lora: { r: 16, dropout: 0.05 }, grpo: { beta: 0.04 }, optim: { lr: 1e-4 } });
    const out = await train({ config: cfg, stream: { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream });
    expect(out).toMatchObject({ stepsDone: 2, interrupted: false });
    const step2 = path.join(out.runDir, 'checkpoints', 'step-000002');
    expect(fs.readdirSync(step2).sort()).toEqual(['COMPLETE', 'adapter', 'optimizer.safetensors', 'state.json']);
    expect(fs.existsSync(path.join(out.runDir, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    const rows = fs.readFileSync(path.join(out.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.every((r) => Number.isFinite(r.loss) && Number.isFinite(r.kl))).toBe(true);
    fs.rmSync(runsDir, { recursive: true, force: true });
  }, 600000);
});
