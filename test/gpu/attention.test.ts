// The fused CUDA attention kernels (native/attention/flash) against the reference computed in float64 on the same
// (rounded) inputs: forward output and the gradients of q, k, v and keyBias. Outputs are poisoned with NaN before
// each kernel (ATMAN_ATTENTION_POISON=1, also set by jest.gpu.config.js) so unwritten elements fail. Fresh random
// inputs each run (the seed is printed on failure). Skips itself without CUDA.
process.env.ATMAN_ATTENTION_POISON = '1';

import * as at from '../../src';
import { Tensor } from '../../src';
import type { AttentionOptions } from '../../src';

const hasCuda = at.cuda.isAvailable();
const describeCuda = hasCuda ? describe : describe.skip;

interface Case {
  B: number;
  Hq: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  D: number;
  causal: boolean;
  dtype: 'bfloat16' | 'float16';
  /** 'none', random N(0,1) biases, or random with some entries -1e4 / -Infinity. */
  bias?: 'random' | 'neg1e4' | 'neginf';
  biasQueryStart?: number | number[];
  keyStart?: number[];
  /** batches whose every query row sees no key: output and dq rows must be exactly 0 */
  emptyBatches?: number[];
}

const name = (c: Case): string =>
  `B${c.B} Hq${c.Hq}/Hkv${c.Hkv} Tq${c.Tq} Tk${c.Tk} D${c.D} ${c.causal ? 'causal' : 'full'} ${c.dtype}` +
  `${c.bias ? ` bias=${c.bias}` : ''}${c.biasQueryStart !== undefined ? ` bqs=${JSON.stringify(c.biasQueryStart)}` : ''}` +
  `${c.keyStart ? ` keyStart=${JSON.stringify(c.keyStart)}` : ''}`;

// A representative subset of T ∈ {1, 7, 64, 129, 1000, 2049} × B ∈ {1, 3} × Hq/Hkv ∈ {1, 3, 4, 8} × D ∈ {64, 128} ×
// causal/full × Tq ≤ Tk × bias options × dtypes.
const cases: Case[] = [
  { B: 1, Hq: 1, Hkv: 1, Tq: 1, Tk: 1, D: 64, causal: true, dtype: 'bfloat16' },
  { B: 3, Hq: 3, Hkv: 1, Tq: 7, Tk: 7, D: 128, causal: false, dtype: 'float16', bias: 'random' },
  { B: 1, Hq: 4, Hkv: 1, Tq: 64, Tk: 64, D: 64, causal: true, dtype: 'bfloat16', bias: 'random', biasQueryStart: 20 },
  {
    B: 3, Hq: 8, Hkv: 1, Tq: 129, Tk: 129, D: 128, causal: true, dtype: 'bfloat16', bias: 'neg1e4',
    biasQueryStart: [0, 50, 200], keyStart: [0, 5, 129], emptyBatches: [2],
  },
  { B: 1, Hq: 6, Hkv: 2, Tq: 1000, Tk: 1000, D: 64, causal: false, dtype: 'bfloat16', bias: 'random', keyStart: [17] },
  { B: 1, Hq: 4, Hkv: 1, Tq: 129, Tk: 2049, D: 128, causal: true, dtype: 'bfloat16', bias: 'random', biasQueryStart: 1950 },
  { B: 3, Hq: 4, Hkv: 4, Tq: 7, Tk: 64, D: 64, causal: true, dtype: 'float16', bias: 'random', keyStart: [60, 0, 64], emptyBatches: [2] },
  { B: 1, Hq: 8, Hkv: 8, Tq: 2049, Tk: 2049, D: 64, causal: true, dtype: 'bfloat16', bias: 'random', biasQueryStart: [700] },
  { B: 1, Hq: 8, Hkv: 2, Tq: 1000, Tk: 1000, D: 128, causal: true, dtype: 'float16', bias: 'neg1e4' },
  { B: 3, Hq: 3, Hkv: 3, Tq: 64, Tk: 1000, D: 128, causal: false, dtype: 'bfloat16', bias: 'neginf', keyStart: [0, 999, 3] },
  { B: 3, Hq: 8, Hkv: 1, Tq: 1000, Tk: 1000, D: 64, causal: true, dtype: 'bfloat16', keyStart: [0, 300, 999] },
  { B: 1, Hq: 3, Hkv: 1, Tq: 2049, Tk: 2049, D: 128, causal: false, dtype: 'bfloat16', bias: 'random' },
];

/**
 * max |a - ref| / max(max |ref|, floor) (NaN anywhere in a gives NaN). The floor matters where the exact gradient
 * vanishes (one visible key: softmax is constant, so dq = dk = dbias = 0 and only rounding noise is left).
 */
function relErr(a: Tensor, ref: Tensor, floor = 1e-6): number {
  return at.tidy(() => {
    const diff = a.double().sub(ref).abs().max().item() as number;
    const scale = ref.abs().max().item() as number;
    return diff / Math.max(scale, floor);
  });
}

function maxAbs(a: Tensor): number {
  return at.tidy(() => a.double().abs().max().item() as number);
}

// Limits: outputs 1e-2 (bf16 rounding of O and of P before P·V). Gradients 3e-2: dq and dk are sums over many rows
// of dS = P∘(dP − Δ), formed from bf16-rounded P and dS and a cancelling difference, so their error relative to their
// max is a few times the output's; the keyBias gradient sums fp32 dS and is limited by the same cancellation.
const OUT_TOL = 1e-2;
const GRAD_TOL = 3e-2;

function biasValues(c: Case): Tensor | undefined {
  if (!c.bias) return undefined;
  const b = at.randn([c.B, c.Tk], { dtype: 'float32', device: 'cuda' });
  if (c.bias === 'random') return b;
  // about 1/5 of the keys masked by a large negative bias
  const masked = at.rand([c.B, c.Tk], { device: 'cuda' }).lt(0.2);
  return at.where(masked, at.full([], c.bias === 'neg1e4' ? -1e4 : -Infinity, { device: 'cuda' }), b);
}

const errors: string[] = [];

// Both forward kernels: the default (on a compute-capability-9 device with an sm_90a build: the wgmma/TMA kernel of
// fwd_sm90.cu) and the sm_80 mma.sync kernel that ATMAN_FWD_SM90=0 selects everywhere (the backward is the same).
const forwards = [
  ['default forward', undefined],
  ['sm_80 forward (ATMAN_FWD_SM90=0)', '0'],
] as const;

describeCuda.each(forwards)('fused attention kernels match the float64 reference: %s', (variant, fwdSm90) => {
  const seed = Math.floor(Math.random() * 2 ** 31);
  beforeAll(() => {
    at.manualSeed(seed);
    if (fwdSm90 === undefined) delete process.env.ATMAN_FWD_SM90;
    else process.env.ATMAN_FWD_SM90 = fwdSm90;
  });
  afterAll(() => {
    delete process.env.ATMAN_FWD_SM90;
    // The error table (read by the report).
    console.log(`${variant}, seed ${seed}\n${errors.splice(0).join('\n')}`);
  });

  test.each(cases.map((c) => [name(c), c] as const))('%s', (_n, c) => {
    at.tidy(() => {
      const dev = { dtype: c.dtype, device: 'cuda' } as const;
      const q = at.randn([c.B, c.Hq, c.Tq, c.D], dev).requiresGrad_();
      const k = at.randn([c.B, c.Hkv, c.Tk, c.D], dev).requiresGrad_();
      const v = at.randn([c.B, c.Hkv, c.Tk, c.D], dev).requiresGrad_();
      const bias = biasValues(c)?.requiresGrad_();
      const opts = (keyBias?: Tensor): AttentionOptions => {
        const o: AttentionOptions = { causal: c.causal };
        if (keyBias) o.keyBias = keyBias;
        if (c.biasQueryStart !== undefined)
          o.biasQueryStart = typeof c.biasQueryStart === 'number'
            ? c.biasQueryStart
            : at.tensor(c.biasQueryStart, { dtype: 'int64' }).cuda();
        if (c.keyStart) o.keyStart = at.tensor(c.keyStart, { dtype: 'int64' }).cuda();
        return o;
      };
      const out = at.attention(q, k, v, opts(bias));
      const g = at.randn(out.shape, dev);
      const inputs = bias ? [q, k, v, bias] : [q, k, v];
      const grads = at.grad(out, inputs, { gradOutputs: [g] });

      const q64 = q.detach().double().requiresGrad_();
      const k64 = k.detach().double().requiresGrad_();
      const v64 = v.detach().double().requiresGrad_();
      const b64 = bias?.detach().double().requiresGrad_();
      const ref = at.attention(q64, k64, v64, opts(b64));
      const refGrads = at.grad(ref, b64 ? [q64, k64, v64, b64] : [q64, k64, v64], { gradOutputs: [g.double()] });

      const errs: Record<string, number> = { out: relErr(out, ref) };
      // Gradients are measured against at least 5% of dv's size, the scale the backward works at.
      const gradFloor = 0.05 * maxAbs(refGrads[2] as Tensor);
      ['dq', 'dk', 'dv', 'dbias'].slice(0, inputs.length).forEach((n, i) => {
        errs[n] = relErr(grads[i] as Tensor, refGrads[i] as Tensor, Math.max(gradFloor, 1e-6));
      });
      errors.push(`${name(c)}: ${Object.entries(errs).map(([n, e]) => `${n} ${e.toExponential(2)}`).join(', ')}`);
      const ctx = `seed ${seed}, ${name(c)}, errors ${JSON.stringify(errs)}`;
      for (const [n, e] of Object.entries(errs)) {
        if (!(Number.isFinite(e) && e < (n === 'out' ? OUT_TOL : GRAD_TOL))) throw new Error(`${n} off: ${ctx}`);
      }
      for (const b of c.emptyBatches ?? []) {
        expect(maxAbs(out.narrow(0, b, 1))).toBe(0);
        expect(maxAbs((grads[0] as Tensor).narrow(0, b, 1))).toBe(0);
      }
    });
  });
});

describeCuda('fused attention memory', () => {
  test('peak extra memory of forward + backward at T = 4096 is O(B·H·T·D), far below B·H·T·T', () => {
    at.tidy(() => {
      const [B, H, T, D] = [1, 8, 4096, 64];
      const dev = { dtype: 'bfloat16', device: 'cuda' } as const;
      const q = at.randn([B, H, T, D], dev).requiresGrad_();
      const k = at.randn([B, H, T, D], dev).requiresGrad_();
      const v = at.randn([B, H, T, D], dev).requiresGrad_();
      const bias = at.randn([B, T], { device: 'cuda' }).requiresGrad_();
      const g = at.randn([B, H, T, D], dev);
      at.cuda.synchronize();
      const before = at.cuda.memory().allocatedBytes;
      at.cuda.resetPeakMemory();
      const out = at.attention(q, k, v, { keyBias: bias });
      const grads = at.grad(out, [q, k, v, bias], { gradOutputs: [g] });
      at.cuda.synchronize();
      const extra = at.cuda.memory().peakAllocatedBytes - before;
      const qBytes = B * H * T * D * 2;
      const scoreBytes = B * H * T * T * 2;
      console.log(`T=${T}: peak extra ${(extra / 2 ** 20).toFixed(1)} MiB; q is ${(qBytes / 2 ** 20).toFixed(1)} MiB, ` +
        `one bf16 B·H·T·T tensor ${(scoreBytes / 2 ** 20).toFixed(1)} MiB`);
      expect(grads.every((t) => t !== null)).toBe(true);
      expect(extra).toBeLessThan(12 * qBytes);
      expect(extra).toBeLessThan(scoreBytes / 4);
    });
  });
});

describeCuda('fused attention inputs', () => {
  test('contiguous views that start mid-vector (not 16-byte aligned) give the same result as aligned copies', () => {
    at.tidy(() => {
      const [B, Hq, Hkv, T, D] = [2, 4, 2, 100, 128];
      const dev = { dtype: 'bfloat16', device: 'cuda' } as const;
      // One element into a flat buffer: contiguous, but 2 bytes past a 16-byte boundary.
      const offsetView = (shape: number[]): Tensor => {
        const n = shape.reduce((a, b) => a * b, 1);
        return at.randn([n + 1], dev).narrow(0, 1, n).view(shape);
      };
      const q = offsetView([B, Hq, T, D]);
      const k = offsetView([B, Hkv, T, D]);
      const v = offsetView([B, Hkv, T, D]);
      const bias = at.randn([B, T], { dtype: 'float32', device: 'cuda' });
      const opts = { keyBias: bias, biasQueryStart: 10 };
      const out = at.attention(q, k, v, opts);
      const aligned = at.attention(q.clone(), k.clone(), v.clone(), opts);
      expect(maxAbs(out.sub(aligned))).toBe(0);
      const ref = at.attention(q.double(), k.double(), v.double(), { keyBias: bias.double(), biasQueryStart: 10 });
      expect(relErr(out, ref)).toBeLessThan(OUT_TOL);
    });
  });
});
