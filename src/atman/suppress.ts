// The answer's log-probability with chosen context tokens suppressed (AtMan key bias −1e4 on their keys, for the
// queries from the CoT start on), batched over many (example, suppressed set) rows. The measuring stick of the
// saliency reward, of leave-one-out ground truth and of the ERASER metrics.
import { LlamaModel } from '../llm/model';
import { tensor } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';
import { BiasFrom, SaliencyExample, collate, disposeBatch } from './batch';

/** One measurement: an example and the absolute positions (indices into ids) whose keys are suppressed. */
export interface SuppressionRow {
  example: SaliencyExample;
  suppress: number[];
}

export interface SuppressionOptions {
  /** Rows per forward pass (default 64). */
  batchSize?: number;
  /** Bias of a suppressed key: log s with s → 0 (default −1e4). */
  suppressBias?: number;
  padTokenId?: number;
  /** The queries the suppression acts on (default 'cot': from the CoT start on). */
  biasFrom?: BiasFrom;
}

/** Sum of the answer tokens' log-probs for each row (same order), under that row's suppression. */
export function answerLogprobs(model: LlamaModel, rows: SuppressionRow[], opts: SuppressionOptions = {}): number[] {
  const batchSize = opts.batchSize ?? 64, bias = opts.suppressBias ?? -1e4;
  const out = new Array<number>(rows.length);
  // Similar lengths together: less padding.
  const order = rows.map((_, i) => i).sort((a, b) => rows[b].example.ids.length - rows[a].example.ids.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const chunk = order.slice(i, i + batchSize);
    const values = noGrad(() => tidy(() => {
      const b = collate(chunk.map((k) => rows[k].example), opts.padTokenId ?? 0, opts.biasFrom ?? 'cot');
      try {
        const B = chunk.length, T = b.T, device = model.config.device;
        const keyBias = new Float32Array(B * T);
        chunk.forEach((k, r) => {
          for (const p of rows[k].suppress) {
            if (!Number.isInteger(p) || p < 0 || p >= rows[k].example.ids.length)
              throw new RangeError(`index out of range: suppressed position ${p} outside [0, ${rows[k].example.ids.length})`);
            keyBias[r * T + b.pad[r] + p] = bias;
          }
        });
        const biasDtype = model.config.dtype === 'float64' ? 'float64' : 'float32';
        const lp = model.tokenLogprobs(b.ids.to({ device }), {
          keyBias: tensor(keyBias, { device, shape: [B, T] }).to({ dtype: biasDtype }),
          biasQueryStart: b.biasQueryStart.to({ device }), keyStart: b.keyStart.to({ device }), targetStart: b.answerStart.to({ device }),
        });
        return lp.mul(b.answerMask.to({ device, dtype: lp.dtype })).sum(-1).toArray() as number[];
      } finally {
        disposeBatch(b);
      }
    }));
    chunk.forEach((k, r) => (out[k] = values[r]));
  }
  return out;
}

/** Absolute positions of an example's CoT tokens with the given CoT-relative indices. */
export function cotPositions(e: SaliencyExample, indices: number[]): number[] {
  return indices.map((j) => e.cotStart + j);
}

/**
 * Leave-one-out ground truth: for each example, the answer log-prob drop when each CoT token alone is suppressed
 * (log p(full) − log p(token j suppressed)), [example][j]. n_cot + 1 rows per example.
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
