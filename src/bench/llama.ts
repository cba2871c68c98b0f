// The Llama benchmark: LlamaModel (bf16, CUDA) at Llama-3.2-3B size on a model directory (random weights are fine):
// generate throughput (sampling) at batch 1 and batch 64, and training forward+backward throughput, with peak CUDA
// memory. Peers: bench/llama.py (transformers, sdpa, eager and static cache + torch.compile); bench/llama.md.
import * as fs from 'fs';
import { LlamaModel } from '../llm/model';
import { randint, manualSeed } from '../tensor/creation';
import { cuda } from '../tensor/runtime';
import { tidy } from '../tensor/scope';

export interface LlamaBenchOptions {
  modelDir: string;
  device: string;
  /** Timed runs per case (default 1; generate runs are long); one untimed warm-up run before them. */
  iters: number;
  json?: string;
}

export interface LlamaBenchResult {
  impl: string;
  case: string;
  batch: number;
  promptLen: number;
  newTokens: number;
  /** Generated (or trained) tokens per second; null when the case failed. */
  tokensPerS: number | null;
  ms: number | null;
  /** Peak allocated CUDA memory during the case (weights included), GiB. */
  peakGiB: number | null;
  error?: string;
}

const VOCAB_IDS = 128000;

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0].slice(0, 160);
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function randomPrompts(batch: number, len: number): number[][] {
  const out: number[][] = [];
  for (let b = 0; b < batch; b++) out.push(Array.from({ length: len }, () => Math.floor(Math.random() * VOCAB_IDS)));
  return out;
}

async function timed(device: string, warmup: number, iters: number, step: () => Promise<void>): Promise<{ ms: number; peak: number }> {
  for (let i = 0; i < warmup; i++) await step();
  cuda.synchronize(device);
  await turn();
  cuda.resetPeakMemory(device);
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    cuda.synchronize(device);
    const t0 = process.hrtime.bigint();
    await step();
    cuda.synchronize(device);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await turn();
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)], peak: cuda.memory(device).peakAllocatedBytes / 2 ** 30 };
}

export async function runLlamaBench(o: LlamaBenchOptions): Promise<LlamaBenchResult[]> {
  if (!o.device.startsWith('cuda')) throw new Error('the llama bench runs on CUDA only (--device cuda)');
  const model = await LlamaModel.load(o.modelDir, { device: o.device, dtype: 'bfloat16' });
  const info = cuda.devices()[0];
  console.log(`# llama bench: ${o.modelDir} (${model.config.numHiddenLayers} layers, hidden ${model.config.hiddenSize}), bf16 on ${info?.name ?? o.device}; ` +
    `1 warm-up + ${o.iters} timed run(s) per case (median)`);
  const results: LlamaBenchResult[] = [];
  const genCase = async (batch: number, promptLen: number, newTokens: number) => {
    const r: LlamaBenchResult = { impl: 'atman-native', case: 'generate (sampling T=1)', batch, promptLen, newTokens, tokensPerS: null, ms: null, peakGiB: null };
    try {
      const prompts = randomPrompts(batch, promptLen);
      let n = 0;
      const t = await timed(o.device, 1, o.iters, async () => {
        const g = await model.generate(prompts, { maxNewTokens: newTokens, temperature: 1, seed: 1 });
        n = g.lengths.reduce((a, b) => a + b, 0);
      });
      r.ms = t.ms;
      r.tokensPerS = n / (t.ms / 1000);
      r.peakGiB = t.peak;
      if (n !== batch * newTokens) r.error = `generated ${n} tokens, expected ${batch * newTokens}`;
    } catch (e) {
      r.error = message(e);
    }
    results.push(r);
  };
  await genCase(1, 128, 128);
  await genCase(64, 128, 256);

  const train: LlamaBenchResult = { impl: 'atman-native', case: 'train fwd+bwd (mean -tokenLogprobs)', batch: 8, promptLen: 512, newTokens: 0, tokensPerS: null, ms: null, peakGiB: null };
  try {
    model.requiresGrad_(true);
    manualSeed(0);
    const ids = randint(0, VOCAB_IDS, [8, 512], { dtype: 'int64', device: o.device });
    const params = model.parameters();
    const t = await timed(o.device, 1, Math.max(3, o.iters), async () => {
      tidy(() => {
        model.tokenLogprobs(ids).neg().mean().backward();
      });
      for (const p of params) p.zeroGrad();
    });
    train.ms = t.ms;
    train.tokensPerS = (8 * 512) / (t.ms / 1000);
    train.peakGiB = t.peak;
    ids.dispose();
    model.requiresGrad_(false);
  } catch (e) {
    train.error = message(e);
  }
  results.push(train);
  model.dispose();

  console.log('\n| impl | case | batch | prompt | new tokens | ms / run | tokens/s | peak GiB |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results)
    console.log(
      `| ${r.impl} | ${r.case} | ${r.batch} | ${r.promptLen} | ${r.newTokens || '-'} | ${r.ms === null ? '-' : r.ms.toFixed(0)} | ` +
        `${r.tokensPerS === null ? `failed: ${r.error}` : r.tokensPerS.toFixed(1)} | ${r.peakGiB === null ? '-' : r.peakGiB.toFixed(2)} |`,
    );
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ device: info?.name, results }, null, 2));
  return results;
}
