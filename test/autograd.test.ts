// Autograd against central finite differences (float64), grad(), noGrad, and the AdamW optimizer against a reference.
import {
  Tensor,
  cat,
  clipGradNorm,
  grad,
  isGradEnabled,
  noGrad,
  ones,
  optim,
  tensor,
  tidy,
  where,
  zeros,
} from '../src';
import { expectClose, flat, nest, wave } from './helpers';

const f64 = (values: number[], shape: number[], requiresGrad = false) =>
  tensor(Float64Array.from(values), { shape, requiresGrad });

// ---- a composite function of many ops ----
const W_SHAPE = [3, 4];
const X_SHAPE = [2, 3];
const V_SHAPE = [4];
const W0 = wave(12, 0.3);
const X0 = wave(6, 1.7).map((v) => 1.5 * v);
const V0 = [0.7, -0.4, 1.1, -0.9]; // away from 0, where abs() has its kink

const idx = tensor([[1], [3]], { dtype: 'int64' });
const mask = tensor([
  [true, false, false, true],
  [false, false, true, false],
]);
const cond = tensor([
  [true, true, false, true],
  [false, true, true, true],
]);

function composite(W: Tensor, x: Tensor, v: Tensor): Tensor {
  const h = x.matmul(W).tanh(); // [2, 4]
  const s = h.softmax(-1);
  const g = s.gather(1, idx); // [2, 1]
  const lse = h.logsumexp(1, true); // [2, 1]
  const e = h.add(v).sigmoid().exp().add(1).log(); // broadcast of v
  const p = e.pow(2).div(h.pow(2).add(1));
  const w = where(cond, p.maskedFill(mask, 0), h.mul(0.5).neg());
  const q = w.mul(W.narrow(0, 1, 2)).add(v.abs().add(1).sqrt());
  const c = cat([q, g, lse], 1); // [2, 6]
  const extra = x.logSoftmax(1).mul(x).sum().add(x.gelu().sub(x.silu()).mean()).add(h.norm()).add(q.var(1).sum());
  return c.sum().add(c.mean(0).pow(2).sum()).add(extra).add(v.exp().rsqrt().mul(x.relu().max()).sum());
}

function compositeValue(W: number[], x: number[], v: number[]): number {
  return noGrad(() => tidy(() => composite(f64(W, W_SHAPE), f64(x, X_SHAPE), f64(v, V_SHAPE)).item() as number));
}

/** Central differences of f with respect to each entry of inputs[which]. */
function numericGrad(inputs: number[][], which: number, eps = 1e-6): number[] {
  return inputs[which].map((_, i) => {
    const plus = inputs.map((a) => [...a]);
    const minus = inputs.map((a) => [...a]);
    plus[which][i] += eps;
    minus[which][i] -= eps;
    return (compositeValue(plus[0], plus[1], plus[2]) - compositeValue(minus[0], minus[1], minus[2])) / (2 * eps);
  });
}

function expectGradClose(analytic: Tensor | null, numeric: number[]): void {
  expect(analytic).not.toBeNull();
  const a = flat((analytic as Tensor).toArray());
  expect(a.length).toBe(numeric.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - numeric[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(numeric[i])));
}

describe('gradients vs finite differences (float64)', () => {
  const inputs = [W0, X0, V0];
  const numeric = [0, 1, 2].map((k) => numericGrad(inputs, k));

  test('the composite function is float64 and its value is deterministic', () => {
    const W = f64(W0, W_SHAPE, true);
    const y = composite(W, f64(X0, X_SHAPE), f64(V0, V_SHAPE));
    expect(y.dtype).toBe('float64');
    expect(y.shape).toEqual([]);
    expect(y.requiresGrad).toBe(true);
    expect(y.item()).toBe(compositeValue(W0, X0, V0));
  });

  test('backward() fills .grad of every leaf with the derivative', () => {
    const W = f64(W0, W_SHAPE, true);
    const x = f64(X0, X_SHAPE, true);
    const v = f64(V0, V_SHAPE, true);
    composite(W, x, v).backward();
    expect(W.grad?.shape).toEqual(W_SHAPE);
    expectGradClose(W.grad, numeric[0]);
    expectGradClose(x.grad, numeric[1]);
    expectGradClose(v.grad, numeric[2]);
  });

  test('grad(outputs, inputs) gives the same gradients, null for an unused input, and leaves .grad alone', () => {
    const W = f64(W0, W_SHAPE, true);
    const x = f64(X0, X_SHAPE, true);
    const v = f64(V0, V_SHAPE, true);
    const unused = f64([1, 2], [2], true);
    const grads = grad(composite(W, x, v), [W, x, v, unused]);
    expect(grads.length).toBe(4);
    expectGradClose(grads[0], numeric[0]);
    expectGradClose(grads[1], numeric[1]);
    expectGradClose(grads[2], numeric[2]);
    expect(grads[3]).toBeNull();
    expect(W.grad).toBeNull();
  });
});

describe('backward and gradient state', () => {
  test('backward(grad) with an explicit gradient for a non-scalar output', () => {
    const x = f64([1, 2, 3], [3], true);
    x.mul(x).backward(f64([1, 1, 2], [3]));
    expect(x.grad?.toArray()).toEqual([2, 4, 12]);
  });

  test('gradients accumulate over backward calls; retainGraph allows a second pass; zeroGrad clears', () => {
    const x = f64([1, -2], [2], true);
    const y = x.pow(3).sum();
    y.backward(undefined, { retainGraph: true });
    expect(x.grad?.toArray()).toEqual([3, 12]);
    y.backward();
    expect(x.grad?.toArray()).toEqual([6, 24]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  test('requiresGrad_ switches tracking on and off for leaves', () => {
    const x = f64([2, 3], [2]);
    expect(x.requiresGrad).toBe(false);
    expect(x.requiresGrad_(true)).toBe(x);
    expect(x.requiresGrad).toBe(true);
    x.mul(x).sum().backward();
    expect(x.grad?.toArray()).toEqual([4, 6]);
    x.requiresGrad_(false);
    expect(x.requiresGrad).toBe(false);
    expect(x.mul(2).requiresGrad).toBe(false);
  });

  test('detach cuts the graph; non-leaf results are not leaves and have no grad', () => {
    const x = f64([1, 2], [2], true);
    const y = x.mul(3);
    expect(y.isLeaf).toBe(false);
    const z = y.detach().mul(x).sum(); // d/dx of (3x).detach() * x = 3x
    z.backward();
    expect(x.grad?.toArray()).toEqual([3, 6]);
  });

  test('grad with gradOutputs weights the outputs', () => {
    const x = f64([1, 2], [2], true);
    const [g] = grad(x.mul(x), x, { gradOutputs: [f64([10, 1], [2])] });
    expect(g?.toArray()).toEqual([20, 4]);
  });
});

describe('noGrad', () => {
  test('results inside do not require grad; the mode is restored', () => {
    const x = ones([2], { requiresGrad: true });
    expect(isGradEnabled()).toBe(true);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.toArray()).toEqual([2, 2]);
    expect(isGradEnabled()).toBe(true);
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  test('nested noGrad keeps grad off until the outer one ends', () => {
    noGrad(() => {
      noGrad(() => expect(isGradEnabled()).toBe(false));
      expect(isGradEnabled()).toBe(false);
    });
    expect(isGradEnabled()).toBe(true);
  });

  test('the mode is restored even when fn throws', () => {
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    expect(ones([1], { requiresGrad: true }).mul(2).requiresGrad).toBe(true);
  });

  test('an async fn keeps grad off until its promise settles', async () => {
    const r = await noGrad(async () => {
      await Promise.resolve();
      return isGradEnabled();
    });
    expect(r).toBe(false);
    expect(isGradEnabled()).toBe(true);
  });
});

// ---- AdamW against a plain-JS reference ----
interface RefState {
  p: number[];
  m: number[];
  v: number[];
}

function refAdamWStep(s: RefState, g: number[], t: number, lr: number, b1: number, b2: number, eps: number, wd: number): void {
  for (let i = 0; i < s.p.length; i++) {
    s.p[i] *= 1 - lr * wd;
    s.m[i] = b1 * s.m[i] + (1 - b1) * g[i];
    s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i];
    const mHat = s.m[i] / (1 - b1 ** t);
    const vHat = s.v[i] / (1 - b2 ** t);
    s.p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
  }
}

// loss(p) = sum(c * p + p^2 / 2 * d) has gradient c + d * p.
const C = [0.5, -1.5, 2.0, 0.25, -0.75, 1.0];
const D = [1, 2, 0.5, 3, 1, 0.1];
const lossOf = (p: Tensor) => p.mul(f64(C, [2, 3])).add(p.pow(2).mul(0.5).mul(f64(D, [2, 3]))).sum();
const gradOf = (p: number[]) => p.map((x, i) => C[i] + D[i] * x);

describe('optim.AdamW', () => {
  const P0 = [1, -2, 0.5, 3, -0.25, 0.75];
  const opts = { lr: 0.05, betas: [0.8, 0.95] as [number, number], eps: 1e-6, weightDecay: 0.1 };

  function trainStep(opt: optim.AdamW, p: Tensor): void {
    opt.zeroGrad();
    lossOf(p).backward();
    opt.step();
  }

  test('matches the reference update over several steps, with weight decay and setLr', () => {
    const p = f64(P0, [2, 3], true);
    const opt = new optim.AdamW([p], opts);
    expect(opt.lr).toBe(0.05);
    const ref: RefState = { p: [...P0], m: P0.map(() => 0), v: P0.map(() => 0) };
    for (let t = 1; t <= 6; t++) {
      const lr = t <= 3 ? 0.05 : 0.01;
      if (t === 4) {
        opt.setLr(0.01);
        expect(opt.lr).toBe(0.01);
      }
      refAdamWStep(ref, gradOf(ref.p), t, lr, 0.8, 0.95, 1e-6, 0.1);
      trainStep(opt, p);
      expectClose(p, nest(ref.p, [2, 3]), 1e-12, 1e-12);
    }
    const state = opt.stateDict();
    expect(state.step).toBe(6);
    expect(state.lr).toBe(0.01);
    expect(state.betas).toEqual([0.8, 0.95]);
    expect(state.eps).toBe(1e-6);
    expect(state.weightDecay).toBe(0.1);
    expectClose(state.expAvg[0] as Tensor, nest(ref.m, [2, 3]), 1e-12, 1e-12);
    expectClose(state.expAvgSq[0] as Tensor, nest(ref.v, [2, 3]), 1e-12, 1e-12);
  });

  test('defaults are torch defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weightDecay 0.01', () => {
    const p = f64(P0, [2, 3], true);
    const opt = new optim.AdamW([p]);
    const s = opt.stateDict();
    expect([s.lr, s.betas, s.eps, s.weightDecay]).toEqual([1e-3, [0.9, 0.999], 1e-8, 0.01]);
    const ref: RefState = { p: [...P0], m: P0.map(() => 0), v: P0.map(() => 0) };
    refAdamWStep(ref, gradOf(ref.p), 1, 1e-3, 0.9, 0.999, 1e-8, 0.01);
    trainStep(opt, p);
    expectClose(p, nest(ref.p, [2, 3]), 1e-12, 1e-12);
  });

  test('a parameter without a gradient is left alone; stateDict has null moments for it', () => {
    const used = f64([1, 2], [2], true);
    const idle = f64([5, 6], [2], true);
    const opt = new optim.AdamW([used, idle], { lr: 0.1 });
    used.sum().backward();
    opt.step();
    expect(idle.toArray()).toEqual([5, 6]);
    expect(used.toArray()).not.toEqual([1, 2]);
    const s = opt.stateDict();
    expect(s.expAvg[0]).not.toBeNull();
    expect(s.expAvg[1]).toBeNull();
    expect(s.expAvgSq[1]).toBeNull();
  });

  test('zeroGrad sets gradients to null', () => {
    const p = f64([1], [1], true);
    const opt = new optim.AdamW([p]);
    p.mul(3).sum().backward();
    expect(p.grad?.toArray()).toEqual([3]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });

  test('stateDict/loadStateDict: a restored optimizer continues exactly like the original', () => {
    const a = f64(P0, [2, 3], true);
    const optA = new optim.AdamW([a], opts);
    for (let i = 0; i < 3; i++) trainStep(optA, a);
    const saved = optA.stateDict();

    // The snapshot is a copy: further steps of A do not change it.
    const b = noGrad(() => a.detach().clone()).requiresGrad_(true);
    const optB = new optim.AdamW([b], { lr: 0.5 }); // lr comes from the state
    optB.loadStateDict(saved);
    expect(optB.lr).toBe(opts.lr);
    expect(optB.stateDict().step).toBe(3);

    for (let i = 0; i < 3; i++) {
      trainStep(optA, a);
      trainStep(optB, b);
    }
    expect(b.toArray()).toEqual(a.toArray());
    expect(optB.stateDict().step).toBe(6);
    expect(optB.stateDict().expAvgSq[0]?.toArray()).toEqual(optA.stateDict().expAvgSq[0]?.toArray());
  });

  test('a fresh optimizer without the state does not continue identically (the state matters)', () => {
    const a = f64(P0, [2, 3], true);
    const optA = new optim.AdamW([a], opts);
    for (let i = 0; i < 3; i++) trainStep(optA, a);
    const b = noGrad(() => a.detach().clone()).requiresGrad_(true);
    const optB = new optim.AdamW([b], opts);
    trainStep(optA, a);
    trainStep(optB, b);
    expect(b.toArray()).not.toEqual(a.toArray());
  });
});

describe('clipGradNorm', () => {
  function withGrads(): [Tensor, Tensor] {
    const p1 = zeros([2], { requiresGrad: true });
    const p2 = zeros([1], { requiresGrad: true });
    p1.mul(tensor([3, 4])).sum().add(p2.mul(12).sum()).backward(); // grads [3, 4] and [12]: joint norm 13
    return [p1, p2];
  }

  test('returns the norm before clipping and scales the gradients to maxNorm', () => {
    const [p1, p2] = withGrads();
    const norm = clipGradNorm([p1, p2], 6.5);
    expect(norm).toBeCloseTo(13, 5);
    const coef = 6.5 / (13 + 1e-6);
    expectClose(p1.grad as Tensor, [3 * coef, 4 * coef], 1e-6, 1e-6);
    expectClose(p2.grad as Tensor, [12 * coef], 1e-6, 1e-6);
    const after = Math.hypot(...flat(p1.grad?.toArray()), ...flat(p2.grad?.toArray()));
    expect(after).toBeCloseTo(6.5, 4);
  });

  test('leaves gradients alone when their norm is below maxNorm', () => {
    const [p1, p2] = withGrads();
    expect(clipGradNorm([p1, p2], 100)).toBeCloseTo(13, 5);
    expect(p1.grad?.toArray()).toEqual([3, 4]);
    expect(p2.grad?.toArray()).toEqual([12]);
  });

  test('parameters without gradients count as zero', () => {
    const p = zeros([3], { requiresGrad: true });
    expect(clipGradNorm([p], 1)).toBe(0);
    expect(p.grad).toBeNull();
  });
});

test('training a tiny model with AdamW lowers its loss', () => {
  const w = tensor(nest(wave(6, 0.1), [3, 2]) as number[][], { requiresGrad: true });
  const x = tensor([
    [1, 0, -1],
    [0.5, 2, 1],
  ]);
  const target = tensor([
    [1, -1],
    [0, 2],
  ]);
  const opt = new optim.AdamW([w], { lr: 0.05, weightDecay: 0 });
  const loss = () => x.matmul(w).sub(target).pow(2).mean();
  const first = loss().item() as number;
  for (let i = 0; i < 200; i++) {
    opt.zeroGrad();
    loss().backward();
    opt.step();
  }
  expect(loss().item() as number).toBeLessThan(first * 0.05);
});
