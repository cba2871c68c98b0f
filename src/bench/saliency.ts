// The AtMan saliency benchmark (GPU host): optimizeSaliency on a Llama directory (bf16, CUDA) at the shapes of
// scripts/saliency_peer.py (bench/peers-README.md): one mask-optimization step vs one full training forward+backward
// of the same B=8 x T=512 batch, with peak memory, and the wall time of a K=30 optimization of 64 completions.
import * as fs from 'fs';

import { SaliencyExample, SaliencyOptions, SaliencyResult, optimizeSaliency, saliencyStats } from '../atman';
import { mulberry32 } from '../data/prng';
import { LlamaModel } from '../llm/model';
import { tensor } from '../tensor/creation';
import { cuda } from '../tensor/runtime';
import { tidy } from '../tensor/scope';
import { ANSWER_LEN, SEED, SUPPRESS_S, THETA_INIT, VOCAB_IDS, gib, median, nowMs as now } from './peer-settings';

export interface SaliencyBenchOptions {
  modelDir: string;
  device: string;
  json?: string;
  /** Completions per batch (default 8). */
  batch?: number;
  /** Tokens per completion (default 512). */
  seq?: number;
  /** K, mask steps per completion in the full optimization (default 30). */
  steps?: number;
  /** Completions in the full optimization (default 64). */
  completions?: number;
  /** Timed samples of the mask and training steps, after 2 warm-ups (default 5, as the peer). */
  samples?: number;
}

/** A failed measurement: the others still run. */
interface Failure {
  oom: boolean;
  error: string;
}
type Timing = { ms: number; peak_gib: number; samples_ms: number[]; oom: false } | Failure;

// More constants of scripts/peer_common.py (the shared ones are in ./peer-settings).
const MASK_LR = 0.1;
const MASK_LAMBDA = 1.0;
const CRUCIAL = 0.5;
const WARMUP = 2;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function failure(e: unknown): Failure {
  const text = (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
  return { oom: /out of memory/i.test(text), error: text };
}

/** n rows of T random ids in [0, 128000), CoT [T/4, T-16), answer the last 16 tokens, no padding. */
function randomExamples(n: number, T: number, seed: number): SaliencyExample[] {
  const rand = mulberry32(seed);
  const cotStart = Math.floor(T / 4);
  return Array.from({ length: n }, () => ({
    ids: Array.from({ length: T }, () => Math.floor(rand() * VOCAB_IDS)),
    cotStart,
    cotEnd: T - ANSWER_LEN,
    answerStart: T - ANSWER_LEN,
    answerEnd: T,
  }));
}

/** The peer's mask settings: θ starts at 5 (s = 0.9933), suppression multiplies a key's weight by 1e-4. */
function maskOptions(batch: number, steps: number): SaliencyOptions {
  return { steps, lr: MASK_LR, lambda: MASK_LAMBDA, initLogit: THETA_INIT, threshold: CRUCIAL, suppressBias: Math.log(SUPPRESS_S), batchSize: batch };
}

/**
 * One mask step = the time between consecutive onStep calls of one optimizeSaliency run (the callback synchronizes
 * the device first), so collation and the evaluation forwards stay out: 2 warm-up steps, then `samples` timed steps.
 * Peak memory is reset after the warm-ups and read at the last step, before the evaluation forwards.
 */
async function maskStepCase(model: LlamaModel, device: string, examples: SaliencyExample[], samples: number): Promise<Timing> {
  try {
    const stamps: number[] = [];
    let peak = 0;
    await optimizeSaliency(model, examples, {
      ...maskOptions(examples.length, WARMUP + samples),
      onStep: (done) => {
        cuda.synchronize(device);
        stamps.push(now());
        if (done === WARMUP) cuda.resetPeakMemory(device);
        if (done === WARMUP + samples) peak = cuda.memory(device).peakAllocatedBytes;
      },
    });
    const samplesMs = stamps.slice(WARMUP).map((t, i) => Number((t - stamps[WARMUP - 1 + i]).toFixed(3)));
    return { ms: median(samplesMs), peak_gib: gib(peak), samples_ms: samplesMs, oom: false };
  } catch (e) {
    return failure(e);
  }
}

/** One training forward+backward of the same batch: every weight requires grad, mean NLL over the T-1 positions. */
async function trainStepCase(model: LlamaModel, device: string, examples: SaliencyExample[], samples: number): Promise<Timing> {
  const B = examples.length, T = examples[0].ids.length;
  const params = model.parameters();
  const ids = tidy(() => tensor(examples.flatMap((e) => e.ids), { dtype: 'int64' }).reshape([B, T]).to({ device: model.config.device }));
  const step = () => {
    tidy(() => {
      model.tokenLogprobs(ids).sum().neg().div(B * (T - 1)).backward();
    });
    for (const p of params) p.zeroGrad();
  };
  try {
    model.requiresGrad_(true);
    for (let i = 0; i < WARMUP; i++) step();
    cuda.synchronize(device);
    cuda.resetPeakMemory(device);
    const samplesMs: number[] = [];
    for (let i = 0; i < samples; i++) {
      cuda.synchronize(device);
      const t0 = now();
      step();
      cuda.synchronize(device);
      samplesMs.push(Number((now() - t0).toFixed(3)));
      await turn();
    }
    return { ms: median(samplesMs), peak_gib: gib(cuda.memory(device).peakAllocatedBytes), samples_ms: samplesMs, oom: false };
  } catch (e) {
    return failure(e);
  } finally {
    model.requiresGrad_(false);
    for (const p of params) {
      p.zeroGrad();
      p.dispose();
    }
    ids.dispose();
  }
}

type Stats = Record<'mean_s' | 'frac_crucial' | 'logp_full' | 'logp_suppress_crucial' | 'logp_suppress_all', number | null>;

/** Means over completions, as peer_common.summarize_rows (null when a value is not finite). */
function summarize(results: SaliencyResult[]): Stats {
  const mean = (f: (r: SaliencyResult) => number): number | null => {
    const v = results.map(f);
    return v.length > 0 && v.every(Number.isFinite) ? Number((v.reduce((a, b) => a + b, 0) / v.length).toFixed(4)) : null;
  };
  return {
    mean_s: mean((r) => saliencyStats(r).meanS),
    frac_crucial: mean((r) => saliencyStats(r).fracCrucial),
    logp_full: mean((r) => r.logpFull),
    logp_suppress_crucial: mean((r) => r.logpSuppressCrucial),
    logp_suppress_all: mean((r) => r.logpSuppressAll),
  };
}

type FullRun = { s: number; peak_gib: number; oom: false; stats: Stats } | Failure;

async function fullOptimizationCase(model: LlamaModel, device: string, examples: SaliencyExample[], batch: number, steps: number): Promise<FullRun> {
  try {
    cuda.synchronize(device);
    cuda.resetPeakMemory(device);
    const t0 = now();
    const results = await optimizeSaliency(model, examples, {
      ...maskOptions(batch, steps),
      onStep: (done) => {
        if (done % steps === 0) process.stderr.write(`full optimization: ${Math.min((done / steps) * batch, examples.length)}/${examples.length} completions\n`);
      },
    });
    cuda.synchronize(device);
    const s = Number(((now() - t0) / 1000).toFixed(3));
    return { s, peak_gib: gib(cuda.memory(device).peakAllocatedBytes), oom: false, stats: summarize(results) };
  } catch (e) {
    return failure(e);
  }
}

const field = <T extends object>(r: T, key: string): number | null => {
  const v = (r as Record<string, unknown>)[key];
  return typeof v === 'number' ? v : null;
};

export async function runSaliencyBench(o: SaliencyBenchOptions): Promise<Record<string, unknown>> {
  if (!o.device.startsWith('cuda')) throw new Error('the saliency bench runs on CUDA only (--device cuda)');
  const batch = o.batch ?? 8, seq = o.seq ?? 512, steps = o.steps ?? 30, completions = o.completions ?? 64, samples = o.samples ?? 5;
  if (seq < 4 * (ANSWER_LEN + 1)) throw new Error(`the saliency bench needs seq >= ${4 * (ANSWER_LEN + 1)} (a non-empty CoT [seq/4, seq-16))`);
  const model = await LlamaModel.load(o.modelDir, { device: o.device, dtype: 'bfloat16' });
  const name = cuda.devices()[0]?.name ?? o.device;
  try {
    cuda.synchronize(o.device);
    const weightsGib = gib(cuda.memory(o.device).allocatedBytes);
    console.log(
      `# saliency bench: ${o.modelDir} (${model.config.numHiddenLayers} layers, hidden ${model.config.hiddenSize}), bf16 on ${name}; ` +
        `B=${batch} x T=${seq}, CoT [${Math.floor(seq / 4)}, ${seq - ANSWER_LEN}), answer the last ${ANSWER_LEN}`,
    );
    const ids = randomExamples(batch, seq, SEED + 1);
    process.stderr.write('mask_step ...\n');
    const mask = await maskStepCase(model, o.device, ids, samples);
    process.stderr.write(`mask_step: ${JSON.stringify(mask)}\ntrain_step ...\n`);
    const train = await trainStepCase(model, o.device, ids, samples);
    process.stderr.write(`train_step: ${JSON.stringify(train)}\nfull_optimization ...\n`);
    const full = await fullOptimizationCase(model, o.device, randomExamples(completions, seq, SEED + 2), batch, steps);
    process.stderr.write(`full_optimization: ${JSON.stringify(full)}\n`);

    const maskMs = field(mask, 'ms'), trainMs = field(train, 'ms');
    const result: Record<string, unknown> = {
      impl: 'atman-native', device: name, dtype: 'bfloat16', seed: SEED, weights_gib: weightsGib,
      batch, seq, steps, completions,
      cot: [Math.floor(seq / 4), seq - ANSWER_LEN], answer: [seq - ANSWER_LEN, seq],
      theta_init: THETA_INIT, lr: MASK_LR, lam: MASK_LAMBDA, suppress_s: SUPPRESS_S,
      mask_step_method: 'interval between consecutive optimizeSaliency onStep callbacks (device synchronized in each), 2 warm-up steps',
      mask_step_ms: maskMs, mask_step_peak_gib: field(mask, 'peak_gib'), mask_step: mask,
      train_step_ms: trainMs, train_step_peak_gib: field(train, 'peak_gib'), train_step: train,
      mask_over_train: maskMs !== null && trainMs !== null ? Number((maskMs / trainMs).toFixed(3)) : null,
      full_optimization_s: field(full, 's'), full_optimization_peak_gib: field(full, 'peak_gib'), full_optimization: full,
    };
    printTable(result, mask, train, full);
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(result, null, 1) + '\n');
    return result;
  } finally {
    model.dispose();
  }
}

function printTable(r: Record<string, unknown>, mask: Timing, train: Timing, full: FullRun): void {
  const cell = (x: Timing | FullRun, key: 'ms' | 's', digits: number) =>
    'error' in x ? `failed${x.oom ? ' (OOM)' : ''}: ${x.error}` : (field(x, key) ?? NaN).toFixed(digits);
  const peak = (x: Timing | FullRun) => ('error' in x ? '-' : x.peak_gib.toFixed(2));
  console.log(`\nweights ${String(r.weights_gib)} GiB; peaks include the weights\n`);
  console.log('| impl | measurement | time | peak GiB |');
  console.log('|---|---|---|---|');
  console.log(`| atman-native | mask step (fwd + bwd to the masks + Adam), B=${String(r.batch)} x T=${String(r.seq)} | ${cell(mask, 'ms', 1)} ms | ${peak(mask)} |`);
  console.log(`| atman-native | training step (fwd + bwd, all weights), same batch | ${cell(train, 'ms', 1)} ms | ${peak(train)} |`);
  console.log(`| atman-native | mask step / training step | ${r.mask_over_train === null ? '-' : String(r.mask_over_train)} | |`);
  console.log(
    `| atman-native | full optimization, ${String(r.completions)} completions, K=${String(r.steps)}, batches of ${String(r.batch)} | ` +
      `${cell(full, 's', 2)} s | ${peak(full)} |`,
  );
  if (!('error' in full)) console.log(`\nfull optimization stats (means over completions): ${JSON.stringify(full.stats)}`);
}
