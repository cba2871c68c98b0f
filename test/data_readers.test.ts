// Dataset readers: JSONL, CSV (RFC 4180 quirks), parquet (hyparquet) and readRecords' dispatch by extension.
// Parquet needs hyparquet transformed for jest: run with -c test/jest.data.config.js.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { MAX_REPORTED_ERRORS, parseCsv, readCsv, readJsonl, readParquet, readRecords } from '../src/data';

const FIXTURES = 'test/fixtures/data';
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-data-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('readJsonl', () => {
  test('reads objects, ignores blank lines, skips and counts bad lines with their line numbers', () => {
    const file = write('a.jsonl', ['{"q": "one", "n": 1}', '', '   ', '{bad json', '[1, 2]', '42', '{"q": "two"}', ''].join('\n'));
    const r = readJsonl(file);
    expect(r.rows).toEqual([{ q: 'one', n: 1 }, { q: 'two' }]);
    expect(r.skipped).toBe(3);
    expect(r.errors.map((e) => e.row)).toEqual([4, 5, 6]);
    expect(r.errors[0].message).toMatch(/not valid JSON/);
    expect(r.errors[1].message).toMatch(/an array/);
  });

  test('handles CRLF line endings and a byte order mark', () => {
    const file = write('crlf.jsonl', '\uFEFF{"a": 1}\r\n{"a": 2}\r\n');
    expect(readJsonl(file)).toEqual({ rows: [{ a: 1 }, { a: 2 }], rowNumbers: [1, 2], skipped: 0, errors: [] });
  });

  test(`reports only the first ${MAX_REPORTED_ERRORS} errors but counts all`, () => {
    const file = write('many.jsonl', Array.from({ length: 30 }, () => 'nope').join('\n'));
    const r = readJsonl(file);
    expect(r.skipped).toBe(30);
    expect(r.errors.map((e) => e.row)).toEqual(Array.from({ length: MAX_REPORTED_ERRORS }, (_, i) => i + 1));
  });

  test('a missing file is an Error naming the path', () => {
    const missing = path.join(dir, 'does-not-exist.jsonl');
    expect(() => readJsonl(missing)).toThrow(missing);
  });
});

describe('readCsv', () => {
  test('RFC 4180: quoted commas and newlines, "" escapes, CRLF, BOM', () => {
    const file = write('q.csv', '\uFEFFa,b,c\r\n"x, y","multi\r\nline","say ""hi"""\r\n1,2,3');
    const r = readCsv(file);
    expect(r.rows).toEqual([
      ['a', 'b', 'c'],
      ['x, y', 'multi\r\nline', 'say "hi"'],
      ['1', '2', '3'],
    ]);
    expect(r.skipped).toBe(0);
  });

  test('with header: the header is returned apart, rows with the wrong width are skipped with their line', () => {
    const r = parseCsv('name,value\n"multi\nline",1\nshort\n\nok,2\ntoo,many,fields\n', { header: true });
    expect(r.header).toEqual(['name', 'value']);
    expect(r.rows).toEqual([
      ['multi\nline', '1'],
      ['ok', '2'],
    ]);
    expect(r.skipped).toBe(2);
    expect(r.errors).toEqual([
      { row: 4, message: expect.stringMatching(/expected 2 fields .*got 1/) },
      { row: 7, message: expect.stringMatching(/expected 2 fields .*got 3/) },
    ]);
  });

  test('without header the width most rows have counts: a short first row is skipped alone', () => {
    const r = parseCsv('1,2,3\r\n4,5\r\n6,7,8\r\n');
    expect(r.rows).toEqual([
      ['1', '2', '3'],
      ['6', '7', '8'],
    ]);
    expect(r.errors).toEqual([{ row: 2, message: expect.stringMatching(/got 2/) }]);
    const shortFirst = parseCsv('q0,a\n"q1\nspans lines",b,c\nq2,d,e\n');
    expect(shortFirst.rows).toEqual([['q1\nspans lines', 'b', 'c'], ['q2', 'd', 'e']]);
    expect(shortFirst.rowNumbers).toEqual([2, 4]);
    expect(shortFirst.errors).toEqual([{ row: 1, message: 'expected 3 fields (as most rows), got 2' }]);
  });

  test('columns fixes the width; a stray quote is kept as text; CRLF line numbers', () => {
    const r = parseCsv('a,b\r\n1,"bad"x\r\n\r\nc,d\r\ne,f,g\r\n', { columns: 2 });
    expect(r.rows).toEqual([['a', 'b'], ['1', '"bad"x'], ['c', 'd']]);
    expect(r.rowNumbers).toEqual([1, 2, 4]);
    expect(r.errors).toEqual([{ row: 5, message: 'expected 2 fields, got 3' }]);
  });

  test('a quote never closed loses its own line only, not the rest of the file', () => {
    const r = parseCsv('a,b\r\n"never closed,1\r\nc,d\r\ne,f\r\n');
    expect(r.rows).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f']]);
    expect(r.rowNumbers).toEqual([1, 3, 4]);
    expect(r.errors).toEqual([{ row: 2, message: expect.stringMatching(/never closed/) }]);
  });

  test('an empty file has no rows', () => {
    expect(readCsv(write('empty.csv', ''))).toEqual({ rows: [], rowNumbers: [], skipped: 0, errors: [] });
  });
});

describe('readParquet', () => {
  test('reads a GSM8K-shaped file', async () => {
    const r = await readParquet(path.join(FIXTURES, 'gsm8k-mini.parquet'));
    expect(r.skipped).toBe(0);
    expect(r.rows).toHaveLength(3);
    expect(Object.keys(r.rows[0]).sort()).toEqual(['answer', 'question']);
    expect(r.rows[1].answer).toBe('The price is 1,200 - 200 = <<1200-200=1000>>1000 dollars.\n#### 1,000');
  });

  test('lists come back as arrays and INT64 as numbers', async () => {
    const r = await readParquet(path.join(FIXTURES, 'mmlu-mini.parquet'));
    expect(r.rows[1]).toEqual({ question: 'Which planet is known as the red planet?', subject: 'astronomy', choices: ['Venus', 'Jupiter', 'Mars', 'Saturn'], answer: 2 });
  });

  test('a file that is not parquet is an Error naming it', async () => {
    const file = write('fake.parquet', 'this is not parquet');
    await expect(readParquet(file)).rejects.toThrow(file);
  });

  test('a missing file is an Error naming the path', async () => {
    const missing = path.join(dir, 'nope.parquet');
    await expect(readParquet(missing)).rejects.toThrow(missing);
  });
});

describe('readRecords', () => {
  test('picks the reader by extension; CSV header names the fields', async () => {
    const csv = write('t.csv', 'question,answer\r\nq1,"a\r\n1"\r\nbroken\r\n');
    expect(await readRecords(csv)).toEqual({ rows: [{ question: 'q1', answer: 'a\r\n1' }], rowNumbers: [2], skipped: 1, errors: [expect.objectContaining({ row: 4 })] });
    const jsonl = write('t.jsonl', '{"x": 1}\n');
    expect((await readRecords(jsonl)).rows).toEqual([{ x: 1 }]);
    const parquet = await readRecords(path.join(FIXTURES, 'gsm8k-mini.parquet'));
    expect(parquet.rows).toHaveLength(3);
  });

  test('.json: a JSON array of objects, or JSON Lines under a .json name', async () => {
    expect((await readRecords(write('arr.json', '[{"a": 1}, 2, {"a": 3}]'))).rows).toEqual([{ a: 1 }, { a: 3 }]);
    expect((await readRecords(write('lines.json', '{"a": 1}\n{"a": 2}\n'))).rows).toEqual([{ a: 1 }, { a: 2 }]);
  });

  test('an unknown extension is a clear Error', async () => {
    const file = write('data.txt', 'hello');
    await expect(readRecords(file)).rejects.toThrow(/unknown file type '\.txt'.*\.jsonl/);
  });

  test('a missing file or a directory is an Error naming the path', async () => {
    await expect(readRecords(path.join(dir, 'missing.csv'))).rejects.toThrow(/data file not found: .*missing\.csv/);
    await expect(readRecords(dir)).rejects.toThrow(/not a file/);
  });
});
