// The data layer: dataset readers, the tasks (GSM8K, MMLU, synthetic and hinted arithmetic), prompts, answer extraction,
// grading and the token spans of a completion.
export type { ReadError, ReadResult } from './read-result';
export { MAX_REPORTED_ERRORS } from './read-result';
export { readJsonl, readJson, parseJsonl } from './jsonl';
export type { CsvOptions, CsvResult } from './csv';
export { readCsv, parseCsv } from './csv';
export { readParquet } from './parquet';
export { readRecords, RECORD_EXTENSIONS } from './records';

export type { TaskName, Problem, LoadedProblems, SolutionKind } from './problem';
export { TASK_NAMES } from './problem';
export { loadGsm8k, gsm8kSolution } from './gsm8k';
export type { QaOptions } from './qa-rows';
export { loadQaFile, qaProblems, markedSolution } from './qa-rows';
export type { FieldMap, FieldName } from './fields';
export { DEFAULT_COLUMNS, columnOf } from './fields';
export type { DataFileOptions, DataFileProblems } from './data-file';
export { loadDataFile, inferTableTask } from './data-file';
export type { AnswerFinder, AnswerFormatOptions } from './answer-format';
export { loadAnswerFinder, patternFinder, functionFinder, canonicalAnswer, answerPatternError } from './answer-format';
export type { MmluOptions } from './mmlu';
export { loadMmlu, LETTERS } from './mmlu';
export type { SyntheticOptions, SyntheticOp, PlantedError } from './synthetic';
export { makeSyntheticProblems, solveExpression, drawExpression, expressionQuestion } from './synthetic';
export type { HintedOptions, HintMode } from './hinted';
export { makeHintedProblems, plantError, withHint, wrongHint, cotResult, HINT_MODES } from './hinted';
export { mulberry32 } from './prng';

export { systemPrompt, userMessage, promptMessages, buildPromptIds, PROMPT_DATE } from './prompts';
export { normalizeNumber } from './numbers';
export type { Extracted, MarkedAnswer } from './extract';
export { extractAnswer, findMarkedAnswer, followsFormat } from './extract';
export type { Grade } from './grade';
export { grade } from './grade';
export type { Spans } from './spans';
export { locateSpans } from './spans';
