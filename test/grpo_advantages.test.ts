// computeAdvantages against hand-computed values (TRL's GRPOTrainer semantics) for each scale mode.
import { computeAdvantages } from '../src/grpo/advantages';
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
    expect(r.rewardStd).toBeCloseTo((std0 + 0 + std2) / 3, 12);
  });

  test("'none' only centers, and still reports group stds", () => {
    const r = computeAdvantages(rewards, 4, 'none');
    expectClose(r.advantages, [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0, -0.75, -0.75, -0.75, 2.25], 1e-12);
    expect(r.fracRewardZeroStd).toBeCloseTo(1 / 3, 12);
    expect(r.rewardStd).toBeCloseTo((std0 + std2) / 3, 12);
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
    expect(single.rewardStd).toBe(0);
  });

  test('bad input gets an actionable error', () => {
    expect(thrown(() => computeAdvantages([1, 2, 3], 2, 'group')).message).toMatch(/3 rewards do not split into groups of 2/);
    expect(thrown(() => computeAdvantages([1, 2], 0, 'group')).message).toMatch(/groupSize must be a positive integer/);
    expect(thrown(() => computeAdvantages([1, NaN], 2, 'group')).message).toMatch(/reward 1 is NaN/);
    expect(thrown(() => computeAdvantages([], 2, 'group')).name).toBe('RangeError');
    expect(thrown(() => computeAdvantages([1, 2], 2, 'groups' as never)).message).toMatch(/scale must be one of group, batch, none/);
  });
});
