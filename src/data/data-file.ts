// Problems from a data file or directory (data.path), with the task given or inferred from the path and the rows.
import * as fs from 'fs';

import { AnswerFinder } from './answer-format';
import { parseCsv } from './csv';
import { FieldMap, columnOf } from './fields';
import { hasQuestionHeader, loadMmlu } from './mmlu';
import { LoadedProblems, TaskName } from './problem';
import { qaProblems } from './qa-rows';
import { ReadResult, readText } from './read-result';
import { readRecords } from './records';

export interface DataFileOptions {
  /** 'auto': inferred (see inferTask); 'synthetic' and 'hinted' generate problems and take no file. */
  task: TaskName | 'auto';
  fields?: FieldMap;
  finder?: AnswerFinder;
  mmluSubjects?: string[];
}

export interface DataFileProblems extends LoadedProblems {
  task: TaskName;
  /** Why the task was chosen, when it was inferred. */
  inferred?: string;
}

const SAMPLE = 100;

// A header-less CSV whose rows mostly have 6 fields ending in a letter A-D: MMLU's original question,A,B,C,D,letter.
function isOriginalMmluCsv(file: string): boolean {
  if (hasQuestionHeader(file)) return false;
  const rows = parseCsv(readText(file)).rows.slice(0, SAMPLE); // the rows of the width most rows have
  return rows.length > 0 && rows[0].length === 6 && rows.filter((r) => /^\s*[A-D]\s*$/.test(r[5])).length * 2 >= rows.length;
}

/**
 * The task of a file's rows: mmlu with a choices column, custom with conversational prompts, gsm8k when answers end
 * in '#### <number>', else custom. Returns the task and the reason, for the log.
 */
export function inferTableTask(rows: Record<string, unknown>[], fields: FieldMap = {}): { task: TaskName; why: string } {
  const sample = rows.slice(0, SAMPLE);
  if (sample.some((r) => columnOf(r, 'choices', fields) !== undefined)) return { task: 'mmlu', why: 'its rows have a choices column' };
  const q = (r: Record<string, unknown>) => {
    const col = columnOf(r, 'question', fields);
    return col === undefined ? undefined : r[col];
  };
  if (sample.some((r) => Array.isArray(q(r)))) return { task: 'custom', why: 'its rows have conversational prompts' };
  const marked = sample.filter((r) => {
    const col = columnOf(r, 'answer', fields);
    return col !== undefined && typeof r[col] === 'string' && /####\s*-?\$?[\d.,]+\s*$/.test(r[col] as string);
  }).length;
  if (sample.length > 0 && marked * 2 >= sample.length) return { task: 'gsm8k', why: "its answers end in '#### <number>'" };
  return { task: 'custom', why: "its rows are questions with answers that are not all GSM8K's '#### <number>'" };
}

/** Problems of data.path for a task given or 'auto'. */
export async function loadDataFile(file: string, o: DataFileOptions): Promise<DataFileProblems> {
  if (o.task === 'synthetic' || o.task === 'hinted')
    throw new Error(`data.path is set (${file}), but data.task '${o.task}' generates its problems and reads no file: ` +
      "set data.task to 'auto' (inferred from the file), gsm8k, mmlu or custom, or drop data.path");
  if (!fs.existsSync(file)) throw new Error(`data file not found: ${file}`);
  const isDir = fs.statSync(file).isDirectory();
  const mmlu = (inferred?: string) =>
    loadMmlu(file, { subjects: o.mmluSubjects, fields: o.fields }).then((l): DataFileProblems => ({ ...l, task: 'mmlu', ...(inferred ? { inferred } : {}) }));
  if (o.task === 'mmlu') return mmlu();
  if (isDir) {
    if (o.task !== 'auto') throw new Error(`data.path ${file} is a directory: only data.task mmlu reads one (<subject>_<split>.csv files); give a file for ${o.task}`);
    return mmlu('a directory of MMLU <subject>_<split>.csv files');
  }
  if (o.task === 'auto' && file.toLowerCase().endsWith('.csv') && isOriginalMmluCsv(file))
    return mmlu("a header-less CSV of MMLU's question,A,B,C,D,letter rows");
  const read: ReadResult<Record<string, unknown>> = await readRecords(file);
  let task: TaskName = o.task as Exclude<typeof o.task, 'auto'>;
  let inferred: string | undefined;
  if (o.task === 'auto') {
    const guess = inferTableTask(read.rows, o.fields);
    if (guess.task === 'mmlu') return mmlu(guess.why);
    task = guess.task;
    inferred = guess.why;
  }
  const loaded = qaProblems(read, file, { task: task as 'gsm8k' | 'custom', fields: o.fields, finder: o.finder });
  return { ...loaded, task, ...(inferred ? { inferred } : {}) };
}
