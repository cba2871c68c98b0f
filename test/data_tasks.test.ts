// Task loaders on the real GSM8K and MMLU files in ../shared/data and on the parquet fixtures; the synthetic task.
// Parquet needs hyparquet transformed for jest: run with -c test/jest.data.config.js.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { grade, gsm8kSolution, loadGsm8k, loadMmlu, makeSyntheticProblems, solveExpression } from '../src/data';

const DATA = '../shared/data';
const FIXTURES = 'test/fixtures/data';

describe('GSM8K', () => {
  test('the official test split: 1319 problems, gold after ####, solutions without <<>> annotations', async () => {
    const { problems, skipped } = await loadGsm8k(path.join(DATA, 'gsm8k/test.jsonl'));
    expect(problems).toHaveLength(1319);
    expect(skipped).toBe(0);
    const first = problems[0];
    expect(first).toMatchObject({ id: 'gsm8k:test:0', task: 'gsm8k', gold: '18' });
    expect(first.question).toMatch(/^Janet’s ducks lay 16 eggs per day/);
    expect(first.solution).toBe('Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day at the farmer’s market.\n#### 18');
    for (const p of problems) {
      expect(p.gold).toMatch(/^-?\d+(\.\d+)?$/);
      expect(p.solution).not.toMatch(/<<|>>/);
      // Every reference solution passes our own grader, in the fixed format.
      expect(grade('gsm8k', p.solution!, p.gold)).toMatchObject({ correct: true, formatOk: true });
    }
  });

  test('the train split: 7473 problems', async () => {
    const { problems, skipped } = await loadGsm8k(path.join(DATA, 'gsm8k/train.jsonl'));
    expect(problems).toHaveLength(7473);
    expect(skipped).toBe(0);
    expect(new Set(problems.map((p) => p.id)).size).toBe(7473);
  });

  test('the HF parquet export: gold normalized (commas, 6.0)', async () => {
    const { problems } = await loadGsm8k(path.join(FIXTURES, 'gsm8k-mini.parquet'));
    expect(problems.map((p) => p.gold)).toEqual(['7', '1000', '6']);
    expect(problems[1].solution).toBe('The price is 1,200 - 200 = 1000 dollars.\n#### 1000');
  });

  test('rows without a question or a #### answer are skipped and counted', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-gsm8k-'));
    try {
      const file = path.join(dir, 'mixed.jsonl');
      const rows = [{ question: 'Q1', answer: 'ok\n#### 3' }, { question: 'Q2', answer: 'no marker' }, { answer: '#### 1' }, 'not json'];
      fs.writeFileSync(file, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n'));
      const { problems, skipped, errors } = await loadGsm8k(file);
      expect(problems.map((p) => p.question)).toEqual(['Q1']);
      expect(skipped).toBe(3);
      expect(errors.map((e) => e.row)).toEqual([2, 3, 4]);
      expect(errors[0].message).toMatch(/neither a number nor a solution ending in '#### <number>'/);
      expect(errors[1].message).toMatch(/no question/);
      expect(errors[2].message).toMatch(/not valid JSON/);
      fs.writeFileSync(file, JSON.stringify({ text: 'wrong columns' }));
      await expect(loadGsm8k(file)).rejects.toThrow(/needs a string 'question' and an 'answer'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('gsm8kSolution', () => {
    expect(gsm8kSolution('a = <<2*3=6>>6\n#### 6')).toEqual({ gold: '6', solution: 'a = 6\n#### 6' });
    expect(gsm8kSolution('no marker')).toBeNull();
  });
});

describe('MMLU', () => {
  test('the original test directory: 14042 problems over 57 subjects (CRLF files, quoted newlines)', async () => {
    const { problems, skipped } = await loadMmlu(path.join(DATA, 'mmlu/test'));
    expect(problems).toHaveLength(14042);
    expect(skipped).toBe(0);
    expect(new Set(problems.map((p) => p.id.split(':')[1])).size).toBe(57);
    const counts = { A: 0, B: 0, C: 0, D: 0 } as Record<string, number>;
    for (const p of problems) counts[p.gold]++;
    expect(counts).toEqual({ A: 3222, B: 3462, C: 3582, D: 3776 });
    expect(problems.every((p) => p.choices?.length === 4)).toBe(true);
    expect(problems.some((p) => p.question.includes('\n'))).toBe(true);
  });

  test('the first abstract algebra question', async () => {
    const { problems } = await loadMmlu(path.join(DATA, 'mmlu/dev'), { subjects: ['abstract_algebra'] });
    expect(problems).toHaveLength(5);
    expect(problems.every((p) => p.id.startsWith('mmlu:abstract_algebra:'))).toBe(true);
    const test = await loadMmlu(path.join(DATA, 'mmlu/test/abstract_algebra_test.csv'));
    expect(test.problems[0]).toEqual({
      id: 'mmlu:abstract_algebra:0',
      task: 'mmlu',
      question: 'Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.',
      gold: 'B',
      choices: ['0', '4', '2', '6'],
      source: { file: path.join(DATA, 'mmlu/test/abstract_algebra_test.csv'), row: 1 },
    });
  });

  test('subject filter on a directory; an unknown subject is an Error listing the available ones', async () => {
    const { problems } = await loadMmlu(path.join(DATA, 'mmlu/val'), { subjects: ['anatomy', 'virology'] });
    expect(problems).toHaveLength(14 + 18);
    await expect(loadMmlu(path.join(DATA, 'mmlu/val'), { subjects: ['astrology'] })).rejects.toThrow(/astrology.*available: abstract_algebra/);
  });

  test('the HF parquet export: answer 0-3 → letter; a row with 3 choices is skipped', async () => {
    const file = path.join(FIXTURES, 'mmlu-mini.parquet');
    const { problems, skipped, errors } = await loadMmlu(file);
    expect(skipped).toBe(1);
    expect(errors).toEqual([{ row: 3, message: 'choices must be 4 strings, got 3 item(s)', file }]);
    expect(problems).toEqual([
      { id: 'mmlu:elementary_mathematics:0', task: 'mmlu', question: 'What is 2 + 2?', gold: 'B', choices: ['3', '4', '5', '22'], source: { file, row: 1 } },
      { id: 'mmlu:astronomy:0', task: 'mmlu', question: 'Which planet is known as the red planet?', gold: 'C', choices: ['Venus', 'Jupiter', 'Mars', 'Saturn'], source: { file, row: 2 } },
    ]);
    const astro = await loadMmlu(path.join(FIXTURES, 'mmlu-mini.parquet'), { subjects: ['astronomy'] });
    expect(astro.problems.map((p) => p.gold)).toEqual(['C']);
  });

  test('a missing path is an Error naming it', async () => {
    await expect(loadMmlu('no/such/mmlu')).rejects.toThrow('no/such/mmlu');
  });
});

describe('synthetic', () => {
  test('deterministic for a seed; different seeds differ', () => {
    const a = makeSyntheticProblems({ count: 50, seed: 7 });
    expect(makeSyntheticProblems({ count: 50, seed: 7 })).toEqual(a);
    expect(makeSyntheticProblems({ count: 50, seed: 8 })).not.toEqual(a);
    expect(a[0].id).toBe('synthetic:7:0');
    // A prefix of a longer run is the shorter run.
    expect(makeSyntheticProblems({ count: 10, seed: 7 })).toEqual(a.slice(0, 10));
  });

  test('gold is the value of the expression (JS precedence), and the solution grades as correct', () => {
    for (const p of makeSyntheticProblems({ count: 200, seed: 3, maxOps: 4 })) {
      const expression = /^What is (.*)\?$/.exec(p.question)![1];
      expect(expression).toMatch(/^\d+( [-+*] \d+)+$/);
      expect(String(Function(`return ${expression}`)())).toBe(p.gold);
      expect(grade('synthetic', p.solution!, p.gold)).toMatchObject({ correct: true, formatOk: true });
    }
  });

  test('solution: products first, then left to right, one operation per line', () => {
    expect(solveExpression([2, 3, 4, 5], ['+', '*', '-'])).toEqual({ value: 9, solution: '3 * 4 = 12\n2 + 12 = 14\n14 - 5 = 9\n#### 9' });
  });

  test('difficulty knobs: operator count, operand range, operator set', () => {
    const ps = makeSyntheticProblems({ count: 300, seed: 1, minOps: 2, maxOps: 3, maxValue: 9, ops: ['+', '*'] });
    const opCounts = new Set<number>();
    for (const p of ps) {
      const tokens = /^What is (.*)\?$/.exec(p.question)![1].split(' ');
      const ops = tokens.filter((_, i) => i % 2 === 1);
      const operands = tokens.filter((_, i) => i % 2 === 0).map(Number);
      opCounts.add(ops.length);
      expect(ops.every((o) => o === '+' || o === '*')).toBe(true);
      expect(operands.every((v) => v >= 1 && v <= 9)).toBe(true);
    }
    expect([...opCounts].sort()).toEqual([2, 3]);
    const easy = makeSyntheticProblems({ count: 20, seed: 1, minOps: 1, maxOps: 1, maxValue: 1, ops: ['+'] });
    expect(easy.every((p) => p.question === 'What is 1 + 1?' && p.gold === '2')).toBe(true);
  });

  test('bad options are RangeErrors that name the option', () => {
    expect(() => makeSyntheticProblems({ count: -1, seed: 1 })).toThrow(/count must be an integer >= 0/);
    expect(() => makeSyntheticProblems({ count: 1, seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(() => makeSyntheticProblems({ count: 1, seed: 1, minOps: 3, maxOps: 2 })).toThrow(/maxOps \(2\) must be >= minOps \(3\)/);
    expect(() => makeSyntheticProblems({ count: 1, seed: 1, ops: ['/' as never] })).toThrow(/ops must be/);
    expect(() => makeSyntheticProblems({ count: 1, seed: 1, maxValue: 0 })).toThrow(/maxValue/);
  });
});
