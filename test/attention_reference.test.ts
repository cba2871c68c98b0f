// The reference attention op (CPU): forward against a naive per-element loop, gradients against finite differences,
// low-precision dtypes against float64, and bad calls.
import { Tensor, attention, noGrad, tensor, tidy } from '../src';
import type { AttentionOptions } from '../src';
import { expectClose, flat } from './helpers';

// ---- inputs ----

/** Deterministic pseudo-random values in [-1, 1) (mulberry32). */
function randomValues(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  });
}

const f64 = (values: number[], shape: number[], requiresGrad = false): Tensor =>
  tensor(Float64Array.from(values), { shape, dtype: 'float64', requiresGrad });
const i64 = (values: number[]): Tensor => tensor(values, { dtype: 'int64' });
/** The values of a float64 tensor, flat. */
const valuesOf = (t: Tensor): number[] => Array.from(t.dataSync() as Float64Array);

interface Case {
  name: string;
  B: number;
  Hq: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  D: number;
  causal?: boolean;
  scale?: number;
  /** [B][Tk] values; entries may be -1e4 or -Infinity. */
  keyBias?: number[][];
  biasQueryStart?: number | number[];
  keyStart?: number[];
}

interface Inputs {
  q: number[];
  k: number[];
  v: number[];
}

function makeInputs(c: Case, seed: number): Inputs {
  return {
    q: randomValues(c.B * c.Hq * c.Tq * c.D, seed),
    k: randomValues(c.B * c.Hkv * c.Tk * c.D, seed + 1),
    v: randomValues(c.B * c.Hkv * c.Tk * c.D, seed + 2),
  };
}

function options(c: Case, keyBias?: Tensor): AttentionOptions {
  const o: AttentionOptions = {};
  if (c.causal !== undefined) o.causal = c.causal;
  if (c.scale !== undefined) o.scale = c.scale;
  if (keyBias !== undefined) o.keyBias = keyBias;
  else if (c.keyBias !== undefined) o.keyBias = tensor(c.keyBias, { dtype: 'float32' });
  if (c.biasQueryStart !== undefined)
    o.biasQueryStart = typeof c.biasQueryStart === 'number' ? c.biasQueryStart : i64(c.biasQueryStart);
  if (c.keyStart !== undefined) o.keyStart = i64(c.keyStart);
  return o;
}

// ---- the naive formula: explicit loops over b, h, i, j ----

function naiveAttention(c: Case, x: Inputs): number[] {
  const { B, Hq, Hkv, Tq, Tk, D } = c;
  const G = Hq / Hkv;
  const causal = c.causal ?? true;
  const scale = c.scale ?? 1 / Math.sqrt(D);
  const out = new Array<number>(B * Hq * Tq * D).fill(0);
  for (let b = 0; b < B; b++) {
    const start = c.biasQueryStart ?? 0;
    const bqs = typeof start === 'number' ? start : start[b];
    const ks = c.keyStart === undefined ? -Infinity : c.keyStart[b];
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < Tq; i++) {
        const pos = i + (Tk - Tq);
        const logits: number[] = [];
        for (let j = 0; j < Tk; j++) {
          if ((causal && j > pos) || j < ks) {
            logits.push(-Infinity);
            continue;
          }
          let dot = 0;
          for (let d = 0; d < D; d++) dot += x.q[((b * Hq + h) * Tq + i) * D + d] * x.k[((b * Hkv + hk) * Tk + j) * D + d];
          const bias = c.keyBias !== undefined && pos >= bqs ? c.keyBias[b][j] : 0;
          logits.push(dot * scale + bias);
        }
        const max = Math.max(...logits);
        if (max === -Infinity) continue; // no visible key: the row stays zero
        const w = logits.map((l) => Math.exp(l - max));
        const sum = w.reduce((s, e) => s + e, 0);
        for (let j = 0; j < Tk; j++)
          for (let d = 0; d < D; d++)
            out[((b * Hq + h) * Tq + i) * D + d] += (w[j] / sum) * x.v[((b * Hkv + hk) * Tk + j) * D + d];
      }
    }
  }
  return out;
}

function inputTensors(c: Case, x: Inputs, requiresGrad = false): [Tensor, Tensor, Tensor] {
  const kv = [c.B, c.Hkv, c.Tk, c.D];
  return [f64(x.q, [c.B, c.Hq, c.Tq, c.D], requiresGrad), f64(x.k, kv, requiresGrad), f64(x.v, kv, requiresGrad)];
}

/** The D values of output (or gradient) row (b, h, i) of a flat [B, H, Tq, D] array. */
function rowOf(values: number[], c: Case, b: number, h: number, i: number): number[] {
  const start = ((b * c.Hq + h) * c.Tq + i) * c.D;
  return values.slice(start, start + c.D);
}

function runOp(c: Case, x: Inputs): number[] {
  return tidy(() => {
    const [q, k, v] = inputTensors(c, x);
    const out = attention(q, k, v, options(c));
    expect(out.shape).toEqual([c.B, c.Hq, c.Tq, c.D]);
    expect(out.dtype).toBe('float64');
    return valuesOf(out);
  });
}

function bias(B: number, Tk: number, seed: number, overrides: [number, number, number][] = []): number[][] {
  const values = randomValues(B * Tk, seed).map((x) => Math.fround(2 * x)); // float32 values, so float64 sees the same
  const rows = Array.from({ length: B }, (_, b) => values.slice(b * Tk, (b + 1) * Tk));
  for (const [b, j, value] of overrides) rows[b][j] = value;
  return rows;
}

const FORWARD_CASES: Case[] = [
  { name: 'one head, Tq = Tk, causal', B: 1, Hq: 1, Hkv: 1, Tq: 4, Tk: 4, D: 3 },
  { name: 'one head, Tq = Tk, not causal', B: 1, Hq: 1, Hkv: 1, Tq: 4, Tk: 4, D: 3, causal: false },
  {
    name: 'GQA 2, Tq < Tk, bias from query position 3',
    B: 2, Hq: 2, Hkv: 1, Tq: 3, Tk: 5, D: 4, keyBias: bias(2, 5, 11), biasQueryStart: 3,
  },
  {
    name: 'MHA 3 heads, not causal, per-batch biasQueryStart and keyStart',
    B: 2, Hq: 3, Hkv: 3, Tq: 5, Tk: 5, D: 2, causal: false,
    keyBias: bias(2, 5, 12), biasQueryStart: [1, 4], keyStart: [0, 2],
  },
  {
    name: 'GQA 3, Tq < Tk, -1e4 biases, scale, keyStart',
    B: 2, Hq: 6, Hkv: 2, Tq: 2, Tk: 6, D: 3, scale: 0.7,
    keyBias: bias(2, 6, 13, [[0, 5, -1e4], [1, 3, -1e4], [1, 4, -1e4]]), biasQueryStart: [5, 0], keyStart: [1, 3],
  },
  { name: 'GQA 2, Tq = Tk, causal, rows with no visible key', B: 2, Hq: 4, Hkv: 2, Tq: 4, Tk: 4, D: 3, keyStart: [0, 3] },
  {
    name: 'not causal, every key of batch 1 masked',
    B: 2, Hq: 2, Hkv: 2, Tq: 3, Tk: 3, D: 2, causal: false, keyStart: [1, 3], keyBias: bias(2, 3, 14),
  },
  {
    name: 'decode step Tq = 1, GQA 3',
    B: 2, Hq: 3, Hkv: 1, Tq: 1, Tk: 7, D: 5, keyBias: bias(2, 7, 15), biasQueryStart: [6, 7],
  },
  {
    name: '-Infinity bias: the key drops out; a row whose visible keys are all -Infinity gives zeros',
    B: 1, Hq: 2, Hkv: 1, Tq: 3, Tk: 3, D: 2, keyBias: [[-Infinity, 0.5, -Infinity]], biasQueryStart: 0,
  },
];

describe('attention reference: forward', () => {
  test.each(FORWARD_CASES.map((c, n) => [c.name, c, n] as const))('%s', (_name, c, n) => {
    const x = makeInputs(c, 100 + 10 * n);
    const got = runOp(c, x);
    const want = naiveAttention(c, x);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, want, 1e-12, 1e-10);
  });

  test('a row with no visible key is exactly zero, other rows are not', () => {
    const c = FORWARD_CASES[5]; // keyStart 3 in batch 1: rows at positions 0..2 see nothing
    const got = runOp(c, makeInputs(c, 150));
    const row = (b: number, h: number, i: number) => rowOf(got, c, b, h, i);
    for (let h = 0; h < c.Hq; h++) {
      for (let i = 0; i < 3; i++) expect(row(1, h, i)).toEqual([0, 0, 0]);
      expect(row(1, h, 3).some((e) => e !== 0)).toBe(true);
      for (let i = 0; i < 4; i++) expect(row(0, h, i).some((e) => e !== 0)).toBe(true);
    }
  });

  test('GQA equals multi-head attention with K/V repeated per query head', () => {
    const c: Case = { name: '', B: 1, Hq: 4, Hkv: 2, Tq: 3, Tk: 5, D: 2, keyBias: bias(1, 5, 16) };
    const x = makeInputs(c, 170);
    const repeat = (a: number[]) => {
      const per = c.Tk * c.D;
      return [0, 0, 1, 1].flatMap((hk) => a.slice(hk * per, (hk + 1) * per));
    };
    const mha = runOp({ ...c, Hkv: 4 }, { q: x.q, k: repeat(x.k), v: repeat(x.v) });
    expectClose(runOp(c, x), mha, 1e-14, 1e-12);
  });

  test('a zero bias and biasQueryStart beyond the last query change nothing', () => {
    const c: Case = { name: '', B: 2, Hq: 2, Hkv: 1, Tq: 3, Tk: 4, D: 3 };
    const x = makeInputs(c, 180);
    const plain = runOp(c, x);
    expect(runOp({ ...c, keyBias: [[0, 0, 0, 0], [0, 0, 0, 0]] }, x)).toEqual(plain);
    expect(runOp({ ...c, keyBias: bias(2, 4, 17), biasQueryStart: 4 }, x)).toEqual(plain);
  });
});

// ---- gradients ----

const GRAD_CASE: Case = {
  name: 'all options',
  B: 2, Hq: 4, Hkv: 2, Tq: 3, Tk: 5, D: 3, scale: 0.8,
  keyBias: bias(2, 5, 21, [[0, 4, -1e4]]), // key 4 of batch 0 is effectively masked for the biased row at position 4
  biasQueryStart: [3, 0],
  // batch 1: keys 0..3 masked, so the query at position 2 (row 0) sees nothing
  keyStart: [1, 3],
};

/** loss = sum(attention(q, k, v) * W) for a fixed W, in float64. */
function lossOf(c: Case, x: Inputs, kb: number[], w: number[]): number {
  return tidy(() =>
    noGrad(() => {
      const [q, k, v] = inputTensors(c, x);
      const out = attention(q, k, v, options(c, f64(kb, [c.B, c.Tk])));
      return out.mul(f64(w, [c.B, c.Hq, c.Tq, c.D])).sum().item() as number;
    }),
  );
}

interface Grads {
  q: number[];
  k: number[];
  v: number[];
  keyBias: number[];
}

function analyticGrads(c: Case, x: Inputs, kb: number[], w: number[]): Grads {
  return tidy(() => {
    const [q, k, v] = inputTensors(c, x, true);
    const keyBias = f64(kb, [c.B, c.Tk], true);
    attention(q, k, v, options(c, keyBias)).mul(f64(w, [c.B, c.Hq, c.Tq, c.D])).sum().backward();
    const read = (t: Tensor) => valuesOf(t.grad!);
    return { q: read(q), k: read(k), v: read(v), keyBias: read(keyBias) };
  });
}

/** Central differences, eps 1e-6, of lossOf with respect to each entry of one input. */
function numericGrad(c: Case, x: Inputs, kb: number[], w: number[], which: keyof Grads): number[] {
  const eps = 1e-6;
  const base = which === 'keyBias' ? kb : x[which];
  return base.map((_, n) => {
    const at = (delta: number) => {
      const moved = base.slice();
      moved[n] += delta;
      return which === 'keyBias' ? lossOf(c, x, moved, w) : lossOf(c, { ...x, [which]: moved }, kb, w);
    };
    return (at(eps) - at(-eps)) / (2 * eps);
  });
}

describe('attention reference: gradients', () => {
  const c = GRAD_CASE;
  const x = makeInputs(c, 300);
  const kb = c.keyBias!.flat();
  const w = randomValues(c.B * c.Hq * c.Tq * c.D, 400);
  const grads = analyticGrads(c, x, kb, w);

  test.each(['q', 'k', 'v', 'keyBias'] as const)('d loss / d %s matches central finite differences (float64)', (which) => {
    const g = grads[which];
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g.some((e) => Math.abs(e) > 1e-3)).toBe(true); // a real signal, not all zeros
    expectClose(g, numericGrad(c, x, kb, w, which), 1e-7, 1e-6);
  });

  test('the query row with no visible key gets an exact zero gradient, the others do not', () => {
    // Batch 1, every head: row 0 (position 2 < keyStart 3) sees no key; row 1 sees only key 3, so its softmax is
    // constant (zero q gradient as well); row 2 sees keys 3 and 4.
    const qRow = (h: number, i: number) => rowOf(grads.q, c, 1, h, i);
    for (let h = 0; h < c.Hq; h++) {
      expect(qRow(h, 0)).toEqual([0, 0, 0]);
      expect(qRow(h, 1)).toEqual([0, 0, 0]);
      expect(qRow(h, 2).some((e) => e !== 0)).toBe(true);
    }
    // masked keys (batch 1, positions 0..2) get no gradient in k, v or keyBias
    for (let hk = 0; hk < c.Hkv; hk++) {
      const start = (1 * c.Hkv + hk) * c.Tk * c.D;
      expect(grads.k.slice(start, start + 3 * c.D).every((e) => e === 0)).toBe(true);
      expect(grads.v.slice(start, start + 3 * c.D).every((e) => e === 0)).toBe(true);
    }
    expect(grads.keyBias.slice(c.Tk, c.Tk + 3)).toEqual([0, 0, 0]);
  });

  test('all rows masked: output and every gradient are zeros, never NaN', () => {
    const m: Case = {
      name: '', B: 1, Hq: 2, Hkv: 1, Tq: 2, Tk: 3, D: 2, causal: false, keyStart: [3], keyBias: [[0.1, -0.2, 0.3]],
    };
    const xm = makeInputs(m, 500);
    const wm = randomValues(m.B * m.Hq * m.Tq * m.D, 501);
    expect(runOp(m, xm)).toEqual(new Array(8).fill(0));
    const g = analyticGrads(m, xm, m.keyBias!.flat(), wm);
    for (const which of ['q', 'k', 'v', 'keyBias'] as const) expect(g[which].every((e) => e === 0)).toBe(true);
  });

  test('-Infinity biases: gradients stay finite and the removed keys get none', () => {
    const m: Case = {
      name: '', B: 1, Hq: 2, Hkv: 1, Tq: 3, Tk: 3, D: 2, keyBias: [[-Infinity, 0.5, -Infinity]], biasQueryStart: 0,
    };
    const xm = makeInputs(m, 600);
    const g = analyticGrads(m, xm, m.keyBias!.flat(), randomValues(12, 601));
    for (const which of ['q', 'k', 'v', 'keyBias'] as const) expect(g[which].every(Number.isFinite)).toBe(true);
    // v of key 0 and key 2 receive nothing: their weight is 0 on every row
    expect(g.v.slice(0, 2)).toEqual([0, 0]);
    expect(g.v.slice(4, 6)).toEqual([0, 0]);
    expect(g.v.slice(2, 4).some((e) => e !== 0)).toBe(true);
  });
});

// ---- lower precision against float64 ----

describe('attention reference: float32, bfloat16 and float16 against float64', () => {
  const c: Case = {
    name: '', B: 2, Hq: 4, Hkv: 2, Tq: 5, Tk: 9, D: 8,
    keyBias: bias(2, 9, 31, [[0, 2, -1e4]]), biasQueryStart: [4, 6], keyStart: [0, 2],
  };
  const shapeQ = [c.B, c.Hq, c.Tq, c.D];
  const shapeKV = [c.B, c.Hkv, c.Tk, c.D];

  // Rounds float64 inputs to dtype and back: the float64 reference on the rounded inputs isolates the op's own error.
  const rounded = (values: number[], shape: number[], dtype: 'float32' | 'bfloat16' | 'float16'): number[] =>
    tidy(() => valuesOf(f64(values, shape).to(dtype).double()));

  // Tolerances against the float64 reference on the same (rounded) inputs. float32: float32 rounding a few ops deep
  // (measured up to 2e-7 absolute on outputs of size ~1). bfloat16/float16 compute in float32 and round the output
  // once: at most half an ulp, i.e. 2^-8 of the value for bfloat16 (8 significant bits) and 2^-11 for float16
  // (11 bits), plus float32 noise covered by atol.
  const TOL = {
    float32: { atol: 1e-6, rtol: 1e-5 },
    bfloat16: { atol: 1e-5, rtol: 2 ** -8 },
    float16: { atol: 1e-5, rtol: 2 ** -11 },
  } as const;

  test.each(['float32', 'bfloat16', 'float16'] as const)('%s output and gradients', (dtype) => {
    const x0 = makeInputs(c, 700);
    const x = { q: rounded(x0.q, shapeQ, dtype), k: rounded(x0.k, shapeKV, dtype), v: rounded(x0.v, shapeKV, dtype) };
    const w = rounded(randomValues(c.B * c.Hq * c.Tq * c.D, 701), shapeQ, dtype);
    const kb = c.keyBias!.flat();
    tidy(() => {
      const q = f64(x.q, shapeQ).to(dtype);
      q.requiresGrad_(true);
      const keyBias = tensor(Float32Array.from(kb), { shape: [c.B, c.Tk], requiresGrad: true });
      const out = attention(q, f64(x.k, shapeKV).to(dtype), f64(x.v, shapeKV).to(dtype), options(c, keyBias));
      expect(out.dtype).toBe(dtype);
      expect(out.shape).toEqual(shapeQ);
      const got = flat(out.double().toArray());
      expectClose(got, naiveAttention(c, x), TOL[dtype].atol, TOL[dtype].rtol);
      // End to end against the unrounded float64 inputs: input rounding dominates for 16-bit types (measured
      // up to 3e-3 for bfloat16 and 4e-4 for float16 over random inputs of this size; the GPU contract says ~1e-2).
      const endToEnd = { float32: 1e-5, bfloat16: 1e-2, float16: 2e-3 }[dtype];
      expectClose(got, naiveAttention(c, x0), endToEnd, endToEnd);

      out.mul(f64(w, shapeQ).to(dtype)).sum().backward();
      const want = analyticGrads(c, x, kb, w);
      // keyBias stays float32 and its gradient is computed in float32 from exactly representable upstream
      // gradients, so it is float32-accurate; q's gradient is rounded to dtype once more.
      expectClose(flat(keyBias.grad!.toArray()), want.keyBias, 1e-5, 1e-4);
      expectClose(flat(q.grad!.double().toArray()), want.q, 1e-4, dtype === 'float32' ? 1e-4 : 2 * TOL[dtype].rtol);
    });
  });
});

// ---- bad calls ----

/** Asserts fn throws a TypeError (from either realm: the addon's errors are Node's, not jest's) with that message. */
function expectTypeError(fn: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeDefined();
  expect((error as Error).name).toBe('TypeError');
  expect((error as Error).message).toMatch(message);
}

describe('attention: bad calls', () => {
  const q = f64(randomValues(2 * 4 * 3 * 2, 800), [2, 4, 3, 2]);
  const k = f64(randomValues(2 * 2 * 5 * 2, 801), [2, 2, 5, 2]);
  const v = f64(randomValues(2 * 2 * 5 * 2, 802), [2, 2, 5, 2]);
  const kb = tensor(Float32Array.from(randomValues(10, 803)), { shape: [2, 5] });
  const ok = () => attention(q, k, v, { keyBias: kb, keyStart: i64([0, 1]), biasQueryStart: i64([0, 2]) });

  test('a valid call succeeds (the errors below come from the bad argument alone)', () => {
    expect(ok().shape).toEqual([2, 4, 3, 2]);
  });

  test('shapes', () => {
    expectTypeError(
      () => attention(q.reshape([8, 3, 2]), k, v),
      /^shape mismatch: attention\(\) needs 4-D q \[B, Hq, Tq, D\]/,
    );
    expectTypeError(
      () => attention(q, k, v.narrow(2, 0, 4)),
      /^shape mismatch: attention\(\) k and v must have the same shape/,
    );
    expectTypeError(() => attention(q.narrow(0, 0, 1), k, v), /^shape mismatch: attention\(\) batch sizes differ/);
    expectTypeError(() => attention(q.narrow(3, 0, 1), k, v), /^shape mismatch: attention\(\) head dims differ/);
    expectTypeError(
      () => attention(q.narrow(1, 0, 3), k, v),
      /^shape mismatch: .*query heads \(Hq = 3\) must be a multiple of the key\/value heads \(Hkv = 2\)/,
    );
  });

  test('dtypes of q, k, v', () => {
    expectTypeError(
      () => attention(q, k.float(), v),
      /^dtype mismatch: attention\(\) q, k and v must share one dtype, got q float64, k float32/,
    );
    const ints = tensor([[[[1, 2]]]], { dtype: 'int64' });
    expectTypeError(() => attention(ints, ints, ints), /^dtype mismatch: attention\(\) needs floating-point q, k, v/);
  });

  test('keyBias dtype and shape', () => {
    expectTypeError(
      () => attention(q, k, v, { keyBias: kb.to('float16') }),
      /^dtype mismatch: attention\(\) keyBias must be float32 .*got float16/,
    );
    expectTypeError(
      () => attention(q.float(), k.float(), v.float(), { keyBias: kb.double() }),
      /^dtype mismatch: attention\(\) keyBias must be float32/,
    );
    expectTypeError(
      () => attention(q, k, v, { keyBias: kb.narrow(1, 0, 4) }),
      /^shape mismatch: attention\(\) keyBias must have shape \[B, Tk\] = \[2, 5\], got \[2, 4\]/,
    );
    expectTypeError(() => attention(q, k, v, { keyBias: kb.reshape([10]) }), /^shape mismatch: attention\(\) keyBias/);
  });

  test('keyStart and biasQueryStart dtype and shape', () => {
    expectTypeError(
      () => attention(q, k, v, { keyStart: tensor([0, 1], { dtype: 'int32' }) }),
      /^dtype mismatch: attention\(\) keyStart must be an int64 tensor, got int32/,
    );
    expectTypeError(
      () => attention(q, k, v, { keyStart: tensor([0, 1]) }),
      /^dtype mismatch: attention\(\) keyStart must be an int64 tensor, got float32/,
    );
    expectTypeError(
      () => attention(q, k, v, { keyStart: i64([0, 1, 2]) }),
      /^shape mismatch: attention\(\) keyStart must have shape \[B\] = \[2\], got \[3\]/,
    );
    expectTypeError(
      () => attention(q, k, v, { keyBias: kb, biasQueryStart: tensor([1, 2]) }),
      /^dtype mismatch: attention\(\) biasQueryStart must be an int64 tensor/,
    );
  });

  test('option types are checked in TypeScript', () => {
    const anyOpts = (o: unknown) => o as AttentionOptions;
    expectTypeError(
      () => attention(q, k, v, anyOpts({ causal: 1 })),
      /^wrong argument type: attention\(\) causal must be a boolean/,
    );
    expectTypeError(
      () => attention(q, k, v, anyOpts({ scale: '0.5' })),
      /^wrong argument type: attention\(\) scale must be a number/,
    );
    expectTypeError(
      () => attention(q, k, v, anyOpts({ keyBias: [[0, 0, 0, 0, 0]] })),
      /^wrong argument type: attention\(\) keyBias must be a Tensor/,
    );
    expectTypeError(
      () => attention(q, k, v, anyOpts({ biasQueryStart: 1.5 })),
      /^wrong argument type: attention\(\) biasQueryStart must be an integer or an int64 Tensor/,
    );
    expectTypeError(
      () => attention(q, k, v, anyOpts({ keyStart: [0, 1] })),
      /^wrong argument type: attention\(\) keyStart must be an int64 Tensor/,
    );
    expectTypeError(
      () => attention(q, k, v, anyOpts({ keybias: kb })),
      /^unknown option 'keybias': attention\(\) takes causal, scale/,
    );
    expectTypeError(
      () => attention(q, k, v, anyOpts(3)),
      /^wrong argument type: attention\(\) options must be an object/,
    );
    expectTypeError(
      () => attention(q, k, [1] as unknown as Tensor),
      /^wrong argument type: attention\(\) v must be a Tensor/,
    );
    let error: unknown;
    try {
      attention(q, k, v, { scale: Infinity });
    } catch (e) {
      error = e;
    }
    expect((error as Error).name).toBe('RangeError');
    expect((error as Error).message).toMatch(/^invalid values: attention\(\) scale must be a finite number/);
  });
});
