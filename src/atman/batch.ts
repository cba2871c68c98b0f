// Collates ragged completions into one left-padded batch for the saliency forward passes.
import { tensor } from '../tensor/creation';
import { Tensor } from '../tensor/tensor';

/**
 * One completion to explain: the token ids of prompt + chain of thought + answer, and the spans (absolute indices
 * into `ids`, end exclusive) of its CoT and of its answer. The answer comes after the CoT.
 */
export interface SaliencyExample {
  ids: number[];
  cotStart: number;
  cotEnd: number;
  answerStart: number;
  answerEnd: number;
  /** Optional: the spans [start, end) of the numbers the CoT writes after an '=' (Spans.results), inside the CoT. */
  results?: [number, number][];
}

/** A left-padded batch: row b's tokens sit at [pad[b], T). Index tensors are int64 on the CPU. */
export interface SaliencyBatch {
  ids: Tensor;            // int64 [B, T]
  keyStart: Tensor;       // int64 [B]: the padding before pad[b] is masked out
  biasQueryStart: Tensor; // int64 [B]: the mask acts on query rows from here on (CoT start, or CoT end: BiasFrom)
  answerStart: Tensor;    // int64 [B]: first scored position (tokenLogprobs' targetStart)
  cotMask: Tensor;        // float32 [B, T]: 1 on CoT keys
  answerMask: Tensor;     // float32 [B, T]: 1 on answer tokens
  cotLength: number[];
  pad: number[];
  T: number;
}

export function checkExample(e: SaliencyExample, i: number): void {
  const where = `optimizeSaliency() batch[${i}]`;
  if (e === null || typeof e !== 'object' || !Array.isArray(e.ids))
    throw new TypeError(`wrong argument type: ${where} must be {ids: number[], cotStart, cotEnd, answerStart, answerEnd}`);
  const n = e.ids.length;
  for (const key of ['cotStart', 'cotEnd', 'answerStart', 'answerEnd'] as const)
    if (!Number.isSafeInteger(e[key])) throw new TypeError(`wrong argument type: ${where}.${key} must be an integer`);
  if (!(e.cotStart >= 1 && e.cotStart < e.cotEnd && e.cotEnd <= e.answerStart && e.answerStart < e.answerEnd && e.answerEnd <= n))
    throw new RangeError(
      `index out of range: ${where} needs 1 <= cotStart < cotEnd <= answerStart < answerEnd <= ids.length (${n}), got ` +
        `cot [${e.cotStart}, ${e.cotEnd}) answer [${e.answerStart}, ${e.answerEnd})`,
    );
  if (e.results === undefined) return;
  if (!Array.isArray(e.results)) throw new TypeError(`wrong argument type: ${where}.results must be an array of [start, end] pairs`);
  for (const r of e.results)
    if (!(Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1]) && e.cotStart < r[0] && r[0] < r[1] && r[1] <= e.cotEnd))
      throw new RangeError(`index out of range: ${where}.results needs [start, end] pairs with cotStart < start < end <= cotEnd (${e.cotStart}, ${e.cotEnd}), got ${JSON.stringify(r)}`);
}

/**
 * Which queries the mask acts on: 'cot' (from the CoT start on: the CoT's own later tokens and the answer no longer see a
 * suppressed token, so suppression also rewrites the reasoning after it) or 'answer' (from the CoT end on: only the
 * answer and the marker before it; the CoT is computed as written, and the mask asks which CoT tokens the answer reads).
 */
export type BiasFrom = 'cot' | 'answer';

export function collate(examples: SaliencyExample[], padId = 0, biasFrom: BiasFrom = 'cot'): SaliencyBatch {
  const T = Math.max(...examples.map((e) => e.ids.length));
  const B = examples.length;
  const ids = new Array<number>(B * T).fill(padId);
  const cot = new Float32Array(B * T);
  const ans = new Float32Array(B * T);
  const pad: number[] = [];
  examples.forEach((e, b) => {
    const p = T - e.ids.length;
    pad.push(p);
    for (let j = 0; j < e.ids.length; j++) ids[b * T + p + j] = e.ids[j];
    for (let j = e.cotStart; j < e.cotEnd; j++) cot[b * T + p + j] = 1;
    for (let j = e.answerStart; j < e.answerEnd; j++) ans[b * T + p + j] = 1;
  });
  const long = (values: number[]) => tensor(values, { dtype: 'int64' });
  return {
    ids: tensor(ids, { dtype: 'int64' }).reshape([B, T]),
    keyStart: long(pad),
    biasQueryStart: long(examples.map((e, b) => pad[b] + (biasFrom === 'answer' ? e.cotEnd : e.cotStart))),
    answerStart: long(examples.map((e, b) => pad[b] + e.answerStart)),
    cotMask: tensor(cot).reshape([B, T]),
    answerMask: tensor(ans).reshape([B, T]),
    cotLength: examples.map((e) => e.cotEnd - e.cotStart),
    pad,
    T,
  };
}

export function disposeBatch(b: SaliencyBatch): void {
  for (const t of [b.ids, b.keyStart, b.biasQueryStart, b.answerStart, b.cotMask, b.answerMask]) t.dispose();
}

/** The example of a completion: prompt ids followed by completion ids, with spans given relative to the completion. */
export function completionExample(
  promptIds: number[], completionIds: number[],
  spans: { cotStart: number; cotEnd: number; answerStart: number; answerEnd: number; results?: [number, number][] },
): SaliencyExample {
  const P = promptIds.length;
  return {
    ids: [...promptIds, ...completionIds],
    cotStart: P + spans.cotStart,
    cotEnd: P + spans.cotEnd,
    answerStart: P + spans.answerStart,
    answerEnd: P + spans.answerEnd,
    ...(spans.results ? { results: spans.results.map(([a, b]): [number, number] => [P + a, P + b]) } : {}),
  };
}
