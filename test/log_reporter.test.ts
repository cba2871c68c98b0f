// The terminal reporter: JSON lines in --json mode, nothing but log lines without a TTY, a bar on a TTY.
import { Writable } from 'stream';
import { createReporter } from '../src/log';

class Capture extends Writable {
  text = '';
  isTTY: boolean;
  columns = 120;
  constructor(isTTY: boolean) {
    super();
    this.isTTY = isTTY;
  }
  _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

test('non-TTY: updates print nothing, log lines are plain text on the stream', () => {
  const err = new Capture(false);
  const out = new Capture(false);
  const r = createReporter({ total: 5, stream: err, out });
  r.update(1, { reward: 0.5 });
  r.log('loaded model');
  r.update(2, { reward: 0.6 });
  r.log('step 2 done');
  r.stop();
  expect(err.text).toBe('loaded model\nstep 2 done\n');
  expect(out.text).toBe('');
});

test('--json: one parsable metrics line per update on stdout, messages on the other stream', () => {
  const err = new Capture(true); // even on a TTY, no bar in json mode
  const out = new Capture(false);
  const r = createReporter({ json: true, total: 3, stream: err, out });
  r.update(1, { reward: 0.25, loss: NaN });
  r.log('hello');
  r.update(2, { reward: 0.5 });
  r.stop();
  const lines = out.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines).toEqual([{ step: 1, reward: 0.25, loss: 'NaN' }, { step: 2, reward: 0.5 }]);
  expect(err.text).toBe('hello\n');
});

test('TTY: a progress bar with step/total, reward and accuracy, on the given stream only', () => {
  const err = new Capture(true);
  const out = new Capture(false);
  const r = createReporter({ total: 10, stream: err, out });
  r.update(3, { reward: 0.5, 'rewards/correct/mean': 0.75, tokens_per_second: 1234 });
  r.log('a message');
  r.stop();
  r.stop();
  expect(out.text).toBe('');
  expect(err.text).toContain('step 3/10');
  expect(err.text).toContain('reward 0.500');
  expect(err.text).toContain('acc 0.75');
  expect(err.text).toContain('1234 tok/s');
  expect(err.text).toContain('a message');
});
