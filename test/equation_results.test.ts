// The CoT's equations (src/data/equation-results.ts): where their results are, and whether one-operation lines add up.
import { checkLineEquations, equationResults } from '../src/data/equation-results';

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
