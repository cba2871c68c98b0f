// The small statistics used by the gates and the experiment table, against hand-computed values.
import { auroc, bootstrapCI, bootstrapDiffCI, mean, ranks, sd, spearman } from '../src/stats';

test('mean, sample sd, ranks with ties', () => {
  expect(mean([1, 2, 3, 4])).toBe(2.5);
  expect(sd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
  expect(Number.isNaN(sd([1]))).toBe(true);
  expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
});

test('AUROC: perfect, reversed, ties and a hand-counted case', () => {
  expect(auroc([0.9, 0.8, 0.1, 0.2], [true, true, false, false])).toBe(1);
  expect(auroc([0.1, 0.2, 0.9, 0.8], [true, true, false, false])).toBe(0);
  expect(auroc([0.5, 0.5, 0.5], [true, false, false])).toBe(0.5);
  // positives 0.7, 0.3; negatives 0.5, 0.1: pairs won 0.7>0.5, 0.7>0.1, 0.3>0.1 = 3 of 4
  expect(auroc([0.7, 0.3, 0.5, 0.1], [true, true, false, false])).toBe(0.75);
  expect(Number.isNaN(auroc([1, 2], [true, true]))).toBe(true);
});

test('Spearman: monotonic = ±1, a hand-computed case, constant = NaN', () => {
  expect(spearman([1, 2, 3, 4], [10, 100, 1000, 1e4])).toBeCloseTo(1, 12);
  expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
  // ranks a = 1..5, b = [2, 1, 4, 3, 5]: d² = 1+1+1+1+0 = 4, rho = 1 − 6·4/(5·24) = 0.8
  expect(spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50])).toBeCloseTo(0.8, 12);
  expect(Number.isNaN(spearman([1, 1, 1], [1, 2, 3]))).toBe(true);
});

test('bootstrap intervals: a constant sample, separated and overlapping samples', () => {
  expect(bootstrapCI([3, 3, 3])).toEqual([3, 3]);
  const [lo, hi] = bootstrapCI([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  expect(lo).toBeGreaterThan(3);
  expect(hi).toBeLessThan(8);
  const [dlo] = bootstrapDiffCI([0.8, 0.82, 0.79], [0.2, 0.25, 0.22]);
  expect(dlo).toBeGreaterThan(0.5);
  const [olo, ohi] = bootstrapDiffCI([0.1, 0.5, 0.3], [0.2, 0.4, 0.3]);
  expect(olo).toBeLessThan(0);
  expect(ohi).toBeGreaterThan(0);
});
