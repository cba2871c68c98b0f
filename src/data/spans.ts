// Token spans of a completion: the chain of thought before the '####' marker, and the answer value after it.
// BPE tokens can straddle those boundaries, so token positions come from the lengths of decoded prefixes, found
// by binary search (O(log n) decodes per boundary rather than one decode per token).
import { Tokenizer } from '../llm/tokenizer';
import { AnswerFinder } from './answer-format';
import { equationResults } from './equation-results';
import { findMarkedAnswer } from './extract';
import { TaskName } from './problem';

export interface Spans {
  /** The chain of thought: tokens [cotStart, cotEnd), ending before the token where the '####' marker starts. */
  cotStart: number;
  cotEnd: number;
  /** The tokens covering the answer value: [answerStart, answerEnd) (no eos/eot, no trailing newline token). */
  answerStart: number;
  answerEnd: number;
  /** The tokens [start, end) of each number the CoT writes after an '=' (equationResults()), inside [cotStart, cotEnd). */
  results?: [number, number][];
}

/**
 * The CoT and answer spans of `completionIds` (the generated tokens only, not the prompt), or null when the
 * completion has no parsable '#### <answer>' (or no answer `finder` locates) or nothing but whitespace before it.
 */
export function locateSpans(tok: Tokenizer, completionIds: number[], task: TaskName, finder?: AnswerFinder): Spans | null {
  if (!Array.isArray(completionIds)) throw new TypeError('wrong argument type: locateSpans() completionIds must be an array of token ids');
  const n = completionIds.length;
  if (n === 0) return null;
  const opts = { skipSpecialTokens: true };
  const text = tok.decode(completionIds, opts);
  const marked = findMarkedAnswer(task, text, finder);
  if (marked === null || marked.valueEnd <= marked.valueStart || text.slice(0, marked.markerStart).trim() === '') return null;

  const lengths = new Map<number, number>([
    [0, 0],
    [n, text.length],
  ]);
  // Characters decoded from the first k tokens.
  const prefixLength = (k: number): number => {
    let len = lengths.get(k);
    if (len === undefined) {
      len = tok.decode(completionIds.slice(0, k), opts).length;
      lengths.set(k, len);
    }
    return len;
  };
  // The token that holds character c: the largest k with prefixLength(k) <= c.
  const tokenAt = (c: number): number => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (prefixLength(mid) <= c) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  // The fewest tokens whose text reaches character offset c: the smallest k >= from with prefixLength(k) >= c.
  const tokensThrough = (c: number, from: number): number => {
    let lo = from;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (prefixLength(mid) >= c) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };

  const cotEnd = tokenAt(marked.markerStart);
  if (cotEnd === 0) return null; // the marker shares the first token with the only reasoning there is
  const answerStart = tokenAt(marked.valueStart);
  const answerEnd = tokensThrough(marked.valueEnd, answerStart + 1);
  const results = equationResults(text.slice(0, marked.markerStart)).flatMap(({ start, end }): [number, number][] => {
    const first = tokenAt(start);
    const last = tokensThrough(end, first + 1);
    // A result needs some CoT before it, and must end inside the CoT (not share a token with the marker).
    return first > 0 && last <= cotEnd ? [[first, last]] : [];
  });
  return { cotStart: 0, cotEnd, answerStart, answerEnd, results };
}
