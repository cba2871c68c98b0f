// Builds one item of the saliency view from a completion and its optimizeSaliency() result.
import { SaliencyResult, dependence, saliencyStats } from '../atman';
import { SaliencyItem } from './saliency-html';

export interface SaliencyItemSource {
  id: string;
  prompt: string;
  /** Decoded text of each completion token. */
  tokens: string[];
  /** Spans relative to the completion. */
  spans: { cotStart: number; cotEnd: number; answerStart: number; answerEnd: number };
  result: SaliencyResult;
  reward: number;
  correct: boolean;
}

export function saliencyItem(o: SaliencyItemSource): SaliencyItem {
  const r = o.result;
  const { cotStart, cotEnd, answerStart, answerEnd } = o.spans;
  return {
    id: o.id, prompt: o.prompt, tokens: o.tokens, cotStart, cotEnd, answerStart, answerEnd, s: r.s, reward: o.reward, correct: o.correct,
    numbers: {
      logpFull: r.logpFull, logpSuppressCrucial: r.logpSuppressCrucial, logpSuppressAll: r.logpSuppressAll, dependence: dependence(r),
      ...saliencyStats(r),
    },
  };
}
