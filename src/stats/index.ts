// Small statistics for measurements and experiments: ranks, AUROC, Spearman, mean/sd and a percentile bootstrap.
// Hand-written because each is a few lines; the npm alternatives are unmaintained or pull in whole frameworks.
import { mulberry32 } from '../data/prng';

export function mean(x: number[]): number {
  return x.length === 0 ? NaN : x.reduce((a, v) => a + v, 0) / x.length;
}

/** Sample standard deviation (n − 1); NaN for fewer than two values. */
export function sd(x: number[]): number {
  if (x.length < 2) return NaN;
  const m = mean(x);
  return Math.sqrt(x.reduce((a, v) => a + (v - m) * (v - m), 0) / (x.length - 1));
}

/** Ranks 1..n, ties get their average rank. */
export function ranks(x: number[]): number[] {
  const order = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && x[order[j + 1]] === x[order[i]]) j++;
    for (let k = i; k <= j; k++) r[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

function pearson(a: number[], b: number[]): number {
  const ma = mean(a), mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman's rank correlation; NaN when either side is constant or there are fewer than 3 pairs. */
export function spearman(a: number[], b: number[]): number {
  if (a.length !== b.length) throw new RangeError(`spearman: ${a.length} vs ${b.length} values`);
  return a.length < 3 ? NaN : pearson(ranks(a), ranks(b));
}

/**
 * Area under the ROC curve of `score` for telling positives from negatives: the probability that a random positive
 * scores above a random negative (ties count 1/2). NaN when a class is empty.
 */
export function auroc(score: number[], positive: boolean[]): number {
  if (score.length !== positive.length) throw new RangeError(`auroc: ${score.length} scores vs ${positive.length} labels`);
  const r = ranks(score);
  let nPos = 0, rankSum = 0;
  positive.forEach((p, i) => {
    if (p) {
      nPos++;
      rankSum += r[i];
    }
  });
  const nNeg = score.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Percentile bootstrap 95% interval of stat(sample) (resampling with replacement, seeded). */
export function bootstrapCI(sample: number[], stat: (x: number[]) => number = mean, iters = 10000, seed = 0): [number, number] {
  if (sample.length === 0) return [NaN, NaN];
  const rand = mulberry32(seed);
  const values: number[] = [];
  const draw = new Array<number>(sample.length);
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < sample.length; i++) draw[i] = sample[Math.floor(rand() * sample.length)];
    values.push(stat(draw));
  }
  values.sort((a, b) => a - b);
  return [values[Math.floor(0.025 * iters)], values[Math.min(iters - 1, Math.floor(0.975 * iters))]];
}

/** Bootstrap 95% interval of mean(a) − mean(b) for two independent samples (e.g. per-seed results of two conditions). */
export function bootstrapDiffCI(a: number[], b: number[], iters = 10000, seed = 0): [number, number] {
  if (a.length === 0 || b.length === 0) return [NaN, NaN];
  const rand = mulberry32(seed);
  const pick = (x: number[]) => x[Math.floor(rand() * x.length)];
  const values: number[] = [];
  for (let it = 0; it < iters; it++) {
    let sa = 0, sb = 0;
    for (let i = 0; i < a.length; i++) sa += pick(a);
    for (let i = 0; i < b.length; i++) sb += pick(b);
    values.push(sa / a.length - sb / b.length);
  }
  values.sort((x, y) => x - y);
  return [values[Math.floor(0.025 * iters)], values[Math.min(iters - 1, Math.floor(0.975 * iters))]];
}
