// computeAdvantages and normalizeThenSumAdvantages against hand-computed values (TRL's GRPOTrainer semantics, TRL >= 1.6:
// unscorable completions, reward_std over the batch) for each scale mode and both multi-objective aggregations.
import { computeAdvantages, nanStd, normalizeThenSumAdvantages } from '../src/grpo/advantages';
import { expectClose, thrown } from './helpers';

describe('computeAdvantages', () => {
  // Three prompts, G = 4: a mixed group, a zero-std group, a skewed group.
  const rewards = [1, 0, 0, 1, 2, 2, 2, 2, 0, 0, 0, 3];
  // Group 0: mean 0.5, squared deviations 4 · 0.25 = 1, unbiased variance 1/3.
  const std0 = Math.sqrt(1 / 3);
  // Group 2: mean 0.75, squared deviations 3 · 0.5625 + 5.0625 = 6.75, variance 6.75 / 3 = 2.25, std 1.5.
  const std2 = 1.5;

  test("'group' divides each group by its own std + 1e-4", () => {
    const r = computeAdvantages(rewards, 4, 'group');
    const a0 = 0.5 / (std0 + 1e-4);
    const a2 = 0.75 / (std2 + 1e-4);
    expectClose(r.advantages, [a0, -a0, -a0, a0, 0, 0, 0, 0, -a2, -a2, -a2, 3 * a2], 1e-12, 1e-12);
    expectClose(r.groupMean, [0.5, 2, 0.75], 1e-12);
    expectClose(r.groupStd, [std0, 0, std2], 1e-12);
    expect(r.fracRewardZeroStd).toBeCloseTo(1 / 3, 12);
    expect(r.rewardMean).toBeCloseTo((0.5 + 2 + 0.75) / 3, 12);
    // As current TRL: reward_std is the std of all rewards of the batch, not the mean of the group stds.
    const m = 13 / 12;
    const batchStd = Math.sqrt(rewards.reduce((a, x) => a + (x - m) ** 2, 0) / 11);
    expect(r.rewardStd).toBeCloseTo(batchStd, 12);
    expect(r.rewardStd).not.toBeCloseTo((std0 + 0 + std2) / 3, 3);
  });

  test("'none' only centers, and still reports group stds", () => {
    const r = computeAdvantages(rewards, 4, 'none');
    expectClose(r.advantages, [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0, -0.75, -0.75, -0.75, 2.25], 1e-12);
    expect(r.fracRewardZeroStd).toBeCloseTo(1 / 3, 12);
    expect(r.rewardStd).toBeCloseTo(nanStd(rewards), 12);
  });

  test("'batch' centers per group but divides by the std of the whole batch", () => {
    // Batch mean 1.75; squared deviations 0.5625 + 3.0625 + 1.5625 + 1.5625 = 6.75, variance 2.25, std 1.5.
    const r = computeAdvantages([1, 0, 3, 3], 2, 'batch');
    const a = 0.5 / (1.5 + 1e-4);
    expectClose(r.advantages, [a, -a, 0, 0], 1e-12, 1e-12);
    expectClose(r.groupMean, [0.5, 3], 1e-12);
    expectClose(r.groupStd, [Math.sqrt(0.5), 0], 1e-12);
    // As TRL: zero-std is judged on the std used for scaling, the batch std here (not 0).
    expect(r.fracRewardZeroStd).toBe(0);
    expect(r.rewardStd).toBeCloseTo(1.5, 12);
    expect(r.rewardMean).toBeCloseTo(1.75, 12);
  });

  test("'batch' with equal rewards everywhere: zero advantages and fracRewardZeroStd 1", () => {
    const r = computeAdvantages([0.7, 0.7, 0.7, 0.7], 2, 'batch');
    expectClose(r.advantages, [0, 0, 0, 0], 1e-12);
    expect(r.fracRewardZeroStd).toBe(1);
  });

  test('a zero-std group gets zero advantages (not NaN), also with non-integer rewards', () => {
    const r = computeAdvantages([0.1, 0.1, 0.1, 0.3, 0.5, 0.7], 3, 'group');
    expectClose(r.advantages.slice(0, 3), [0, 0, 0], 1e-9);
    // Group 1: mean 0.5, deviations ±0.2, variance 0.08 / 2 = 0.04, std 0.2.
    expectClose(r.advantages.slice(3), [-0.2 / 0.2001, 0, 0.2 / 0.2001], 1e-9);
    expect(r.fracRewardZeroStd).toBe(0.5);
  });

  test('G = 1: std is 0 as in TRL, so advantages are 0 and every group counts as zero-std', () => {
    const g = computeAdvantages([3, 5], 1, 'group');
    expect(g.advantages).toEqual([0, 0]);
    expect(g.groupStd).toEqual([0, 0]);
    expect(g.fracRewardZeroStd).toBe(1);
    const b = computeAdvantages([3, 5], 1, 'batch');
    expect(b.advantages).toEqual([0, 0]);
    expect(b.rewardStd).toBeCloseTo(Math.SQRT2, 12);
    const single = computeAdvantages([4], 1, 'batch');
    expect(single.advantages).toEqual([0]);
    expect(single.rewardStd).toBeNaN(); // TRL's nanstd of one value
  });

  test('bad input gets an actionable error', () => {
    expect(thrown(() => computeAdvantages([1, 2, 3], 2, 'group')).message).toMatch(/3 rewards do not split into groups of 2/);
    expect(thrown(() => computeAdvantages([1, 2], 0, 'group')).message).toMatch(/groupSize must be a positive integer/);
    expect(thrown(() => computeAdvantages([1, Infinity], 2, 'group')).message).toMatch(/reward 1 is Infinity; .*NaN for an unscorable completion/);
    expect(thrown(() => computeAdvantages([], 2, 'group')).name).toBe('RangeError');
    expect(thrown(() => computeAdvantages([1, 2], 2, 'groups' as never)).message).toMatch(/scale must be one of group, batch, none/);
  });
});

describe('unscorable completions (every reward NaN), as TRL >= 1.6', () => {
  test('are left out of their group\'s mean and std and get advantage 0', () => {
    // Group 0: [1, NaN, 0, 1]: mean 2/3 and std over three values; group 1: all NaN; group 2: one scorable value.
    const r = computeAdvantages([1, NaN, 0, 1, NaN, NaN, NaN, NaN, 2, NaN, NaN, NaN], 4, 'group');
    const std = Math.sqrt(((1 / 3) ** 2 * 2 + (2 / 3) ** 2) / 2);
    const a = (x: number) => (x - 2 / 3) / (std + 1e-4);
    expectClose(r.advantages, [a(1), 0, a(0), a(1), 0, 0, 0, 0, 0, 0, 0, 0], 1e-12);
    expect(r.groupMean[0]).toBeCloseTo(2 / 3, 12);
    expect(r.groupMean[1]).toBeNaN();
    expect(r.groupMean[2]).toBe(2);
    expect(r.groupStd[0]).toBeCloseTo(std, 12);
    expect(r.groupStd[2]).toBeNaN(); // one value: no std, so its advantage is 0 (TRL: nan_to_num)
    expect(r.rewardMean).toBeCloseTo(4 / 4, 12); // mean of 1, 0, 1, 2
    expect(r.rewardStd).toBeCloseTo(nanStd([1, 0, 1, 2]), 12);
    // A NaN std is not "zero std": only the group-0 completions are judged, none of them zero.
    expect(r.fracRewardZeroStd).toBe(0);
  });

  test("'none' and 'batch' skip them too", () => {
    const none = computeAdvantages([1, NaN, 0, 3], 2, 'none');
    expect(none.advantages).toEqual([0, 0, -1.5, 1.5]);
    const batch = computeAdvantages([1, NaN, 0, 3], 2, 'batch');
    const s = nanStd([1, 0, 3]);
    expectClose(batch.advantages, [0, 0, -1.5 / (s + 1e-4), 1.5 / (s + 1e-4)], 1e-12);
  });

  test('without NaN the result is unchanged (mean of group means = mean reward)', () => {
    const r = computeAdvantages(rewards4, 2, 'group');
    expect(r.rewardMean).toBeCloseTo(1.75, 12);
  });
});

const rewards4 = [1, 0, 3, 3];

describe("normalizeThenSumAdvantages (TRL's multi_objective_aggregation: normalize_then_sum)", () => {
  // Two prompts, G = 3; correct is 0/1, format 0/0.1, saliency in [0, 0.5].
  const perFunction = {
    correct: [1, 0, 1, 0, 0, 1],
    format: [0.1, 0.1, 0, 0.1, 0, 0],
    saliency: [0.5, 0, 0.1, 0, 0, 0.3],
  };
  const weights = { correct: 1, format: 0.1, saliency: 0.5 };
  const total = [0, 1, 2, 3, 4, 5].map((k) => perFunction.correct[k] + 0.1 * perFunction.format[k] + 0.5 * perFunction.saliency[k]);

  /** Plain re-statement of TRL's formula, for one reading of it. */
  function reference(pf: Record<string, number[]>, w: Record<string, number>): number[] {
    const sum = [0, 0, 0, 0, 0, 0];
    for (const [f, v] of Object.entries(pf))
      for (const p of [0, 1]) {
        const g = v.slice(3 * p, 3 * p + 3);
        const m = g.reduce((a, x) => a + x, 0) / 3;
        const s = Math.sqrt(g.reduce((a, x) => a + (x - m) ** 2, 0) / 2);
        g.forEach((x, j) => (sum[3 * p + j] += (w[f] ?? 1) * ((x - m) / (s + 1e-4))));
      }
    const m = sum.reduce((a, x) => a + x, 0) / 6;
    const s = Math.sqrt(sum.reduce((a, x) => a + (x - m) ** 2, 0) / 5);
    return sum.map((x) => (x - m) / (s + 1e-4));
  }

  test('normalizes each reward within its group, sums with the weights, then scales over the batch', () => {
    const r = normalizeThenSumAdvantages(perFunction, weights, total, 3);
    expectClose(r.advantages, reference(perFunction, weights), 1e-9);
    // reward and reward_std are of the raw weighted total, as TRL logs them.
    expect(r.rewardMean).toBeCloseTo(total.reduce((a, x) => a + x, 0) / 6, 12);
    expect(r.rewardStd).toBeCloseTo(nanStd(total), 12);
  });

  test("a reward's scale no longer decides how much it counts: only its weight does", () => {
    const rescaled = { ...perFunction, saliency: perFunction.saliency.map((x) => 100 * x) };
    const a = normalizeThenSumAdvantages(perFunction, weights, total, 3).advantages;
    const b = normalizeThenSumAdvantages(rescaled, weights, total, 3).advantages;
    expectClose(b, a, 1e-3); // equal up to the 1e-4 added to the stds
    const summed = computeAdvantages(total, 3, 'group').advantages;
    expect(Math.max(...a.map((x, i) => Math.abs(x - summed[i])))).toBeGreaterThan(0.05); // it does differ from sum
  });

  test('unscorable completions get 0 and stay out of the batch statistics', () => {
    const pf = { correct: [1, NaN, 0, 0, 1, 1], extra: [NaN, NaN, 1, 2, NaN, 3] };
    const t = [1, NaN, 1, 2, 1, 4];
    const r = normalizeThenSumAdvantages(pf, {}, t, 3);
    expect(r.advantages[1]).toBe(0);
    expect(r.advantages.every(Number.isFinite)).toBe(true);
    expect(r.rewardMean).toBeCloseTo(9 / 5, 12);
  });
});
