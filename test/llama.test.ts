// LlamaModel on CPU: loading (single file, sharded, tied/untied, bad files), forward, AtMan options, autograd,
// tokenLogprobs, save. Tiny random models written by test/llama_helpers.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, Tensor, cat, full, noGrad, optim, tensor, zeros } from '../src';
import { expectClose } from './helpers';
import { tinyLlamaConfig, writeTinyLlama } from './llama_helpers';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-llama-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let counter = 0;
const fresh = (): string => path.join(root, `m${counter++}`);

const IDS = [
  [5, 17, 250, 3, 99, 42, 7],
  [1, 2, 3, 4, 5, 6, 299],
];
const ids = (): Tensor => tensor(IDS, { dtype: 'int64' });

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return noGrad(() => a.sub(b).abs().max().item() as number);
}

describe('LlamaModel.load errors', () => {
  test('a missing directory or config.json', async () => {
    await expect(LlamaModel.load(path.join(root, 'nope'))).rejects.toThrow(/not a directory/);
    const dir = fresh();
    fs.mkdirSync(dir);
    await expect(LlamaModel.load(dir)).rejects.toThrow(/config\.json is missing/);
  });

  test('no weights file', async () => {
    const dir = writeTinyLlama(fresh());
    fs.rmSync(path.join(dir, 'model.safetensors'));
    await expect(LlamaModel.load(dir)).rejects.toThrow(/neither model\.safetensors nor model\.safetensors\.index\.json/);
  });

  test('a missing tensor is named', async () => {
    const dir = writeTinyLlama(fresh(), { editTensors: (t) => delete t['model.layers.1.mlp.up_proj.weight'] });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/tensor 'model\.layers\.1\.mlp\.up_proj\.weight' is missing/);
  });

  test('an untied model without lm_head', async () => {
    const dir = writeTinyLlama(fresh(), { editTensors: (t) => delete t['lm_head.weight'] });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/'lm_head\.weight' is missing/);
  });

  test('a mis-shaped tensor is named with both shapes', async () => {
    const dir = writeTinyLlama(fresh(), {
      editTensors: (t) => {
        t['model.layers.0.self_attn.k_proj.weight'] = zeros([64, 64]);
      },
    });
    await expect(LlamaModel.load(dir)).rejects.toThrow(
      /tensor 'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[64, 64\] in model\.safetensors, expected \[32, 64\]/,
    );
  });

  test('unsupported architectures and options', async () => {
    let dir = writeTinyLlama(fresh(), { config: { model_type: 'gemma', architectures: ['GemmaForCausalLM'] } });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/unsupported model .*model_type is "gemma".*supports the model_type values llama, qwen2, qwen3, mistral/);
    dir = writeTinyLlama(fresh(), { config: { architectures: ['LlamaForSequenceClassification'] } });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/do not include LlamaForCausalLM/);
    dir = writeTinyLlama(fresh(), { config: { attention_bias: true } });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/attention_bias true/);
    dir = writeTinyLlama(fresh(), { config: { mlp_bias: true } });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/mlp_bias true/);
    dir = writeTinyLlama(fresh(), { config: { rope_scaling: { rope_type: 'yarn', factor: 4 } } });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/rope_type "yarn" is not supported/);
    dir = writeTinyLlama(fresh(), { config: { hidden_size: undefined } });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/"hidden_size" is missing/);
  });

  test('a missing shard', async () => {
    const dir = writeTinyLlama(fresh(), { sharded: true });
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    await expect(LlamaModel.load(dir)).rejects.toThrow(/shard model-00002-of-00002\.safetensors .* is missing/);
  });
});

describe('LlamaModel forward', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    model = await LlamaModel.load(writeTinyLlama(fresh()));
  });
  afterAll(() => model.dispose());

  test('config, shape and dtype', () => {
    expect(model.config).toMatchObject({
      hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, vocabSize: 300,
      tieWordEmbeddings: false, ropeScaling: null, ropeTheta: 10000, dtype: 'float32', device: 'cpu',
    });
    const logits = model.forward(ids());
    expect(logits.shape).toEqual([2, 7, 300]);
    expect(logits.dtype).toBe('float32');
    expect(logits.requiresGrad).toBe(false);
  });

  test('causal: a later token does not change earlier logits', () => {
    const a = model.forward(ids());
    const changed = IDS.map((row) => [...row.slice(0, 5), 11, 12]);
    const b = model.forward(tensor(changed, { dtype: 'int64' }));
    expect(maxAbsDiff(a.narrow(1, 0, 5), b.narrow(1, 0, 5))).toBe(0);
    expect(maxAbsDiff(a.narrow(1, 5, 2), b.narrow(1, 5, 2))).toBeGreaterThan(1e-3);
  });

  test('keyBias 0 changes nothing; -1e4 on a key changes the logits of the queries that see it', () => {
    const plain = model.forward(ids());
    expect(maxAbsDiff(model.forward(ids(), { keyBias: zeros([2, 7]) }), plain)).toBe(0);
    const bias = tensor([[0, 0, 0, -1e4, 0, 0, 0], [0, 0, 0, -1e4, 0, 0, 0]]);
    const biased = model.forward(ids(), { keyBias: bias });
    expect(maxAbsDiff(biased.narrow(1, 0, 3), plain.narrow(1, 0, 3))).toBe(0);
    expect(maxAbsDiff(biased.narrow(1, 4, 3), plain.narrow(1, 4, 3))).toBeGreaterThan(1e-3);
    // biasQueryStart 5: queries 3 and 4 see the key unbiased.
    const late = model.forward(ids(), { keyBias: bias, biasQueryStart: 5 });
    expect(maxAbsDiff(late.narrow(1, 0, 5), plain.narrow(1, 0, 5))).toBe(0);
    expect(maxAbsDiff(late.narrow(1, 5, 2), plain.narrow(1, 5, 2))).toBeGreaterThan(1e-3);
  });

  test('left padding with keyStart gives the logits of the unpadded sequence', () => {
    const row = IDS[0];
    const single = model.forward(tensor([row], { dtype: 'int64' }));
    const padded = model.forward(tensor([[0, 0, ...row]], { dtype: 'int64' }), { keyStart: tensor([2], { dtype: 'int64' }) });
    expect(maxAbsDiff(padded.narrow(1, 2, 7), single)).toBeLessThan(1e-5);
    // The same through explicit positions.
    const explicit = model.forward(tensor([[0, 0, ...row]], { dtype: 'int64' }), {
      keyStart: tensor([2], { dtype: 'int64' }),
      positions: tensor([[0, 0, 0, 1, 2, 3, 4, 5, 6]], { dtype: 'int64' }),
    });
    expect(maxAbsDiff(explicit, padded)).toBe(0);
  });

  test('gradients reach keyBias and the parameters', () => {
    const keyBias = zeros([2, 7], { requiresGrad: true });
    model.requiresGrad_(true);
    try {
      const logits = model.forward(ids(), { keyBias, biasQueryStart: 2 });
      expect(logits.requiresGrad).toBe(true);
      logits.logSoftmax(-1).narrow(2, 0, 1).sum().backward();
      const g = keyBias.grad!;
      expect(g.shape).toEqual([2, 7]);
      expect(g.abs().sum().item() as number).toBeGreaterThan(0);
      const named = model.namedParameters();
      expect(named.map(([n]) => n)).toContain('model.layers.1.self_attn.q_proj.weight');
      expect(named.length).toBe(1 + 2 * 9 + 1 + 1);
      for (const [name, p] of named) {
        const pg = p.grad;
        expect([name, pg === null]).toEqual([name, false]);
        expect([name, (pg!.abs().sum().item() as number) > 0]).toEqual([name, true]);
      }
    } finally {
      model.requiresGrad_(false);
      for (const p of model.parameters()) p.zeroGrad();
    }
  });

  test('activation checkpointing gives the same logits and gradients', () => {
    const run = (checkpoint: boolean, withBias: boolean): Tensor[] => {
      const keyBias = withBias ? zeros([2, 7], { requiresGrad: true }) : undefined;
      model.requiresGrad_(true).setGradientCheckpointing(checkpoint);
      try {
        const opts = withBias ? { keyBias, biasQueryStart: 3, keyStart: tensor([0, 1], { dtype: 'int64' }) } : {};
        const logits = model.forward(ids(), opts);
        logits.logSoftmax(-1).narrow(2, 5, 3).sum().backward();
        const out = [logits.detach(), ...(keyBias ? [keyBias.grad!] : []), ...model.parameters().map((p) => p.grad!)];
        for (const p of model.parameters()) p.zeroGrad();
        return out;
      } finally {
        model.requiresGrad_(false).setGradientCheckpointing(false);
      }
    };
    for (const withBias of [true, false]) {
      const a = run(true, withBias);
      const b = run(false, withBias);
      expect(a.length).toBe(b.length);
      for (let i = 0; i < a.length; i++) expect([withBias, i, maxAbsDiff(a[i], b[i])]).toEqual([withBias, i, 0]);
    }
    // Only keyBias needs a gradient (frozen weights, the mask optimization case).
    model.setGradientCheckpointing(true);
    try {
      const keyBias = zeros([2, 7], { requiresGrad: true });
      model.tokenLogprobs(ids(), { keyBias, targetStart: 4 }).sum().backward();
      const withCk = keyBias.grad!;
      model.setGradientCheckpointing(false);
      const kb2 = zeros([2, 7], { requiresGrad: true });
      model.tokenLogprobs(ids(), { keyBias: kb2, targetStart: 4 }).sum().backward();
      expect(maxAbsDiff(withCk, kb2.grad!)).toBeLessThan(1e-6);
      expect(withCk.abs().sum().item() as number).toBeGreaterThan(0);
    } finally {
      model.setGradientCheckpointing(false);
    }
  });

  test('tokenLogprobs equals logSoftmax(forward) gathered, in small chunks', () => {
    const logits = model.forward(ids());
    for (const temperature of [1, 0.7]) {
      const full_ = logits.div(temperature).logSoftmax(-1);
      const next = ids().narrow(1, 1, 6).unsqueeze(-1);
      const expected = full_.narrow(1, 0, 6).gather(-1, next).squeeze(-1).toArray() as number[][];
      for (const chunkSize of [1, 2, 4, 100]) {
        const lp = model.tokenLogprobs(ids(), { temperature, chunkSize, targetStart: tensor([1, 3], { dtype: 'int64' }) });
        expect(lp.shape).toEqual([2, 7]);
        const want = [
          [0, ...expected[0]],
          [0, 0, 0, ...expected[1].slice(2)],
        ];
        expectClose(lp, want, 1e-5, 1e-5);
      }
    }
    // A number targetStart, default 1.
    const all = model.tokenLogprobs(ids(), { chunkSize: 3 });
    expect((all.narrow(1, 0, 1).abs().sum().item() as number)).toBe(0);
    expectClose(model.tokenLogprobs(ids(), { targetStart: 4 }).narrow(1, 4, 3), all.narrow(1, 4, 3), 1e-6, 1e-6);
  });

  test('a prefix computed once (prefix + past) gives the full forward, its bias gradient and log-probs', () => {
    // Row 1 is left-padded by 2 (keyStart); the bias acts on keys and queries from position 4 on, after the prefix.
    const keyStart = tensor([0, 2], { dtype: 'int64' });
    const biasQueryStart = tensor([4, 5], { dtype: 'int64' });
    const P = 3;
    const full_ = (keyBias: Tensor) => model.forward(ids(), { keyBias, keyStart, biasQueryStart }).narrow(1, P, 7 - P);
    const past = model.prefix(ids().narrow(1, 0, P), { keyStart });
    expect(past.keys.shape).toEqual([2, 2, 2, P, 16]);
    expect(past.keys.requiresGrad).toBe(false);
    const split = (keyBias: Tensor) => model.forward(ids().narrow(1, P, 7 - P), { keyBias, keyStart, biasQueryStart, past });
    const weights = tensor([[[0.3, -1], [2, 0.5], [1, -0.7], [1.5, 1]], [[1, 1], [-2, 0.25], [0.5, 3], [-1, 2]]]);
    const grads = (f: (b: Tensor) => Tensor) => {
      const keyBias = tensor([[0, 0, 0, 0, -1, -2, 0.5], [0, 0, 0, 0, 0, -3, 1]], { requiresGrad: true });
      const out = f(keyBias);
      out.narrow(2, 0, 2).mul(weights).sum().backward();
      return { out: out.detach(), grad: keyBias.grad! };
    };
    const a = grads(full_), b = grads(split);
    expect(maxAbsDiff(a.out, b.out)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a.grad, b.grad)).toBeLessThan(1e-5);
    expect(a.grad.narrow(1, 4, 3).abs().sum().item() as number).toBeGreaterThan(0);
    // tokenLogprobs over the suffix: targetStart counts from P.
    const lpFull = model.tokenLogprobs(ids(), { keyStart, targetStart: 5 }).narrow(1, P, 7 - P);
    const lpSplit = model.tokenLogprobs(ids().narrow(1, P, 7 - P), { keyStart, targetStart: 5 - P, past });
    expectClose(lpSplit, lpFull, 1e-5, 1e-5);
    // Mismatched past: a clear error.
    expect(() => model.forward(ids().narrow(1, P, 4), { past: { keys: past.keys, values: past.keys.narrow(3, 0, 1) } })).toThrow(
      /past keys and values must both have shape/,
    );
    expect(() => model.forward(ids(), { past: { keys: past.keys } } as never)).toThrow(/past option must be \{keys, values\}/);
  });

  test('tokenLogprobsWithEntropy: the same log-probs, and the entropy of softmax(forward / temperature)', () => {
    const logits = model.forward(ids());
    for (const temperature of [1, 0.7]) {
      const logp = logits.div(temperature).logSoftmax(-1);
      const H = logp.exp().mul(logp).sum(-1).neg().narrow(1, 0, 6).toArray() as number[][]; // position t-1 predicts t
      const targetStart = tensor([1, 3], { dtype: 'int64' });
      const { logprobs, entropy } = model.tokenLogprobsWithEntropy(ids(), { temperature, chunkSize: 2, targetStart });
      expectClose(logprobs, model.tokenLogprobs(ids(), { temperature, chunkSize: 2, targetStart }), 1e-6, 1e-6);
      expect(entropy.shape).toEqual([2, 7]);
      expectClose(entropy, [[0, ...H[0]], [0, 0, 0, ...H[1].slice(2)]], 1e-5, 1e-5);
      expect(Math.min(...(entropy.toArray() as number[][]).flat())).toBeGreaterThanOrEqual(0);
    }
    // The entropy stays out of autograd; the log-probs still backpropagate.
    const keyBias = zeros([2, 7], { requiresGrad: true });
    const { logprobs, entropy } = model.tokenLogprobsWithEntropy(ids(), { keyBias, targetStart: 4 });
    expect(entropy.requiresGrad).toBe(false);
    logprobs.sum().backward();
    expect(keyBias.grad!.abs().sum().item() as number).toBeGreaterThan(0);
  });

  test('tokenLogprobs backpropagates into keyBias', () => {
    const keyBias = zeros([2, 7], { requiresGrad: true });
    model.tokenLogprobs(ids(), { keyBias, targetStart: 5, chunkSize: 1 }).sum().backward();
    expect(keyBias.grad!.abs().sum().item() as number).toBeGreaterThan(0);
  });

  test('tokenLogprobs gradients equal those of logSoftmax(forward) gathered', () => {
    const targetStart = tensor([2, 4], { dtype: 'int64' });
    const weights = tensor([[0.3, -1, 2, 0.5, 1, -0.7, 1.5], [1, 1, -2, 0.25, 0.5, 3, -1]]);
    const run = (chunked: boolean): Tensor[] => {
      const keyBias = zeros([2, 7], { requiresGrad: true });
      model.requiresGrad_(true);
      try {
        let lp: Tensor;
        if (chunked) {
          lp = model.tokenLogprobs(ids(), { keyBias, targetStart, temperature: 0.8, chunkSize: 2 });
        } else {
          const logp = model.forward(ids(), { keyBias }).div(0.8).logSoftmax(-1);
          const picked = logp.narrow(1, 0, 6).gather(-1, ids().narrow(1, 1, 6).unsqueeze(-1)).squeeze(-1);
          const mask = tensor([[0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]]);
          lp = cat([zeros([2, 1]), picked.mul(mask)], 1);
        }
        lp.mul(weights).sum().backward();
        const out = [keyBias.grad!, ...model.parameters().map((p) => p.grad!)];
        for (const p of model.parameters()) p.zeroGrad();
        return out;
      } finally {
        model.requiresGrad_(false);
      }
    };
    const a = run(true);
    const b = run(false);
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) expect([i, maxAbsDiff(a[i], b[i]) < 1e-5]).toEqual([i, true]);
    expect(a[0].abs().sum().item() as number).toBeGreaterThan(0);
  });

  test('option checks', () => {
    expect(() => model.forward(ids(), { nope: 1 } as never)).toThrow(/unknown option 'nope'/);
    expect(() => model.forward(tensor([[1, 2, 300]], { dtype: 'int64' }))).toThrow(/index out of range: LlamaModel token ids must be in \[0, 300\), got 300/);
    expect(() => model.forward(tensor([[1, 2, 3]]))).toThrow(/int64 tensor \[B, T\]/);
    expect(() => model.forward(ids(), { keyBias: zeros([2, 6]) })).toThrow(/keyBias must have shape \[B, Tk\]/);
    expect(() => model.tokenLogprobs(ids(), { temperature: 0 })).toThrow(/temperature must be a positive number/);
  });
});

describe('LlamaModel variants', () => {
  // The head's weight gradient is accumulated chunk by chunk (one GEMM adding into it per chunk of positions).
  const headGradRun = (m: LlamaModel, chunkSize: number | null): Map<string, Tensor> => {
    const targetStart = tensor([2, 4], { dtype: 'int64' });
    const weights = tensor([[0.3, -1, 2, 0.5, 1, -0.7, 1.5], [1, 1, -2, 0.25, 0.5, 3, -1]]);
    m.requiresGrad_(true);
    try {
      let lp: Tensor;
      if (chunkSize !== null) {
        lp = m.tokenLogprobs(ids(), { targetStart, temperature: 0.8, chunkSize });
      } else {
        const logp = m.forward(ids()).div(0.8).logSoftmax(-1);
        const picked = logp.narrow(1, 0, 6).gather(-1, ids().narrow(1, 1, 6).unsqueeze(-1)).squeeze(-1);
        lp = cat([zeros([2, 1]), picked.mul(tensor([[0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]]))], 1);
      }
      lp.mul(weights).sum().backward();
      const out = new Map(m.namedParameters().map(([n, p]) => [n, p.grad!] as [string, Tensor]));
      for (const p of m.parameters()) p.zeroGrad();
      return out;
    } finally {
      m.requiresGrad_(false);
    }
  };

  test('the lm_head weight gradient of tokenLogprobs, accumulated over several chunks, equals the full-logits one (tied and untied)', async () => {
    for (const tied of [false, true]) {
      const m = await LlamaModel.load(writeTinyLlama(fresh(), { seed: 5, tied }));
      try {
        const head = tied ? 'model.embed_tokens.weight' : 'lm_head.weight';
        const want = headGradRun(m, null);
        expect(want.has(head)).toBe(true);
        // Targets are positions 2..6: chunk sizes 1, 2 and 3 accumulate 5, 3 and 2 chunks.
        for (const chunkSize of [1, 2, 3]) {
          const got = headGradRun(m, chunkSize);
          for (const [name, g] of want) {
            const scale = Math.max(1e-3, g.abs().max().item() as number);
            expect([tied, chunkSize, name, maxAbsDiff(got.get(name)!, g) / scale < 1e-5]).toEqual([tied, chunkSize, name, true]);
          }
          expect(got.get(head)!.abs().sum().item() as number).toBeGreaterThan(0);
        }
      } finally {
        m.dispose();
      }
    }
  });

  test('a bfloat16 model accumulates the lm_head gradient in bfloat16, within bfloat16 noise of the float32 one', async () => {
    const dir = writeTinyLlama(fresh(), { seed: 5 });
    const f32 = await LlamaModel.load(dir, { dtype: 'float32' });
    const bf = await LlamaModel.load(dir, { dtype: 'bfloat16' });
    try {
      const want = headGradRun(f32, 3).get('lm_head.weight')!;
      const got = headGradRun(bf, 1).get('lm_head.weight')!; // 5 chunks, each rounded into the bfloat16 sum
      expect(got.dtype).toBe('bfloat16');
      // bfloat16 keeps 8 significant bits; over this 2-layer model the gradients differ from float32 by ~1% in norm
      // (measured 0.9%); a wrong accumulation (a lost or doubled chunk) is off by tens of percent.
      const rel = noGrad(() => (got.float().sub(want).pow(2).sum().sqrt().item() as number) / (want.pow(2).sum().sqrt().item() as number));
      expect(rel).toBeLessThan(0.03);
    } finally {
      f32.dispose();
      bf.dispose();
    }
  });

  test('float64 and float32 agree', async () => {
    const dir = writeTinyLlama(fresh(), { llama3: true });
    const m32 = await LlamaModel.load(dir);
    const m64 = await LlamaModel.load(dir, { dtype: 'float64' });
    expect(m64.config.dtype).toBe('float64');
    const a = m32.forward(ids());
    const b = m64.forward(ids());
    expect(b.dtype).toBe('float64');
    expect(maxAbsDiff(a.double(), b)).toBeLessThan(1e-4);
    expect(m64.tokenLogprobs(ids()).dtype).toBe('float64');
    m32.dispose();
    m64.dispose();
  });

  test('tied embeddings, llama3 rope, transformers 5.x config layout', async () => {
    const m = await LlamaModel.load(writeTinyLlama(fresh(), { tied: true, llama3: true }));
    expect(m.config.tieWordEmbeddings).toBe(true);
    expect(m.config.ropeScaling).toEqual({
      ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32,
    });
    expect(m.namedParameters().map(([n]) => n)).not.toContain('lm_head.weight');
    const v5 = await LlamaModel.load(writeTinyLlama(fresh(), { tied: true, llama3: true, v5: true }));
    expect(v5.config.ropeScaling).toEqual(m.config.ropeScaling);
    expect(maxAbsDiff(m.forward(ids()), v5.forward(ids()))).toBe(0);
    // llama3 scaling changes positions' frequencies: the default rope gives other logits.
    const plain = await LlamaModel.load(writeTinyLlama(fresh(), { tied: true }));
    expect(maxAbsDiff(m.forward(ids()), plain.forward(ids()))).toBeGreaterThan(1e-4);
    for (const x of [m, v5, plain]) x.dispose();
  });

  test('the Llama-3.2-3B-Instruct config.json layout (sizes shrunk)', async () => {
    const m = await LlamaModel.load(
      writeTinyLlama(fresh(), {
        tied: true,
        config: {
          attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], initializer_range: 0.02,
          max_position_embeddings: 131072, pretraining_tp: 1, rms_norm_eps: 1e-5, torch_dtype: 'bfloat16',
          transformers_version: '4.45.0.dev0', use_cache: true, rope_theta: 500000.0,
          rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
        },
      }),
    );
    expect(m.config).toMatchObject({
      bosTokenId: 128000, eosTokenId: 128001, eosTokenIds: [128001, 128008, 128009], padTokenId: null, ropeTheta: 500000,
      maxPositionEmbeddings: 131072, tieWordEmbeddings: true,
      ropeScaling: { ropeType: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    });
    const out = fresh();
    m.save(out);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).eos_token_id).toEqual([128001, 128008, 128009]);
    expect((await LlamaModel.load(out)).config).toEqual(m.config);
    m.dispose();
  });

  test('sharded checkpoints load like single files', async () => {
    const single = await LlamaModel.load(writeTinyLlama(fresh(), { seed: 3 }));
    const sharded = await LlamaModel.load(writeTinyLlama(fresh(), { seed: 3, sharded: true }));
    expect(maxAbsDiff(single.forward(ids()), sharded.forward(ids()))).toBe(0);
    single.dispose();
    sharded.dispose();
  });

  test('bfloat16 weights run', async () => {
    const m = await LlamaModel.load(writeTinyLlama(fresh()), { dtype: 'bfloat16' });
    const logits = m.forward(ids(), { keyBias: full([2, 7], -0.5) });
    expect(logits.dtype).toBe('bfloat16');
    expect(m.tokenLogprobs(ids()).dtype).toBe('float32');
    m.dispose();
  });

  test('save writes a directory that loads to the same model', async () => {
    const m = await LlamaModel.load(writeTinyLlama(fresh(), { tied: true, llama3: true }));
    const out = fresh();
    m.save(out);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'llama', tie_word_embeddings: true, rope_scaling: { rope_type: 'llama3' } });
    const again = await LlamaModel.load(out);
    expect(maxAbsDiff(m.forward(ids()), again.forward(ids()))).toBe(0);
    m.dispose();
    again.dispose();
  });

  test('bfloat16 and float16 weights on disk', async () => {
    for (const disk of ['bfloat16', 'float16'] as const) {
      const dir = writeTinyLlama(fresh(), {
        seed: 7,
        editTensors: (t) => {
          for (const k of Object.keys(t)) t[k] = t[k].to(disk);
        },
      });
      const native = await LlamaModel.load(dir);
      expect(native.config.dtype).toBe(disk);
      const f32 = await LlamaModel.load(dir, { dtype: 'float32' });
      expect(f32.config.dtype).toBe('float32');
      expect(f32.forward(ids()).shape).toEqual([2, 7, 300]);
      // The float32 model holds the stored values: its logits are close to the bfloat16 model's. (libtorch 1.13 has
      // no float16 matmul on CPU, so the float16 model itself runs only on CUDA.)
      if (disk === 'bfloat16') expect(maxAbsDiff(native.forward(ids()).float(), f32.forward(ids()))).toBeLessThan(0.1);
      native.dispose();
      f32.dispose();
    }
  });

  test('AdamW trains the parameters (copy-on-write views of the file) and the file is untouched', async () => {
    const dir = writeTinyLlama(fresh(), { seed: 11 });
    const before = fs.readFileSync(path.join(dir, 'model.safetensors'));
    const m = (await LlamaModel.load(dir)).requiresGrad_(true);
    const opt = new optim.AdamW(m.parameters(), { lr: 1e-2, weightDecay: 0 });
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      opt.zeroGrad();
      const loss = m.tokenLogprobs(ids(), { chunkSize: 4 }).sum().neg();
      losses.push(loss.item() as number);
      loss.backward();
      opt.step();
    }
    expect(losses[4]).toBeLessThan(losses[0] - 1);
    expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(before)).toBe(true);
    const reloaded = await LlamaModel.load(dir);
    expect(maxAbsDiff(reloaded.forward(ids()), m.forward(ids()))).toBeGreaterThan(1e-3);
    m.dispose();
    reloaded.dispose();
  });

  test('a disposed model throws', async () => {
    const m = await LlamaModel.load(writeTinyLlama(fresh()));
    m.dispose();
    expect(() => m.forward(ids())).toThrow(/disposed model/);
  });

  test('config helper defaults', () => {
    expect(tinyLlamaConfig({ v5: true }).rope_parameters).toEqual({ rope_theta: 10000, rope_type: 'default' });
  });
});
