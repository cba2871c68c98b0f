// MMLU: the original release (a directory of <subject>_<split>.csv files without a header, columns
// question,A,B,C,D,answer-letter) or one file: such a CSV, or a Hugging Face export (.parquet/.jsonl/.csv with a
// header) with columns question, subject, choices (4 strings), answer (0-3 or a letter).
import * as fs from 'fs';
import * as path from 'path';

import { readCsv } from './csv';
import { FieldMap, checkMappedColumns, columnOf, describeColumn } from './fields';
import { LoadedProblems, Problem } from './problem';
import { ResultBuilder } from './read-result';
import { readRecords } from './records';

export interface MmluOptions {
  /** Keep only these subjects (e.g. ['anatomy', 'astronomy']). Default: all. */
  subjects?: string[];
  /** Other column names of a table (question, choices, answer, subject). */
  fields?: FieldMap;
}

export const LETTERS = ['A', 'B', 'C', 'D'] as const;

// 'abstract_algebra_test.csv' → 'abstract_algebra'
function subjectOfFile(file: string): string {
  return path.basename(file).replace(/\.csv$/i, '').replace(/_(test|val|dev|train|auxiliary_train)$/, '');
}

// A problem, or the reason the row is not one.
function makeProblem(subject: string, index: number, question: unknown, choices: unknown, answer: unknown): Problem | string {
  if (typeof question !== 'string' || question.trim() === '') return 'no question (a non-empty string)';
  if (!Array.isArray(choices) || choices.length !== 4 || !choices.every((c) => typeof c === 'string' || typeof c === 'number'))
    return `choices must be 4 strings, got ${Array.isArray(choices) ? `${choices.length} item(s)` : typeof choices}`;
  let gold: string | undefined;
  if (typeof answer === 'number' && Number.isInteger(answer) && answer >= 0 && answer < 4) gold = LETTERS[answer];
  else if (typeof answer === 'string' && /^\s*[A-Da-d]\s*$/.test(answer)) gold = answer.trim().toUpperCase();
  else if (typeof answer === 'string' && /^\s*[0-3]\s*$/.test(answer)) gold = LETTERS[Number(answer)];
  if (gold === undefined) return `the answer must be 0-3 or a letter A-D, got ${JSON.stringify(answer)}`;
  return { id: `mmlu:${subject}:${index}`, task: 'mmlu', question: question.trim(), gold, choices: choices.map((c) => String(c)) };
}

// One original-format CSV: no header, question,A,B,C,D,letter (a row of another width is skipped alone).
function loadOriginalCsv(file: string, subject: string): LoadedProblems {
  const csv = readCsv(file, { columns: 6 });
  const out = new ResultBuilder<Problem>();
  out.absorb(csv, file);
  csv.rows.forEach((row, i) => {
    const p = makeProblem(subject, i, row[0], row.slice(1, 5), row[5]);
    if (typeof p === 'string') out.skip(csv.rowNumbers[i], p, file);
    else out.add({ ...p, source: { file, row: csv.rowNumbers[i] } }, csv.rowNumbers[i]);
  });
  const { rows: problems, skipped, errors } = out.result();
  return { problems, skipped, errors };
}

// A Hugging Face-style table: question, subject, choices, answer (or the columns data.fields names).
async function loadTable(file: string, fields: FieldMap = {}): Promise<LoadedProblems> {
  const read = await readRecords(file);
  checkMappedColumns(read.rows, fields, file);
  const out = new ResultBuilder<Problem>();
  out.absorb(read, file);
  const perSubject = new Map<string, number>();
  read.rows.forEach((row, i) => {
    const get = (field: 'question' | 'choices' | 'answer' | 'subject') => {
      const col = columnOf(row, field, fields);
      return col === undefined ? undefined : row[col];
    };
    const named = get('subject');
    const subject = typeof named === 'string' && named !== '' ? named : subjectOfFile(file);
    const index = perSubject.get(subject) ?? 0;
    perSubject.set(subject, index + 1);
    const p = makeProblem(subject, index, get('question'), get('choices'), get('answer'));
    if (typeof p === 'string') out.skip(read.rowNumbers[i], p, file);
    else out.add({ ...p, source: { file, row: read.rowNumbers[i] } }, read.rowNumbers[i]);
  });
  const { rows: problems, skipped, errors } = out.result();
  if (problems.length === 0 && read.rows.length > 0)
    throw new Error(`${file}: no MMLU problems (expected columns question, subject, choices [4 strings], answer [0-3 or A-D]; ` +
      `map others with data.fields: question is ${describeColumn('question', fields)}, choices ${describeColumn('choices', fields)}, ` +
      `answer ${describeColumn('answer', fields)}). First skipped rows: ${errors.slice(0, 3).map((e) => `line ${e.row}: ${e.message}`).join('; ')}`);
  return { problems, skipped, errors };
}

/** A single CSV is the original MMLU format unless its first row is a header naming a 'question' column. */
export function hasQuestionHeader(file: string): boolean {
  const first = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0];
  return /^"?question"?\s*,/i.test(first);
}

function filterSubjects(loaded: LoadedProblems, subjects: string[] | undefined, where: string): LoadedProblems {
  if (subjects === undefined) return loaded;
  const present = new Set(loaded.problems.map((p) => p.id.split(':')[1]));
  const missing = subjects.filter((s) => !present.has(s));
  if (missing.length > 0)
    throw new Error(`MMLU subject(s) not found in ${where}: ${missing.join(', ')} (available: ${[...present].sort().join(', ') || 'none'})`);
  const keep = new Set(subjects);
  return { ...loaded, problems: loaded.problems.filter((p) => keep.has(p.id.split(':')[1])) };
}

/** Loads MMLU from a directory of <subject>_<split>.csv files, or from one .csv/.parquet/.jsonl/.json file. */
export async function loadMmlu(pathOrDir: string, opts: MmluOptions = {}): Promise<LoadedProblems> {
  if (typeof pathOrDir !== 'string' || pathOrDir === '') throw new TypeError('wrong argument type: loadMmlu() path must be a non-empty string');
  const subjects = opts.subjects;
  if (subjects !== undefined && (!Array.isArray(subjects) || !subjects.every((s) => typeof s === 'string')))
    throw new TypeError('wrong argument type: loadMmlu() subjects must be an array of subject names');
  if (!fs.existsSync(pathOrDir)) throw new Error(`MMLU data not found: ${pathOrDir}`);

  if (fs.statSync(pathOrDir).isDirectory()) {
    const files = fs.readdirSync(pathOrDir).filter((f) => f.toLowerCase().endsWith('.csv')).sort();
    if (files.length === 0) throw new Error(`no MMLU .csv files in ${pathOrDir} (expected <subject>_<split>.csv, e.g. anatomy_test.csv)`);
    const available = files.map(subjectOfFile);
    if (subjects !== undefined) {
      const missing = subjects.filter((s) => !available.includes(s));
      if (missing.length > 0) throw new Error(`MMLU subject(s) not found in ${pathOrDir}: ${missing.join(', ')} (available: ${available.join(', ')})`);
    }
    const out = new ResultBuilder<Problem>();
    files.forEach((f, i) => {
      if (subjects !== undefined && !subjects.includes(available[i])) return;
      const one = loadOriginalCsv(path.join(pathOrDir, f), available[i]);
      for (const p of one.problems) out.add(p, p.source!.row);
      out.absorb(one);
    });
    const { rows: problems, skipped, errors } = out.result();
    return { problems, skipped, errors };
  }

  const isCsv = pathOrDir.toLowerCase().endsWith('.csv');
  const loaded = isCsv && !hasQuestionHeader(pathOrDir) ? loadOriginalCsv(pathOrDir, subjectOfFile(pathOrDir)) : await loadTable(pathOrDir, opts.fields);
  return filterSubjects(loaded, subjects, pathOrDir);
}
