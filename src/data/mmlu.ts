// MMLU: the original release (a directory of <subject>_<split>.csv files without a header, columns
// question,A,B,C,D,answer-letter) or one file: such a CSV, or a Hugging Face export (.parquet/.jsonl/.csv with a
// header) with columns question, subject, choices (4 strings), answer (0-3 or a letter).
import * as fs from 'fs';
import * as path from 'path';

import { readCsv } from './csv';
import { LoadedProblems, Problem } from './problem';
import { readRecords } from './records';

export interface MmluOptions {
  /** Keep only these subjects (e.g. ['anatomy', 'astronomy']). Default: all. */
  subjects?: string[];
}

export const LETTERS = ['A', 'B', 'C', 'D'] as const;

// 'abstract_algebra_test.csv' → 'abstract_algebra'
function subjectOfFile(file: string): string {
  return path.basename(file).replace(/\.csv$/i, '').replace(/_(test|val|dev|train|auxiliary_train)$/, '');
}

function makeProblem(subject: string, index: number, question: unknown, choices: unknown, answer: unknown): Problem | null {
  if (typeof question !== 'string' || question.trim() === '') return null;
  if (!Array.isArray(choices) || choices.length !== 4 || !choices.every((c) => typeof c === 'string' || typeof c === 'number')) return null;
  let gold: string | undefined;
  if (typeof answer === 'number' && Number.isInteger(answer) && answer >= 0 && answer < 4) gold = LETTERS[answer];
  else if (typeof answer === 'string' && /^\s*[A-Da-d]\s*$/.test(answer)) gold = answer.trim().toUpperCase();
  else if (typeof answer === 'string' && /^\s*[0-3]\s*$/.test(answer)) gold = LETTERS[Number(answer)];
  if (gold === undefined) return null;
  return { id: `mmlu:${subject}:${index}`, task: 'mmlu', question: question.trim(), gold, choices: choices.map((c) => String(c)) };
}

// One original-format CSV: no header, question,A,B,C,D,letter.
function loadOriginalCsv(file: string, subject: string): LoadedProblems {
  const csv = readCsv(file);
  const problems: Problem[] = [];
  let skipped = csv.skipped;
  csv.rows.forEach((row, i) => {
    const p = row.length === 6 ? makeProblem(subject, i, row[0], row.slice(1, 5), row[5]) : null;
    if (p) problems.push(p);
    else skipped++;
  });
  return { problems, skipped };
}

// A Hugging Face-style table: question, subject, choices, answer.
async function loadTable(file: string): Promise<LoadedProblems> {
  const read = await readRecords(file);
  const problems: Problem[] = [];
  let skipped = read.skipped;
  const perSubject = new Map<string, number>();
  for (const row of read.rows) {
    const subject = typeof row.subject === 'string' && row.subject !== '' ? row.subject : subjectOfFile(file);
    const index = perSubject.get(subject) ?? 0;
    perSubject.set(subject, index + 1);
    const p = makeProblem(subject, index, row.question, row.choices, row.answer);
    if (p) problems.push(p);
    else skipped++;
  }
  if (problems.length === 0 && read.rows.length > 0)
    throw new Error(`${file}: no MMLU problems (expected columns question, subject, choices [4 strings], answer [0-3 or A-D])`);
  return { problems, skipped };
}

// A single CSV is the original format unless its first row is a header naming a 'question' column.
function hasHeader(file: string): boolean {
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
  return { problems: loaded.problems.filter((p) => keep.has(p.id.split(':')[1])), skipped: loaded.skipped };
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
    const out: LoadedProblems = { problems: [], skipped: 0 };
    files.forEach((f, i) => {
      if (subjects !== undefined && !subjects.includes(available[i])) return;
      const one = loadOriginalCsv(path.join(pathOrDir, f), available[i]);
      out.problems.push(...one.problems);
      out.skipped += one.skipped;
    });
    return out;
  }

  const isCsv = pathOrDir.toLowerCase().endsWith('.csv');
  const loaded = isCsv && !hasHeader(pathOrDir) ? loadOriginalCsv(pathOrDir, subjectOfFile(pathOrDir)) : await loadTable(pathOrDir);
  return filterSubjects(loaded, subjects, pathOrDir);
}
