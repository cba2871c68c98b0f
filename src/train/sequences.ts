// Packs prompt + completion token sequences into one left-padded batch for log-prob passes (policy, old, reference)
// and the masks that say which positions are completion tokens.
import { tensor } from '../tensor/creation';
import { Tensor } from '../tensor/tensor';

export interface PackedSequences {
  ids: Tensor;         // int64 [N, T]
  keyStart: Tensor;    // int64 [N]: left padding before this index
  targetStart: Tensor; // int64 [N]: first completion position (tokenLogprobs scores from here)
  mask: Tensor;        // float32 [N, T]: 1 on completion tokens that count
  T: number;
  pad: number[];
}

/**
 * `weights[i]` (default 1) scales row i's mask: 0 drops a completion from the loss (e.g. truncated ones). The tensors
 * are made on `device` (default cpu): the model's, so the loss never mixes devices.
 */
export function packSequences(prompts: number[][], completions: number[][], padId: number, weights?: number[], device = 'cpu'): PackedSequences {
  const N = prompts.length;
  const lengths = prompts.map((p, i) => p.length + completions[i].length);
  const T = Math.max(...lengths);
  const ids = new Array<number>(N * T).fill(padId);
  const mask = new Float32Array(N * T);
  const pad: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < N; i++) {
    const p = T - lengths[i];
    pad.push(p);
    start.push(p + prompts[i].length);
    const seq = [...prompts[i], ...completions[i]];
    for (let j = 0; j < seq.length; j++) ids[i * T + p + j] = seq[j];
    const w = weights?.[i] ?? 1;
    for (let j = p + prompts[i].length; j < T; j++) mask[i * T + j] = w;
  }
  return {
    ids: tensor(ids, { dtype: 'int64', device, shape: [N, T] }),
    keyStart: tensor(pad, { dtype: 'int64', device }),
    targetStart: tensor(start, { dtype: 'int64', device }),
    mask: tensor(mask, { device, shape: [N, T] }),
    T,
    pad,
  };
}

export function disposePacked(p: PackedSequences): void {
  for (const t of [p.ids, p.keyStart, p.targetStart, p.mask]) t.dispose();
}

/** Rows [from, to) of a packed batch (views; the caller disposes them). */
export function slicePacked(p: PackedSequences, from: number, to: number): PackedSequences {
  return {
    ids: p.ids.narrow(0, from, to - from),
    keyStart: p.keyStart.narrow(0, from, to - from),
    targetStart: p.targetStart.narrow(0, from, to - from),
    mask: p.mask.narrow(0, from, to - from),
    T: p.T,
    pad: p.pad.slice(from, to),
  };
}
