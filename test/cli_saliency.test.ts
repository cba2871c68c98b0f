// The `saliency` command end to end on CPU: a tiny random Llama with the tiny-arith tokenizer, synthetic completions,
// the JSONL results and the HTML view (rendered in headless Chromium).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';

import { rowPromptIds, runSaliencyCommand } from '../src/cli/saliency';
import type { SaliencyCommandSummary } from '../src/cli/saliency';
import { resolveConfig } from '../src/config';
import { Problem, buildPromptIds, makeSyntheticProblems } from '../src/data';
import { Tokenizer } from '../src/llm/tokenizer';
import { train } from '../src/train/trainer';
import { promptIdsOf } from '../src/train/rollout';
import { colourStats, readPng, screenshot } from './browser';
import { writeTinyLlama } from './llama_helpers';

const TOKENIZER_DIR = path.join(__dirname, '..', 'models', 'tiny-arith');
const N_GOOD = 6;

let dir: string;
let modelDir: string;
let input: string;
let outDir: string;
let log = '';
let summary: SaliencyCommandSummary;
let rows: Record<string, unknown>[];

function collector(): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      log += chunk.toString();
      done();
    },
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-cli-sal-'));
  modelDir = writeTinyLlama(path.join(dir, 'model'), { vocab: 104, config: { max_position_embeddings: 512 } });
  for (const f of fs.readdirSync(TOKENIZER_DIR)) fs.copyFileSync(path.join(TOKENIZER_DIR, f), path.join(modelDir, f));

  const problems = makeSyntheticProblems({ count: N_GOOD, seed: 3, minOps: 2, maxOps: 3 });
  const lines = problems.map((p, i) =>
    JSON.stringify({
      id: p.id,
      task: 'synthetic',
      prompt: p.question,
      completion: p.solution,
      // The last one gets a wrong gold answer: graded incorrect, so its reward must be 0.
      gold: i === N_GOOD - 1 ? String(Number(p.gold) + 1) : p.gold,
    }),
  );
  lines.push(JSON.stringify({ id: 'no-marker', task: 'synthetic', prompt: 'What is 2 + 2?', completion: '2 + 2 = 4', gold: '4' }));
  lines.push('{"id": "broken", "prompt": '); // not JSON: reported as unreadable, never a crash
  input = path.join(dir, 'completions.jsonl');
  fs.writeFileSync(input, lines.join('\n') + '\n');

  outDir = path.join(dir, 'out');
  summary = await runSaliencyCommand({ model: modelDir, input, out: outDir, steps: 3, batchSize: 4, device: 'cpu' }, { stream: collector() });
  rows = fs.readFileSync(summary.jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}, 60000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('saliency command', () => {
  test('writes one row per usable completion and reports the skipped ones', () => {
    expect(summary.written).toBe(N_GOOD);
    expect(rows).toHaveLength(N_GOOD);
    expect(summary.skipped.map((s) => s.id)).toEqual(['no-marker']);
    expect(summary.skipped[0].reason).toContain('####');
    expect(summary.unreadable).toBe(1);
    expect(log).toContain('no-marker');
    expect(log).toMatch(/wrote 6 completions/);
    expect(log).toMatch(/batch 2\/2 done/);
  });

  test('each row has the results, with s over exactly the chain of thought', () => {
    for (const r of rows) {
      for (const key of ['id', 'correct', 'reward', 'dependence', 'stats', 's', 'crucial', 'logpFull', 'logpSuppressCrucial', 'logpSuppressAll', 'lossCurve', 'spans'])
        expect(r).toHaveProperty(key);
      const spans = r.spans as { cotStart: number; cotEnd: number; answerStart: number; answerEnd: number };
      const s = r.s as number[];
      expect(spans.cotEnd - spans.cotStart).toBeGreaterThan(0);
      expect(s).toHaveLength(spans.cotEnd - spans.cotStart);
      expect(s.every((v) => v > 0 && v < 1)).toBe(true);
      expect(spans.answerEnd).toBeGreaterThan(spans.answerStart);
      expect(r.lossCurve as number[]).toHaveLength(3);
      expect(r.reward as number).toBeGreaterThanOrEqual(0);
      expect(r.reward as number).toBeLessThanOrEqual(1);
      expect(Number.isFinite(r.logpFull)).toBe(true);
      expect(r.crucial as number[]).toEqual(s.flatMap((v, j) => (v > 0.5 ? [j] : [])));
      const stats = r.stats as { meanS: number; fracCrucial: number; entropy: number };
      expect(stats.meanS).toBeCloseTo(s.reduce((a, v) => a + v, 0) / s.length, 5);
    }
  });

  test('grading: correct solutions are marked correct, the wrong gold gives correct false and reward 0', () => {
    expect(rows.slice(0, N_GOOD - 1).every((r) => r.correct === true)).toBe(true);
    const wrong = rows[N_GOOD - 1];
    expect(wrong.correct).toBe(false);
    expect(wrong.reward).toBe(0);
  });

  test('the HTML view renders in headless Chromium', async () => {
    const html = fs.readFileSync(summary.html, 'utf8');
    expect(html).toContain('<!DOCTYPE html>');
    for (const r of rows) expect(html).toContain(String(r.id));
    const png = path.join(dir, 'saliency.png');
    await screenshot(html, png);
    const image = readPng(png);
    expect(image.width).toBeGreaterThan(0);
    const stats = colourStats(image);
    expect(stats.distinct).toBeGreaterThan(10); // heat-map colours, text, the answer highlight
    expect(stats.nonBackground).toBeGreaterThan(0.01);
  }, 60000);
});

describe('saliency command with a custom answer format', () => {
  test('--answer-pattern locates the answer; without it the rows are skipped with the reason', async () => {
    const own = path.join(dir, 'own.jsonl');
    const rowsIn = [['What is 2 + 3?', '2 + 3 = 5\nAnswer: 5', '5'], ['What is 4 + 4?', '4 + 4 = 8\nAnswer: 8', '9']];
    fs.writeFileSync(own, rowsIn.map(([q, c, g], i) => JSON.stringify({ id: `own${i}`, task: 'custom', prompt: q, completion: c, gold: g })).join('\n') + '\n');
    const out = path.join(dir, 'out-own');
    const s = await runSaliencyCommand({ model: modelDir, input: own, out, steps: 2, batchSize: 4, device: 'cpu', answerPattern: 'Answer: (\\d+)' }, { stream: collector() });
    const got = fs.readFileSync(s.jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got.map((r) => [r.id, r.correct])).toEqual([['own0', true], ['own1', false]]);
    await expect(runSaliencyCommand({ model: modelDir, input: own, out: path.join(dir, 'out-own2'), steps: 2, device: 'cpu' }, { stream: collector() }))
      .rejects.toThrow(/no parsable '#### <answer>'/);
  }, 60000);
});

describe('saliency command errors', () => {
  test('a missing model directory is named', async () => {
    await expect(runSaliencyCommand({ model: path.join(dir, 'nope'), input, out: outDir })).rejects.toThrow(/--model .*nope.*no such directory/);
  });

  test('a missing input file is named', async () => {
    await expect(runSaliencyCommand({ model: modelDir, input: path.join(dir, 'missing.jsonl'), out: outDir })).rejects.toThrow(/--input .*missing\.jsonl.*not found/);
  });

  test('a bad option value is named', async () => {
    await expect(runSaliencyCommand({ model: modelDir, input, out: outDir, tau: 0 })).rejects.toThrow(/'saliency\.tau': got 0/);
  });
});

describe("saliency on train's own completions", () => {
  test('reads runs/<run>/completions.jsonl as train wrote it (task recorded, question, problem id), with the run\'s mask', async () => {
    const runsDir = path.join(dir, 'runs');
    const config = resolveConfig({
      file: 'configs/tiny-synthetic.yaml',
      overrides: { name: 'r', runsDir, device: 'cpu', grpo: { steps: 1, promptsPerStep: 2, numGenerations: 4 }, generation: { maxNewTokens: 24 }, saliency: { steps: 2 } },
    });
    const run = await train({ config, stream: collector() });
    const completions = path.join(run.runDir, 'completions.jsonl');
    const written = fs.readFileSync(completions, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(written.every((r) => r.task === 'synthetic' && typeof r.question === 'string' && typeof r.problem === 'string')).toBe(true);

    log = '';
    const out = path.join(dir, 'run-saliency');
    const s = await runSaliencyCommand({ model: 'models/tiny-arith', input: completions, out, batchSize: 8 }, { stream: collector() });
    expect(log).toContain(`the mask and task of ${path.join(run.runDir, 'config.yaml')}`);
    expect(s.rows).toBe(written.length);
    expect(s.written).toBeGreaterThan(0);
    expect(s.written + s.skipped.length).toBe(written.length);
    for (const k of s.skipped) expect(k.reason).not.toContain('needs'); // no row is missing a field train writes
    const rows = fs.readFileSync(s.jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of rows) {
      const source = written[(r.row as number) - 1];
      expect(r.id).toBe(source.problem);
      expect(r.correct).toBe(source.correct);
      expect((r.lossCurve as number[]).length).toBe(2); // the run's saliency.steps
    }
  }, 120000);

  test('the prompt is the one train sampled from: the same builder, hint and pinned date', () => {
    const tokDir = path.join(dir, 'dated-tokenizer');
    fs.mkdirSync(tokDir);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(TOKENIZER_DIR, f), path.join(tokDir, f));
    const cfgFile = path.join(tokDir, 'tokenizer_config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as { chat_template: string };
    cfg.chat_template = "{{ strftime_now('%Y-%m-%d') }}" + cfg.chat_template; // as Llama 3.x prints "Today Date"
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const tok = Tokenizer.fromDir(tokDir);

    const problem: Problem = { id: 'p', task: 'hinted', question: 'What is 1 + 2 + 3?', gold: '6', hint: '6' };
    const sampled = promptIdsOf(tok, problem);
    const row = { problem: 'p', task: 'hinted', question: problem.question, hint: '6', completion: '1 + 2 = 3\n3 + 3 = 6\n#### 6', gold: '6' };
    const ids = rowPromptIds(row, 'hinted', 'p', tok, 'chat', 1000).ids;
    expect(ids).toEqual(sampled);
    expect(tok.decode(ids)).toContain('2026-01-01');
    expect(buildPromptIds(tok, problem, { now: new Date('2030-06-15T12:00:00Z') })).not.toEqual(sampled); // the date is in the prompt
    expect(rowPromptIds({ ...row, hint: undefined }, 'hinted', 'p', tok, 'chat', 1000).ids).not.toEqual(sampled); // and so is the hint
  });
});
