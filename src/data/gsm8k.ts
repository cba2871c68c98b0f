// GSM8K: {question, answer} rows (the official JSONL or the Hugging Face parquet export), where answer is a
// worked solution with <<calc>> annotations that ends in the line '#### <number>'.
import * as path from 'path';

import { normalizeNumber } from './numbers';
import { LoadedProblems, Problem } from './problem';
import { readRecords } from './records';

const CALCULATOR_ANNOTATION = /<<[^<>]*>>/g;

/** The solution in the fixed format: annotations removed, final line '#### <gold>'. Null if it has no '####'. */
export function gsm8kSolution(answer: string): { gold: string; solution: string } | null {
  const at = answer.lastIndexOf('####');
  if (at < 0) return null;
  const gold = normalizeNumber(answer.slice(at + 4));
  if (gold === null) return null;
  const reasoning = answer.slice(0, at).replace(CALCULATOR_ANNOTATION, '').trimEnd();
  return { gold, solution: reasoning === '' ? `#### ${gold}` : `${reasoning}\n#### ${gold}` };
}

/** Reads GSM8K from a .jsonl/.json/.parquet (or .csv) file; rows without a question or a parsable answer are skipped. */
export async function loadGsm8k(file: string): Promise<LoadedProblems> {
  const read = await readRecords(file);
  const split = path.basename(file).replace(/\.[^.]*$/, '');
  const problems: Problem[] = [];
  let skipped = read.skipped;
  read.rows.forEach((row, i) => {
    const { question, answer } = row;
    const parsed = typeof answer === 'string' ? gsm8kSolution(answer) : null;
    if (typeof question !== 'string' || question.trim() === '' || parsed === null) {
      skipped++;
      return;
    }
    problems.push({ id: `gsm8k:${split}:${i}`, task: 'gsm8k', question: question.trim(), gold: parsed.gold, solution: parsed.solution });
  });
  if (problems.length === 0 && read.rows.length > 0)
    throw new Error(`${file}: no GSM8K problems (each row needs a string 'question' and an 'answer' ending in '#### <number>')`);
  return { problems, skipped };
}
