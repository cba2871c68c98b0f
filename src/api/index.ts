// The commands as functions for scripts: train(), sft(), evaluate() and merge() take the commands' config fields (typed by
// their schemas) and validate them the same way.
export { train, trainConfigOf } from './train';
export type { TrainRunOptions } from './train';
export { sft } from './sft';
export type { SftRunOptions, SftOutcome } from './sft';
export { evaluate, evalConfigOf } from './evaluate';
export type { EvaluateOptions } from './evaluate';
export { merge } from './merge';
export type { MergeOptions } from './merge';
