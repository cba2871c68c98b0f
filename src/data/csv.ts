// CSV (RFC 4180: quoted fields with commas and newlines, "" escapes, LF or CRLF, optional BOM) via csv-parse.
import { parse } from 'csv-parse/sync';

import { ReadResult, ResultBuilder, readText } from './read-result';

export interface CsvOptions {
  /** The first record is a header of column names (returned as `header`, not among `rows`). Default false. */
  header?: boolean;
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
 * Parses CSV text. Every row must have as many fields as the header (or, without one, as the first row):
 * rows that do not, and records csv-parse cannot read (a stray quote), are skipped and counted.
 */
export function parseCsv(text: string, opts: CsvOptions = {}): CsvResult {
  const out = new ResultBuilder<string[]>();
  const skips: { line: number; message: string }[] = [];
  const records = parse(text, {
    bom: true,
    raw: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_skip: (err: { message: string; lines?: number } | undefined) => {
      if (err) skips.push({ line: err.lines ?? 0, message: err.message });
    },
  }) as unknown as { record: string[]; raw: string }[];

  let header: string[] | undefined;
  let width: number | undefined;
  let line = 1; // where the next record starts
  for (const { record, raw } of records) {
    const start = line;
    line += lineBreaks(raw);
    if (record.length === 1 && record[0] === '' && raw.trim() === '') continue; // blank line
    if (width === undefined) {
      width = record.length;
      if (opts.header) {
        header = record;
        continue;
      }
    } else if (record.length !== width) {
      skips.push({ line: start, message: `expected ${width} fields${header ? ' (as the header)' : ' (as the first row)'}, got ${record.length}` });
      continue;
    }
    out.add(record);
  }
  skips.sort((a, b) => a.line - b.line);
  for (const e of skips) out.skip(e.line, e.message);
  const result: CsvResult = out.result();
  if (header) result.header = header;
  return result;
}

/** Reads a CSV file; see parseCsv. */
export function readCsv(file: string, opts: CsvOptions = {}): CsvResult {
  return parseCsv(readText(file), opts);
}
