// CSV (RFC 4180: quoted fields with commas and newlines, "" escapes, LF or CRLF, optional BOM) via csv-parse.
import { parse } from 'csv-parse/sync';

import { ReadResult, ResultBuilder, readText } from './read-result';

export interface CsvOptions {
  /** The first record is a header of column names (returned as `header`, not among `rows`). Default false. */
  header?: boolean;
  /**
   * How many fields a row must have. Default: the header's count, or without a header the count most rows have (so
   * one short or long row, the first included, is skipped alone instead of setting the width for the rest).
   */
  columns?: number;
}

export interface CsvResult extends ReadResult<string[]> {
  /** The column names, when `header` was asked for and the file has a first record. */
  header?: string[];
}

// Line breaks in a record's raw text; CRLF counts once.
function lineBreaks(raw: string): number {
  return raw.match(/\r\n|\n|\r/g)?.length ?? 0;
}

/**
 * The 1-based line of a byte offset of `text` (as UTF-8, as csv-parse counts). Taken from csv-parse's byte count
 * rather than by adding up records, so that a record it skipped (a stray quote) does not shift later line numbers.
 */
function lineFinder(text: string): (byte: number) => number {
  const bytes = Buffer.from(text, 'utf8');
  const breaks: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a || (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a)) breaks.push(i);
  }
  return (byte) => {
    let lo = 0;
    let hi = breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (breaks[mid] < byte) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** The field count most records have (the first such on a tie). */
function commonWidth(widths: number[]): number | undefined {
  const counts = new Map<number, number>();
  let best: number | undefined;
  for (const w of widths) {
    const n = (counts.get(w) ?? 0) + 1;
    counts.set(w, n);
    if (best === undefined || n > counts.get(best)!) best = w;
  }
  return best;
}

/**
 * Parses CSV text. Every row must have `columns` fields (default: as many as the header, or without one, as most
 * rows): rows that do not, and records csv-parse cannot read (a stray quote), are skipped and counted with their line.
 */
export function parseCsv(text: string, opts: CsvOptions = {}): CsvResult {
  const out = new ResultBuilder<string[]>();
  const records = parse(text, {
    bom: true,
    raw: true,
    info: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_skip: (err: { message: string; lines?: number } | undefined) => {
      if (err) out.skip(err.lines ?? 0, err.message);
    },
  }) as unknown as { record: string[]; raw: string; info: { bytes: number } }[];

  const lineOf = lineFinder(text);
  const lines: { record: string[]; line: number }[] = [];
  for (const { record, raw, info } of records) {
    if (record.length === 1 && record[0] === '' && raw.trim() === '') continue; // blank line
    // info.bytes is where the record ends (its line break included): its last line, less the breaks inside it.
    const last = lineOf(Math.max(0, info.bytes - 1));
    lines.push({ record, line: last - lineBreaks(raw.replace(/(\r\n|\n|\r)$/, '')) });
  }
  let header: string[] | undefined;
  if (opts.header && lines.length > 0) header = lines.shift()!.record;
  const width = opts.columns ?? header?.length ?? commonWidth(lines.map((l) => l.record.length));
  const why = opts.columns !== undefined ? '' : header ? ' (as the header)' : ' (as most rows)';
  for (const { record, line: at } of lines) {
    if (record.length === width) out.add(record, at);
    else out.skip(at, `expected ${width} fields${why}, got ${record.length}`);
  }
  const result: CsvResult = out.result();
  if (header) result.header = header;
  return result;
}

/** Reads a CSV file; see parseCsv. */
export function readCsv(file: string, opts: CsvOptions = {}): CsvResult {
  return parseCsv(readText(file), opts);
}
