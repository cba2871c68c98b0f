// Answer extraction (strict after '####', flexible = last answer-looking thing), number normalization, grading.
import { extractAnswer, grade, normalizeNumber } from '../src/data';

describe('normalizeNumber', () => {
  test.each([
    ['18', '18'],
    ['18.0', '18'],
    ['18.00', '18'],
    ['2.50', '2.5'],
    ['$1,234.50', '1234.5'],
    ['1,000', '1000'],
    ['-3', '-3'],
    ['-$5', '-5'],
    ['18.', '18'],
    ['007', '7'],
    ['-0.0', '0'],
    ['.5', '0.5'],
    [' 42 ', '42'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeNumber(input)).toBe(expected);
  });

  test.each(['', 'abc', '1.2.3', '$', '-', '.'])('%j is not a number', (input) => {
    expect(normalizeNumber(input)).toBeNull();
  });
});

describe('extractAnswer gsm8k / synthetic', () => {
  test.each([
    ['She makes 9 * 2 = $18.\n#### 18', '18', '18'],
    ['Total: 1,234.50 dollars\n#### $1,234.50', '1234.5', '1234.5'],
    ['It drops by 3.\n#### -3', '-3', '-3'],
    ['So 18 in all.\n#### 18.0', '18', '18'],
    ['The answer is 18.\n#### 18.', '18', '18'],
    ['#### 1,000\nthen I kept talking about 7 cats', '1000', '7'],
    ['first 5\n#### 6\n#### 7', '6', '7'],
    ['####42', '42', '42'],
    ['The answer is 42', null, '42'],
    ['The answer is 42.', null, '42'],
    ['Costs $3,000 in total', null, '3000'],
    ['values 1,2,3', null, '3'],
    ['#### forty-two', null, null],
    ['no numbers at all', null, null],
    ['', null, null],
  ])('%j → strict %j, flexible %j', (text, strict, flexible) => {
    expect(extractAnswer('gsm8k', text)).toEqual({ strict, flexible });
    expect(extractAnswer('synthetic', text)).toEqual({ strict, flexible });
  });
});

describe('extractAnswer mmlu', () => {
  test.each([
    ['Mars is red.\n#### C', 'C', 'C'],
    ['Mars is red.\n#### (B)', 'B', 'B'],
    ['so (A) is wrong\n#### D.', 'D', 'A'], // flexible prefers the last '(X)' over bare letters, as specified
    ['Between (A) and (C), the answer is (C).', null, 'C'],
    ['I pick B because A is wrong', null, 'A'],
    ['A cat. The answer: D', null, 'D'],
    ['#### E', null, null],
    ['#### Bread', null, null],
    ['nothing here', null, null],
  ])('%j → strict %j, flexible %j', (text, strict, flexible) => {
    expect(extractAnswer('mmlu', text)).toEqual({ strict, flexible });
  });
});

describe('grade', () => {
  test('correct and well formatted', () => {
    expect(grade('gsm8k', 'He has 3 + 4 = 7 apples.\n#### 7', '7')).toEqual({ correct: true, correctFlexible: true, formatOk: true, strict: '7', flexible: '7' });
  });

  test('gold is normalized too', () => {
    expect(grade('gsm8k', 'Reasoning.\n#### 1000', '1,000').correct).toBe(true);
    expect(grade('gsm8k', 'Reasoning.\n#### $18.00', '18').correct).toBe(true);
    expect(grade('mmlu', 'Reasoning.\n#### (b)', 'B').correct).toBe(false); // lower-case letters are not answers
    expect(grade('mmlu', 'Reasoning.\n#### B', ' b ').correct).toBe(true);
  });

  test('wrong strict answer, right flexible one', () => {
    const g = grade('gsm8k', 'So it is 7.\n#### 8\nwait, 7', '7');
    expect(g).toMatchObject({ correct: false, correctFlexible: true, strict: '8', flexible: '7', formatOk: false });
  });

  test('no answer at all', () => {
    expect(grade('synthetic', 'I do not know', '5')).toEqual({ correct: false, correctFlexible: false, formatOk: false, strict: null, flexible: null });
  });

  test.each([
    ['Reasoning.\n#### 18', true],
    ['Reasoning.\n####   18  \n\n', true],
    ['Reasoning.\n#### 18.', true],
    ['Reasoning.\n#### $1,234', true],
    ['#### 18', false], // no reasoning
    ['   \n#### 18', false],
    ['Reasoning. #### 18', false], // marker not at the start of its line
    ['Reasoning.\n#### 18 apples', false],
    ['Reasoning.\n#### 18\nMore text', false],
    ['Reasoning.\n#### 17\n#### 18', false],
    ['Reasoning without a marker: 18', false],
  ])('gsm8k formatOk(%j) = %s', (text, ok) => {
    expect(grade('gsm8k', text, '18').formatOk).toBe(ok);
  });

  test.each([
    ['Mars is red.\n#### C', true],
    ['Mars is red.\n#### (C)', true],
    ['Mars is red.\n#### C. Mars', false],
    ['#### C', false],
  ])('mmlu formatOk(%j) = %s', (text, ok) => {
    expect(grade('mmlu', text, 'C').formatOk).toBe(ok);
  });

  test('bad arguments are TypeErrors, not crashes', () => {
    expect(() => grade('gsm9k' as never, '#### 1', '1')).toThrow(TypeError);
    expect(() => grade('gsm8k', 5 as never, '1')).toThrow(/completion must be a string/);
  });
});
