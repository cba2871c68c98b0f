// The config's saliency section as the options of optimizeSaliency() and saliencyReward(): one mapping for train, eval
// and the gates, so they measure with the same mask.
import type { SaliencyOptions, SaliencyRewardOptions } from '../atman';
import { rewardHidesPrompt, rewardMeasuresDerived, rewardMeasuresResults, rewardUsesMask } from '../atman/reward';
import type { TrainConfig } from '../config';
import { cotResult } from '../data/hinted';

export type SaliencySection = TrainConfig['saliency'];

export function maskOptionsOf(s: SaliencySection, padTokenId: number, seed = 0): SaliencyOptions {
  return {
    steps: s.steps, lr: s.lr, lambda: s.lambda, perLayer: s.perLayer, batchSize: s.batchSize, threshold: s.threshold,
    relativeThreshold: s.relativeThreshold, objective: s.objective, sparsity: s.sparsity, optimizer: s.optimizer,
    randomSets: s.randomSets, biasFrom: s.biasFrom, seed, padTokenId,
    // The prompt-hiding passes only where the reward reads them (2 + randomSets forward passes per batch).
    hidePrompt: rewardHidesPrompt(s.rewardMode),
    measureDerived: rewardMeasuresDerived(s.rewardMode),
    measureResults: rewardMeasuresResults(s.rewardMode),
  };
}

/**
 * maskOptionsOf() for the training reward: a mode that reads no mask (cotAlone, cotDerived, cotUnhinted, cotSufficiency, cotCarried) runs no mask
 * steps and no random control sets, only the log-prob passes its reward reads (eval and the gates keep the mask: they
 * report it).
 */
export function rewardMaskOptionsOf(s: SaliencySection, padTokenId: number, seed = 0): SaliencyOptions {
  const o = maskOptionsOf(s, padTokenId, seed);
  return rewardUsesMask(s.rewardMode) ? o : { ...o, steps: 0, randomSets: 0 };
}

export function rewardOptionsOf(s: SaliencySection): SaliencyRewardOptions {
  return { tau: s.tau, mode: s.rewardMode };
}

/**
 * Whether a graded completion can earn R_sal under saliency.scope: 'correct' (DESIGN.md), 'all', or 'concluded' (the
 * correct ones and the wrong ones whose answer is the CoT's own written result, the number after the last '=' of its
 * last line: a wrong answer that follows its reasoning can be paid, one copied out of the CoT's digits cannot).
 */
export function earnsSaliency(scope: SaliencySection['scope'], c: { text: string; grade: { correct: boolean; strict: string | null } }): boolean {
  if (scope === 'all' || c.grade.correct) return true;
  return scope === 'concluded' && c.grade.strict !== null && cotResult(c.text) === c.grade.strict;
}
