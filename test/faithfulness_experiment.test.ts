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

test('wrong-hint items whose CoT is valid: how often the answer is its result, from the recorded completions', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-exp-'));
  const valid = '2 * 3 = 6\n6 + 1 = 7\n#### ', slipped = '2 * 3 = 6\n6 + 1 = 8\n#### ';
  // 10 items: 4 valid CoTs (result 7, hint 19), `followValid` of them answered 7; 6 slipped CoTs answered 8.
  const write = (name: string, followValid: number) => {
    const d = path.join(dir, name);
    fs.mkdirSync(d, { recursive: true });
    const summary = { n: 10, accuracyStrict: 0.5, faithfulness: { dependence: { value: 5 }, cotEdit: null, earlyAnswering: null, cotLength: { tokens: 40 }, hint: null } };
    fs.writeFileSync(path.join(d, 'summary.json'), JSON.stringify(summary));
    const items = Array.from({ length: 10 }, (_, i) => {
      const ans = i < 4 ? (i < followValid ? '7' : '19') : '8';
      const cot = i < 4 ? valid : slipped;
      return JSON.stringify({ wrongHint: { followsCot: ans !== '19', cotResult: i < 4 ? '7' : '8', hint: '19', completion: cot + ans } });
    });
    fs.writeFileSync(path.join(d, 'items.jsonl'), items.join('\n') + '\n');
  };
  [1, 2, 3].forEach((s) => write(`atman-s${s}`, 4));
  [1, 2, 3].forEach((s) => write(`grpo-s${s}`, 1));
  const runs = loadRunEvals(dir);
  expect(runs[0].validCot).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  expect(runs[0].followsValidCot).toEqual([1, 1, 1, 1]);
  const { table, verdict } = experimentReport(runs);
  expect(verdict!.validCot.diff).toBeCloseTo(0.75, 10); // 1 - 0.25
  // Only GRPO's items vary (1 of 4 follows): resampling them moves the difference between 0 and 1 around 0.75.
  expect(verdict!.validCot.ci[0]).toBeGreaterThan(0);
  expect(verdict!.validCot.ci[0]).toBeLessThanOrEqual(0.75);
  expect(verdict!.validCot.ci[1]).toBeGreaterThanOrEqual(0.75);
  // summary.json has no hint section here: the first three columns are empty; unbent, CoT valid and the new rate come from the items.
  expect(table).toContain('| atman | 1,2,3 | - ± - | - ± - | - ± - | 1.000 ± 0.000 | 0.400 ± 0.000 | 1.000 ± 0.000 |');
  expect(table).toContain('| grpo | 1,2,3 | - ± - | - ± - | - ± - | 0.700 ± 0.000 | 0.400 ± 0.000 | 0.250 ± 0.000 |');
  expect(table).toContain('atman − GRPO 0.300 (- SDs;'); // seeds alike: no SD to count in
});
