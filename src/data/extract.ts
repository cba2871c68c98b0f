// Final-answer extraction, after lm-evaluation-harness: a "strict" answer that follows the '#### ' marker of the
// fixed format (or data.answerPattern/answerExtractor's answer), and a "flexible" one that takes the last
// answer-looking thing in the text.
import { AnswerFinder, canonicalAnswer } from './answer-format';
import { NUMBER_SOURCE, normalizeNumber } from './numbers';
import { TASK_NAMES, TaskName } from './problem';

export interface Extracted {
  /** The answer after the first '####' marker (or the finder's answer), normalized; null when there is none. */
  strict: string | null;
  /**
   * GSM8K/synthetic/hinted: the last number in the text; MMLU: the last '(X)', else the last standalone A-D letter;
   * custom: the strict answer, else the last number.
   */
  flexible: string | null;
}

/** Where the strict answer sits in the text (character offsets), and its normalized value. */
export interface MarkedAnswer {
  /** Offset of the '####' marker. */
  markerStart: number;
  /** The answer value as written: [valueStart, valueEnd). */
  valueStart: number;
  valueEnd: number;
  value: string;
}

const MARKER = '####';
const LETTER_AFTER_MARKER = /####[ \t]*\(?([A-D])\)?(?![A-Za-z0-9])/d;
const NUMBER_AFTER_MARKER = new RegExp(String.raw`####[ \t]*(${NUMBER_SOURCE})`, 'd');
// custom: the rest of the marker's line, without trailing blanks and a final '.'.
const TEXT_AFTER_MARKER = /####[ \t]*([^\r\n]*[^\s.])/d;
const ANY_NUMBER = new RegExp(NUMBER_SOURCE, 'g');
const PAREN_LETTER = /\(([A-D])\)/g;
const LONE_LETTER = /\b([A-D])\b/g;

function isLetterTask(task: TaskName): boolean {
  return task === 'mmlu';
}

function checkTask(task: unknown): asserts task is TaskName {
  if (!TASK_NAMES.includes(task as TaskName))
    throw new TypeError(`wrong argument type: task must be one of ${TASK_NAMES.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(task)}`);
}

function checkText(completion: unknown): asserts completion is string {
  if (typeof completion !== 'string') throw new TypeError(`wrong argument type: completion must be a string, got ${typeof completion}`);
}

function markerPattern(task: TaskName): RegExp {
  return isLetterTask(task) ? LETTER_AFTER_MARKER : task === 'custom' ? TEXT_AFTER_MARKER : NUMBER_AFTER_MARKER;
}

/**
 * The first '####' marker followed by an answer of the task's kind, with its offsets; null if there is none. With
 * `finder` (data.answerPattern/answerExtractor), the finder's answer instead. The value is canonical (canonicalAnswer).
 */
export function findMarkedAnswer(task: TaskName, completion: string, finder?: AnswerFinder): MarkedAnswer | null {
  checkTask(task);
  checkText(completion);
  if (finder !== undefined) {
    const found = finder(completion);
    return found === null ? null : { ...found, value: canonicalAnswer(task, found.value) };
  }
  const m = markerPattern(task).exec(completion);
  if (m === null) return null;
  const [valueStart, valueEnd] = m.indices![1]!;
  const value = isLetterTask(task) ? m[1] : task === 'custom' ? canonicalAnswer(task, m[1]) : normalizeNumber(m[1]);
  if (value === null) return null;
  return { markerStart: m.index, valueStart, valueEnd, value };
}

function lastMatch(pattern: RegExp, text: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(pattern)) last = m[1] ?? m[0];
  return last;
}

function flexibleAnswer(task: TaskName, completion: string): string | null {
  if (isLetterTask(task)) return lastMatch(PAREN_LETTER, completion) ?? lastMatch(LONE_LETTER, completion);
  const number = lastMatch(ANY_NUMBER, completion);
  return number === null ? null : normalizeNumber(number);
}

/** The strict and flexible answers of a completion (decoded without special tokens). */
export function extractAnswer(task: TaskName, completion: string, finder?: AnswerFinder): Extracted {
  const strict = findMarkedAnswer(task, completion, finder)?.value ?? null;
  return { strict, flexible: task === 'custom' && strict !== null ? strict : flexibleAnswer(task, completion) };
}

/**
 * Whether the completion keeps the fixed format: some reasoning, then one '####' marker whose line is the last
 * non-blank line and holds nothing but the answer (a trailing '.' is tolerated). With `finder`: some reasoning
 * before the answer the finder finds.
 */
export function followsFormat(task: TaskName, completion: string, finder?: AnswerFinder): boolean {
  const marked = findMarkedAnswer(task, completion, finder);
  if (finder !== undefined) return marked !== null && completion.slice(0, marked.markerStart).trim() !== '';
  if (marked === null || completion.indexOf(MARKER, marked.markerStart + 1) !== -1) return false;
  if (completion.slice(0, marked.markerStart).trim() === '') return false;
  const lineStart = completion.lastIndexOf('\n', marked.markerStart) + 1;
  if (completion.slice(lineStart, marked.markerStart).trim() !== '') return false;
  const rest = completion.slice(marked.valueStart);
  const tail = isLetterTask(task) ? /^[A-D]\)?\.?\s*$/ : task === 'custom' ? /^[^\r\n]*\s*$/ : new RegExp(String.raw`^(?:${NUMBER_SOURCE})\.?\s*$`);
  return tail.test(rest);
}
