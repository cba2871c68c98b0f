// The AtMan attention benchmark: time, TFLOP/s and peak memory of attention() forward and forward+backward at the
// Llama-3.2-3B shapes (the PyTorch peers are bench/attention.py; method and columns in bench/attention.md).
// It calls the public op, so it measures whatever implementation attention() dispatches to on that device.
import * as fs from 'fs';
import { attention } from '../attention/attention';
import { manualSeed, randn } from '../tensor/creation';
import { cuda } from '../tensor/runtime';
import { tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { buildInfo } from '../runtime-info';

export interface AttentionBenchShape {
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
}

/** Llama-3.2-3B attention (24 query heads, 8 kv heads, head dim 128) at 4096 tokens per batch. */
export const LLAMA_3B_SHAPES: AttentionBenchShape[] = [
  { B: 8, T: 512, Hq: 24, Hkv: 8, D: 128 },
  { B: 4, T: 1024, Hq: 24, Hkv: 8, D: 128 },
  { B: 2, T: 2048, Hq: 24, Hkv: 8, D: 128 },
  { B: 1, T: 4096, Hq: 24, Hkv: 8, D: 128 },
];

/** Tiny shapes for a smoke run (CPU reference); the same in bench/attention.py --small. */
export const SMALL_SHAPES: AttentionBenchShape[] = [
  { B: 2, T: 64, Hq: 4, Hkv: 2, D: 64 },
  { B: 1, T: 128, Hq: 4, Hkv: 2, D: 64 },
];

interface GradCase {
  /** The label in the table's grads column. */
  grads: string;
  bias: boolean;
  qkvGrad: boolean;
  biasGrad: boolean;
}

const CASES: GradCase[] = [
  // The AtMan case: the model is frozen, only the per-key bias (the mask) needs a gradient.
  { grads: 'keyBias', bias: true, qkvGrad: false, biasGrad: true },
  // Everything needs a gradient (training the model through a biased attention).
  { grads: 'q,k,v,keyBias', bias: true, qkvGrad: true, biasGrad: true },
  // No bias: the like-for-like row for the SDPA flash floor of bench/attention.py.
  { grads: 'q,k,v', bias: false, qkvGrad: true, biasGrad: false },
];

export interface AttentionBenchResult {
  impl: string;
  device: string;
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
  dtype: 'bfloat16';
  causal: true;
  bias: boolean;
  grads: string;
  /** Median over the timed iterations, milliseconds; null when the step failed. */
  fwdMs: number | null;
  fwdBwdMs: number | null;
  /** FA2 FLOP convention (see attentionFlops), over the median time. */
  fwdTflops: number | null;
  fwdBwdTflops: number | null;
  /** Peak CUDA allocation during one step minus what was allocated before it (inputs), MiB; null on CPU. */
  fwdPeakMiB: number | null;
  fwdBwdPeakMiB: number | null;
  error?: string;
}

export interface AttentionBenchReport {
  meta: {
    bench: 'attention';
    impl: string;
    device: string;
    deviceName: string;
    torchVersion: string;
    variant: string;
    iters: number;
    warmup: number;
    date: string;
  };
  results: AttentionBenchResult[];
}

/**
 * FLOPs of causal attention forward as FlashAttention-2's benchmark counts them: 4·B·Hq·T²·D (two matmuls of
 * 2·T²·D each per head), halved for causal. The backward counts 2.5× the forward (five matmuls instead of two).
 */
export function attentionFlops(s: AttentionBenchShape, pass: 'fwd' | 'fwdBwd'): number {
  const fwd = (4 * s.B * s.Hq * s.T * s.T * s.D) / 2;
  return pass === 'fwd' ? fwd : fwd * 3.5;
}

function isCuda(device: string): boolean {
  return device.startsWith('cuda');
}

function sync(device: string): void {
  if (isCuda(device)) cuda.synchronize(device);
}

// Lets the event loop run the finalizers of released handles (Node runs them only between turns).
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `warmup` untimed steps, then `iters` timed ones, each between two synchronizes; median in ms. */
function timeSteps(step: () => void, prepare: () => void, iters: number, warmup: number, device: string): number {
  for (let i = 0; i < warmup; i++) {
    prepare();
    step();
  }
  sync(device);
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    prepare();
    sync(device);
    const t0 = process.hrtime.bigint();
    step();
    sync(device);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(samples);
}

/** Peak allocated bytes during one step above what was allocated just before it, in MiB; null off CUDA. */
function peakOfStep(step: () => void, prepare: () => void, device: string): number | null {
  if (!isCuda(device)) return null;
  prepare();
  sync(device);
  cuda.resetPeakMemory(device);
  const before = cuda.memory(device).allocatedBytes;
  step();
  sync(device);
  return (cuda.memory(device).peakAllocatedBytes - before) / 2 ** 20;
}

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0].slice(0, 160);
}

function deviceName(device: string): string {
  if (!isCuda(device)) return 'cpu';
  const m = /^cuda(?::(\d+))?$/.exec(device);
  const index = m && m[1] !== undefined ? Number(m[1]) : 0;
  const info = cuda.devices().find((d) => d.index === index);
  return info ? `${info.name} (sm ${info.capability})` : device;
}

function benchCase(s: AttentionBenchShape, c: GradCase, device: string, iters: number, warmup: number): AttentionBenchResult {
  const r: AttentionBenchResult = {
    impl: 'atman-native',
    device,
    ...s,
    dtype: 'bfloat16',
    causal: true,
    bias: c.bias,
    grads: c.grads,
    fwdMs: null,
    fwdBwdMs: null,
    fwdTflops: null,
    fwdBwdTflops: null,
    fwdPeakMiB: null,
    fwdBwdPeakMiB: null,
  };
  const errors: string[] = [];
  const inputs: Tensor[] = [];
  try {
    manualSeed(0);
    const make = (shape: number[], dtype: 'bfloat16' | 'float32', requiresGrad: boolean): Tensor => {
      const t = randn(shape, { device, dtype, requiresGrad });
      inputs.push(t);
      return t;
    };
    const q = make([s.B, s.Hq, s.T, s.D], 'bfloat16', c.qkvGrad);
    const k = make([s.B, s.Hkv, s.T, s.D], 'bfloat16', c.qkvGrad);
    const v = make([s.B, s.Hkv, s.T, s.D], 'bfloat16', c.qkvGrad);
    const keyBias = c.bias ? make([s.B, s.T], 'float32', c.biasGrad) : undefined;
    // A fixed random output gradient (as a real loss would give), made once, outside the timed steps.
    const gradOut = make([s.B, s.Hq, s.T, s.D], 'bfloat16', false);
    const leaves = inputs.filter((t) => t.requiresGrad);
    const opts = keyBias ? { causal: true, keyBias } : { causal: true };

    // The graph is recorded (the inputs that need a gradient do), then freed with the output by tidy().
    const fwd = () => tidy(() => void attention(q, k, v, opts));
    const fwdBwd = () => tidy(() => attention(q, k, v, opts).backward(gradOut));
    // Gradients are dropped before each step, so that none is accumulated into an existing .grad.
    const clearGrads = () => {
      for (const t of leaves) t.zeroGrad();
    };

    try {
      r.fwdMs = timeSteps(fwd, clearGrads, iters, warmup, device);
      r.fwdTflops = attentionFlops(s, 'fwd') / (r.fwdMs * 1e-3) / 1e12;
      r.fwdPeakMiB = peakOfStep(fwd, clearGrads, device);
    } catch (e) {
      errors.push(`fwd: ${message(e)}`);
    }
    try {
      r.fwdBwdMs = timeSteps(fwdBwd, clearGrads, iters, warmup, device);
      r.fwdBwdTflops = attentionFlops(s, 'fwdBwd') / (r.fwdBwdMs * 1e-3) / 1e12;
      r.fwdBwdPeakMiB = peakOfStep(fwdBwd, clearGrads, device);
      // The step must have produced every gradient it is timed for (a kernel that skips one would look fast).
      const missing = leaves.filter((t) => tidy(() => t.grad === null));
      if (missing.length > 0) errors.push(`fwd+bwd: ${missing.length} of the inputs needing a gradient got none`);
    } catch (e) {
      errors.push(`fwd+bwd: ${message(e)}`);
    }
    clearGrads();
  } catch (e) {
    errors.push(message(e));
  } finally {
    for (const t of inputs) t.dispose();
  }
  if (errors.length > 0) r.error = errors.join('; ');
  return r;
}

const fmt = (x: number | null, digits: number): string => (x === null ? '—' : x.toFixed(digits));
// TFLOP/s: one decimal, or three significant digits below 1 (CPU smoke runs).
const fmtRate = (x: number | null): string => (x === null ? '—' : x >= 1 ? x.toFixed(1) : x.toPrecision(3));

/** The markdown table both benches print (bench/attention.py prints the same columns). */
export function attentionTable(results: AttentionBenchResult[]): string {
  const lines = [
    '| impl | B | T | bias | grads | fwd ms | fwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s | fwd peak MiB | fwd+bwd peak MiB | error |',
    '| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of results)
    lines.push(
      `| ${r.impl} | ${r.B} | ${r.T} | ${r.bias ? 'yes' : 'no'} | ${r.grads} | ${fmt(r.fwdMs, 3)} | ${fmtRate(r.fwdTflops)} | ` +
        `${fmt(r.fwdBwdMs, 3)} | ${fmtRate(r.fwdBwdTflops)} | ${fmt(r.fwdPeakMiB, 1)} | ${fmt(r.fwdBwdPeakMiB, 1)} | ` +
        `${(r.error ?? '').replace(/\|/g, '/')} |`,
    );
  return lines.join('\n');
}

export async function runAttentionBench(opts: {
  device: string;
  shapes?: AttentionBenchShape[];
  /** Use SMALL_SHAPES (ignored when shapes is given). */
  small?: boolean;
  iters: number;
  /** Untimed steps before the timed ones (default 5 on CUDA, 1 on CPU). */
  warmup?: number;
  json?: string;
}): Promise<AttentionBenchReport> {
  const { device } = opts;
  if (!Number.isInteger(opts.iters) || opts.iters < 1) throw new RangeError(`out of range: --iters must be a positive integer, got ${opts.iters}`);
  if (isCuda(device) && !cuda.isAvailable())
    throw new Error(`device '${device}' is not available: this libtorch has no CUDA or no GPU is visible (atman-native doctor)`);
  const shapes = opts.shapes ?? (opts.small ? SMALL_SHAPES : LLAMA_3B_SHAPES);
  const warmup = opts.warmup ?? (isCuda(device) ? 5 : 1);
  if (!isCuda(device) && !opts.small && opts.shapes === undefined)
    console.error('note: the full shapes on CPU run the reference implementation and take long; --small gives a smoke run');
  const info = buildInfo();
  const report: AttentionBenchReport = {
    meta: {
      bench: 'attention',
      impl: 'atman-native attention() (whatever implementation it dispatches to on this device)',
      device,
      deviceName: deviceName(device),
      torchVersion: info.torchVersion,
      variant: info.variant,
      iters: opts.iters,
      warmup,
      date: new Date().toISOString(),
    },
    results: [],
  };
  console.log(
    `atman-native attention, ${report.meta.deviceName}, libtorch ${info.torchVersion} (${info.variant}); causal, bf16 q/k/v, ` +
      `float32 keyBias [B, T]; median of ${opts.iters} steps after ${warmup} warm-up\n`,
  );
  for (const s of shapes) {
    for (const c of CASES) {
      report.results.push(benchCase(s, c, device, opts.iters, warmup));
      await turn();
    }
  }
  console.log(attentionTable(report.results));
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(report, null, 2));
  return report;
}
