// The shape every reader returns, and the bookkeeping of rows that had to be skipped.
import * as fs from 'fs';

export interface ReadError {
  /** Where the bad row is: the 1-based line of the file (JSONL, CSV) or the 1-based row of a parquet file. */
  row: number;
  message: string;
}

export interface ReadResult<T> {
  rows: T[];
  /** How many rows were left out because they could not be read. */
  skipped: number;
  /** The first MAX_REPORTED_ERRORS of them. */
  errors: ReadError[];
}

export const MAX_REPORTED_ERRORS = 20;

/** Collects rows and skipped-row errors, keeping only the first few messages. */
export class ResultBuilder<T> {
  readonly rows: T[] = [];
  private skipped = 0;
  private readonly errors: ReadError[] = [];

  add(row: T): void {
    this.rows.push(row);
  }

  skip(row: number, message: string): void {
    this.skipped++;
    if (this.errors.length < MAX_REPORTED_ERRORS) this.errors.push({ row, message });
  }

  result(): ReadResult<T> {
    return { rows: this.rows, skipped: this.skipped, errors: this.errors };
  }
}

/** Throws an Error naming `file` when it does not exist or is not a regular file. */
export function checkDataFile(file: string): void {
  if (typeof file !== 'string' || file === '') throw new TypeError('wrong argument type: the data file path must be a non-empty string');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new Error(`data file not found: ${file}`);
  }
  if (!stat.isFile()) throw new Error(`not a file: ${file} (expected a data file, e.g. .jsonl, .csv or .parquet)`);
}

/** The file's text as UTF-8, without a leading byte order mark. */
export function readText(file: string): string {
  checkDataFile(file);
  const text = fs.readFileSync(file, 'utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
