// GSM8K: {question, answer} rows (the official JSONL or the Hugging Face parquet export), where answer is a
// worked solution with <<calc>> annotations that ends in the line '#### <number>'.
import { FieldMap } from './fields';
import { LoadedProblems } from './problem';
import { loadQaFile, markedSolution } from './qa-rows';

/** The solution in the fixed format: annotations removed, final line '#### <gold>'. Null if it has no '####'. */
export function gsm8kSolution(answer: string): { gold: string; solution: string } | null {
  return markedSolution(answer, 'gsm8k');
}

/**
 * Reads GSM8K from a .jsonl/.json/.parquet (or .csv) file; rows without a question or a parsable answer are skipped
 * and reported with their line. `fields` maps other column names.
 */
export async function loadGsm8k(file: string, fields?: FieldMap): Promise<LoadedProblems> {
  return loadQaFile(file, { task: 'gsm8k', fields });
}
