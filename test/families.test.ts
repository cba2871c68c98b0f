// Model families on CPU (model_type llama, qwen2, qwen3, mistral): tiny random checkpoints written by
// test/llama_helpers.ts (q/k/v biases, q/k head norms, head_dim != hidden / heads, sharded bf16 on disk, transformers
// 4.x and 5.x config layouts), loaded with loadModel, and checked against the independent float64 reference forward of
// test/family_reference.ts (with and without the AtMan key bias); save -> load round trips; generation; a training
// step with activation checkpointing; mask optimization; and the errors bad configs must give.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, MODEL_TYPES, ModelType, Tensor, load, loadModel, noGrad, optimizeSaliency, optim, sequenceLimit, tensor, tidy } from '../src';
import { writeRandomLlama } from '../src/llm/init';
import { ReferenceModel, disposeReference, readReference, referenceLogits } from './family_reference';
import { TinyLlamaOptions, greedyByForward, writeTinyLlama } from './llama_helpers';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-families-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (): string => path.join(root, `m${counter++}`);

const TOL = 1e-4;
const IDS = [
  [5, 17, 250, 3, 99, 42, 7, 8, 200, 13],
  [1, 2, 3, 4, 5, 6, 299, 100, 31, 64],
];
const ids = (): Tensor => tensor(IDS, { dtype: 'int64' });
const KEY_BIAS = IDS.map((row, b) => row.map((_, j) => (j === 2 + b ? -3 : j === 5 ? -1e4 : 0.25 * ((j % 3) - 1))));

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return noGrad(() => tidy(() => a.double().sub(b.double()).abs().max().item() as number));
}

interface Case {
  name: string;
  family: ModelType;
  opts: TinyLlamaOptions;
  expect: { attentionBias: boolean; qkNorm: boolean; headDim: number; slidingWindow: number | null; tieWordEmbeddings: boolean };
}

const CASES: Case[] = [
  {
    name: 'llama: GQA, untied',
    family: 'llama',
    opts: { seed: 1 },
    expect: { attentionBias: false, qkNorm: false, headDim: 16, slidingWindow: null, tieWordEmbeddings: false },
  },
  {
    name: 'qwen2: q/k/v biases, rope_theta 1e6, tied, sharded bf16 on disk',
    family: 'qwen2',
    opts: { seed: 2, tied: true, ropeTheta: 1e6, sharded: true, diskDtype: 'bfloat16' },
    expect: { attentionBias: true, qkNorm: false, headDim: 16, slidingWindow: null, tieWordEmbeddings: true },
  },
  {
    name: 'qwen3: q/k head norms, head_dim 32 != hidden/heads 16, one kv head, untied, transformers 5.x layout',
    family: 'qwen3',
    opts: { seed: 3, headDim: 32, kvHeads: 1, v5: true, ropeTheta: 1e6 },
    expect: { attentionBias: false, qkNorm: true, headDim: 32, slidingWindow: null, tieWordEmbeddings: false },
  },
  {
    name: 'qwen3: tied, sharded bf16 on disk',
    family: 'qwen3',
    opts: { seed: 4, tied: true, sharded: true, diskDtype: 'bfloat16', headDim: 16 },
    expect: { attentionBias: false, qkNorm: true, headDim: 16, slidingWindow: null, tieWordEmbeddings: true },
  },
  {
    name: 'mistral: sliding_window 24 (sequences up to it run), rope_theta 1e6, head_dim 8',
    family: 'mistral',
    opts: { seed: 5, slidingWindow: 24, ropeTheta: 1e6, headDim: 8, kvHeads: 4 },
    expect: { attentionBias: false, qkNorm: false, headDim: 8, slidingWindow: 24, tieWordEmbeddings: false },
  },
];

test('loadModel and MODEL_TYPES are exported from the package root', () => {
  expect(typeof loadModel).toBe('function');
  expect(MODEL_TYPES).toEqual(['llama', 'qwen2', 'qwen3', 'mistral']);
});

describe.each(CASES)('$name', ({ family, opts, expect: want }) => {
  let dir: string;
  let model: LlamaModel;
  let ref: ReferenceModel;
  beforeAll(async () => {
    dir = writeTinyLlama(fresh(), { ...opts, family });
    model = await loadModel(dir, { dtype: 'float32' });
    ref = readReference(dir);
  });
  afterAll(() => {
    model?.dispose();
    if (ref) disposeReference(ref);
  });

  test('config: modelType and the family options', () => {
    expect(model.config).toMatchObject({ modelType: family, ...want, dtype: 'float32' });
  });

  test(`float32 logits equal the independent reference within ${TOL}, also with the AtMan key bias`, () => {
    tidy(() => {
      expect(maxAbsDiff(model.forward(ids()), referenceLogits(ref, IDS))).toBeLessThanOrEqual(TOL);
      const keyBias = tensor(KEY_BIAS);
      const biased = model.forward(ids(), { keyBias, biasQueryStart: 4 });
      expect(maxAbsDiff(biased, referenceLogits(ref, IDS, { keyBias: KEY_BIAS, biasQueryStart: 4 }))).toBeLessThanOrEqual(TOL);
      // The bias acts (it is not a no-op for this model).
      expect(maxAbsDiff(biased, model.forward(ids()))).toBeGreaterThan(1e-3);
    });
  });

  test('save -> load: the same logits, the family model_type, architectures and tensor names', async () => {
    const out = fresh();
    model.save(out);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    const arch = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', mistral: 'MistralForCausalLM' }[family];
    expect(config).toMatchObject({ model_type: family, architectures: [arch], tie_word_embeddings: want.tieWordEmbeddings });
    if (family === 'mistral') expect(config.sliding_window).toBe(want.slidingWindow);
    if (family === 'qwen2' || family === 'qwen3') expect(config).toMatchObject({ use_sliding_window: false });
    const saved = load(path.join(out, 'model.safetensors')).tensors;
    try {
      expect(Object.keys(saved).sort()).toEqual(Object.keys(ref.w).sort());
    } finally {
      for (const t of Object.values(saved)) t.dispose();
    }
    const again = await loadModel(out);
    try {
      expect(again.config).toMatchObject({ modelType: family, ...want });
      expect(tidy(() => maxAbsDiff(again.forward(ids()), model.forward(ids())))).toBe(0);
    } finally {
      again.dispose();
    }
  });

  test('greedy generate (KV cache, ragged prompts) equals greedy by full forwards', async () => {
    const prompts = [[5, 17, 250, 3, 99], [42, 7]];
    const r = await model.generate(prompts, { maxNewTokens: 8, temperature: 0 });
    expect(r.tokens).toEqual(prompts.map((p) => greedyByForward(model, p, 8)));
  });

  test('a training step with activation checkpointing: the same gradients, a finite loss, every parameter moves', () => {
    const m = model;
    const names = m.namedParameters().map(([n]) => n);
    const before = m.parameters().map((p) => noGrad(() => p.clone()));
    const gradsOf = (checkpointing: boolean): Tensor[] => {
      m.setGradientCheckpointing(checkpointing);
      const loss = m.tokenLogprobs(ids()).sum().neg();
      expect(Number.isFinite(loss.item() as number)).toBe(true);
      loss.backward();
      loss.dispose();
      const grads = m.parameters().map((p) => p.grad!.clone());
      for (const p of m.parameters()) p.zeroGrad();
      return grads;
    };
    m.requiresGrad_(true);
    try {
      const plain = gradsOf(false);
      const checkpointed = gradsOf(true);
      for (let i = 0; i < plain.length; i++) expect(maxAbsDiff(plain[i], checkpointed[i])).toBeLessThanOrEqual(1e-6);
      // Every parameter, the family's own included (biases, q/k norms), gets a gradient.
      for (let i = 0; i < plain.length; i++) expect([names[i], plain[i].abs().max().item() as number > 0]).toEqual([names[i], true]);
      const params = m.parameters();
      const opt = new optim.AdamW(params, { lr: 1e-2 });
      const loss = m.tokenLogprobs(ids()).sum().neg();
      loss.backward();
      opt.step();
      for (let i = 0; i < params.length; i++) expect([names[i], maxAbsDiff(params[i], before[i]) > 0]).toEqual([names[i], true]);
      // The trained model still runs every path: forward, generate's fused/unfused decode step (packed buffers follow).
      expect(Number.isFinite(noGrad(() => m.forward(ids()).abs().max().item() as number))).toBe(true);
    } finally {
      m.setGradientCheckpointing(false);
      m.requiresGrad_(false);
      for (const p of m.parameters()) p.zeroGrad();
    }
  });

  test('mask optimization (AtMan saliency) runs and ranks CoT tokens', async () => {
    const r = await optimizeSaliency(model, [{ ids: IDS[0], cotStart: 3, cotEnd: 7, answerStart: 8, answerEnd: 10 }], { steps: 3 });
    expect(r[0].s).toHaveLength(4);
    for (const s of r[0].s) expect(s).toBeGreaterThan(0);
    expect(Number.isFinite(r[0].logpFull)).toBe(true);
  });
});

describe('family options in detail', () => {
  test('after training, generate still matches full forwards (the packed q/k/v biases follow in-place updates)', async () => {
    const m = await loadModel(writeTinyLlama(fresh(), { family: 'qwen2', seed: 8 }));
    try {
      m.requiresGrad_(true);
      const opt = new optim.AdamW(m.parameters(), { lr: 0.05 });
      m.tokenLogprobs(ids()).sum().backward();
      opt.step();
      m.requiresGrad_(false);
      const prompts = [[5, 17, 250], [9]];
      const r = await m.generate(prompts, { maxNewTokens: 6, temperature: 0 });
      expect(r.tokens).toEqual(prompts.map((p) => greedyByForward(m, p, 6)));
    } finally {
      m.dispose();
    }
  });

  test('LlamaModel.load loads every family too', async () => {
    const m = await LlamaModel.load(writeTinyLlama(fresh(), { family: 'qwen3', headDim: 32 }));
    expect(m.config.modelType).toBe('qwen3');
    m.dispose();
  });

  test('qwen: use_sliding_window false leaves sliding_window off; true windows the layers from max_window_layers on', async () => {
    const windowOf = async (config: Record<string, unknown>): Promise<number | null> => {
      const m = await loadModel(writeTinyLlama(fresh(), { family: 'qwen2', config }));
      try {
        return m.config.slidingWindow;
      } finally {
        m.dispose();
      }
    };
    expect(await windowOf({ use_sliding_window: false, sliding_window: 8, max_window_layers: 0 })).toBeNull();
    expect(await windowOf({ use_sliding_window: true, sliding_window: 8, max_window_layers: 2 })).toBeNull(); // 2 layers: none windowed
    expect(await windowOf({ use_sliding_window: true, sliding_window: 8, max_window_layers: 1 })).toBe(8);
    expect(await windowOf({ use_sliding_window: true, sliding_window: null })).toBeNull();
    expect(await windowOf({ use_sliding_window: true, sliding_window: 8, layer_types: ['full_attention', 'sliding_attention'] })).toBe(8);
    expect(await windowOf({ use_sliding_window: true, sliding_window: 8, layer_types: ['full_attention', 'full_attention'] })).toBeNull();
    // Mistral: a non-null sliding_window applies to every layer; null means none.
    const m = await loadModel(writeTinyLlama(fresh(), { family: 'mistral', slidingWindow: null }));
    expect(m.config.slidingWindow).toBeNull();
    expect(sequenceLimit(m.config)).toEqual({ tokens: 256, what: 'max_position_embeddings' });
    m.dispose();
  });

  test('writeRandomLlama (the init of `sft`) writes every family: qwen2 zero biases, qwen3 unit q/k norms', async () => {
    for (const [family, arch] of [['qwen2', 'Qwen2ForCausalLM'], ['qwen3', 'Qwen3ForCausalLM'], ['mistral', 'MistralForCausalLM']]) {
      const dir = fresh();
      writeRandomLlama(dir, {
        model_type: family, architectures: [arch], hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1,
        num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 50, ...(family === 'qwen3' ? { head_dim: 8 } : {}),
      });
      const m = await loadModel(dir);
      try {
        expect(m.config.modelType).toBe(family);
        const p = Object.fromEntries(m.namedParameters());
        if (family === 'qwen2') expect(p['model.layers.0.self_attn.k_proj.bias'].abs().max().item()).toBe(0);
        if (family === 'qwen3') expect(p['model.layers.0.self_attn.q_norm.weight'].toArray()).toEqual(new Array(8).fill(1));
      } finally {
        m.dispose();
      }
    }
    expect(() => writeRandomLlama(fresh(), { model_type: 'gemma', hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 1, num_key_value_heads: 1, vocab_size: 8 })).toThrow(
      /cannot initialize a model of model_type "gemma": supported are llama, qwen2, qwen3, mistral/,
    );
  });

  test('a qwen3 config without head_dim means 128 (as transformers reads it)', async () => {
    const dir = writeTinyLlama(fresh(), { family: 'qwen3', headDim: 128, config: { head_dim: undefined } });
    const m = await loadModel(dir);
    expect(m.config.headDim).toBe(128);
    m.dispose();
  });
});

describe('bad configs and checkpoints give clear errors', () => {
  test('an unknown model_type lists the supported ones', async () => {
    const dir = writeTinyLlama(fresh(), { config: { model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'] } });
    await expect(loadModel(dir)).rejects.toThrow(
      /unsupported model in .*config\.json: model_type is "gemma2"; atman-native supports the model_type values llama, qwen2, qwen3, mistral/,
    );
    const missing = writeTinyLlama(fresh(), { config: { model_type: undefined } });
    await expect(loadModel(missing)).rejects.toThrow(/model_type is missing; atman-native supports the model_type values llama, qwen2, qwen3, mistral/);
  });

  test("architectures must name the family's causal LM", async () => {
    const dir = writeTinyLlama(fresh(), { family: 'qwen2', config: { architectures: ['Qwen2ForSequenceClassification'] } });
    await expect(loadModel(dir)).rejects.toThrow(/do not include Qwen2ForCausalLM, the causal LM of model_type "qwen2"/);
  });

  test('head_dim inconsistent with the weights names the tensor, both shapes and head_dim', async () => {
    const dir = writeTinyLlama(fresh(), { family: 'qwen3', headDim: 32, config: { head_dim: 16 } });
    await expect(loadModel(dir)).rejects.toThrow(
      /tensor 'model\.layers\.0\.self_attn\.q_proj\.weight' has shape \[128, 64\] in model\.safetensors, expected \[64, 64\] from config\.json \(num_attention_heads 4, num_key_value_heads 2, head_dim 16\): check head_dim/,
    );
    // Without head_dim qwen3 means 128: weights made for 16 do not fit, and the message says so.
    const absent = writeTinyLlama(fresh(), { family: 'qwen3', config: { head_dim: undefined } });
    await expect(loadModel(absent)).rejects.toThrow(/head_dim 128\): check head_dim/);
  });

  test("a family's own weights: missing ones are named; present ones under another model_type are refused", async () => {
    const noBias = writeTinyLlama(fresh(), { family: 'qwen2', editTensors: (t) => delete t['model.layers.1.self_attn.k_proj.bias'] });
    await expect(loadModel(noBias)).rejects.toThrow(/tensor 'model\.layers\.1\.self_attn\.k_proj\.bias' is missing/);
    const noNorm = writeTinyLlama(fresh(), { family: 'qwen3', editTensors: (t) => delete t['model.layers.0.self_attn.q_norm.weight'] });
    await expect(loadModel(noNorm)).rejects.toThrow(/tensor 'model\.layers\.0\.self_attn\.q_norm\.weight' is missing/);
    const mislabelled = writeTinyLlama(fresh(), { family: 'qwen2', config: { model_type: 'llama', architectures: ['LlamaForCausalLM'] } });
    await expect(loadModel(mislabelled)).rejects.toThrow(/holds 'model\.layers\.0\.self_attn\.[qkv]_proj\.bias', a weight model_type "llama" does not have; is config\.json's model_type right\?/);
    const badNormShape = writeTinyLlama(fresh(), { family: 'qwen3', editTensors: (t) => (t['model.layers.0.self_attn.k_norm.weight'] = tensor(new Array(64).fill(1))) });
    await expect(loadModel(badNormShape)).rejects.toThrow(/'model\.layers\.0\.self_attn\.k_norm\.weight' has shape \[64\] .* expected \[16\]/);
  });

  test('unsupported options and malformed window fields', async () => {
    const cases: [TinyLlamaOptions, RegExp][] = [
      [{ family: 'qwen3', config: { attention_bias: true } }, /unsupported qwen3 config .*attention_bias true/],
      [{ family: 'qwen2', config: { rope_scaling: { rope_type: 'yarn', factor: 4 } } }, /rope_type "yarn" is not supported/],
      [{ family: 'mistral', config: { sliding_window: 0 } }, /sliding_window must be a positive integer or null, got 0/],
      [{ family: 'qwen2', config: { layer_types: ['full_attention'] } }, /layer_types has 1 entries for 2 layers/],
      [{ family: 'qwen3', config: { layer_types: ['full_attention', 'chunked_attention'] } }, /layer_types entries must be "full_attention" or "sliding_attention"/],
      [{ family: 'mistral', config: { hidden_act: 'gelu' } }, /unsupported mistral config .*hidden_act "gelu"/],
    ];
    for (const [o, message] of cases) await expect(loadModel(writeTinyLlama(fresh(), o))).rejects.toThrow(message);
  });

  test('sequences beyond the sliding window are refused (forward, prefix, generate), never cut silently', async () => {
    const m = await loadModel(writeTinyLlama(fresh(), { family: 'mistral', slidingWindow: 12 }));
    try {
      const seq = (n: number): Tensor => tensor([Array.from({ length: n }, (_, i) => (i * 7) % 300)], { dtype: 'int64' });
      expect(m.forward(seq(12)).shape).toEqual([1, 12, 300]); // up to the window: runs (the window masks nothing)
      const message = /got a sequence of 13 tokens, longer than the mistral model's sliding window of 12 \(sliding_window in config\.json\); atman-native does not implement sliding-window attention/;
      let error: unknown;
      try {
        m.forward(seq(13));
      } catch (e) {
        error = e;
      }
      expect((error as Error).name).toBe('RangeError'); // a native RangeError (another realm than jest's)
      expect(() => m.forward(seq(13))).toThrow(message);
      expect(() => m.tokenLogprobs(seq(13))).toThrow(message);
      expect(() => m.prefix(seq(13))).toThrow(/longer than the mistral model's sliding window of 12/);
      const past = m.prefix(seq(8));
      expect(() => m.forward(seq(5), { past })).toThrow(message);
      past.keys.dispose();
      past.values.dispose();
      await expect(m.generate([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], { maxNewTokens: 5, temperature: 0 })).rejects.toThrow(
        /generate\(\) would run sequences to 15 tokens .* beyond the mistral model's sliding window of 12 .*lower maxNewTokens to 2 or shorten the prompts/,
      );
      const ok = await m.generate([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], { maxNewTokens: 2, temperature: 0 });
      expect(ok.tokens[0]).toHaveLength(2);
      expect(sequenceLimit(m.config)).toEqual({ tokens: 12, what: 'sliding_window' });
    } finally {
      m.dispose();
    }
  });
});
