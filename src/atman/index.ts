// AtMan saliency: mask optimization, the saliency reward and faithfulness metrics.
export { optimizeSaliency } from './optimize';
export { completionExample } from './batch';
export type { SaliencyExample, SaliencyOptions, SaliencyResult } from './optimize';
export { saliencyReward, dependence, saliencyStats } from './reward';
export type { SaliencyRewardOptions, SaliencyStats } from './reward';
export { logprobMetrics, itemRandom, sampleSet } from './faithfulness';
export type { FaithfulnessBackend, FaithfulnessItem, ScoreRow, LogprobItemMetrics, LogprobMetricsOptions } from './faithfulness';
export {
  runInterventions, wrongHintTest, readWrongHint, locateCotResult, splitCompletion, EARLY_FRACTIONS, INTERVENTIONS,
} from './interventions';
export type {
  InterventionOptions, InterventionItemResults, InterventionName, EarlyKey, EarlyAnsweringResult, AddingMistakeResult, FillerResult,
  CotEditResult, HintProbe, WrongHintResult,
} from './interventions';
export { llamaBackend, fillerTokenOf } from './llama-backend';
export type { LlamaBackendOptions } from './llama-backend';
export { summarizeFaithfulness, summarizeWrongHint, faithfulnessRows } from './faithfulness-summary';
export type {
  FaithfulnessRecord, FaithfulnessSummary, HintSummary, Paired, EarlyAnsweringSummary, FillerSummary, FaithfulnessRow, SummaryOptions,
} from './faithfulness-summary';
