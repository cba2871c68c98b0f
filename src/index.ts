// The public API of atman-native.
export { Tensor } from './tensor/tensor';
export type { Scalar, TensorOrScalar, NestedArray } from './tensor/tensor';
export type { Dtype, Device, TensorOptions } from './tensor/dtype';
export { DTYPES } from './tensor/dtype';
export { tensor, zeros, ones, empty, full, arange, rand, randn, randint, manualSeed } from './tensor/creation';
export type { TensorDataOptions } from './tensor/creation';
export { cat, stack, split, chunk, where, noGrad, isGradEnabled, grad } from './tensor/functions';
export type { GradOptions } from './tensor/functions';
export { tidy, keep } from './tensor/scope';
export { memory, cuda } from './tensor/runtime';
export type { MemoryInfo } from './tensor/runtime';
export { save, load } from './tensor/io';
export type { TensorRecord, LoadOptions } from './tensor/io';
export { crossEntropy, linear, embedding } from './nn/functional';
export type { CrossEntropyOptions } from './nn/functional';
export { attention } from './attention/attention';
export type { AttentionOptions } from './attention/attention';
export { Tokenizer } from './llm/tokenizer';
export type { ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions, TokenizerFiles } from './llm/tokenizer';
export type { ChatRenderOptions } from './llm/chat-template';
export { LlamaModel } from './llm/model';
export { loadModel, MODEL_TYPES, sequenceLimit } from './llm/families';
export { LORA_TARGETS } from './llm/lora';
export type { AdapterInfo, LoraOptions, LoraTarget } from './llm/lora';
export type { ModelType } from './llm/families';
export type {
  LlamaConfig, LlamaLoadOptions, LlamaForwardOptions, TokenLogprobsOptions, GenerateOptions, GenerateResult, PastKeyValues,
} from './llm/model';
export { clipGradNorm } from './nn/optim';
export * as optim from './nn/optim';
export { buildInfo } from './runtime-info';
export * as distributed from './distributed';
export { optimizeSaliency, saliencyReward, dependence, saliencyStats } from './atman';
export type { SaliencyExample, SaliencyOptions, SaliencyResult, SaliencyRewardOptions, SaliencyStats } from './atman';
export {
  logprobMetrics, runInterventions, wrongHintTest, llamaBackend, summarizeFaithfulness, summarizeWrongHint, faithfulnessRows,
} from './atman';
export type {
  FaithfulnessBackend, FaithfulnessItem, ScoreRow, LogprobItemMetrics, InterventionOptions, InterventionItemResults, WrongHintResult,
  FaithfulnessRecord, FaithfulnessSummary, HintSummary, Paired,
} from './atman';
export { runEvaluation, writeEvalOutputs } from './train/evaluate';
export type { EvalOptions, EvalReport, EvalItem, EvalResult, EvalFaithfulness } from './train/evaluate';
export * as data from './data';
export { resolveConfig, describeConfig, configToYaml, resolveTrainConfig, resolveSftConfig, resolveEvalConfig } from './config';
export type { TrainConfig, TrainConfigInput, SftConfig, SftConfigInput, EvalConfig, EvalConfigInput } from './config';
export { train, sft, evaluate, merge } from './api';
export type { TrainRunOptions, SftRunOptions, SftOutcome, EvaluateOptions, MergeOptions } from './api';
export type { TrainOutcome } from './train/trainer';
export { renderSaliencyHtml, renderTrainReport } from './log';
export type { SaliencyItem } from './log';
export { computeAdvantages } from './grpo/advantages';
export { grpoLoss } from './grpo/loss';
export { learningRateAt } from './grpo/schedule';
export { loadRewardFunction, combineRewards } from './grpo/reward-functions';
