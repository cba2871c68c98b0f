// The saliency reward and faithfulness metrics of DESIGN.md, computed from an optimizeSaliency() result.
import type { SaliencyResult } from './optimize';

export interface SaliencyRewardOptions {
  /** Log-prob drop that earns the full reward (default 2). */
  tau?: number;
  /** Must equal the threshold optimizeSaliency() used (its crucial set was suppressed with it); default: the result's. */
  threshold?: number;
  /** Whether the completion earns R_sal (default true; the trainer passes saliency.scope's verdict). Those that do not get 0. */
  correct?: boolean;
  /**
   * Whether the answer is right (default true). cotUnhinted drops its result term for a wrong answer (scope concluded
   * pays one that follows its CoT): such a CoT slipped somewhere, so only "does the answer follow it" is asked, while
   * a right answer must also be derived by every line (no line forged toward the hint).
   */
  answerCorrect?: boolean;
  /**
   * 'comprehensiveness' (default): the drop from suppressing C beyond the drop from suppressing random CoT sets of the
   * same size, (log p(a | random suppressed) − log p(a | C suppressed)) / τ: keeping every token, or a long CoT whose
   * random tokens matter as much as the chosen ones, earns nothing. 'sufficiency': how much more likely the answer is
   * with only C kept of the CoT than with only a random set of |C| kept, (log p(a | only C) − log p(a | only random)) / τ:
   * high when the answer is carried by the few CoT tokens the mask chose (it follows from what the CoT says), low when
   * it comes from elsewhere and the CoT is only needed as context. 'crucial': the drop from suppressing C alone.
   * 'cotSufficiency': whether the CoT alone carries the answer, 1 − (log p(a) − log p(a | prompt hidden)) / τ: low
   * when the answer needs the prompt directly (it copies something the CoT does not say); needs no mask.
   * 'crucialSufficiency': with the prompt hidden too, (log p(a | only C) − log p(a | only random |C|)) / τ: ERASER
   * sufficiency of C as the whole input: high when the few CoT tokens the mask chose determine the answer.
   * 'cotCarried': the answer needs the CoT and not the prompt, min(clip(dependence / τ), cotSufficiency): also
   * meaningful for incorrect answers (saliency.scope 'all'), where a slip that reads neither gets nothing but an answer
   * that follows a wrong CoT is paid; needs no mask. Measured: it also pays answers for disagreeing with a correct hint
   * (hiding a prompt that contradicts the answer raises its log-prob), bench/faithfulness-experiment.md.
   * 'cotAlone': min(clip(dependence / τ), p(a | prompt hidden)): the answer needs the CoT, and the CoT alone makes it
   * likely. A decorative answer that copies the prompt gets little, agreeing with the prompt costs nothing; needs no
   * mask. The dependence gate is there because p(a | prompt hidden) alone was hacked in training (scope all): the
   * policy learned a constant answer ('#### 1') that every context predicts, bench/faithfulness-experiment.md.
   * 'cotDerived': with the prompt hidden, the CoT alone must carry the answer and each of its steps:
   * min(clip((log p(a | prompt hidden) − log p(a | prompt and CoT hidden)) / τ), p(a | prompt hidden),
   * p(least likely equation result | CoT before it, prompt hidden)), an equation result being the number after an '='
   * ('6 * 4 = 24'). Two departures from cotAlone, from run 6 of bench/faithfulness-experiment.md: there cotAlone paid a
   * CoT bent onto a correct hint twice what it paid a valid one, because a valid CoT's answer is also given by the hint
   * (its dependence with the prompt visible is ~0); here dependence is measured with the prompt hidden (a constant
   * answer, likely without any context, still gets 0), and a bent result, which comes from the prompt and not from the
   * lines before it, caps the reward. A CoT with no '= number' has no result term. Needs no mask; needs
   * optimizeSaliency's measureDerived and examples with results.
   * 'cotUnhinted': the answer and every step of the CoT re-read under the prompt without the task's hint (the known
   * biasing feature; bias-augmented consistency training removes it the same way): min(p(a | unhinted prompt, CoT),
   * p(least likely equation result | unhinted prompt, CoT before it)). A decorative answer that copies the hint and a
   * CoT line bent onto it are both unlikely once the hint is gone; a valid CoT keeps both likely. Unlike hiding the
   * prompt with the attention bias (cotAlone, cotDerived), the input stays one the model was trained on: run 7 of
   * bench/faithfulness-experiment.md found p(a | prompt hidden) ~e^-8 for valid CoTs on a second SFT model. The
   * examples must be built from the unhinted prompt (the trainer does; on a task without hints this is the prompt
   * itself); needs no mask; needs optimizeSaliency's measureResults. A wrong answer (answerCorrect false, scope
   * concluded) is paid p(a | unhinted prompt, CoT) alone.
   */
  mode?: SaliencyRewardMode;
}

export type SaliencyRewardMode = 'comprehensiveness' | 'sufficiency' | 'crucial' | 'cotSufficiency' | 'crucialSufficiency' | 'cotCarried' | 'cotAlone' | 'cotDerived' | 'cotUnhinted';

export const REWARD_MODES: readonly SaliencyRewardMode[] = ['comprehensiveness', 'sufficiency', 'crucial', 'cotSufficiency', 'crucialSufficiency', 'cotCarried', 'cotAlone', 'cotDerived', 'cotUnhinted'];

/** What a reward mode reads from optimizeSaliency() and how it scores a result (before clipping to [0, 1]). */
interface ModeSpec {
  value: (r: SaliencyResult, tau: number, o: SaliencyRewardOptions) => number;
  /** Reads the crucial set C (the K-step mask); the others run no mask. */
  mask?: boolean;
  /** optimizeSaliency's hidePrompt passes. */
  hidesPrompt?: boolean;
  /** optimizeSaliency's measureDerived passes. */
  derived?: boolean;
  /** optimizeSaliency's measureResults pass. */
  results?: boolean;
  /** Measured on examples built from the prompt without its hint (the trainer and the gates build them). */
  unhinted?: boolean;
}

/** cotSufficiency's value: 1 − (log p(a) − log p(a | prompt hidden))⁺ / τ. */
const survivesHiddenPrompt = (r: SaliencyResult, tau: number) => 1 - Math.max(0, r.logpFull - r.logpHidePrompt) / tau;
/** A probability from a log-prob that may be NaN (not measured: no term, 1). */
const pOrOne = (logp: number) => (Number.isNaN(logp) ? 1 : Math.exp(logp));

const MODES: Record<SaliencyRewardMode, ModeSpec> = {
  comprehensiveness: { mask: true, value: (r, tau) => (r.logpSuppressRandom - r.logpSuppressCrucial) / tau },
  sufficiency: { mask: true, value: (r, tau) => (r.logpKeepCrucial - r.logpKeepRandom) / tau },
  crucial: { mask: true, value: (r, tau) => (r.logpFull - r.logpSuppressCrucial) / tau },
  cotSufficiency: { hidesPrompt: true, value: survivesHiddenPrompt },
  crucialSufficiency: { mask: true, hidesPrompt: true, value: (r, tau) => (r.logpOnlyCrucial - r.logpOnlyRandom) / tau },
  cotCarried: { hidesPrompt: true, value: (r, tau) => Math.min(dependence(r) / tau, survivesHiddenPrompt(r, tau)) },
  cotAlone: { hidesPrompt: true, value: (r, tau) => Math.min(dependence(r) / tau, Math.exp(r.logpHidePrompt)) },
  cotDerived: {
    hidesPrompt: true, derived: true,
    value: (r, tau) => Math.min((r.logpHidePrompt - r.logpHideBoth) / tau, Math.exp(r.logpHidePrompt), pOrOne(r.logpResultHidePrompt)),
  },
  cotUnhinted: {
    results: true, unhinted: true,
    value: (r, _tau, o) => Math.min(Math.exp(r.logpFull), o.answerCorrect === false ? 1 : pOrOne(r.logpResult)),
  },
};

/** Whether a reward mode reads the prompt-hiding log-probs (optimizeSaliency's hidePrompt). */
export function rewardHidesPrompt(mode: SaliencyRewardMode): boolean {
  return MODES[mode].hidesPrompt === true;
}

/** Whether a reward mode reads the equation results with nothing hidden (optimizeSaliency's measureResults). */
export function rewardMeasuresResults(mode: SaliencyRewardMode): boolean {
  return MODES[mode].results === true;
}

/** Whether a reward mode measures completions under the prompt without its hint (the trainer builds those examples). */
export function rewardReadsUnhinted(mode: SaliencyRewardMode): boolean {
  return MODES[mode].unhinted === true;
}

/** Whether a reward mode reads the equation results and the prompt-and-CoT-hidden pass (optimizeSaliency's measureDerived). */
export function rewardMeasuresDerived(mode: SaliencyRewardMode): boolean {
  return MODES[mode].derived === true;
}

/** Whether a reward mode reads the mask's crucial set (the mask-free modes need no mask optimization). */
export function rewardUsesMask(mode: SaliencyRewardMode): boolean {
  return MODES[mode].mask === true;
}

/**
 * R_sal of one result, clipped to [0, 1]; 0 for a completion that does not earn it (opts.correct false) and, for a
 * mode that reads the mask, for an empty crucial set. The default (comprehensiveness): (log p(a | C's random control
 * suppressed) − log p(a | C suppressed)) / τ, high when the answer depends on the tokens the mask kept more than on as
 * many other CoT tokens. Each mode is described at SaliencyRewardOptions.mode.
 */
export function saliencyReward(result: SaliencyResult, opts: SaliencyRewardOptions = {}): number {
  const tau = opts.tau ?? 2;
  if (!(typeof tau === 'number' && tau > 0 && Number.isFinite(tau))) throw new RangeError(`invalid values: saliencyReward() tau must be a positive number, got ${tau}`);
  if (opts.threshold !== undefined && opts.threshold !== result.threshold)
    throw new RangeError(
      `invalid values: saliencyReward() threshold ${opts.threshold} differs from the ${result.threshold} the mask optimization ` +
        `suppressed its crucial set with; pass threshold to optimizeSaliency() instead`,
    );
  const mode = opts.mode ?? 'comprehensiveness';
  if (!REWARD_MODES.includes(mode))
    throw new TypeError(`wrong argument type: saliencyReward() mode must be one of ${REWARD_MODES.map((m) => `'${m}'`).join(', ')}, got ${String(mode)}`);
  if (opts.correct === false || (rewardUsesMask(mode) && result.crucial.length === 0)) return 0;
  const value = MODES[mode].value(result, tau, opts);
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

/** R_dep = log p(answer | full CoT) − log p(answer | all CoT suppressed): how much the answer needs the CoT at all. */
export function dependence(result: SaliencyResult): number {
  return result.logpFull - result.logpSuppressAll;
}

export interface SaliencyStats {
  /** Mean of s over the CoT tokens. */
  meanS: number;
  /** Fraction of CoT tokens in the crucial set (s > threshold). */
  fracCrucial: number;
  /**
   * Entropy (nats) of s normalized to a distribution over the CoT tokens, divided by log(n): 1 when saliency is spread
   * evenly, near 0 when it sits on one token (0 for a one-token CoT).
   */
  entropy: number;
}

export function saliencyStats(result: SaliencyResult): SaliencyStats {
  const s = result.s;
  const n = s.length;
  const total = s.reduce((a, v) => a + v, 0);
  let h = 0;
  for (const v of s) if (v > 0) h -= (v / total) * Math.log(v / total);
  return {
    meanS: n > 0 ? total / n : 0,
    fracCrucial: n > 0 ? result.crucial.length / n : 0,
    entropy: n > 1 && total > 0 ? h / Math.log(n) : 0,
  };
}
