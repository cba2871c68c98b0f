// Question/answer rows of a data file, the GSM8K and custom tasks: a question (or a conversational prompt) and a
// gold answer, read from the columns data.fields names. Each skipped row is reported with its line and the reason.
import * as path from 'path';

import { AnswerFinder, canonicalAnswer } from './answer-format';
import { FieldMap, checkMappedColumns, columnOf, describeColumn, toMessages } from './fields';
import { normalizeNumber } from './numbers';
import { LoadedProblems, Problem } from './problem';
import { ReadResult, ResultBuilder } from './read-result';
import { readRecords } from './records';

export interface QaOptions {
  task: 'gsm8k' | 'custom';
  fields?: FieldMap;
  /** Also reads the gold out of a worked solution in the answer column (data.answerPattern/answerExtractor). */
  finder?: AnswerFinder;
}

const CALCULATOR_ANNOTATION = /<<[^<>]*>>/g;

/**
 * A worked solution ending in '#### <answer>': the reasoning (GSM8K's <<calc>> annotations removed) and the gold,
 * a normalized number (GSM8K) or the marker line's text (custom). Null without a '####' or a usable answer after it.
 */
export function markedSolution(answer: string, task: 'gsm8k' | 'custom'): { gold: string; solution: string } | null {
  const at = answer.lastIndexOf('####');
  if (at < 0) return null;
  const after = answer.slice(at + 4);
  const gold = task === 'gsm8k' ? normalizeNumber(after) : canonicalAnswer(task, after.split('\n')[0].replace(/\.\s*$/, ''));
  if (gold === null || gold === '') return null;
  const reasoning = answer.slice(0, at).replace(CALCULATOR_ANNOTATION, '').trimEnd();
  return { gold, solution: reasoning === '' ? `#### ${gold}` : `${reasoning}\n#### ${gold}` };
}

// The gold (and a reference solution when the answer is one) of an answer cell, or why there is none.
function goldOf(answer: string, o: QaOptions): { gold: string; solution?: string } | string {
  if (o.finder !== undefined) {
    const found = o.finder(answer);
    if (found !== null && found.value.trim() !== '') {
      const gold = canonicalAnswer(o.task, found.value);
      return answer.slice(0, found.markerStart).trim() === '' ? { gold } : { gold, solution: answer };
    }
  }
  const marked = markedSolution(answer, o.task);
  if (marked !== null) return marked;
  if (o.task === 'gsm8k') {
    const gold = normalizeNumber(answer);
    return gold !== null ? { gold } : "the answer is neither a number nor a solution ending in '#### <number>'";
  }
  const text = answer.trim();
  if (text === '') return 'the answer is empty';
  if (text.includes('\n'))
    return "the answer has several lines and no '#### <answer>' line: give the final answer alone, end the solution with '#### <answer>', or set data.answerPattern to find it";
  return { gold: canonicalAnswer(o.task, text) };
}

/** Problems of already-read rows (see loadQaFile); `file` names them in ids, sources and messages. */
export function qaProblems(read: ReadResult<Record<string, unknown>>, file: string, o: QaOptions): LoadedProblems {
  const fields = o.fields ?? {};
  checkMappedColumns(read.rows, fields, file);
  const split = path.basename(file).replace(/\.[^.]*$/, '');
  const out = new ResultBuilder<Problem>();
  out.absorb(read, file);
  read.rows.forEach((row, i) => {
    const line = read.rowNumbers[i];
    const skip = (why: string) => out.skip(line, why, file);
    const qCol = columnOf(row, 'question', fields);
    const q = qCol === undefined ? undefined : row[qCol];
    let question: string;
    let messages: Problem['messages'];
    if (Array.isArray(q)) {
      const m = toMessages(q);
      if (typeof m === 'string') return skip(m);
      messages = m;
      question = m[m.length - 1].content;
    } else if (typeof q === 'string' && q.trim() !== '') {
      question = q.trim();
    } else {
      return skip(`no question: ${describeColumn('question', fields)} must be a non-empty string or a list of {role, content} messages`);
    }
    const aCol = columnOf(row, 'answer', fields);
    const a = aCol === undefined ? undefined : row[aCol];
    if (!(typeof a === 'string' || (typeof a === 'number' && Number.isFinite(a))))
      return skip(`no answer: ${describeColumn('answer', fields)} must be a string or a number`);
    const gold = goldOf(String(a), o);
    if (typeof gold === 'string') return skip(gold);
    const p: Problem = { id: `${o.task}:${split}:${i}`, task: o.task, question, gold: gold.gold, source: { file, row: line } };
    if (gold.solution !== undefined) p.solution = gold.solution;
    if (messages !== undefined) p.messages = messages;
    out.add(p, line);
  });
  const { rows: problems, skipped, errors } = out.result();
  if (problems.length === 0 && read.rows.length > 0) {
    const first = errors.slice(0, 3).map((e) => `line ${e.row}: ${e.message}`).join('; ');
    const needs = o.task === 'gsm8k' ? "an 'answer' ending in '#### <number>'" : 'an answer (the final answer, or a solution ending in #### <answer>)';
    throw new Error(`${file}: no ${o.task === 'gsm8k' ? 'GSM8K' : 'usable'} problems (each row needs a string 'question' and ${needs}; ` +
      `map other column names with data.fields.question/answer). First skipped rows: ${first}`);
  }
  return { problems, skipped, errors };
}

/** Reads a .jsonl/.json/.csv/.parquet file of question/answer rows. */
export async function loadQaFile(file: string, o: QaOptions): Promise<LoadedProblems> {
  return qaProblems(await readRecords(file), file, o);
}
