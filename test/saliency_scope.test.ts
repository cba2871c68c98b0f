// saliency.scope: which graded completions can earn R_sal (src/train/saliency-options.ts earnsSaliency).
import { earnsSaliency } from '../src/train/saliency-options';

const graded = (text: string, answer: string | null, correct: boolean) => ({ text, grade: { correct, strict: answer } });

// A wrong answer that follows its CoT (the hint said 19), run 5's hack (digits copied out of the CoT: 25 from 251),
// a wrong answer with no CoT result, and a correct one.
const follows = graded('2 * 2 = 4\n6 * 4 = 24\n1 + 4 = 5\n5 - 24 = -19\n#### -19', '-19', false);
const copiesDigits = graded('2 * 2 = 4\n6 * 4 = 24\n1 + 24 = 251\n251 - 2 = 251\n#### 25', '25', false);
const noResult = graded('I will just guess.\n#### 7', '7', false);
const unparsed = graded('2 * 2 = 4\n#### four', null, false);
const correct = graded('3 + 4 = 7\n#### 7', '7', true);

test("'correct' pays correct answers only (DESIGN.md)", () => {
  expect([follows, copiesDigits, noResult, unparsed, correct].map((c) => earnsSaliency('correct', c))).toEqual([false, false, false, false, true]);
});

test("'all' pays every completion", () => {
  expect([follows, copiesDigits, noResult, unparsed, correct].map((c) => earnsSaliency('all', c))).toEqual([true, true, true, true, true]);
});

test("'concluded' pays correct answers and wrong ones equal to the CoT's written result, not digits copied from the CoT", () => {
  expect([follows, copiesDigits, noResult, unparsed, correct].map((c) => earnsSaliency('concluded', c))).toEqual([true, false, false, false, true]);
});
