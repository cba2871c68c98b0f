// The fused decoding step on CUDA (native/llama/fused_decode.cpp): packed q/k/v and gate/up products, rotary + cache
// write, the decode attention kernel (key ranges split across blocks for long caches), add + RMSNorm. Checked against
// greedy decoding by full forwards, against the unfused step (ATMAN_FUSED=0), and after an optimizer step (the packed
// buffers must see in-place updates of q/k/v/gate/up and of Qwen2's q/k/v biases), for every model family. Skips itself
// without CUDA.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as at from '../../src';
import { LlamaModel, noGrad, tensor } from '../../src';
import { AdamW } from '../../src/nn/optim';
import { TinyLlamaOptions, greedyByForward as greedy, withUnfused, writeTinyLlama } from '../llama_helpers';

const greedyByForward = (model: LlamaModel, p: number[], n: number): number[] => greedy(model, p, n, 'cuda');

const describeCuda = at.cuda.isAvailable() ? describe : describe.skip;

function prompt(length: number, salt: number): number[] {
  return Array.from({ length }, (_, i) => (i * 37 + salt * 11 + 3) % 300);
}

// Shapes: head dim 128 with 3 query heads per kv head (Llama-3.2-3B's), 8 per kv head, and plain multi-head; and the
// other families on the same fused step: Qwen2's packed q/k/v bias, Qwen3's q/k head RMSNorm kernel (head_dim 128 with
// hidden / heads 32), Mistral with a sliding window longer than the sequences.
const SHAPES: (TinyLlamaOptions & { name: string })[] = [
  { name: 'D=128, G=3', hidden: 384, heads: 3, kvHeads: 1, intermediate: 256 },
  { name: 'D=16, G=8', hidden: 128, heads: 8, kvHeads: 1, intermediate: 192 },
  { name: 'D=64, G=1', hidden: 128, heads: 2, kvHeads: 2, intermediate: 160 },
  { name: 'qwen2 q/k/v biases, D=64, G=2', family: 'qwen2', hidden: 256, heads: 4, kvHeads: 2, intermediate: 256 },
  { name: 'qwen3 q/k norms, D=128 != hidden/heads, G=4', family: 'qwen3', hidden: 128, heads: 4, kvHeads: 1, headDim: 128, intermediate: 192 },
  { name: 'mistral window 240, D=16, G=4', family: 'mistral', slidingWindow: 240, hidden: 64, heads: 4, kvHeads: 1, intermediate: 128 },
];

describeCuda('fused decoding step on CUDA', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-decode-gpu-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  for (const shape of SHAPES) {
    test(`${shape.name}: greedy generate equals greedy by full forwards and the unfused step (ragged, split caches)`, async () => {
      const dir = writeTinyLlama(path.join(root, shape.name.replace(/[^a-z0-9]/gi, '')), { seed: 3, ...shape });
      const model = await LlamaModel.load(dir, { device: 'cuda', dtype: 'float32' });
      try {
        // 200 + 24 positions: the batch-1 cache is cut into 2 key ranges; the ragged pair exercises keyStart.
        for (const prompts of [[prompt(200, 1)], [prompt(150, 2), prompt(9, 3)]]) {
          const r = await model.generate(prompts, { maxNewTokens: 24, temperature: 0 });
          expect(r.tokens).toEqual(prompts.map((p) => greedyByForward(model, p, 24)));
          const unfused = await withUnfused(() => model.generate(prompts, { maxNewTokens: 24, temperature: 0 }));
          expect(unfused.tokens).toEqual(r.tokens);
        }
      } finally {
        model.dispose();
      }
    });
  }

  test.each(['llama', 'qwen2', 'qwen3'] as const)('%s: after an optimizer step, decoding uses the updated weights (packed q/k/v, their biases and gate/up follow)', async (family) => {
    const dir = writeTinyLlama(path.join(root, `update-${family}`), { seed: 5, hidden: 128, heads: 4, kvHeads: 2, family });
    const model = await LlamaModel.load(dir, { device: 'cuda', dtype: 'float32' });
    try {
      const prompts = [prompt(20, 4), prompt(7, 5)];
      const before = await model.generate(prompts, { maxNewTokens: 16, temperature: 0 });
      const params = model.parameters();
      model.requiresGrad_(true);
      const opt = new AdamW(params, { lr: 0.05 });
      at.tidy(() => {
        const ids = tensor([prompt(16, 6)], { dtype: 'int64' }).cuda();
        model.tokenLogprobs(ids).sum().backward();
      });
      opt.step();
      model.requiresGrad_(false);
      const after = await model.generate(prompts, { maxNewTokens: 16, temperature: 0 });
      expect(after.tokens).not.toEqual(before.tokens);
      expect(after.tokens).toEqual(prompts.map((p) => greedyByForward(model, p, 16)));
    } finally {
      model.dispose();
    }
  });

  test('sampling on CUDA draws from the softmax (frequencies of 4000 draws), and top-k keeps to the k best', async () => {
    const dir = writeTinyLlama(path.join(root, 'sample'), { seed: 11 });
    const model = await LlamaModel.load(dir, { device: 'cuda', dtype: 'float32' });
    try {
      const p = [5, 17, 250];
      const temperature = 0.3;
      const probs = noGrad(() =>
        at.tidy(() => {
          const logits = model.forward(tensor([p], { dtype: 'int64' }).cuda()).narrow(1, 2, 1).reshape([-1]);
          return logits.div(temperature).softmax(-1).cpu().toArray() as number[];
        }),
      );
      const N = 4000;
      const counts = async (opts: object): Promise<number[]> => {
        const r = await model.generate([p], { maxNewTokens: 1, temperature, numReturnSequences: N, seed: 3, ...opts });
        const c = new Array(probs.length).fill(0);
        for (const row of r.tokens) c[row[0]]++;
        return c;
      };
      const order = probs.map((q, i) => [q, i]).sort((a, b) => b[0] - a[0]).map(([, i]) => i);
      const c = await counts({});
      for (const i of order.slice(0, 5)) {
        const q = probs[i];
        expect(Math.abs(c[i] / N - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / N) + 1e-3);
      }
      const k = await counts({ topK: 3 });
      const top = order.slice(0, 3);
      expect(top.reduce((s, i) => s + k[i], 0)).toBe(N);
      const mass = top.reduce((s, i) => s + probs[i], 0);
      for (const i of top) {
        const q = probs[i] / mass;
        expect(Math.abs(k[i] / N - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / N) + 1e-3);
      }
    } finally {
      model.dispose();
    }
  });

  test('bfloat16: the fused step stays close to the unfused one (greedy tokens mostly agree)', async () => {
    const dir = writeTinyLlama(path.join(root, 'bf16'), { seed: 9, ...SHAPES[0] });
    const model = await LlamaModel.load(dir, { device: 'cuda', dtype: 'bfloat16' });
    try {
      const prompts = [prompt(40, 7), prompt(25, 8), prompt(3, 9)];
      const fused = await model.generate(prompts, { maxNewTokens: 16, temperature: 0 });
      const unfused = await withUnfused(() => model.generate(prompts, { maxNewTokens: 16, temperature: 0 }));
      // fp32 scores and one rounding of the attention output vs bf16 scores: near-ties may flip late tokens.
      const same = fused.tokens.flat().filter((t, i) => t === unfused.tokens.flat()[i]).length;
      expect(same / fused.tokens.flat().length).toBeGreaterThan(0.5);
    } finally {
      model.dispose();
    }
  });
});
