// LlamaModel on CUDA, checked against the same model on the CPU. Skips itself without CUDA; `npm run test:gpu`.
// generate decodes through a captured CUDA graph by default; one test compares it with eager decoding.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as at from '../../src';
import { LlamaModel, Tensor, noGrad, tensor, zeros } from '../../src';
import { greedyByForward as greedy, writeTinyLlama } from '../llama_helpers';

const hasCuda = at.cuda.isAvailable();
const describeCuda = hasCuda ? describe : describe.skip;

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return at.tidy(() => a.cpu().double().sub(b.cpu().double()).abs().max().item() as number);
}

const IDS = [
  [5, 17, 250, 3, 99, 1, 42, 7, 8, 200, 13, 14],
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
];
const ids = (device = 'cpu') => tensor(IDS, { dtype: 'int64' }).to(device);
const PROMPTS = [[5, 17, 250], [1, 2, 3, 4, 5, 6], [42]];

// f with the fused CUDA kernels switched off (ATMAN_FUSED is read on every call): the ATen ops.
function unfused<R>(f: () => R): R {
  process.env.ATMAN_FUSED = '0';
  try {
    return f();
  } finally {
    delete process.env.ATMAN_FUSED;
  }
}

describeCuda('LlamaModel on CUDA matches the CPU', () => {
  let root: string;
  let dir: string;
  let cpu: LlamaModel;
  let gpu: LlamaModel;
  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-llama-gpu-'));
    dir = writeTinyLlama(path.join(root, 'm'), { seed: 7, llama3: true, tied: false });
    cpu = await LlamaModel.load(dir, { dtype: 'float32' });
    gpu = await LlamaModel.load(dir, { device: 'cuda', dtype: 'float32' });
  });
  afterAll(() => {
    cpu?.dispose();
    gpu?.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('weights live on the GPU in float32', () => {
    expect(gpu.config).toMatchObject({ dtype: 'float32' });
    for (const p of gpu.parameters()) expect(p.device).toBe('cuda:0');
  });

  test('float32 logits equal the CPU model (1e-4), also with keyBias, keyStart and biasQueryStart', () => {
    at.tidy(() => {
      noGrad(() => {
        const a = cpu.forward(ids());
        const b = gpu.forward(ids('cuda'));
        expect(b.device).toBe('cuda:0');
        expect(b.shape).toEqual([2, 12, 300]);
        expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
        const bias = at.randn([2, 12]);
        const ks = tensor([0, 3], { dtype: 'int64' });
        const a2 = cpu.forward(ids(), { keyBias: bias, keyStart: ks, biasQueryStart: 4 });
        const b2 = gpu.forward(ids('cuda'), { keyBias: bias.cuda(), keyStart: ks.cuda(), biasQueryStart: 4 });
        expect(maxAbsDiff(a2, b2)).toBeLessThan(1e-4);
      });
    });
  });

  test('tokenLogprobs equals logSoftmax(forward) gathered, and the CPU values', () => {
    at.tidy(() => {
      noGrad(() => {
        const lp = gpu.tokenLogprobs(ids('cuda'), { targetStart: 2, chunkSize: 5 });
        expect(lp.shape).toEqual([2, 12]);
        const logp = gpu.forward(ids('cuda')).logSoftmax(-1);
        const next = ids('cuda').narrow(1, 1, 11).unsqueeze(-1);
        const gathered = logp.narrow(1, 0, 11).gather(2, next).squeeze(-1);
        expect(maxAbsDiff(lp.narrow(1, 2, 10), gathered.narrow(1, 1, 10))).toBeLessThan(1e-4);
        expect(maxAbsDiff(lp.narrow(1, 0, 2), zeros([2, 2]))).toBe(0);
        const lpCpu = cpu.tokenLogprobs(ids(), { targetStart: 2 });
        expect(maxAbsDiff(lp, lpCpu)).toBeLessThan(1e-4);
      });
    });
  });

  test('gradients reach keyBias and the parameters, equal to the CPU ones', () => {
    const run = (m: LlamaModel, device: string) => {
      m.requiresGrad_(true);
      const keyBias = zeros([2, 12], { device, requiresGrad: true });
      const lp = m.tokenLogprobs(ids(device), { keyBias, targetStart: 3 });
      lp.sum().backward();
      const grads = [keyBias.grad!.cpu(), ...m.parameters().map((p) => p.grad!.cpu())];
      for (const p of m.parameters()) p.zeroGrad();
      m.requiresGrad_(false);
      return grads;
    };
    const g = run(gpu, 'cuda');
    const c = run(cpu, 'cpu');
    expect(at.tidy(() => g[0].abs().sum().item() as number)).toBeGreaterThan(0);
    for (let i = 0; i < g.length; i++) {
      expect(at.tidy(() => g[i].abs().sum().item() as number)).toBeGreaterThan(0);
      const scale = Math.max(1, at.tidy(() => c[i].abs().max().item() as number));
      expect(maxAbsDiff(g[i], c[i])).toBeLessThan(1e-3 * scale);
    }
  });

  test('greedy generate with the KV cache equals greedy decoding by full forwards (and the CPU)', async () => {
    const greedyByForward = (prompt: number[], n: number): number[] => greedy(gpu, prompt, n, 'cuda');
    const r = await gpu.generate(PROMPTS, { maxNewTokens: 10, temperature: 0 });
    expect(r.tokens).toEqual(PROMPTS.map((p) => greedyByForward(p, 10)));
    expect(r.finishReasons).toEqual(['length', 'length', 'length']);
    const rc = await cpu.generate(PROMPTS, { maxNewTokens: 10, temperature: 0 });
    expect(r.tokens).toEqual(rc.tokens);
  });

  test('seeded sampling on CUDA is reproducible; another seed differs; topK 1 is greedy', async () => {
    const opts = { maxNewTokens: 12, temperature: 1.0, topP: 0.95, seed: 123, numReturnSequences: 2 };
    const a = await gpu.generate(PROMPTS, opts);
    const b = await gpu.generate(PROMPTS, opts);
    expect(a.tokens).toEqual(b.tokens);
    const c = await gpu.generate(PROMPTS, { ...opts, seed: 124 });
    expect(c.tokens).not.toEqual(a.tokens);
    const greedy = await gpu.generate(PROMPTS, { maxNewTokens: 5, temperature: 0 });
    const top1 = await gpu.generate(PROMPTS, { maxNewTokens: 5, temperature: 0.7, topK: 1, seed: 1 });
    expect(top1.tokens).toEqual(greedy.tokens);
    for (const row of a.tokens) for (const t of row) expect(t >= 0 && t < 300).toBe(true);
  });

  test('the fused kernels (RMSNorm, rotary, SiLU*up) match the ATen ops (ATMAN_FUSED=0) in a no-grad forward', () => {
    const aten = unfused(() => noGrad(() => gpu.forward(ids('cuda'), { keyStart: tensor([0, 3], { dtype: 'int64' }) })));
    const fused = noGrad(() => gpu.forward(ids('cuda'), { keyStart: tensor([0, 3], { dtype: 'int64' }) }));
    expect(maxAbsDiff(aten, fused)).toBeLessThan(1e-5);
  });

  test('CUDA-graph decoding gives the eager tokens (greedy, G copies, stop tokens, past the 16-step done checks)', async () => {
    const opts = { maxNewTokens: 40, temperature: 0, numReturnSequences: 2 };
    const eager = await gpu.generate(PROMPTS, { ...opts, cudaGraph: false });
    const graph = await gpu.generate(PROMPTS, { ...opts, cudaGraph: true });
    expect(graph.tokens).toEqual(eager.tokens);
    expect(graph.lengths).toEqual([40, 40, 40, 40, 40, 40]);
    // A stop token that greedy decoding emits ends those sequences at the same place in both modes.
    const stop = eager.tokens[0][20];
    const s1 = await gpu.generate(PROMPTS, { ...opts, stopTokenIds: [stop], cudaGraph: false });
    const s2 = await gpu.generate(PROMPTS, { ...opts, stopTokenIds: [stop], cudaGraph: true });
    expect(s2.tokens).toEqual(s1.tokens);
    expect(s2.finishReasons).toEqual(s1.finishReasons);
    expect(s2.finishReasons[0]).toBe('stop');
    // Sampling through the graph is reproducible for a seed.
    const sample = { maxNewTokens: 24, temperature: 1, seed: 5, numReturnSequences: 2 };
    expect((await gpu.generate(PROMPTS, sample)).tokens).toEqual((await gpu.generate(PROMPTS, sample)).tokens);
  });

  test('bfloat16 on CUDA runs and is close to float32 (logits within 0.05 of the logit scale)', async () => {
    const bf = await LlamaModel.load(dir, { device: 'cuda', dtype: 'bfloat16' });
    try {
      expect(bf.config).toMatchObject({ dtype: 'bfloat16' });
      at.tidy(() => {
        noGrad(() => {
          const a = gpu.forward(ids('cuda'));
          const b = bf.forward(ids('cuda'));
          expect(b.dtype).toBe('bfloat16');
          const scale = a.abs().max().item() as number;
          // bf16 has 8 mantissa bits: a 2-layer model's logits drift by a few 1e-3 of their scale; 0.05 is generous.
          expect(maxAbsDiff(a, b) / scale).toBeLessThan(0.05);
          const lp = bf.tokenLogprobs(ids('cuda'));
          expect(lp.dtype).toBe('float32');
          expect(maxAbsDiff(lp, gpu.tokenLogprobs(ids('cuda')))).toBeLessThan(0.1);
        });
      });
      // bf16: the fused kernels round where the ATen ops round; only RMSNorm's fp32 sum order differs.
      const atenBf = unfused(() => noGrad(() => bf.forward(ids('cuda'))));
      const fusedBf = noGrad(() => bf.forward(ids('cuda')));
      expect(maxAbsDiff(atenBf, fusedBf) / (atenBf.abs().max().item() as number)).toBeLessThan(0.01);
      const r = await bf.generate(PROMPTS, { maxNewTokens: 8, temperature: 0 });
      expect(r.lengths).toEqual([8, 8, 8]);
    } finally {
      bf.dispose();
    }
  });
});
