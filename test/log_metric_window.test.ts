// logging.every: per-step rows averaged over the window into one row at the logging step.
import { MetricWindow, isLogStep } from '../src/log/metric-window';

test('numbers are the mean over the window, other values the last, keys in first-seen order', () => {
  const w = new MetricWindow();
  expect(w.flush(1)).toBeNull();
  w.add({ step: 1, loss: 1, reward: 0.5, phase: 'a' });
  w.add({ step: 2, loss: 3, extra: 7, phase: 'b' });
  expect(w.size).toBe(2);
  expect(w.flush(2)).toEqual({ step: 2, loss: 2, reward: 0.5, phase: 'b', extra: 7 });
  expect(Object.keys(w.flush(3) ?? {})).toEqual([]);
  w.add({ step: 3, loss: NaN });
  w.add({ step: 4, loss: 1 });
  expect(w.flush(4)!.loss).toBeNaN(); // a bad step shows
});

test('logging steps are N, 2N, … (step 1 only when N = 1)', () => {
  expect([1, 2, 3, 4, 5, 6, 10].filter((s) => isLogStep(s, 5))).toEqual([5, 10]);
  expect([1, 2, 3].filter((s) => isLogStep(s, 1))).toEqual([1, 2, 3]);
  expect([1, 2, 3].filter((s) => isLogStep(s, 0))).toEqual([]); // 0: never
});
