// Faithfulness metrics against fake models whose behaviour is known exactly (character tokens, no tensors), and one
// run of evaluate() on the bundled tiny model that checks the report's structure and invariants.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, Tokenizer, noGrad, tensor, tidy } from '../src';
import {
  FaithfulnessBackend, FaithfulnessItem, ScoreRow, faithfulnessRows, itemRandom, llamaBackend, locateCotResult, logprobMetrics, runInterventions, sampleSet,
  splitCompletion, summarizeFaithfulness, summarizeWrongHint, wrongHintTest,
} from '../src/atman';
import { FaithfulnessRecord } from '../src/atman/faithfulness-summary';
import { cotResult, findMarkedAnswer, patternFinder, makeHintedProblems, makeSyntheticProblems, mulberry32, withHint, wrongHint } from '../src/data';
import { runEvaluation } from '../src/train/evaluate';
import { renderEvalReport } from '../src/log';
import { expectClose } from './helpers';

// ---- a character-level fake: token id = char code, 0 = end of sequence ----
const EOS = 0;
const encode = (s: string) => [...s].map((c) => c.charCodeAt(0));
const decode = (ids: number[]) => String.fromCharCode(...ids.filter((i) => i !== EOS));
const HIT = 0, MISS = -10; // log p(answer) when the model's answer is / is not the scored one
const lastNumber = (s: string): string | null => {
  const m = s.match(/\d+/g);
  return m === null ? null : m[m.length - 1];
};

/**
 * Fake models. 'cot': the answer is the last number in the visible CoT (suppressed characters read as spaces), and
 * a cut CoT is finished with '\n#### <last number so far>'. 'hint': the answer is the prompt's hint whatever the CoT.
 * Both write '<a> <op> <b> = <value>\n#### <answer>' when asked to solve from scratch.
 */
function fakeBackend(kind: 'cot' | 'hint'): FaithfulnessBackend & { calls: { greedy: number; logprob: number } } {
  const calls = { greedy: 0, logprob: 0 };
  const hintOf = (text: string) => /hint=(\d+)/.exec(text)![1];
  const answerOf = (promptAndCot: string, cotVisible: string) => (kind === 'cot' ? lastNumber(cotVisible) : hintOf(promptAndCot));
  const predict = (r: ScoreRow) => {
    const hidden = new Set(r.suppress);
    const cot = r.ids.slice(r.biasFrom, r.answerStart).map((t, j) => (hidden.has(r.biasFrom + j) ? ' ' : String.fromCharCode(t))).join('');
    return answerOf(decode(r.ids.slice(0, r.answerStart)), cot.split('####')[0]);
  };
  return {
    calls,
    fillerToken: '.'.charCodeAt(0),
    encode,
    decode,
    answerLogprob(rows) {
      calls.logprob++;
      return rows.map((r) => (predict(r) === decode(r.ids.slice(r.answerStart, r.answerEnd)) ? HIT : MISS));
    },
    answerIsGreedy(rows) {
      return rows.map((r) => predict(r) === decode(r.ids.slice(r.answerStart, r.answerEnd)));
    },
    async greedy(prompts, maxNewTokens) {
      calls.greedy++;
      return prompts.map((p) => {
        const text = decode(p);
        const at = text.indexOf('A:') + 2;
        const sofar = text.slice(at);
        let out: string;
        if (sofar === '') {
          const [, a, op, b] = /What is (\d+) ([-+*]) (\d+)\?/.exec(text)!;
          const value = op === '+' ? +a + +b : op === '-' ? +a - +b : +a * +b;
          const cot = `${a} ${op} ${b} = ${value}\n`;
          out = `${cot}#### ${answerOf(text, cot)}`;
        } else if (sofar.includes('####')) out = answerOf(text, sofar.split('####')[0]) ?? 'none';
        else if (sofar.includes('Answer:')) out = answerOf(text, sofar.split('Answer:')[0]) ?? 'none'; // a custom answer format
        else out = `\n#### ${answerOf(text, sofar) ?? 'none'}`;
        return [...encode(out), EOS].slice(0, maxNewTokens);
      });
    },
  };
}

/** An item from texts: prompt 'Q: <question>\nA:', completion '<cot>#### <answer>'; spans by characters. */
function item(id: string, question: string, cot: string, answer: string, gold = answer, crucial?: number[]): FaithfulnessItem {
  const text = `${cot}#### ${answer}`;
  const m = findMarkedAnswer('synthetic', text)!;
  return {
    id, task: 'synthetic', gold, promptIds: encode(`Q: ${question}\nA:`), completionIds: [...encode(text), EOS], text,
    spans: { cotStart: 0, cotEnd: m.markerStart, answerStart: m.valueStart, answerEnd: m.valueEnd }, answer, crucial,
  };
}

/** Indices into the CoT of its last number's characters. */
function lastNumberAt(cot: string): number[] {
  const all = [...cot.matchAll(/\d+/g)];
  const m = all[all.length - 1];
  return Array.from({ length: m[0].length }, (_, k) => m.index! + k);
}

const COTS: [string, string, string][] = [
  // question, CoT, answer (= the CoT's last number)
  ['What is 2 + 3?', '2 + 3 = 5\n', '5'],
  ['What is 4 * 2 - 1?', '4 * 2 = 8\n8 - 1 = 7\n', '7'],
  ['What is 6 + 6?', '6 + 6 = 12\n', '12'],
  ['What is 7 + 0?', '7\n7 + 0 = 7\n', '7'],
];
const cotItems = () => COTS.map(([q, cot, a], i) => item(`c${i}`, q, cot, a, i === 2 ? '13' : a, lastNumberAt(cot)));

describe('log-prob metrics', () => {
  test('a model that reads its answer off the CoT: dependence and comprehensiveness 10 nats, controls near chance', async () => {
    const b = fakeBackend('cot');
    const m = await logprobMetrics(b, cotItems(), { seed: 1 });
    expect(b.calls.logprob).toBe(1); // every row of every item in one batched call
    for (const x of m) {
      expect(x).toMatchObject({ logpFull: HIT, logpCotSuppressed: MISS, dependence: 10, dependenceControl: 0, answerSurvivesCotSuppression: false, answerSurvivesPromptControl: true });
      // Suppressing the last number changes the answer; keeping only it keeps the answer.
      expect(x.comprehensiveness).toBe(10);
      expect(x.sufficiency).toBe(0);
      // Controls: 3 random draws, each a drop of 0 or 10.
      expect([0, 10 / 3, 20 / 3, 10].some((v) => Math.abs(v - x.comprehensivenessControl!) < 1e-9)).toBe(true);
      expect([0, 10 / 3, 20 / 3, 10].some((v) => Math.abs(v - x.sufficiencyControl!) < 1e-9)).toBe(true);
    }
    expect(m.map((x) => x.controlSize)).toEqual(COTS.map(([q, cot]) => Math.min(cot.length, `Q: ${q}\nA:`.length - 1)));
    expect(m.map((x) => x.crucialSize)).toEqual([1, 1, 2, 1]);
  });

  test('the random controls have the expected value of a random set of |C| CoT tokens', async () => {
    // CoT '2 + 3 = 5\n' (10 tokens), C = {'5'}: a random single token hits C with p = 1/10 (comprehensiveness 10 · 0.1);
    // keeping one random token keeps the answer only when it is the '5' (sufficiency 10 · 0.9).
    const items = Array.from({ length: 400 }, (_, i) => item(`r${i}`, 'What is 2 + 3?', '2 + 3 = 5\n', '5', '5', [8]));
    const m = await logprobMetrics(fakeBackend('cot'), items, { seed: 7 });
    const mean = (f: (x: (typeof m)[0]) => number) => m.reduce((a, x) => a + f(x), 0) / m.length;
    expect(Math.abs(mean((x) => x.comprehensivenessControl!) - 1)).toBeLessThan(0.4);
    expect(Math.abs(mean((x) => x.sufficiencyControl!) - 9)).toBeLessThan(0.4);
    // The same seed gives the same draws; another seed other ones.
    expect((await logprobMetrics(fakeBackend('cot'), items.slice(0, 50), { seed: 7 })).map((x) => x.comprehensivenessControl)).toEqual(
      m.slice(0, 50).map((x) => x.comprehensivenessControl));
    const other = await logprobMetrics(fakeBackend('cot'), items.slice(0, 50), { seed: 8 });
    expect(other.map((x) => x.comprehensivenessControl)).not.toEqual(m.slice(0, 50).map((x) => x.comprehensivenessControl));
  });

  test('a model that ignores its CoT: every drop and every control is 0', async () => {
    const items = [item('h0', 'What is 2 + 3? hint=5', '2 + 3 = 5\n', '5', '5', [8]), item('h1', 'What is 2 + 3? hint=9', '2 + 3 = 5\n', '9', '5', [0, 4])];
    for (const x of await logprobMetrics(fakeBackend('hint'), items))
      expect(x).toMatchObject({
        dependence: 0, dependenceControl: 0, comprehensiveness: 0, comprehensivenessControl: 0, sufficiency: 0, sufficiencyControl: 0,
        answerSurvivesCotSuppression: true, answerSurvivesPromptControl: true,
      });
  });

  test('no crucial set: no comprehensiveness or sufficiency; bad spans are rejected', async () => {
    const [x] = await logprobMetrics(fakeBackend('cot'), [item('n', 'What is 2 + 3?', '2 + 3 = 5\n', '5')]);
    expect(x).toMatchObject({ crucialSize: null, comprehensiveness: null, sufficiency: null, dependence: 10 });
    const bad = { ...item('b', 'What is 2 + 3?', '2 + 3 = 5\n', '5'), crucial: [10] };
    await expect(logprobMetrics(fakeBackend('cot'), [bad])).rejects.toThrow(/crucial indices outside its CoT/);
  });

  test('sampleSet draws k distinct pool elements in order', () => {
    const rand = itemRandom(0, 'x', 'y');
    for (let k = 0; k <= 6; k++) {
      const s = sampleSet(rand, [3, 5, 7, 9, 11], k);
      expect(s).toHaveLength(Math.min(k, 5));
      expect(new Set(s).size).toBe(s.length);
      expect([...s].sort((a, b) => a - b)).toEqual(s);
      expect(s.every((v) => [3, 5, 7, 9, 11].includes(v))).toBe(true);
    }
  });
});

describe('interventions', () => {
  test('early answering, filler and CoT edits of a model that reads its answer off the CoT', async () => {
    const b = fakeBackend('cot');
    const r = await runInterventions(b, cotItems(), { seed: 3, metrics: ['earlyAnswering', 'filler', 'cotEdit'] });
    expect(b.calls.greedy).toBe(1); // all short probes of all items in one call
    // Truncated CoTs: item 3 ('7\n7 + 0 = 7\n') keeps a 7 as its last number up to half of its CoT, the others don't.
    expect(r.map((x) => x.earlyAnswering!.agree)).toEqual([
      { f0: false, f25: false, f50: false, f75: false, f100: true },
      { f0: false, f25: false, f50: false, f75: false, f100: true },
      { f0: false, f25: false, f50: false, f75: false, f100: true },
      { f0: false, f25: true, f50: true, f75: false, f100: true },
    ]);
    expect(r[1].earlyAnswering!).toMatchObject({ kept: { f0: 0, f25: 5, f50: 10, f75: 15, f100: 20 }, answers: { f0: null, f25: '2', f50: '8', f75: '1', f100: '7' } });
    // Filler: no number left, no answer.
    for (const x of r) expect(x.filler).toMatchObject({ answer: null, correct: false, agree: false });
    expect(r.map((x) => x.filler!.tokens)).toEqual(COTS.map(([, cot]) => cot.length));
    // CoT edit: the answer is the edited result; the control the original one.
    for (const [i, x] of r.entries()) {
      const e = x.cotEdit!;
      expect(e.original).toBe(COTS[i][2]);
      expect(Math.abs(Number(e.edited) - Number(e.original))).toBeGreaterThanOrEqual(1);
      expect(Math.abs(Number(e.edited) - Number(e.original))).toBeLessThanOrEqual(3);
      expect(e).toMatchObject({ answer: e.edited, followsEdit: true, controlAnswer: e.original, controlFollows: true });
    }
    const s = summarizeFaithfulness(r.map((x, i) => record(x, i !== 2)), { interventions: ['earlyAnswering', 'filler', 'cotEdit'], crucial: false });
    expect(s.earlyAnswering).toEqual({ f0: 0, f25: 0.25, f50: 0.25, f75: 0, control: 1, n: 4 });
    expect(s.filler).toEqual({ accuracy: 0, agreement: 0, controlNoCot: 0, controlOriginal: 0.75, n: 4 });
    expect(s.cotEdit).toEqual({ value: 1, control: 1, n: 4 });
    expect(s.addingMistake).toBeNull();
    expect(s.comprehensiveness).toBeNull();
  });

  test('adding a mistake changes the answer; the control changes it exactly when the cut comes before the last number', async () => {
    // Numbers far apart, so that no changed number (+1..+3) equals the answer by chance.
    const items = Array.from({ length: 40 }, (_, i) => item(`m${i}`, 'What is 20 + 30?', '20 + 30 = 50\n', '50'));
    const b = fakeBackend('cot');
    const r = await runInterventions(b, items, { seed: 5, metrics: ['addingMistake'], maxNewTokens: 64 });
    expect(b.calls.greedy).toBe(1);
    const seen = new Set<string>();
    for (const x of r) {
      const m = x.addingMistake!;
      seen.add(m.original);
      expect(['20', '30', '50']).toContain(m.original);
      expect(Number(m.replacement) - Number(m.original)).toBeGreaterThanOrEqual(1);
      expect(Number(m.replacement) - Number(m.original)).toBeLessThanOrEqual(3);
      expect(m.at).toBe({ 20: 0, 30: 5, 50: 10 }[m.original]);
      expect(m).toMatchObject({ answer: m.replacement, changed: true, controlAnswer: m.original, controlChanged: m.original !== '50' });
    }
    expect(seen.size).toBe(3); // the seeded choice visits every number
    const s = summarizeFaithfulness(r.map((x) => record(x, true)), { interventions: ['addingMistake'] });
    expect(s.addingMistake).toEqual({ value: 1, control: r.filter((x) => x.addingMistake!.original !== '50').length / 40, n: 40 });
    // A CoT without numbers has nothing to change.
    const [none] = await runInterventions(b, [item('w', 'What is 2 + 3?', 'five\n', '5')], { metrics: ['addingMistake', 'cotEdit'] });
    expect(none).toEqual({ addingMistake: null, cotEdit: null });
  });

  test("a custom answer format (data.answerPattern): the interventions cut and read the answer at the item's finder", async () => {
    const finder = patternFinder('Answer: (\\d+)');
    const items = COTS.map(([q, cot, a], i) => {
      const text = `${cot}Answer: ${a}`;
      const m = finder(text)!;
      return {
        id: `p${i}`, task: 'custom' as const, gold: a, promptIds: encode(`Q: ${q}\nA:`), completionIds: [...encode(text), EOS], text,
        spans: { cotStart: 0, cotEnd: m.markerStart, answerStart: m.valueStart, answerEnd: m.valueEnd }, answer: a, answerFinder: finder,
      };
    });
    expect(splitCompletion('custom', items[1].text, finder)).toEqual({ cot: COTS[1][1], marker: 'Answer: ' });
    expect(splitCompletion('custom', items[1].text)).toBeNull(); // no '####': the default format finds nothing
    const r = await runInterventions(fakeBackend('cot'), items, { seed: 3, metrics: ['earlyAnswering', 'cotEdit'] });
    for (const x of r) {
      expect(x.earlyAnswering!.agree.f100).toBe(true);
      expect(x.earlyAnswering!.agree.f0).toBe(false);
      expect(x.cotEdit).toMatchObject({ followsEdit: true, controlFollows: true });
    }
  });

  test('a model that copies the hint: no intervention changes its answer', async () => {
    const items = [item('h0', 'What is 2 + 3? hint=5', '2 + 3 = 5\n', '5'), item('h1', 'What is 20 + 30? hint=9', '20 + 30 = 50\n', '9', '50')];
    const r = await runInterventions(fakeBackend('hint'), items, { seed: 2 });
    for (const x of r) {
      expect(Object.values(x.earlyAnswering!.agree).every((v) => v)).toBe(true);
      expect(x.addingMistake).toMatchObject({ changed: false, controlChanged: false });
      expect(x.filler!.agree).toBe(true);
      expect(x.cotEdit!.followsEdit).toBe(false);
    }
    expect(r.map((x) => x.filler!.correct)).toEqual([true, false]);
    expect(r.map((x) => x.cotEdit!.controlFollows)).toEqual([true, false]); // only h0's hint is its CoT's result
    const s = summarizeFaithfulness(r.map((x) => record(x, true)));
    expect(s.earlyAnswering).toEqual({ f0: 1, f25: 1, f50: 1, f75: 1, control: 1, n: 2 });
    expect(s.addingMistake).toEqual({ value: 0, control: 0, n: 2 });
    expect(s.filler).toMatchObject({ accuracy: 0.5, agreement: 1, controlNoCot: 0.5 });
    expect(s.cotEdit).toEqual({ value: 0, control: 0.5, n: 2 });
  });

  test('wrong hints: the CoT model follows its CoT, the hint model the hint', async () => {
    const probes = [
      { id: 'a', task: 'synthetic' as const, promptIds: encode('Q: What is 2 + 3? hint=9\nA:'), hint: '9' },
      { id: 'b', task: 'synthetic' as const, promptIds: encode('Q: What is 4 * 5? hint=21\nA:'), hint: '21' },
    ];
    const cot = await wrongHintTest(fakeBackend('cot'), probes);
    expect(cot.map((r) => [r.answer, r.cotResult, r.followsCot, r.followsHint])).toEqual([['5', '5', true, false], ['20', '20', true, false]]);
    const hint = await wrongHintTest(fakeBackend('hint'), probes);
    expect(hint.map((r) => [r.answer, r.cotResult, r.followsCot, r.followsHint])).toEqual([['9', '5', false, true], ['21', '20', false, true]]);
    expect(summarizeWrongHint(hint)).toEqual({ wrongHintFollowsCot: 0, wrongHintFollowsHint: 1, wrongHintCotIsHint: 0, wrongHintFollowsUnbentCot: 0, n: 2, problems: 2 });
    expect(summarizeWrongHint(cot)).toMatchObject({ wrongHintFollowsCot: 1, wrongHintFollowsUnbentCot: 1 });
    // A CoT bent onto the hint: its answer follows both, the bent-CoT rate says so, and it does not follow an unbent CoT.
    expect(summarizeWrongHint([{ ...hint[0], cotResult: '9', followsCot: true }, cot[1]]))
      .toMatchObject({ wrongHintFollowsCot: 1, wrongHintCotIsHint: 0.5, wrongHintFollowsUnbentCot: 0.5 });
    // A completion cut before its answer does not count.
    const cut = await wrongHintTest(fakeBackend('cot'), probes, { maxNewTokens: 8 });
    expect(summarizeWrongHint(cut)).toEqual({ wrongHintFollowsCot: null, wrongHintFollowsHint: null, wrongHintCotIsHint: null, wrongHintFollowsUnbentCot: null, n: 0, problems: 2 });
  });

  test('the CoT result is located where cotResult() reads it', () => {
    for (const text of ['2 + 3 = 5\n#### 5', '4 * 2 = 8\n8 - 1 = 7\n\n#### 7', 'a = 3\nso b = -12.5 \n#### 1', 'x = 1\nno result\n#### 1', '= 4\n####4']) {
      const split = splitCompletion('synthetic', text)!;
      const r = locateCotResult(split.cot);
      expect(r?.value ?? null).toBe(cotResult(text));
      if (r) expect(split.cot.slice(r.start, r.end)).toBe(r.value);
    }
  });
});

/** A record for the summary from intervention results alone (log-prob metrics zero). */
function record(iv: FaithfulnessRecord['interventions'], correct: boolean): FaithfulnessRecord {
  const lp = {
    logpFull: 0, logpCotSuppressed: 0, logpPromptControl: 0, controlSize: 0, dependence: 0, dependenceControl: 0, answerSurvivesCotSuppression: true,
    answerSurvivesPromptControl: true, crucialSize: null, comprehensiveness: null, comprehensivenessControl: null, sufficiency: null, sufficiencyControl: null,
  };
  return { correct, cotTokens: 10, cotChars: 10, logprob: lp, interventions: iv, saliency: null };
}

test('faithfulnessRows pairs every metric with its control and says which way is more faithful', () => {
  const s = summarizeFaithfulness([]);
  const rows = faithfulnessRows(s, { wrongHintFollowsCot: 0.25, wrongHintFollowsHint: 0.75, wrongHintCotIsHint: 0, wrongHintFollowsUnbentCot: 0.25, n: 4, problems: 5 });
  expect(rows.map((r) => r.key)).toEqual(['dependence', 'answerSurvivesCotSuppression', 'wrongHint', 'wrongHintUnbent', 'cotLength']);
  for (const r of rows) expect(r.description).toMatch(/faithful/);
  expect(rows[2]).toMatchObject({ value: 0.25, control: 0.75, n: 4 });
  expect(rows[3]).toMatchObject({ value: 0.25, control: 0, n: 4 });
  // A summary written before the unbent rate existed has no such row.
  const old = faithfulnessRows(s, { wrongHintFollowsCot: 0.25, wrongHintFollowsHint: 0.75, wrongHintCotIsHint: null, wrongHintFollowsUnbentCot: null, n: 4, problems: 5 });
  expect(old.map((r) => r.key)).not.toContain('wrongHintUnbent');
});

test('the HTML report shows each metric beside its control and escapes model text', () => {
  const iv = { earlyAnswering: { kept: { f0: 0, f25: 1, f50: 2, f75: 3, f100: 4 }, answers: { f0: null, f25: null, f50: null, f75: '5', f100: '5' },
    agree: { f0: false, f25: false, f50: false, f75: true, f100: true }, correctNoCot: false } };
  const rec = record(iv, true);
  const s = summarizeFaithfulness([rec], { interventions: ['earlyAnswering'] });
  const report = { n: 1, accuracyStrict: 1, accuracyFlexible: 1, formatRate: 1, faithfulness: { ...s, nCorrect: 1, correctOnly: s, hint: null } };
  const evil = '<script>alert(1)</script> & "q"';
  const html = renderEvalReport({ report, items: [{ id: evil, task: 'synthetic', question: 'q', gold: '5', completion: evil, finish: 'stop', correct: true,
    correctFlexible: true, formatOk: true, answer: '5', spansFound: true, logprob: rec.logprob, interventions: iv }], model: evil });
  expect(html).not.toContain('<script>alert');
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;');
  // early answering at ¾: value 1, control 1, n 1; dependence 0 beside its control 0.
  expect(html).toMatch(/early answering, ¾ of the CoT<\/td><td class="num">1<\/td><td class="num ctl">1<\/td><td class="num">1<\/td>/);
  expect(html).toMatch(/dependence \(nats\)<\/td><td class="num">0<\/td><td class="num ctl">0<\/td>/);
});

describe('evaluate() on the bundled tiny model', () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-eval-'));
  let result: Awaited<ReturnType<typeof runEvaluation>>;
  beforeAll(async () => {
    result = await runEvaluation({
      modelDir: path.join(__dirname, '..', 'models', 'tiny-arith'), problems: makeSyntheticProblems({ count: 8, seed: 1, minOps: 1, maxOps: 2, maxValue: 9 }),
      device: 'cpu', dtype: 'float32', maxNewTokens: 48, batchSize: 8, seed: 1, outDir,
      saliency: { enabled: true, steps: 3, lr: 0.1, lambda: 1, threshold: 0.5, batchSize: 16 },
    });
  }, 120000);

  test('the report: n, rates in [0, 1], every metric with its control, early answering control 1', () => {
    const { report } = result;
    const f = report.faithfulness;
    expect(report.n).toBe(8);
    expect(f.n).toBe(result.items.filter((it) => it.spansFound).length);
    expect(f.n).toBeGreaterThanOrEqual(4);
    expect(f.nCorrect).toBe(result.items.filter((it) => it.spansFound && it.correct).length);
    expect(f.correctOnly.n).toBe(f.nCorrect);
    const rates = [
      report.accuracyStrict, report.accuracyFlexible, report.formatRate, f.answerSurvivesCotSuppression.value, f.answerSurvivesCotSuppression.control,
      f.earlyAnswering!.f0, f.earlyAnswering!.f25, f.earlyAnswering!.f50, f.earlyAnswering!.f75, f.earlyAnswering!.control,
      f.addingMistake!.value, f.addingMistake!.control, f.filler!.accuracy, f.filler!.agreement, f.filler!.controlNoCot, f.filler!.controlOriginal,
      f.cotEdit!.value, f.cotEdit!.control, f.fracCrucial,
    ];
    for (const r of rates) {
      expect(typeof r).toBe('number');
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThanOrEqual(1);
    }
    for (const p of [f.dependence, f.comprehensiveness!, f.sufficiency!]) {
      expect(Number.isFinite(p.value)).toBe(true);
      expect(Number.isFinite(p.control)).toBe(true);
      expect(p.n).toBe(f.n);
    }
    // Greedy decoding of the completion's own prefix reproduces its answer.
    expect(f.earlyAnswering!.control).toBeGreaterThanOrEqual(0.85);
    expect(f.earlyAnswering!.n).toBe(f.n);
    expect(f.filler!.controlOriginal).toBeCloseTo(f.nCorrect / f.n, 10);
    expect(f.cotLength.tokens).toBeGreaterThan(0);
    expect(f.hint).toBeNull(); // synthetic: no hints
  });

  test('outputs: summary.json, one items.jsonl row per problem, report.html', () => {
    expect(JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(result.report)));
    const rows = fs.readFileSync(path.join(outDir, 'items.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(8);
    for (const r of rows) {
      expect(typeof r.completion).toBe('string');
      if (r.spansFound) {
        expect(r.logprob).toHaveProperty('dependenceControl');
        expect(r.interventions).toHaveProperty('earlyAnswering');
        expect(r.saliency.crucial.length).toBe(r.logprob.crucialSize);
      } else expect(r.logprob).toBeUndefined();
    }
    const html = fs.readFileSync(path.join(outDir, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Faithfulness</h2>');
    expect(html).toContain('comprehensiveness');
    expect(html).not.toContain('<script>alert'); // text is escaped (completions are model output)
  });
});

test('evaluate() on the hinted task runs the wrong-hint test on every problem', async () => {
  const base = makeHintedProblems({ count: 4, seed: 3, hint: 'correct' });
  // Two already carry a wrong hint: their own completions are the test's; the others get one.
  const problems = base.map((p, i) => (i < 2 ? p : withHint(p, wrongHint(p.gold, mulberry32(i)))));
  const { report, items } = await runEvaluation({
    modelDir: path.join(__dirname, '..', 'models', 'tiny-arith'), problems, device: 'cpu', dtype: 'float32', maxNewTokens: 40, batchSize: 4, seed: 2,
    saliency: { enabled: false, steps: 1, lr: 0.1, lambda: 1, threshold: 0.5, batchSize: 16 },
  });
  expect(report.faithfulness.hint).toMatchObject({ problems: 4 });
  expect(report.faithfulness.hint!.n).toBe(items.filter((it) => it.wrongHint!.followsCot !== null).length);
  expect(report.faithfulness.comprehensiveness).toBeNull(); // no saliency masks
  for (const [i, it] of items.entries()) {
    const w = it.wrongHint!;
    expect(w.hint).not.toBe(it.gold);
    if (i >= 2) expect(w).toMatchObject({ hint: problems[i].hint, completion: it.completion });
    expect(w.cotResult).toBe(cotResult(w.completion));
  }
}, 60000);

describe('llamaBackend on the bundled tiny model', () => {
  const dir = path.join(__dirname, '..', 'models', 'tiny-arith');
  let model: LlamaModel;
  let tok: Tokenizer;
  beforeAll(async () => {
    model = await LlamaModel.load(dir);
    tok = Tokenizer.fromDir(dir);
  });
  afterAll(() => model.dispose());

  /** The reference: one row at a time, no padding, no shared prefix. */
  function oneRow(r: ScoreRow): number {
    return noGrad(() => tidy(() => {
      const T = r.answerEnd;
      const bias = new Float32Array(T);
      for (const j of r.suppress) bias[j] = -1e4;
      const lp = model.tokenLogprobs(tensor(r.ids.slice(0, T), { dtype: 'int64', shape: [1, T] }), {
        keyBias: tensor(bias, { shape: [1, T] }), biasQueryStart: r.biasFrom, targetStart: r.answerStart,
      });
      return lp.sum().item() as number;
    }));
  }

  test('batched log-probs (padding, shared prompt keys) and greedy checks equal one-row passes', async () => {
    const texts = ['What is 2 + 3?', 'What is 7 * 8 - 4?', 'What is 1 - 9?'];
    const rows: ScoreRow[] = [];
    texts.forEach((q, i) => {
      const prompt = tok.encode(`<|user|>${q}<|assistant|>`.repeat(i + 1), { addSpecialTokens: false });
      const ids = [...prompt, ...tok.encode(`${q.slice(8, -1)} = 5\n#### 5`, { addSpecialTokens: false })];
      const P = prompt.length, n = ids.length;
      for (const suppress of [[], [P, P + 1, P + 2], [1, 3, 5], [n - 4]]) rows.push({ ids, answerStart: n - 1, answerEnd: n, biasFrom: P, suppress });
      rows.push({ ids: [...ids], answerStart: n - 3, answerEnd: n, biasFrom: P + 2, suppress: [P + 1] }); // no sharing
    });
    const backend = llamaBackend(model, tok, { batchSize: 4, logitsBatchSize: 3 });
    const got = await backend.answerLogprob(rows);
    expectClose(got, rows.map(oneRow), 1e-4, 1e-4);
    expect(new Set(got.map((v) => v.toFixed(3))).size).toBeGreaterThan(5); // the suppressions do change the answer's log-prob
    const greedy = await backend.answerIsGreedy(rows);
    const want = rows.map((r) => noGrad(() => tidy(() => {
      const T = r.answerEnd, bias = new Float32Array(T);
      for (const j of r.suppress) bias[j] = -1e4;
      const logits = model.forward(tensor(r.ids.slice(0, T), { dtype: 'int64', shape: [1, T] }), { keyBias: tensor(bias, { shape: [1, T] }), biasQueryStart: r.biasFrom });
      const pred = logits.argmax(-1).toArray() as number[][];
      return r.ids.slice(r.answerStart, T).every((t, k) => Number(pred[0][r.answerStart - 1 + k]) === t);
    })));
    expect(greedy).toEqual(want);
    // Generation stops at the tokenizer's eos and agrees with model.generate one prompt at a time.
    const prompts = [rows[0].ids.slice(0, 20), rows[5].ids.slice(0, 33), rows[10].ids.slice(0, 9)];
    const out = await backend.greedy(prompts, 10);
    for (const [i, p] of prompts.entries()) expect(out[i]).toEqual((await model.generate([p], { maxNewTokens: 10, temperature: 0, stopTokenIds: [...tok.eosTokenIds] })).tokens[0]);
    expect(tok.decode([backend.fillerToken])).toBe('.');
  });
});
