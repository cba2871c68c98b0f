// AtMan saliency: mask optimization, the saliency reward and faithfulness metrics.
export { optimizeSaliency } from './optimize';
export { completionExample } from './batch';
export type { SaliencyExample, SaliencyOptions, SaliencyResult } from './optimize';
export { saliencyReward, dependence, saliencyStats } from './reward';
export type { SaliencyRewardOptions, SaliencyStats } from './reward';
