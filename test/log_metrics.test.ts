// metrics.jsonl writing and reading (crash-truncated last line), and atomic report writes.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MetricsWriter, readMetrics, writeFileAtomic } from '../src/log';
import { thrown } from './helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-metrics-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('rows written are read back in order, one JSON object per line, even before close', () => {
  const file = path.join(dir, 'run1', 'metrics.jsonl');
  const w = new MetricsWriter(file);
  w.write({ step: 1, reward: 0.5, 'rewards/correct/mean': 0.25 });
  w.write({ step: 2, reward: 0.75, note: 'x' });
  // on disk already (no JS-side buffering)
  expect(fs.readFileSync(file, 'utf8').split('\n')).toHaveLength(3);
  expect(readMetrics(file)).toEqual([
    { step: 1, reward: 0.5, 'rewards/correct/mean': 0.25 },
    { step: 2, reward: 0.75, note: 'x' },
  ]);
  w.close();
  w.close();
  expect(thrown(() => w.write({ step: 3 })).message).toContain('write after close');
});

test('a second writer appends', () => {
  const file = path.join(dir, 'append.jsonl');
  const a = new MetricsWriter(file);
  a.write({ step: 1 });
  a.close();
  const b = new MetricsWriter(file);
  b.write({ step: 2 });
  b.close();
  expect(readMetrics(file).map((r) => r.step)).toEqual([1, 2]);
});

test('NaN and infinities survive the round trip', () => {
  const file = path.join(dir, 'nan.jsonl');
  const w = new MetricsWriter(file);
  w.write({ step: 1, loss: NaN, kl: Infinity, g: -Infinity });
  w.close();
  const [row] = readMetrics(file);
  expect(row.loss).toBeNaN();
  expect(row.kl).toBe(Infinity);
  expect(row.g).toBe(-Infinity);
});

test('a truncated last line (crash mid-write) is dropped', () => {
  const file = path.join(dir, 'trunc.jsonl');
  fs.writeFileSync(file, '{"step":1,"reward":0.1}\n{"step":2,"reward":0.2}\n{"step":3,"rew');
  expect(readMetrics(file)).toEqual([{ step: 1, reward: 0.1 }, { step: 2, reward: 0.2 }]);
  fs.writeFileSync(file, '{"step":1}\n\n{"step":2}\n\n');
  expect(readMetrics(file)).toHaveLength(2);
});

test('damage before the last line, non-objects and a missing file are errors naming file and line', () => {
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"step":1}\n{"ste\n{"step":3}\n');
  expect(thrown(() => readMetrics(bad)).message).toContain('bad.jsonl:2');
  fs.writeFileSync(bad, '{"step":1}\n[1,2]\n');
  expect(thrown(() => readMetrics(bad)).message).toContain('bad.jsonl:2: expected a JSON object');
  expect(thrown(() => readMetrics(path.join(dir, 'none.jsonl'))).message).toContain('cannot read metrics file');
});

test('writeFileAtomic replaces the whole file and leaves no temporary files', () => {
  const file = path.join(dir, 'reports', 'report.html');
  writeFileAtomic(file, 'old');
  writeFileAtomic(file, 'new content');
  expect(fs.readFileSync(file, 'utf8')).toBe('new content');
  expect(fs.readdirSync(path.dirname(file))).toEqual(['report.html']);
  // a directory in the way: an error naming the file, and no temp file left behind
  const blocked = path.join(dir, 'reports', 'blocked');
  fs.mkdirSync(blocked);
  expect(thrown(() => writeFileAtomic(blocked, 'x')).message).toContain(`cannot write ${blocked}`);
  expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['blocked', 'report.html']);
});
