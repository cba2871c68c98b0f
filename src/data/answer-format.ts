// A user-chosen way to read the final answer out of a completion (data.answerPattern, a regex with a capture group,
// or data.answerExtractor, a JS function), and the one spelling answers and golds are compared in.
import { loadRewardFunction } from '../grpo/reward-functions';
import type { MarkedAnswer } from './extract';
import { normalizeNumber } from './numbers';
import type { TaskName } from './problem';

/** The final answer of a completion with its offsets (the value as written, not yet canonical), or null. */
export type AnswerFinder = (completion: string) => MarkedAnswer | null;

/** The spelling answers are compared in: MMLU a letter; otherwise a normalized number, else the text, whitespace collapsed. */
export function canonicalAnswer(task: TaskName, value: string): string {
  if (task === 'mmlu') return value.trim().replace(/^\((.*)\)$/, '$1').replace(/\.$/, '').trim().toUpperCase();
  return normalizeNumber(value) ?? value.trim().replace(/\s+/g, ' ');
}

/** A regex from 'source' or '/source/flags'; the g and y flags are dropped (the first match counts). */
function compile(pattern: string): RegExp {
  const literal = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  const [source, flags] = literal ? [literal[1], literal[2]] : [pattern, ''];
  let re: RegExp;
  try {
    re = new RegExp(source, flags.replace(/[gyd]/g, '') + 'd');
  } catch (e) {
    throw new Error(`data.answerPattern ${JSON.stringify(pattern)} is not a valid regular expression: ${(e as Error).message}`);
  }
  const groups = new RegExp(`${re.source}|`, re.flags).exec('')!.length - 1;
  if (groups < 1)
    throw new Error(`data.answerPattern ${JSON.stringify(pattern)} has no capture group: put the answer in one, e.g. 'The answer is (\\S+)'`);
  return re;
}

/** Checks a data.answerPattern (for the config's validation); returns the error message or null. */
export function answerPatternError(pattern: string): string | null {
  try {
    compile(pattern);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The answer is capture group 1 of the first match of `pattern`; the match's start ends the chain of thought. */
export function patternFinder(pattern: string): AnswerFinder {
  const re = compile(pattern);
  return (completion) => {
    const m = re.exec(completion);
    if (m === null || m[1] === undefined) return null;
    const [valueStart, valueEnd] = m.indices![1]!;
    return { markerStart: m.index, valueStart, valueEnd, value: m[1] };
  };
}

/**
 * The answer is what `fn(completion)` returns (a string or number; null/undefined for none). Its last occurrence in
 * the completion gives the offsets; when the function returns text that is not in the completion, the answer has no
 * tokens to locate (grading works, the saliency step skips that completion).
 */
export function functionFinder(fn: (completion: string) => unknown, label: string): AnswerFinder {
  return (completion) => {
    let value: unknown;
    try {
      value = fn(completion);
    } catch (e) {
      throw new Error(`${label} threw on a completion: ${(e as Error)?.message ?? String(e)}`);
    }
    if (value === null || value === undefined) return null;
    if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
    if (value instanceof Promise) throw new TypeError(`${label} returned a Promise: an answer extractor must return its answer synchronously`);
    if (typeof value !== 'string') throw new TypeError(`${label} must return a string, a number or null, got ${typeof value}`);
    const at = value === '' ? -1 : completion.lastIndexOf(value);
    if (at < 0) return { markerStart: completion.length, valueStart: completion.length, valueEnd: completion.length, value };
    return { markerStart: at, valueStart: at, valueEnd: at + value.length, value };
  };
}

export interface AnswerFormatOptions {
  answerPattern?: string | null;
  /** 'file.js' (its default export) or 'file.js#exportName'. */
  answerExtractor?: string | null;
}

/** 'file.js#name' → {module: 'file.js', name: 'name'}; without '#name', the default export. */
function splitModuleSpec(spec: string): { module: string; name?: string } {
  const m = /^(.+)#([A-Za-z_$][\w$]*)$/.exec(spec);
  return m ? { module: m[1], name: m[2] } : { module: spec };
}

/** The finder that data.answerPattern or data.answerExtractor configure; undefined when neither is set (the task's '####'). */
export async function loadAnswerFinder(o: AnswerFormatOptions): Promise<AnswerFinder | undefined> {
  const pattern = o.answerPattern ?? null;
  const extractor = o.answerExtractor ?? null;
  if (pattern !== null && extractor !== null) throw new Error('set one of data.answerPattern and data.answerExtractor, not both');
  if (pattern !== null) return patternFinder(pattern);
  if (extractor === null) return undefined;
  const { module, name } = splitModuleSpec(extractor);
  const { fn } = await loadRewardFunction(module, name, 'answer extractor');
  const label = `answer extractor ${extractor}`;
  return functionFinder(fn as unknown as (completion: string) => unknown, label);
}
