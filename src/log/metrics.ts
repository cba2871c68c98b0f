// metrics.jsonl: one JSON object per line, written straight to the file (no JS-side buffering) so that a crash loses
// at most the line being written; the reader skips such a truncated last line.
import * as fs from 'fs';
import * as path from 'path';

export type MetricsRow = Record<string, unknown>;

/** JSON has no NaN/Infinity; they are written as strings (a NaN loss is worth seeing) and read back as numbers. */
const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

export class MetricsWriter {
  readonly file: string;
  private fd: number | undefined;

  /** Opens file for appending (creating its directory). */
  constructor(file: string) {
    this.file = file;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
  }

  /** Appends one row as a line. */
  write(row: MetricsRow): void {
    if (this.fd === undefined) throw new Error(`MetricsWriter(${this.file}): write after close`);
    fs.writeSync(this.fd, `${JSON.stringify(row, replacer)}\n`);
  }

  /** Flushes to disk and closes; further writes throw. Safe to call twice. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSynced(fd);
  }
}

/**
 * All rows of a metrics.jsonl. A last line that does not parse (a crash mid-write) is dropped; a bad line elsewhere
 * is an error naming file and line. Blank lines are ignored.
 */
export function readMetrics(file: string): MetricsRow[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read metrics file ${file}: ${(e as Error).message}`);
  }
  const lines = text.split('\n');
  const rows: MetricsRow[] = [];
  let last = lines.length - 1;
  while (last >= 0 && lines[last].trim() === '') last--;
  for (let i = 0; i <= last; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      if (i === last) break; // truncated by a crash while writing
      throw new Error(`${file}:${i + 1}: not a JSON line (the metrics file is damaged here)`);
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new Error(`${file}:${i + 1}: expected a JSON object per line`);
    }
    for (const [k, v] of Object.entries(row)) {
      if (typeof v === 'string' && v in NON_FINITE) (row as MetricsRow)[k] = NON_FINITE[v];
    }
    rows.push(row as MetricsRow);
  }
  return rows;
}

/** Flushes a file descriptor to disk, then closes it (closed even when the flush fails). */
export function closeSynced(fd: number): void {
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
