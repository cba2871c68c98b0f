// Token spans of completions (CoT before '####', the answer after it) on the Llama 3.2 BPE tokenizer and on the
// tiny character-level one; prompts rendered through both chat templates.
import { buildPromptIds, locateSpans, makeSyntheticProblems, Problem, systemPrompt, TASK_NAMES, TaskName, userMessage } from '../src/data';
import { Tokenizer } from '../src/llm/tokenizer';

const llama = Tokenizer.fromDir('../shared/models/llama-3.2-3b-instruct');
const tiny = Tokenizer.fromDir('models/tiny-arith');

// The decoded CoT and answer spans of a completion text (special tokens written inline, as generation gives them).
function spanTexts(tok: Tokenizer, completion: string, task: TaskName): [string, string] | null {
  const ids = tok.encode(completion, { addSpecialTokens: false });
  const s = locateSpans(tok, ids, task);
  if (s === null) return null;
  expect(s.cotStart).toBe(0);
  expect(s.cotEnd).toBeGreaterThan(0);
  expect(s.cotEnd).toBeLessThanOrEqual(s.answerStart);
  expect(s.answerStart).toBeLessThan(s.answerEnd);
  expect(s.answerEnd).toBeLessThanOrEqual(ids.length);
  return [tok.decode(ids.slice(s.cotStart, s.cotEnd)), tok.decode(ids.slice(s.answerStart, s.answerEnd))];
}

describe('locateSpans on Llama 3.2', () => {
  test.each<[string, TaskName, [string, string]]>([
    ['Janet sells 16 - 3 - 4 = 9 duck eggs.\nShe makes 9 * 2 = $18.\n#### 18<|eot_id|>', 'gsm8k', ['Janet sells 16 - 3 - 4 = 9 duck eggs.\nShe makes 9 * 2 = $18.\n', '18']],
    // the answer's first token ' $' straddles the space after the marker
    ['It costs $1,234.50.\n#### $1,234.50<|eot_id|>', 'gsm8k', ['It costs $1,234.50.\n', ' $1,234.50']],
    ['It drops.\n#### -3\n<|eot_id|>', 'gsm8k', ['It drops.\n', ' -3']], // ' -' is one token
    // ' ####' straddles the space before the marker: that token is not CoT
    ['The answer is 5 #### 5', 'gsm8k', ['The answer is 5', '5']],
    ['So 7 apples.####7', 'synthetic', ['So 7 apples.', '7']],
    // '☕' is split over two byte-level tokens before the marker
    ['Café ☕ 🙂\n#### 7\n<|eot_id|>', 'gsm8k', ['Café ☕ 🙂\n', '7']],
    ['Mars is red.\n#### (B)<|eot_id|>', 'mmlu', ['Mars is red.\n', 'B']],
    ['Mars is red.\n#### C<|eot_id|>', 'mmlu', ['Mars is red.\n', ' C']],
    // the strict answer is the first marker's, so the CoT ends there
    ['a\n#### 4\nb\n#### 5', 'gsm8k', ['a\n', '4']],
  ])('%j', (completion, task, expected) => {
    expect(spanTexts(llama, completion, task)).toEqual(expected);
  });

  test("the equations' results: the tokens of each number after an '=', inside the CoT", () => {
    const ids = llama.encode('Janet sells 16 - 3 - 4 = 9 duck eggs.\nShe makes 9 * 2 = $18.\nSo x=-1,250.5 and y = 7\n#### 18<|eot_id|>', { addSpecialTokens: false });
    const s = locateSpans(llama, ids, 'gsm8k')!;
    // Llama 3 writes the space before a digit as its own token, and '=-' as one (its result then includes the '=').
    expect(s.results!.map(([a, b]) => llama.decode(ids.slice(a, b)))).toEqual(['9', ' $18', '=-1,250.5', '7']);
    for (const [a, b] of s.results!) expect(0 < a && a < b && b <= s.cotEnd).toBe(true);
    expect(locateSpans(llama, llama.encode('No equations here.\n#### 3', { addSpecialTokens: false }), 'gsm8k')!.results).toEqual([]);
  });

  test('eos/eot and the trailing newline are outside the answer span', () => {
    const ids = llama.encode('Two.\n#### 2\n', { addSpecialTokens: false }).concat([llama.eotTokenId]);
    const s = locateSpans(llama, ids, 'gsm8k')!;
    expect(s.answerEnd).toBe(ids.length - 2);
    expect(llama.decode(ids.slice(s.answerEnd))).toBe('\n<|eot_id|>');
  });

  test.each<[string, TaskName]>([
    ['No marker, the answer is 18', 'gsm8k'],
    ['#### 18', 'gsm8k'], // empty CoT
    ['   \n#### 18', 'gsm8k'], // whitespace-only CoT
    ['Reasoning.\n#### eighteen', 'gsm8k'],
    ['Reasoning.\n#### E', 'mmlu'],
    ['', 'gsm8k'],
  ])('null for %j', (completion, task) => {
    expect(locateSpans(llama, llama.encode(completion, { addSpecialTokens: false }), task)).toBeNull();
  });

  test('a long completion: spans of a GSM8K-style text repeated many times', () => {
    const cot = 'Step: 12 * 3 = 36, and 36 + 4 = 40 apples in the basket.\n'.repeat(60);
    const ids = llama.encode(`${cot}#### 40<|eot_id|>`, { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(1000);
    const s = locateSpans(llama, ids, 'gsm8k')!;
    expect(llama.decode(ids.slice(0, s.cotEnd))).toBe(cot);
    expect(llama.decode(ids.slice(s.answerStart, s.answerEnd))).toBe('40');
  });

  test('bad token ids are an Error, not a crash', () => {
    expect(() => locateSpans(llama, [1, 2, 10 ** 9], 'gsm8k')).toThrow(/not a token id/);
    expect(() => locateSpans(llama, 'abc' as never, 'gsm8k')).toThrow(TypeError);
  });
});

describe('locateSpans on the tiny tokenizer', () => {
  test('spans are exact character positions', () => {
    for (const p of makeSyntheticProblems({ count: 30, seed: 5 })) {
      const completion = p.solution!;
      const ids = tiny.encode(completion, { addSpecialTokens: false }).concat([tiny.eosTokenId]);
      const s = locateSpans(tiny, ids, 'synthetic')!;
      const marker = completion.indexOf('####');
      const results = [...completion.slice(0, marker).matchAll(/= (-?\d+)/g)].map((m): [number, number] => [m.index! + 2, m.index! + m[0].length]);
      expect(results.length).toBeGreaterThan(0);
      expect(s).toEqual({ cotStart: 0, cotEnd: marker, answerStart: marker + 5, answerEnd: completion.length, results });
      expect(tiny.decode(ids.slice(s.answerStart, s.answerEnd))).toBe(p.gold);
    }
  });
});

describe('prompts', () => {
  const mmlu: Problem = { id: 'mmlu:astronomy:0', task: 'mmlu', question: 'Which planet is red?', gold: 'C', choices: ['Venus', 'Jupiter', 'Mars', 'Saturn'] };
  const gsm8k: Problem = { id: 'gsm8k:test:0', task: 'gsm8k', question: 'What is 2 + 2?', gold: '4' };

  test('system prompts ask for reasoning and the fixed final line', () => {
    for (const task of TASK_NAMES) {
      expect(systemPrompt(task)).toMatch(/step by step/);
      expect(systemPrompt(task)).toContain("'#### <");
    }
    expect(() => systemPrompt('nope' as never)).toThrow(TypeError);
  });

  test('user message: the question, plus lettered choices for MMLU', () => {
    expect(userMessage(gsm8k)).toBe('What is 2 + 2?');
    expect(userMessage(mmlu)).toBe('Which planet is red?\n\nA. Venus\nB. Jupiter\nC. Mars\nD. Saturn');
    expect(() => userMessage({ ...mmlu, choices: ['x'] })).toThrow(/needs 4 choices/);
  });

  test('Llama 3.2: the prompt renders through its chat template, ending with the open assistant header', () => {
    const ids = buildPromptIds(llama, mmlu, { now: new Date(2024, 6, 26) });
    expect(ids[0]).toBe(llama.bosTokenId);
    expect(llama.decode(ids)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
        'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' +
        `${systemPrompt('mmlu')}<|eot_id|>` +
        `<|start_header_id|>user<|end_header_id|>\n\n${userMessage(mmlu)}<|eot_id|>` +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  test('tiny-arith: the same problem through its template', () => {
    expect(tiny.decode(buildPromptIds(tiny, gsm8k))).toBe(`<|bos|><|system|>${systemPrompt('gsm8k')}<|end|><|user|>What is 2 + 2?<|end|><|assistant|>`);
  });
});
