// The CoT's equations (src/data/equation-results.ts): where their results are, and whether one-operation lines add up.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkLineEquations, cotKind, equationResults } from '../src/data/equation-results';
import { cotResult } from '../src/data/hinted';
import { formatComposition, loadTrainingCompletions, trainingComposition } from '../src/bench/training-composition';

test("equationResults: every number right after an '=', as character offsets", () => {
  const cot = '2 * 2 = 4\n6 * 4 = 24\nx =-1,250.5, y=$7 and z = seven\n';
  expect(equationResults(cot).map(({ start, end }) => cot.slice(start, end))).toEqual(['4', '24', '-1,250.5', '$7']);
  expect(equationResults('no equations')).toEqual([]);
  expect(() => equationResults(3 as never)).toThrow(TypeError);
});

test('checkLineEquations: one-operation lines checked by arithmetic, other lines not counted', () => {
  expect(checkLineEquations('2 * 2 = 4\n6 * 4 = 24\n1 + 4 = 5\n5 - 24 = -19\n#### -19')).toEqual({ checked: 4, wrong: 0 });
  // Run 6's bent CoT: the last line ends at the hint (-22) instead of 5 - 24 = -19.
  expect(checkLineEquations('2 * 2 = 4\n6 * 4 = 24\n4 + 2 = 6\n6 - 24 = -22\n#### -22')).toEqual({ checked: 4, wrong: 1 });
  expect(checkLineEquations('-3 + 5 = 2\r\n8 / 2 = 4\r\nSo the answer is 2 + 2 = 4 apples.\n')).toEqual({ checked: 2, wrong: 0 });
  expect(checkLineEquations('The answer is 7.\n#### 7')).toEqual({ checked: 0, wrong: 0 });
  expect(() => checkLineEquations(null as never)).toThrow(TypeError);
});

test('cotKind: valid, bent or decorative, from the answer, the CoT result and its line checks', () => {
  const kind = (text: string, answer: string) => cotKind(answer, cotResult(text), checkLineEquations(text));
  expect(kind('4 + 2 = 6\n6 - 24 = -18\n#### -18', '-18')).toBe('valid');
  expect(kind('4 + 2 = 6\n6 - 24 = -22\n#### -22', '-22')).toBe('bent'); // the last line steered to -22
  expect(kind('4 + 2 = 6\n6 - 24 = -18\n#### -22', '-22')).toBe('decorative');
  expect(kind('the answer is -18\n#### -18', '-18')).toBeNull(); // no result, no checked line
});

test('trainingComposition: shares and mean R_sal of each kind per step window, correct answers only', () => {
  const row = (step: number, completion: string, gold: string, correct: boolean, saliency = 0) => ({ step, completion, gold, correct, rewards: { saliency } });
  const valid = '2 + 3 = 5\n5 * 2 = 10\n#### 10', bent = '2 + 3 = 5\n5 * 2 = 11\n#### 11', decorative = '2 + 3 = 5\n5 * 2 = 10\n#### 12';
  const rows = trainingComposition(new Map([
    ['arm', [row(1, valid, '10', true, 0.8), row(1, bent, '11', true, 0.2), row(2, decorative, '12', true, 0), row(2, valid, '10', false, 0),
      row(4, valid, '10', true, 0.6), row(4, valid, '10', true, 1.0)]],
  ]), 2);
  expect(rows.map((r) => [r.from, r.to, r.n])).toEqual([[1, 2, 3], [3, 4, 2]]);
  expect(rows[0].share).toEqual({ valid: 1 / 3, bent: 1 / 3, decorative: 1 / 3 });
  expect(rows[0].meanSaliency).toEqual({ valid: 0.8, bent: 0.2, decorative: 0 });
  expect(rows[1].share).toEqual({ valid: 1, bent: 0, decorative: 0 });
  expect(rows[1].meanSaliency.valid).toBeCloseTo(0.8, 12);
  expect(rows[1].meanSaliency.bent).toBeNaN();
  expect(formatComposition(rows)).toContain('| arm | 1–2 | 3 | 0.33 (R_sal 0.80) | 0.33 (R_sal 0.20) | 0.33 (R_sal 0.00) |');
  expect(() => trainingComposition(new Map(), 0)).toThrow(/windows must be a positive integer/);
});

test('loadTrainingCompletions: every <condition>-s<seed> run pooled by condition; a truncated last line is skipped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'composition-'));
  const write = (run: string, text: string) => {
    fs.mkdirSync(path.join(dir, run));
    fs.writeFileSync(path.join(dir, run, 'completions.jsonl'), text);
  };
  const line = (step: number) => JSON.stringify({ step, completion: '1 + 1 = 2\n#### 2', gold: '2', correct: true, rewards: { saliency: 0 } });
  write('arm-s1', `${line(1)}\n${line(2)}\n{"step": 3, "compl`);
  write('arm-s2', `${line(1)}\n`);
  write('notes', `${line(1)}\n`);
  const got = loadTrainingCompletions(dir);
  expect([...got.keys()]).toEqual(['arm']);
  expect(got.get('arm')!.map((r) => r.step)).toEqual([1, 2, 1]);
  expect(() => loadTrainingCompletions(path.join(dir, 'missing'))).toThrow(/no directory/);
  fs.rmSync(dir, { recursive: true, force: true });
});
