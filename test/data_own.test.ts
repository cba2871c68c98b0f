// Your own data: column mapping (data.fields), conversational rows, data.systemPrompt, data.answerPattern and
// data.answerExtractor, the task inferred from data.path, skipped rows reported with their lines, a short first CSV
// row, and prompts too long for the model. Fixtures in test/fixtures/data/own.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { resolveConfig } from '../src/config';
import { buildPromptIds, grade, loadMmlu, locateSpans, patternFinder, promptMessages, systemPrompt } from '../src/data';
import { Tokenizer } from '../src/llm/tokenizer';
import { DataSection, dropOverlongPrompts, formatSkipped, loadProblems, skippedJson } from '../src/train/problems';
import { promptIdsOf } from '../src/train/rollout';

const OWN = 'test/fixtures/data/own';
const own = (name: string) => path.join(OWN, name);
const tiny = Tokenizer.fromDir('models/tiny-arith');

function data(over: Partial<DataSection>): DataSection {
  return {
    task: 'auto', path: null, limit: null, shuffle: false, mmluSubjects: null,
    synthetic: { count: 4, minOps: 1, maxOps: 2, maxValue: 9, ops: ['+', '-', '*'] },
    hinted: { count: 4, minOps: 3, maxOps: 4, maxValue: 9, hint: 'correct' },
    ...over,
  };
}

describe('column mapping (data.fields)', () => {
  test('JSONL with other column names; each skipped row has its line and reason', async () => {
    const set = await loadProblems(data({ task: 'custom', path: own('mapped.jsonl'), fields: { question: 'text', answer: 'target' } }), 0);
    expect(set.problems.map((p) => [p.question, p.gold, p.source])).toEqual([
      ['Tom has 3 apples and buys 4 more. How many apples does he have?', '7', { file: own('mapped.jsonl'), row: 1 }],
      ['What is the capital of France?', 'Paris', { file: own('mapped.jsonl'), row: 4 }],
    ]);
    expect(set.skipped).toBe(3);
    expect(set.errors.map((e) => e.row)).toEqual([2, 3, 5]);
    expect(set.errors[0].message).toBe("no question: 'text' (data.fields.question) must be a non-empty string or a list of {role, content} messages");
    expect(set.errors[1].message).toMatch(/^not valid JSON/);
    expect(set.errors[2].message).toMatch(/several lines and no '#### <answer>' line.*data.answerPattern/);
  });

  test('CSV with other headers, the task inferred (custom); a short row is skipped alone', async () => {
    const set = await loadProblems(data({ path: own('mapped.csv'), fields: { question: 'prompt_text', answer: 'label' } }), 0);
    expect(set.task).toBe('custom');
    expect(set.problems.map((p) => [p.question, p.gold, p.source!.row])).toEqual([
      ['What is 6 times 7?', '42', 2],
      ['How many legs do 2 cats have, in total?', '8', 4],
    ]);
    expect(set.errors).toEqual([{ row: 3, message: 'expected 2 fields (as the header), got 1', file: own('mapped.csv') }]);
  });

  test('parquet with other column names (an INT64 answer)', async () => {
    const set = await loadProblems(data({ task: 'custom', path: own('mapped.parquet'), fields: { question: 'problem_text', answer: 'final_answer' } }), 0);
    expect(set.problems.map((p) => p.gold)).toEqual(['42', '5']);
    expect(set.errors.map((e) => e.row)).toEqual([2]);
  });

  test('a mapped column the file does not have is an Error listing its columns', async () => {
    await expect(loadProblems(data({ task: 'custom', path: own('mapped.jsonl'), fields: { question: 'txt' } }), 0)).rejects.toThrow(
      "data.fields.question is 'txt', but test/fixtures/data/own/mapped.jsonl has no such column; its columns: uid, text, target",
    );
  });
});

describe('conversational rows (TRL prompt lists) and data.systemPrompt', () => {
  test('prompt messages are used as given; bad message lists are skipped with the reason', async () => {
    const set = await loadProblems(data({ path: own('conversational.jsonl') }), 0);
    expect(set.task).toBe('custom');
    expect(set.notes[0]).toMatch(/data.task auto: reading .*conversational.jsonl as 'custom' \(its rows have conversational prompts\)/);
    expect(set.problems.map((p) => [p.question, p.gold])).toEqual([['What is 2 + 3?', '5'], ['What is the capital of France?', 'Paris']]);
    expect(set.errors.map((e) => [e.row, e.message])).toEqual([
      [3, "the prompt's last message is 'assistant', not 'user' (the model answers the last user message)"],
      [4, 'the prompt is an empty list of messages'],
      [5, 'message 0 of the prompt is not {role: string, content: string}'],
    ]);
    expect(promptMessages(set.problems[0])).toEqual([{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is 2 + 3?' }]);
    expect(promptMessages(set.problems[1])).toEqual([{ role: 'user', content: 'What is the capital of France?' }]);
    expect(tiny.decode(buildPromptIds(tiny, set.problems[0]))).toBe('<|bos|><|system|>You are terse.<|end|><|user|>What is 2 + 3?<|end|><|assistant|>');
  });

  test("data.systemPrompt: added to rows without a system message; a row's own wins; '' means none", async () => {
    const conv = await loadProblems(data({ path: own('conversational.jsonl'), systemPrompt: 'Be brief.' }), 0);
    expect(promptMessages(conv.problems[0])[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(promptMessages(conv.problems[1])).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the capital of France?' }]);
    const synthetic = await loadProblems(data({ systemPrompt: 'Answer with a number.' }), 0);
    expect(promptMessages(synthetic.problems[0])[0]).toEqual({ role: 'system', content: 'Answer with a number.' });
    const none = await loadProblems(data({ systemPrompt: '' }), 0);
    expect(promptMessages(none.problems[0]).map((m) => m.role)).toEqual(['user']);
    const task = await loadProblems(data({}), 0);
    expect(promptMessages(task.problems[0])[0].content).toBe(systemPrompt('synthetic'));
  });
});

describe('the answer extractor: data.answerPattern and data.answerExtractor', () => {
  test('the config rejects a pattern that is not a regex or has no capture group', () => {
    const cfg = (answerPattern: string) => resolveConfig({ file: 'configs/tiny-synthetic.yaml', overrides: { data: { answerPattern } } });
    expect(() => cfg('ANSWER: \\w+')).toThrow(/has no capture group/);
    expect(() => cfg('(unclosed')).toThrow(/not a valid regular expression/);
    expect(cfg('ANSWER: (\\w+)').data.answerPattern).toBe('ANSWER: (\\w+)');
  });

  test('grading and format with a pattern (first match, group 1; numbers compared normalized; /source/flags)', () => {
    const finder = patternFinder('ANSWER: (\\w+)');
    expect(grade('custom', 'The capital is Paris.\nANSWER: Paris', 'Paris', finder)).toMatchObject({ correct: true, formatOk: true, strict: 'Paris' });
    expect(grade('custom', 'The capital is Paris.\nANSWER: Paris', 'Paris')).toMatchObject({ correct: false, strict: null });
    expect(grade('custom', 'so \\boxed{1,000}', '1000', patternFinder('\\\\boxed\\{([^}]*)\\}'))).toMatchObject({ correct: true, strict: '1000' });
    expect(grade('custom', 'work\nanswer: Paris', 'Paris', patternFinder('/ANSWER: (\\w+)/i')).correct).toBe(true);
    // Without a pattern the custom task reads the '#### ' line's text.
    expect(grade('custom', 'The capital of France.\n#### Paris.', 'Paris')).toMatchObject({ correct: true, formatOk: true });
  });

  test('the pattern also reads the gold out of a worked solution', async () => {
    const set = await loadProblems(data({ task: 'custom', path: own('boxed.jsonl'), answerPattern: '\\\\boxed\\{([^}]*)\\}', systemPrompt: 'Box the answer.' }), 0);
    expect(set.problems.map((p) => [p.gold, p.solution])).toEqual([['12', 'Three times four is \\boxed{12}.'], ['3', undefined]]);
    expect(set.errors.map((e) => e.row)).toEqual([3]);
    expect(set.notes).toEqual([]);
    expect(grade('custom', 'I get \\boxed{12}', set.problems[0].gold, set.problems[0].answerFinder).correct).toBe(true);
  });

  test('spans follow the pattern: the CoT ends where the match starts, the answer is the group', () => {
    const text = '3 + 4 = 7\nANSWER: 7';
    const ids = tiny.encode(text, { addSpecialTokens: false });
    const spans = locateSpans(tiny, ids, 'custom', patternFinder('ANSWER: (\\d+)'))!;
    expect(tiny.decode(ids.slice(spans.cotStart, spans.cotEnd))).toBe('3 + 4 = 7\n');
    expect(tiny.decode(ids.slice(spans.answerStart, spans.answerEnd))).toBe('7');
    expect(locateSpans(tiny, ids, 'custom')).toBeNull();
  });

  test('a JS module function, loaded as the reward plug-ins are; its errors name it', async () => {
    const set = await loadProblems(data({ path: own('conversational.jsonl'), answerExtractor: own('extract-answer.js') }), 0);
    const p = set.problems[1];
    expect(grade('custom', 'It is Paris.\nANSWER: Paris', p.gold, p.answerFinder)).toMatchObject({ correct: true, formatOk: true });
    expect(grade('custom', 'It is Paris.', p.gold, p.answerFinder).strict).toBeNull();
    // The extractor also reads the gold column, so a broken one fails while loading, before any model is loaded.
    await expect(loadProblems(data({ path: own('conversational.jsonl'), answerExtractor: `${own('extract-answer.js')}#broken` }), 0)).rejects.toThrow(
      /answer extractor .*#broken must return a string, a number or null, got object/,
    );
    await expect(loadProblems(data({ answerExtractor: own('nope.js') }), 0)).rejects.toThrow(/answer extractor module not found: .*nope.js/);
    await expect(loadProblems(data({ answerExtractor: own('extract-answer.js'), answerPattern: '(x)' }), 0)).rejects.toThrow(/one of data.answerPattern and data.answerExtractor/);
  });

  test('a pattern without data.systemPrompt is noted: the default prompt asks for ####', async () => {
    const set = await loadProblems(data({ answerPattern: 'ANSWER: (\\d+)' }), 0);
    expect(set.notes.join('\n')).toMatch(/data.systemPrompt is not/);
  });
});

describe('data.task inferred from data.path (never silently synthetic)', () => {
  test("GSM8K-shaped rows are gsm8k, an MMLU directory is mmlu, other rows custom, no path is synthetic", async () => {
    const gsm = await loadProblems(data({ path: own('gsm8k-shaped.jsonl') }), 0);
    expect([gsm.task, gsm.problems.map((p) => p.gold)]).toEqual(['gsm8k', ['7', '10', '5']]);
    expect(gsm.notes[0]).toMatch(/as 'gsm8k' \(its answers end in '#### <number>'\)/);
    expect((await loadProblems(data({ path: own('mmlu-short-first') }), 0)).task).toBe('mmlu');
    const csv = await loadProblems(data({ path: own('mmlu-short-first/astronomy_test.csv') }), 0);
    expect([csv.task, csv.problems.length, csv.skipped]).toEqual(['mmlu', 3, 1]);
    expect((await loadProblems(data({ path: own('long-prompt.jsonl') }), 0)).task).toBe('custom');
    expect((await loadProblems(data({}), 0)).task).toBe('synthetic');
  });

  test("the bundled config's data.task is auto: --data.path alone reads the file", async () => {
    const cfg = resolveConfig({ file: 'configs/tiny-synthetic.yaml', overrides: { data: { path: own('gsm8k-shaped.jsonl') } } });
    expect(cfg.data.task).toBe('auto');
    expect((await loadProblems(cfg.data, 0)).problems[0].id).toBe('gsm8k:gsm8k-shaped:0');
  });

  test('a generated task with a data.path is rejected, not silently generated', async () => {
    await expect(loadProblems(data({ task: 'synthetic', path: own('gsm8k-shaped.jsonl') }), 0)).rejects.toThrow(
      /data.path is set .*but data.task 'synthetic' generates its problems and reads no file: set data.task to 'auto'/,
    );
  });
});

describe('skipped rows are reported', () => {
  test('an MMLU CSV whose first row is short loses that row only', async () => {
    const dir = own('mmlu-short-first');
    const { problems, skipped, errors } = await loadMmlu(dir);
    expect(problems.map((p) => p.gold)).toEqual(['C', 'B', 'C']);
    expect(skipped).toBe(1);
    expect(errors).toEqual([{ row: 1, message: 'expected 6 fields, got 5', file: path.join(dir, 'astronomy_test.csv') }]);
  });

  test('the count, the first 20 lines with reasons, and the JSON field', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-own-'));
    try {
      const file = path.join(tmp, 'many.jsonl');
      fs.writeFileSync(file, [...Array.from({ length: 25 }, (_, i) => `{bad ${i}`), '{"question": "q", "answer": "1"}'].join('\n'));
      const set = await loadProblems(data({ path: file }), 0);
      const lines = formatSkipped(set, file);
      expect(lines[0]).toBe(`skipped 25 row(s) of ${file} (the first 20):`);
      expect(lines).toHaveLength(21);
      expect(lines[1]).toMatch(new RegExp(`^  ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: not valid JSON`));
      expect(lines[20]).toMatch(/:20: not valid JSON/);
      const json = skippedJson(set, file);
      expect(json.count).toBe(25);
      expect(json.rows.map((r) => r.row)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(json.rows[0]).toEqual({ file, row: 1, reason: expect.stringMatching(/^not valid JSON/) });
      expect(formatSkipped({ skipped: 0, errors: [] }, file)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('prompts longer than the model can take', () => {
  test('are skipped before generation, named by their line, with the numbers', async () => {
    const set = await loadProblems(data({ path: own('long-prompt.jsonl') }), 0);
    const fit = dropOverlongPrompts(set, (p) => promptIdsOf(tiny, p).length, 512, { tokens: 64, what: 'generation.maxNewTokens' });
    expect(fit.problems.map((p) => p.gold)).toEqual(['4', '6', '5']);
    expect(fit.skipped).toBe(2);
    expect(fit.errors.map((e) => [e.row, e.file])).toEqual([[2, own('long-prompt.jsonl')], [4, own('long-prompt.jsonl')]]);
    expect(fit.errors[0].message).toMatch(/^prompt too long: problem custom:long-prompt:1 has \d+ prompt tokens \+ 64 \(generation.maxNewTokens\) > the model's 512 positions/);
  });

  test('when every prompt is too long, an Error says what to change', async () => {
    const set = await loadProblems(data({ path: own('long-prompt.jsonl') }), 0);
    expect(() => dropOverlongPrompts(set, () => 600, 512, { tokens: 64, what: 'generation.maxNewTokens' })).toThrow(
      /every problem's prompt is too long for the model: .* Lower generation.maxNewTokens, shorten the prompts, or use a model with more positions/,
    );
  });
});
