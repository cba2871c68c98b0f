// The answer's log-probability with chosen context tokens suppressed (AtMan key bias −1e4 on their keys, for the
// queries from a chosen position on), batched over many (sequence, suppressed set) rows. The measuring stick of the
// saliency reward, of leave-one-out ground truth, of the ERASER metrics and of eval's interventions (llama-backend.ts).
import { LlamaModel } from '../llm/model';
import { tensor } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';
import { BiasFrom, SaliencyExample } from './batch';
import type { ScoreRow } from './faithfulness';

/** One measurement: an example and the absolute positions (indices into ids) whose keys are suppressed. */
export interface SuppressionRow {
  example: SaliencyExample;
  suppress: number[];
}

export interface SuppressionOptions {
  /** Rows per forward pass (default 64; a pass never splits one sequence's rows). */
  batchSize?: number;
  /** Bias of a suppressed key: log s with s → 0 (default −1e4). */
  suppressBias?: number;
  padTokenId?: number;
  /** The queries the suppression acts on (default 'cot': from the CoT start on). */
  biasFrom?: BiasFrom;
}

/**
 * Plans the forward passes of scoreRowLogprobs: rows that score the same sequence (the same ids array cut at the same
 * answer, with the same biasFrom: one item's measurements) form a group that shares one prompt prefix; groups of
 * similar length are packed into passes of at most `batchSize` rows (a larger group gets a pass of its own).
 * Returns passes, each a list of groups, each a list of row indices.
 */
export function planSuppressionPasses(rows: ScoreRow[], batchSize: number): number[][][] {
  const groups: number[][] = [];
  const byIds = new Map<number[], Map<string, number>>();
  rows.forEach((r, i) => {
    const key = `${r.biasFrom}:${r.answerStart}:${r.answerEnd}`;
    let m = byIds.get(r.ids);
    if (!m) byIds.set(r.ids, (m = new Map()));
    let g = m.get(key);
    if (g === undefined) m.set(key, (g = groups.push([]) - 1));
    groups[g].push(i);
  });
  const order = groups.map((_, g) => g).sort((a, b) => rows[groups[b][0]].answerEnd - rows[groups[a][0]].answerEnd);
  const passes: number[][][] = [];
  let rowsInLast = 0;
  for (const g of order) {
    const last = passes[passes.length - 1];
    if (last && rowsInLast + groups[g].length <= batchSize) {
      last.push(groups[g]);
      rowsInLast += groups[g].length;
    } else {
      passes.push([groups[g]]);
      rowsInLast = groups[g].length;
    }
  }
  return passes;
}

/**
 * Answer log-probs of one pass: groups of rows, each group one sequence (cut at its answer end) under several
 * suppressions. Sequences are left-padded to end at T; the prefix before the earliest biased query runs once per
 * sequence (model.prefix) and its keys and values are shared by the group's rows. Returns [group][row].
 */
export function passLogprobs(model: LlamaModel, groups: ScoreRow[][], opts: { padTokenId?: number; suppressBias?: number } = {}): number[][] {
  const bias = opts.suppressBias ?? -1e4, device = model.config.device;
  const biasDtype = model.config.dtype === 'float64' ? 'float64' : 'float32';
  const long = (v: number[]) => tensor(v, { dtype: 'int64', device });
  return noGrad(() => tidy(() => {
    const G = groups.length, T = Math.max(...groups.map((g) => g[0].answerEnd));
    const padG = groups.map((g) => T - g[0].answerEnd);
    const seqs = new Array<number>(G * T).fill(opts.padTokenId ?? 0);
    groups.forEach((g, k) => g[0].ids.slice(0, g[0].answerEnd).forEach((t, j) => (seqs[k * T + padG[k] + j] = t)));
    const rowGroup = groups.flatMap((g, k) => g.map(() => k));
    const flatRows = groups.flat();
    const B = flatRows.length;
    const pad = rowGroup.map((k) => padG[k]);
    const keyBias = new Float32Array(B * T);
    flatRows.forEach((r, b) => r.suppress.forEach((j) => (keyBias[b * T + pad[b] + j] = bias)));
    const P = Math.min(...groups.map((g, k) => padG[k] + Math.min(...g.map((r) => r.biasFrom))));
    const ids = tensor(seqs, { dtype: 'int64', device, shape: [G, T] });
    const index = long(rowGroup);
    let past;
    if (P > 0) {
      const p = model.prefix(ids.narrow(1, 0, P), { keyStart: long(padG) });
      past = { keys: p.keys.indexSelect(1, index), values: p.values.indexSelect(1, index) };
    }
    const lp = model.tokenLogprobs(ids.indexSelect(0, index).narrow(1, P, T - P), {
      keyBias: tensor(keyBias, { device, shape: [B, T] }).to({ dtype: biasDtype }),
      biasQueryStart: long(flatRows.map((r, b) => pad[b] + r.biasFrom)),
      keyStart: long(pad),
      targetStart: long(flatRows.map((r, b) => pad[b] + r.answerStart - P)),
      past,
    });
    // Every row ends at its answer's end, and positions before targetStart are 0: the row sum is the answer's.
    const sums = lp.sum(-1).toArray() as number[];
    let b = 0;
    return groups.map((g) => g.map(() => Number(sums[b++])));
  }));
}

/** Checks a score row: 1 <= answerStart < answerEnd <= ids.length, biasFrom >= 0, suppressed positions before the answer. */
export function checkScoreRow(r: ScoreRow, i: number): void {
  if (!(r && Array.isArray(r.ids) && Number.isInteger(r.answerStart) && Number.isInteger(r.answerEnd) && 1 <= r.answerStart &&
    r.answerStart < r.answerEnd && r.answerEnd <= r.ids.length && Number.isInteger(r.biasFrom) && r.biasFrom >= 0 && Array.isArray(r.suppress)))
    throw new RangeError(`index out of range: score row ${i} needs 1 <= answerStart < answerEnd <= ids.length and biasFrom >= 0`);
  for (const p of r.suppress)
    if (!(Number.isInteger(p) && p >= 0 && p < r.answerStart)) throw new RangeError(`index out of range: score row ${i} suppresses position ${p} outside [0, ${r.answerStart})`);
}

/** Sum of the answer tokens' log-probs of each score row (same order), under that row's suppression. */
export function scoreRowLogprobs(model: LlamaModel, rows: ScoreRow[], opts: SuppressionOptions = {}): number[] {
  rows.forEach(checkScoreRow);
  const out = new Array<number>(rows.length);
  for (const pass of planSuppressionPasses(rows, opts.batchSize ?? 64)) {
    const values = passLogprobs(model, pass.map((g) => g.map((i) => rows[i])), opts);
    pass.forEach((g, k) => g.forEach((i, j) => (out[i] = values[k][j])));
  }
  return out;
}

/** The score row of a saliency example under a suppression: its queries from the CoT start (or its end) are biased. */
export function exampleScoreRow(e: SaliencyExample, suppress: number[], biasFrom: BiasFrom = 'cot'): ScoreRow {
  return { ids: e.ids, answerStart: e.answerStart, answerEnd: e.answerEnd, biasFrom: biasFrom === 'answer' ? e.cotEnd : e.cotStart, suppress };
}

/** Sum of the answer tokens' log-probs for each row (same order), under that row's suppression. */
export function answerLogprobs(model: LlamaModel, rows: SuppressionRow[], opts: SuppressionOptions = {}): number[] {
  return scoreRowLogprobs(model, rows.map((r) => exampleScoreRow(r.example, r.suppress, opts.biasFrom)), opts);
}

/** Absolute positions of an example's CoT tokens with the given CoT-relative indices. */
export function cotPositions(e: SaliencyExample, indices: number[]): number[] {
  return indices.map((j) => e.cotStart + j);
}

/**
 * Leave-one-out ground truth: for each example, the answer log-prob drop when each CoT token alone is suppressed
 * (log p(full) − log p(token j suppressed)), [example][j]. n_cot + 1 rows per example, sharing one prompt prefix.
 */
export function leaveOneOutDrops(model: LlamaModel, examples: SaliencyExample[], opts: SuppressionOptions = {}): number[][] {
  const rows: SuppressionRow[] = [];
  for (const e of examples) {
    rows.push({ example: e, suppress: [] });
    for (let j = e.cotStart; j < e.cotEnd; j++) rows.push({ example: e, suppress: [j] });
  }
  const lp = answerLogprobs(model, rows, opts);
  const drops: number[][] = [];
  let k = 0;
  for (const e of examples) {
    const full = lp[k++];
    const d: number[] = [];
    for (let j = e.cotStart; j < e.cotEnd; j++) d.push(full - lp[k++]);
    drops.push(d);
  }
  return drops;
}
