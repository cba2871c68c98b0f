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

type Parsed = { record: string[]; raw: string; info: { bytes: number } };

/**
 * The records of `text` with the line each starts on. A quote that is never closed makes csv-parse read the rest of
 * the file as one field: then only that record's first line is skipped and reading goes on from the next line.
 */
function recordsWithLines(text: string, out: ResultBuilder<string[]>): { record: string[]; line: number }[] {
  const found: { record: string[]; line: number }[] = [];
  let rest = text;
  let lineBase = 0; // lines of `text` before `rest`
  for (;;) {
    let unclosed = false;
    const records = parse(rest, {
      bom: true,
      raw: true,
      info: true,
      relax_quotes: true, // a stray quote inside a field is kept as text ('5" tall', '"a"b')
      relax_column_count: true,
      skip_records_with_error: true,
      on_skip: (err: { code?: string; message: string; lines?: number } | undefined) => {
        if (err?.code === 'CSV_QUOTE_NOT_CLOSED') unclosed = true;
        else if (err) out.skip(lineBase + (err.lines ?? 0), err.message);
      },
    }) as unknown as Parsed[];
    const lineOf = lineFinder(rest);
    let end = 0; // bytes of `rest` up to the end of the last record read
    for (const { record, raw, info } of records) {
      end = info.bytes;
      if (record.length === 1 && record[0] === '' && raw.trim() === '') continue; // blank line
      // info.bytes is where the record ends (its line break included): its last line, less the breaks inside it.
      const last = lineOf(Math.max(0, info.bytes - 1));
      found.push({ record, line: lineBase + last - lineBreaks(raw.replace(/(\r\n|\n|\r)$/, '')) });
    }
    if (!unclosed) return found;
    const bytes = Buffer.from(rest, 'utf8');
    let start = end;
    while (bytes[start] === 0x0a || bytes[start] === 0x0d) start++;
    const line = lineOf(start);
    out.skip(lineBase + line, 'a quote opens a field and is never closed (the rest of the file would be one field)');
    let next = start;
    while (next < bytes.length && bytes[next] !== 0x0a && bytes[next] !== 0x0d) next++;
    if (next >= bytes.length) return found;
    next += bytes[next] === 0x0d && bytes[next + 1] === 0x0a ? 2 : 1;
    rest = bytes.subarray(next).toString('utf8');
    lineBase += line;
  }
}

/**
 * Parses CSV text. Every row must have `columns` fields (default: as many as the header, or without one, as most
 * rows): rows that do not, and records csv-parse cannot read (a quote never closed), are skipped alone and counted
 * with their line.
 */
export function parseCsv(text: string, opts: CsvOptions = {}): CsvResult {
  const out = new ResultBuilder<string[]>();
  const lines = recordsWithLines(text, out);
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
