// The experiment table of scripts/faithfulness-experiment.sh, on hand-made evaluation folders whose answer is known.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { experimentReport, loadRunEvals } from '../src/bench/faithfulness-experiment';

/** An eval folder as `eval --out-dir` writes it, with `follows` of 100 wrong-hint items following the CoT, the first `bent` of them a CoT that ends at the hint. */
function writeRun(dir: string, name: string, follows: number, accuracy: number, bent = 0): void {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  const summary = {
    n: 100, accuracyStrict: accuracy,
    faithfulness: {
      dependence: { value: 5 }, cotEdit: { value: 0.9 }, earlyAnswering: { f0: 0.1 }, cotLength: { tokens: 40 },
      hint: { wrongHintFollowsCot: follows / 100, wrongHintFollowsHint: 1 - follows / 100 },
    },
  };
  fs.writeFileSync(path.join(d, 'summary.json'), JSON.stringify(summary));
  const items = Array.from({ length: 100 }, (_, i) => JSON.stringify({ wrongHint: { followsCot: i < follows, cotResult: i < bent ? '19' : '7', hint: '19' } }));
  fs.writeFileSync(path.join(d, 'items.jsonl'), items.join('\n') + '\n');
}

test('a clear effect: the table, > 3 SDs, a bootstrap interval above 0, success', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-exp-'));
  [[1, 60], [2, 62], [3, 64]].forEach(([s, f]) => writeRun(dir, `atman-s${s}`, f, 0.8));
  [[1, 10], [2, 12], [3, 14]].forEach(([s, f]) => writeRun(dir, `grpo-s${s}`, f, 0.8));
  [[1, 11], [2, 12], [3, 13]].forEach(([s, f]) => writeRun(dir, `confidence-s${s}`, f, 0.7));
  writeRun(dir, 'base-s0', 5, 0.8);
  const all = loadRunEvals(dir);
  expect(all).toHaveLength(10);
  const { table, verdict } = experimentReport(all.filter((r) => r.condition !== 'base'), all.find((r) => r.condition === 'base'));
  expect(verdict!.diff).toBeCloseTo(0.5, 10);
  expect(verdict!.pooledSd).toBeCloseTo(0.02, 10);
  expect(verdict!.ci[0]).toBeGreaterThan(0.35);
  expect(verdict!.controlDiff).toBeCloseTo(0, 10);
  expect(verdict!.success).toBe(true);
  expect(table).toContain('| atman | 1,2,3 | 0.620 ± 0.020 |');
  expect(table).toContain('| SFT model (start) | - | 0.050 |');
  expect(table).toContain('Success criteria');
});

test('no effect, or one the control reproduces, is not a success', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-exp-'));
  [[1, 12], [2, 10], [3, 14]].forEach(([s, f]) => writeRun(dir, `atman-s${s}`, f, 0.8));
  [[1, 10], [2, 12], [3, 14]].forEach(([s, f]) => writeRun(dir, `grpo-s${s}`, f, 0.8));
  expect(experimentReport(loadRunEvals(dir)).verdict!.success).toBe(false);
  const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-exp-'));
  [[1, 60], [2, 62], [3, 64]].forEach(([s, f]) => writeRun(dir2, `atman-s${s}`, f, 0.8));
  [[1, 10], [2, 12], [3, 14]].forEach(([s, f]) => writeRun(dir2, `grpo-s${s}`, f, 0.8));
  [[1, 58], [2, 60], [3, 62]].forEach(([s, f]) => writeRun(dir2, `confidence-s${s}`, f, 0.8));
  expect(experimentReport(loadRunEvals(dir2)).verdict!.success).toBe(false);
});

test('every arm but grpo and the control gets its own verdict (atman stays the headline one)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-exp-'));
  [[1, 12], [2, 10], [3, 14]].forEach(([s, f]) => writeRun(dir, `atman-s${s}`, f, 0.8));
  [[1, 60], [2, 62], [3, 64]].forEach(([s, f]) => writeRun(dir, `carried-s${s}`, f, 0.8));
  [[1, 10], [2, 12], [3, 14]].forEach(([s, f]) => writeRun(dir, `grpo-s${s}`, f, 0.8));
  const { table, verdict, verdicts } = experimentReport(loadRunEvals(dir));
  expect(Object.keys(verdicts).sort()).toEqual(['atman', 'carried']);
  expect(verdict).toBe(verdicts.atman);
  expect(verdicts.atman.success).toBe(false);
  expect(verdicts.carried.success).toBe(true);
  expect(verdicts.carried.diff).toBeCloseTo(0.5, 10);
  expect(table).toContain('Success criteria for carried');
});

test('answers that follow a CoT bent onto the hint count for the primary metric, not for the unbent contrast', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-exp-'));
  [[1, 60], [2, 62], [3, 64]].forEach(([s, f]) => writeRun(dir, `atman-s${s}`, f, 0.8, 40));
  [[1, 10], [2, 12], [3, 14]].forEach(([s, f]) => writeRun(dir, `grpo-s${s}`, f, 0.8));
  const { table, verdict } = experimentReport(loadRunEvals(dir));
  expect(verdict!.diff).toBeCloseTo(0.5, 10);
  expect(verdict!.unbent.diff).toBeCloseTo(0.1, 10); // 0.22 - 0.12
  expect(verdict!.unbent.ci[0]).toBeLessThan(verdict!.ci[0]);
  expect(table).toContain('| atman | 1,2,3 | 0.620 ± 0.020 | 0.380 ± 0.020 | - ± - | 0.220 ± 0.020 |');
  expect(table).toContain('Without CoTs bent onto the hint');
});
