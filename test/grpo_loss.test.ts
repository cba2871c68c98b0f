// grpoLoss against a plain-loop reference of TRL's formulas: values, gradients w.r.t. logprobs, clipping metrics.
import { Tensor, memory, tensor } from '../src';
import { GrpoLossInput, LossType, grpoLoss } from '../src/grpo/loss';
import { expectClose, f32, flat, thrown } from './helpers';

// Three completions of four tokens. Row 0 (A > 0): token 1 has ρ = e^0.4 > 1.28 (high-clipped), token 2 has
// ρ = e^-0.4 < 0.8 but A > 0 (not clipped). Row 1 (A < 0): token 0 has ρ = e^-0.5 < 0.8 (low-clipped), token 1 has
// ρ = e^0.3 > 1.28 but A < 0 (not clipped), token 3 is padding. Row 2 is fully masked (an empty completion).
const LP = [[-1.0, -0.5, -2.0, -0.3], [-0.7, -1.2, -0.1, -3.0], [-0.4, -0.9, -1.5, -0.2]];
const OLD = [[-1.0, -0.9, -1.6, -0.3], [-0.2, -1.5, -0.1, -2.0], [-0.4, -0.9, -1.5, -0.2]];
const REF = [[-1.1, -0.4, -2.0, -0.5], [-0.6, -1.0, -0.3, -2.5], [-0.4, -1.0, -1.2, -0.1]];
const ADV = [1.5, -0.8, 0.3];
const MASK = [[1, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0]];
const EPS = 0.2;
const EPS_HIGH = 0.28;
const MAX_LEN = 6;

interface RefOptions {
  lp: number[][]; old: number[][]; ref: number[][]; adv: number[]; mask: number[][];
  beta: number; lossType: LossType; maxLen: number; items?: number; accumulation?: number;
}

/** Loss and d loss / d lp by plain loops over arrays, straight from the formulas (TRL's _compute_loss). */
function reference(o: RefOptions): { loss: number; grad: number[][] } {
  const n = o.lp.length;
  const t = o.lp[0].length;
  const acc = o.accumulation ?? 1;
  const rowCount = o.mask.map((row) => row.reduce((a, b) => a + b, 0));
  const total = rowCount.reduce((a, b) => a + b, 0);
  // The weight of each token's loss in the aggregate.
  const weight = (i: number): number => {
    switch (o.lossType) {
      case 'grpo': return 1 / (Math.max(rowCount[i], 1) * n * acc);
      case 'bnpo': return 1 / (Math.max(total, 1) * acc);
      case 'dr_grpo': return 1 / (n * o.maxLen * acc);
      case 'dapo': return 1 / Math.max(o.items ?? total, 1);
    }
  };
  let loss = 0;
  const grad = o.lp.map((row) => row.map(() => 0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < t; j++) {
      if (o.mask[i][j] === 0) continue;
      const a = o.adv[i];
      const r = Math.exp(o.lp[i][j] - o.old[i][j]);
      const c = Math.min(Math.max(r, 1 - EPS), 1 + EPS_HIGH);
      let l = -Math.min(r * a, c * a);
      // The gradient flows through ρ unless the clipped term is the smaller one and ρ is outside the clip range.
      let g = r * a <= c * a || c === r ? -a * r : 0;
      if (o.beta !== 0) {
        const d = o.ref[i][j] - o.lp[i][j];
        l += o.beta * (Math.exp(d) - d - 1);
        g += o.beta * (1 - Math.exp(d));
      }
      loss += weight(i) * l;
      grad[i][j] = weight(i) * g;
    }
  }
  return { loss, grad };
}

const r32 = (m: number[][]) => m.map((row) => row.map(f32));

function run(lossType: LossType, beta: number, extra: Partial<GrpoLossInput> = {}) {
  const lp = tensor(LP, { requiresGrad: true });
  const out = grpoLoss({
    logprobs: lp, oldLogprobs: tensor(OLD), refLogprobs: tensor(REF), advantages: tensor(ADV), mask: tensor(MASK),
    beta, epsilon: EPS, epsilonHigh: EPS_HIGH, lossType, maxCompletionLength: MAX_LEN, ...extra,
  });
  out.loss.backward();
  return { out, lp, grad: lp.grad as Tensor };
}

describe('grpoLoss', () => {
  const cases: [LossType, number][] = [
    ['grpo', 0], ['grpo', 0.04], ['bnpo', 0], ['bnpo', 0.04], ['dr_grpo', 0], ['dr_grpo', 0.04], ['dapo', 0], ['dapo', 0.04],
  ];
  test.each(cases)('%s with beta %p: loss and gradient match the reference', (lossType, beta) => {
    const { out, grad } = run(lossType, beta);
    const want = reference({ lp: r32(LP), old: r32(OLD), ref: r32(REF), adv: ADV.map(f32), mask: MASK, beta, lossType, maxLen: MAX_LEN });
    expect(out.loss.shape).toEqual([]);
    expect(out.loss.item()).toBeCloseTo(want.loss, 5);
    expectClose(grad, want.grad, 1e-6, 1e-4);
    // The clipped tokens get no gradient from the surrogate; the unclipped out-of-range ones do.
    const g = flat(grad.toArray()).map((x) => x + 0); // −0 → 0
    if (beta === 0) {
      expect(g[1]).toBe(0); // row 0 token 1: high-clipped
      expect(g[4]).toBe(0); // row 1 token 0: low-clipped
      expect(g[2]).not.toBe(0);
      expect(g[5]).not.toBe(0);
    }
    expect(g.slice(7)).toEqual([0, 0, 0, 0, 0]); // padding and the empty row
  });

  test('the aggregations differ as TRL defines them (hand numbers, ratio 1, no KL)', () => {
    // oldLogprobs null → ρ = 1: per-token loss is −A. Row sums: −1.5 · 4 = −6, 0.8 · 3 = 2.4, 0.
    const base = { oldLogprobs: null };
    const loss = (lossType: LossType, extra: Partial<GrpoLossInput> = {}) => Number(run(lossType, 0, { ...base, ...extra }).out.loss.item());
    expect(loss('grpo')).toBeCloseTo((-1.5 + 0.8 + 0) / 3, 6); // mean of per-row means, the empty row counting 0
    expect(loss('bnpo')).toBeCloseTo((-6 + 2.4) / 7, 6);
    expect(loss('dr_grpo')).toBeCloseTo((-6 + 2.4) / (3 * MAX_LEN), 6);
    expect(loss('dapo')).toBeCloseTo((-6 + 2.4) / 7, 6);
    expect(loss('dapo', { numItemsInBatch: 20 })).toBeCloseTo((-6 + 2.4) / 20, 6);
    expect(loss('grpo', { gradientAccumulationSteps: 4 })).toBeCloseTo((-1.5 + 0.8) / 3 / 4, 6);
    expect(loss('bnpo', { gradientAccumulationSteps: 2 })).toBeCloseTo((-6 + 2.4) / 7 / 2, 6);
    expect(loss('dapo', { gradientAccumulationSteps: 4 })).toBeCloseTo((-6 + 2.4) / 7, 6); // dapo ignores it
    // With ρ = 1 the gradient is −A / |o_i| / N for grpo.
    const { grad } = run('grpo', 0, base);
    expectClose(grad, [[-0.125, -0.125, -0.125, -0.125], [0.8 / 9, 0.8 / 9, 0.8 / 9, 0], [0, 0, 0, 0]], 1e-7, 1e-5);
  });

  test('dapo with numItemsInBatch and grpo with accumulation match the reference gradient', () => {
    for (const [lossType, extra] of [['dapo', { numItemsInBatch: 13 }], ['dr_grpo', { gradientAccumulationSteps: 3 }]] as const) {
      const { out, grad } = run(lossType, 0.1, extra);
      const want = reference({
        lp: r32(LP), old: r32(OLD), ref: r32(REF), adv: ADV.map(f32), mask: MASK, beta: 0.1, lossType, maxLen: MAX_LEN,
        items: 'numItemsInBatch' in extra ? extra.numItemsInBatch : undefined,
        accumulation: 'gradientAccumulationSteps' in extra ? extra.gradientAccumulationSteps : undefined,
      });
      expect(out.loss.item()).toBeCloseTo(want.loss, 5);
      expectClose(grad, want.grad, 1e-6, 1e-4);
    }
  });

  test('gradient matches central finite differences (float64)', () => {
    const f64 = (m: number[][]) => tensor(Float64Array.from(m.flat()), { shape: [3, 4] });
    const lossAt = (lpValues: number[][], requiresGrad = false) => {
      const lp = tensor(Float64Array.from(lpValues.flat()), { shape: [3, 4], requiresGrad });
      const out = grpoLoss({
        logprobs: lp, oldLogprobs: f64(OLD), refLogprobs: f64(REF), advantages: tensor(Float64Array.from(ADV)),
        mask: f64(MASK), beta: 0.07, epsilon: EPS, epsilonHigh: EPS_HIGH, lossType: 'grpo', maxCompletionLength: MAX_LEN,
      });
      return { lp, loss: out.loss };
    };
    const { lp, loss } = lossAt(LP, true);
    loss.backward();
    const analytic = flat((lp.grad as Tensor).toArray());
    const h = 1e-6;
    for (let k = 0; k < 12; k++) {
      const plus = LP.map((row) => [...row]);
      const minus = LP.map((row) => [...row]);
      plus[Math.floor(k / 4)][k % 4] += h;
      minus[Math.floor(k / 4)][k % 4] -= h;
      const numeric = (Number(lossAt(plus).loss.item()) - Number(lossAt(minus).loss.item())) / (2 * h);
      expect(Math.abs(analytic[k] - numeric)).toBeLessThan(1e-7);
    }
  });

  test('clip-ratio and KL metrics as TRL logs them: masked means, and min/max over completions', () => {
    const { out } = run('bnpo', 0.04);
    const m = out.metrics;
    expect(m.clipRatioLowMean).toBeCloseTo(1 / 7, 6);
    // Per completion: low-clipped 0/4 (row 0), 1/3 (row 1), row 2 has no tokens; high-clipped 1/4, 0/3.
    expect(m.clipRatioLowMin).toBe(0);
    expect(m.clipRatioHighMean).toBeCloseTo(1 / 7, 6);
    expect(m.clipRatioHighMax).toBeCloseTo(1 / 4, 6);
    expect(m.clipRatioRegionMean).toBeCloseTo(2 / 7, 6);
    let kl = 0;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 4; j++)
        if (MASK[i][j]) {
          const d = f32(REF[i][j]) - f32(LP[i][j]);
          kl += Math.exp(d) - d - 1;
        }
    expect(m.kl).toBeCloseTo(kl / 7, 6);
    expect(run('grpo', 0).out.metrics.kl).toBeUndefined();
    // Symmetric, wider clipping: nothing is clipped.
    const wide = run('grpo', 0, { epsilon: 0.5, epsilonHigh: 0.5 }).out.metrics;
    expect([wide.clipRatioLowMean, wide.clipRatioHighMean, wide.clipRatioRegionMean]).toEqual([0, 0, 0]);
  });

  test('an all-masked batch gives a zero loss, not NaN', () => {
    const zeroMask = tensor([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
    for (const lossType of ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const) {
      const { out } = run(lossType, 0.04, { mask: zeroMask });
      expect(out.loss.item()).toBe(0);
      expect(out.metrics.clipRatioRegionMean).toBe(0);
      expect(out.metrics.clipRatioLowMin).toBeNaN(); // no completion to take a min over (TRL's nanmin)
    }
  });

  test('intermediates are disposed: only the loss survives', () => {
    const inputs = {
      logprobs: tensor(LP, { requiresGrad: true }), oldLogprobs: tensor(OLD), refLogprobs: tensor(REF),
      advantages: tensor(ADV), mask: tensor(MASK),
    };
    const before = memory().tensors;
    const out = grpoLoss({ ...inputs, beta: 0.04, epsilon: EPS, epsilonHigh: EPS_HIGH, lossType: 'dapo', maxCompletionLength: MAX_LEN });
    expect(memory().tensors).toBe(before + 1);
    out.loss.dispose();
  });

  test('bad input gets an actionable error', () => {
    const ok = {
      logprobs: tensor(LP), oldLogprobs: tensor(OLD), refLogprobs: null, advantages: tensor(ADV), mask: tensor(MASK),
      beta: 0, epsilon: EPS, epsilonHigh: EPS_HIGH, lossType: 'grpo' as LossType, maxCompletionLength: MAX_LEN,
    };
    const noRef = thrown(() => grpoLoss({ ...ok, beta: 0.1 }));
    expect(noRef.name).toBe('TypeError');
    expect(noRef.message).toMatch(/beta > 0 needs refLogprobs/);
    expect(thrown(() => grpoLoss({ ...ok, mask: tensor([[1, 1, 1], [1, 1, 1], [1, 1, 1]]) })).message).toMatch(/mask has shape \[3, 3\], expected \[3, 4\]/);
    expect(thrown(() => grpoLoss({ ...ok, advantages: tensor([1, 2]) })).message).toMatch(/advantages has shape \[2\], expected \[3\]/);
    expect(thrown(() => grpoLoss({ ...ok, lossType: 'ppo' as never })).name).toBe('RangeError');
    expect(thrown(() => grpoLoss({ ...ok, epsilon: -0.1 })).message).toMatch(/epsilon must be a finite number >= 0/);
    expect(thrown(() => grpoLoss({ ...ok, lossType: 'dr_grpo', maxCompletionLength: 0 })).message).toMatch(/maxCompletionLength/);
    expect(thrown(() => grpoLoss({ ...ok, logprobs: tensor([1, 2, 3]) })).message).toMatch(/logprobs must be a 2-D Tensor/);
  });
});
