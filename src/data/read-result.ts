// The shape every reader returns, and the bookkeeping of rows that had to be skipped.
import * as fs from 'fs';

export interface ReadError {
  /** Where the bad row is: the 1-based line of the file (JSONL, CSV) or the 1-based row of a parquet file or JSON array. */
  row: number;
  message: string;
  /** The file, when the rows come from more than one (an MMLU directory) or the reader's caller added it. */
  file?: string;
}

export interface ReadResult<T> {
  rows: T[];
  /** Where each of `rows` is in the file: its 1-based line (JSONL, CSV) or row (parquet, JSON array). */
  rowNumbers: number[];
  /** How many rows were left out because they could not be read. */
  skipped: number;
  /** The first MAX_REPORTED_ERRORS of them, in file order. */
  errors: ReadError[];
}

export const MAX_REPORTED_ERRORS = 20;

/** Collects rows and skipped-row errors, keeping the MAX_REPORTED_ERRORS earliest (by file, then row) of the latter. */
export class ResultBuilder<T> {
  readonly rows: T[] = [];
  readonly rowNumbers: number[] = [];
  private skipped = 0;
  private errors: ReadError[] = [];
  private readonly fileOrder = new Map<string, number>();

  add(row: T, rowNumber: number): void {
    this.rows.push(row);
    this.rowNumbers.push(rowNumber);
  }

  skip(row: number, message: string, file?: string): void {
    this.skipped++;
    this.keep({ row, message, ...(file === undefined ? {} : { file }) });
  }

  /** Counts another result's skipped rows and keeps its errors (named by `file` when they name none). */
  absorb(other: { skipped: number; errors: ReadError[] }, file?: string): void {
    this.skipped += other.skipped;
    for (const e of other.errors) this.keep(e.file === undefined && file !== undefined ? { ...e, file } : e);
  }

  private rank(e: ReadError): [number, number] {
    const key = e.file ?? '';
    if (!this.fileOrder.has(key)) this.fileOrder.set(key, this.fileOrder.size);
    return [this.fileOrder.get(key)!, e.row];
  }

  private before(a: ReadError, b: ReadError): boolean {
    const [fa, ra] = this.rank(a);
    const [fb, rb] = this.rank(b);
    return fa < fb || (fa === fb && ra < rb);
  }

  // Insertion into a sorted list of at most MAX_REPORTED_ERRORS: a file with a million bad lines keeps 20.
  private keep(e: ReadError): void {
    let at = this.errors.length;
    while (at > 0 && this.before(e, this.errors[at - 1])) at--;
    if (at >= MAX_REPORTED_ERRORS) return;
    this.errors.splice(at, 0, e);
    if (this.errors.length > MAX_REPORTED_ERRORS) this.errors.pop();
  }

  result(): ReadResult<T> {
    return { rows: this.rows, rowNumbers: this.rowNumbers, skipped: this.skipped, errors: this.errors };
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
