// The terminal reporter: JSON lines in --json mode, plain log lines at the logging cadence without a TTY, a bar that
// fits the terminal's width on a TTY; and the pieces of those lines (durations, ETA, fitting).
import { Writable } from 'stream';
import { createReporter } from '../src/log';
import { Eta, fitLine, formatDuration, plainLine, statusFields } from '../src/log/progress-line';

class Capture extends Writable {
  text = '';
  isTTY: boolean;
  columns: number;
  constructor(isTTY: boolean, columns = 120) {
    super();
    this.isTTY = isTTY;
    this.columns = columns;
  }
  _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** What a terminal would show on each line: ANSI sequences removed, split at carriage returns and newlines. */
const screenLines = (text: string) =>
  text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r|\n/).filter((l) => l.trim() !== '');

const ROW = { loss: 0.01234, reward: 0.5125, 'rewards/correct/mean': 0.75, tokens_per_second: 1234.4 };

test('non-TTY: a plain line per logged row (step, loss, reward, acc, tok/s, elapsed, ETA); updates print nothing', () => {
  const err = new Capture(false);
  const out = new Capture(false);
  let now = 0;
  const r = createReporter({ total: 10, stream: err, out, clock: () => now });
  now = 2000;
  r.update(1, ROW);
  now = 4000;
  r.update(2, ROW);
  expect(err.text).toBe('');
  r.record(2, ROW);
  r.log('a message');
  r.stop();
  expect(err.text).toBe('step 2/10 | loss 0.01234 | reward 0.512 | acc 0.75 | 1234 tok/s | elapsed 4s | ETA 16s\na message\n');
  expect(out.text).toBe('');
});

test('non-TTY, resumed at step 4: the ETA counts from the steps of this invocation', () => {
  const err = new Capture(false);
  let now = 0;
  const r = createReporter({ total: 10, start: 4, stream: err, clock: () => now });
  now = 3000;
  r.update(5, {});
  r.record(5, { loss: 2 });
  expect(err.text).toBe('step 5/10 | loss 2 | elapsed 3s | ETA 15s\n');
});

test('--json: one parsable line per logged row on stdout, messages on the other stream', () => {
  const err = new Capture(true); // even on a TTY, no bar in json mode
  const out = new Capture(false);
  const r = createReporter({ json: true, total: 3, stream: err, out });
  r.update(1, { reward: 0.25 });
  r.record(1, { reward: 0.25, loss: NaN });
  r.log('hello');
  r.update(2, { reward: 0.5 });
  r.record(2, { reward: 0.5 });
  r.stop();
  const lines = out.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toEqual([{ step: 1, reward: 0.25, loss: 'NaN' }, { step: 2, reward: 0.5 }]);
  expect(err.text).toBe('hello\n');
});

test('TTY at 120 columns: a bar with step/total, reward, accuracy, tok/s and ETA, on the given stream only', () => {
  const err = new Capture(true, 120);
  const out = new Capture(false);
  let now = 0;
  const r = createReporter({ total: 10, stream: err, out, clock: () => now });
  now = 1000;
  r.update(3, ROW);
  r.record(3, ROW); // the bar shows it; no extra line
  r.log('a message');
  r.stop();
  r.stop();
  expect(out.text).toBe('');
  const bar = screenLines(err.text).filter((l) => l.startsWith('step 3/10'));
  expect(bar.length).toBeGreaterThan(0);
  expect(bar[bar.length - 1]).toMatch(/^step 3\/10 \|[█░]+\| reward 0\.512 \| acc 0\.75 \| 1234 tok\/s \| ETA 2s$/);
  expect(err.text).toContain('a message');
});

test('TTY at 80 columns: the bar keeps tok/s and the ETA and fits; at 40 the least important fields go first', () => {
  const cases = [
    [80, /^step 3\/10000 \|[█░]{10,}\| reward 0\.512 \| acc 0\.75 \| 1234 tok\/s \| ETA 55m32s$/],
    [40, /^step 3\/10000 \| r 0\.51 \| ETA 55m32s$/],
  ] as const;
  for (const [columns, expected] of cases) {
    const err = new Capture(true, columns);
    let now = 0;
    const r = createReporter({ total: 10000, stream: err, clock: () => now });
    now = 1000;
    r.update(3, ROW);
    r.stop();
    const lines = screenLines(err.text);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(columns);
    expect(lines[lines.length - 1]).toMatch(expected);
  }
});

test('fitLine: shrink the bar, then short forms, then drop the bar, then the fields that matter least', () => {
  const fields = statusFields({ reward: 0.5125, 'rewards/correct/mean': 0.75 }, { tps: 12345, eta: 3725 });
  expect(fitLine('step 1/9', 0.5, fields, 200)).toBe(`step 1/9 |${'█'.repeat(20)}${'░'.repeat(20)}| reward 0.512 | acc 0.75 | 12345 tok/s | ETA 1h02m`);
  expect(fitLine('step 1/9', 0.5, fields, 76)).toBe(`step 1/9 |${'█'.repeat(7)}${'░'.repeat(7)}| reward 0.512 | acc 0.75 | 12345 tok/s | ETA 1h02m`);
  expect(fitLine('step 1/9', 0.5, fields, 66)).toBe(`step 1/9 |${'█'.repeat(7)}${'░'.repeat(7)}| r 0.51 | acc 0.75 | 12k t/s | ETA 1h02m`);
  expect(fitLine('step 1/9', 0.5, fields, 55)).toBe('step 1/9 | r 0.51 | acc 0.75 | 12k t/s | ETA 1h02m');
  expect(fitLine('step 1/9', 0.5, fields, 45)).toBe('step 1/9 | r 0.51 | acc 0.75 | ETA 1h02m');
  expect(fitLine('step 1/9', 0.5, fields, 35)).toBe('step 1/9 | r 0.51 | ETA 1h02m');
  expect(fitLine('step 1/9', 0.5, fields, 10)).toBe('step 1/9');
});

test('durations, ETA from the recent pace, plain lines', () => {
  expect([0, 42.4, 307, 3725, NaN].map(formatDuration)).toEqual(['0s', '42s', '5m07s', '1h02m', '-']);
  let now = 0;
  const eta = new Eta(100, 0, () => now, 2);
  expect(eta.left()).toBeUndefined();
  now = 10_000;
  eta.tick(1); // the first step took 10 s (from construction)
  expect(eta.left()).toBe(990);
  now = 12_000;
  eta.tick(2);
  now = 14_000;
  eta.tick(3); // the last 2 steps took 2 s each: the pace of the last `span` steps
  expect(eta.left()).toBe(2 * 97);
  expect(plainLine(3, 100, statusFields({ loss: 1.5, learning_rate: 3e-4 }), 14)).toBe('step 3/100 | loss 1.5 | lr 3e-4 | elapsed 14s');
});
