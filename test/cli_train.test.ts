// The main job end to end on CPU with the bundled tiny model: run directory contents, TRL-named metrics, exact resume
// (a resumed run's metrics equal an uninterrupted run's), and Ctrl-C (checkpoint, exit code 130).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, Tokenizer } from '../src';
import { completionExample } from '../src/atman';
import { answerLogprobs } from '../src/atman/suppress';
import { readMetrics } from '../src/log';
import { promptIdsOf } from '../src/train/rollout';
import { TIMING_KEYS, train } from '../src/train/trainer';
import { expectSignalCheckpoint, tinyRunConfig } from './tiny_run';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-runs-'));
const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

const config = (name: string, steps: number) => tinyRunConfig(runsDir, name, steps, { checkpoint: { every: 2, keep: 2 }, logging: { reportEvery: 2 } });

const withoutTiming = (rows: Record<string, unknown>[]) =>
  rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMING_KEYS.test(k))));

test('train writes the run directory: config, metrics with TRL names, completions, report, checkpoints', async () => {
  const out = await train({ config: config('full', 4), stream: quiet });
  expect(out).toMatchObject({ stepsDone: 4, interrupted: false });
  const dir = out.runDir;
  for (const f of ['config.yaml', 'metrics.jsonl', 'completions.jsonl', 'report.html', 'latest']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
  const rows = readMetrics(path.join(dir, 'metrics.jsonl'));
  expect(rows.map((r) => r.step)).toEqual([1, 2, 3, 4]);
  for (const key of ['reward', 'reward_std', 'rewards/correct/mean', 'rewards/format/mean', 'rewards/saliency/mean', 'frac_reward_zero_std',
    'completions/mean_length', 'completions/clipped_ratio', 'clip_ratio/region_mean', 'entropy', 'loss', 'grad_norm', 'learning_rate',
    'saliency/count', 'time/generate', 'time/saliency', 'time/update', 'tokens_per_second'])
    expect(rows[3]).toHaveProperty([key]);
  expect(rows.every((r) => Number.isFinite(r.loss as number))).toBe(true);
  const completions = fs.readFileSync(path.join(dir, 'completions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(completions).toHaveLength(4 * 2 * 4);
  expect(completions[0]).toHaveProperty('completion');
  expect(fs.readFileSync(path.join(dir, 'latest'), 'utf8').trim()).toBe(path.join('checkpoints', 'step-000004'));
  expect(fs.readdirSync(path.join(dir, 'checkpoints')).sort()).toEqual(['step-000002', 'step-000004']); // keep: 2
  for (const f of ['COMPLETE', 'state.json', 'optimizer.safetensors', 'model/model.safetensors', 'model/config.json', 'model/tokenizer.json',
    'model/tokenizer_config.json'])
    expect(fs.existsSync(path.join(dir, 'checkpoints', 'step-000004', f))).toBe(true);
  await expect(train({ config: config('full', 4), stream: quiet })).rejects.toThrow(/already holds a run/);
}, 600000);

test('a run stopped after 2 steps and resumed has the metrics of the uninterrupted run', async () => {
  const first = await train({ config: config('resumed', 4), stopAfter: 2, stream: quiet });
  expect(first).toMatchObject({ stepsDone: 2, interrupted: true });
  // A crash after the checkpoint leaves a partly written line behind: resume drops it.
  fs.appendFileSync(path.join(first.runDir, 'metrics.jsonl'), '{"step": 3, "loss": 0.1');
  const second = await train({ config: config('resumed', 4), resume: true, stream: quiet });
  expect(second).toMatchObject({ stepsDone: 4, interrupted: false });
  const resumed = withoutTiming(readMetrics(path.join(second.runDir, 'metrics.jsonl')));
  const full = withoutTiming(readMetrics(path.join(runsDir, 'full', 'metrics.jsonl')));
  expect(resumed).toEqual(full);
}, 600000);

test('Ctrl-C writes a checkpoint and exits with 130', async () => {
  const args = ['dist/cli/main.js', 'train', '--name', 'sigint', '--device', 'cpu', '--json', '--runsDir', runsDir,
    '--grpo.steps', '50', '--grpo.promptsPerStep', '2', '--grpo.numGenerations', '4', '--generation.maxNewTokens', '24', '--saliency.steps', '3'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on('data', () => child.kill('SIGINT')); // after the first step's metrics line
    child.on('exit', (c) => resolve(c));
  });
  expect({ code, stderr: code === 130 ? '' : stderr }).toEqual({ code: 130, stderr: '' });
  expectSignalCheckpoint(path.join(runsDir, 'sigint'), 50);
}, 600000);

test('the confidence control reward: 1 − p(answer) on correct completions, logged as rewards/confidence', async () => {
  const cfg = config('confidence', 2);
  const out = await train({
    config: { ...cfg, saliency: { ...cfg.saliency, enabled: false }, rewards: { ...cfg.rewards, saliency: 0, confidence: 0.5 } },
    stream: quiet,
  });
  const rows = readMetrics(path.join(out.runDir, 'metrics.jsonl'));
  const completions = fs.readFileSync(path.join(out.runDir, 'completions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const c of completions) {
    const r = c.rewards.confidence as number;
    if (c.correct) expect(r).toBeGreaterThanOrEqual(0);
    else expect(r).toBe(0);
    expect(r).toBeLessThanOrEqual(1);
    // total = correct + 0.1 format + 0.5 confidence
    expect(c.reward).toBeCloseTo((c.correct ? 1 : 0) + 0.1 * (c.format ? 1 : 0) + 0.5 * r, 6);
  }
  expect(completions.some((c) => c.correct && c.rewards.confidence > 0)).toBe(true);
  expect(rows[1]).toHaveProperty(['rewards/confidence/mean']);
  expect(rows[1]).toHaveProperty(['completions/answer_is_cot_result']);
});

/** Two steps with a mask-free reward mode paid on every completion (scope all, weight 2): the run and its logged completions. */
async function maskFreeRun(name: string, rewardMode: 'cotCarried' | 'cotDerived') {
  const cfg = config(name, 2);
  // The configured mask steps are left on: a mask-free mode must skip the mask by itself.
  const out = await train({
    config: { ...cfg, saliency: { ...cfg.saliency, rewardMode, scope: 'all' }, rewards: { ...cfg.rewards, saliency: 2 } },
    stream: quiet,
  });
  const completions = fs.readFileSync(path.join(out.runDir, 'completions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { out, completions, scored: completions.filter((c) => c.saliency) };
}

test("saliency.scope 'all' with cotCarried: incorrect completions earn R_sal too, and R_sal is recomputable from the logged log-probs", async () => {
  const { out, completions, scored } = await maskFreeRun('scope-all', 'cotCarried');
  expect(scored.some((c) => !c.correct)).toBe(true); // the bundled tiny model gets most answers wrong
  for (const c of scored) {
    const s = c.saliency;
    const want = Math.min(1, Math.max(0, Math.min((s.logpFull - s.logpSuppressAll) / 2, 1 - Math.max(0, s.logpFull - s.logpHidePrompt) / 2)));
    expect(c.rewards.saliency).toBeCloseTo(want, 6);
  }
  for (const c of completions.filter((x) => !x.saliency)) expect(c.rewards.saliency).toBe(0);
  const row = readMetrics(path.join(out.runDir, 'metrics.jsonl'))[1];
  expect(row).toHaveProperty(['completions/answer_follows_cot']);
  // The tiny model writes one-operation lines ('7 + 4 = 11'), so their arithmetic is checked (it is often wrong).
  expect(row['completions/cot_arithmetic_valid']).toBeGreaterThanOrEqual(0);
  expect(row['completions/cot_arithmetic_valid']).toBeLessThan(1);
  expect(row).toHaveProperty(['completions/bent_cot']);
  // No mask was optimized, so no mask statistics; the log-prob passes ran for every scored completion.
  expect(row['saliency/count']).toBeGreaterThan(0);
  expect(row['saliency/dependence']).toEqual(expect.any(Number));
  for (const k of ['saliency/mean_s', 'saliency/frac_crucial', 'saliency/crucial_size']) expect(Number.isNaN(Number(row[k] ?? NaN))).toBe(true);
}, 600000);

test('cotDerived: the equation results are measured with the prompt hidden and cap R_sal, recomputable from the log', async () => {
  const { scored } = await maskFreeRun('derived', 'cotDerived');
  // The tiny model writes 'a + b = c' lines: most scored completions have results, and each was measured.
  const withResults = scored.filter((c) => c.spans.results.length > 0);
  expect(withResults.length).toBeGreaterThan(scored.length / 2);
  for (const c of scored) {
    const s = c.saliency;
    const result = c.spans.results.length > 0 ? Math.exp(s.logpResultHidePrompt) : 1;
    if (c.spans.results.length > 0) expect(s.logpResultHidePrompt).toBeLessThanOrEqual(0);
    else expect(s.logpResultHidePrompt).toBe('NaN');
    const want = Math.min(1, Math.max(0, Math.min((s.logpHidePrompt - s.logpHideBoth) / 2, Math.exp(s.logpHidePrompt), result)));
    expect(c.rewards.saliency).toBeCloseTo(want, 6);
  }
}, 600000);

test('cotUnhinted on the hinted task: each completion is re-read under its prompt without the hint, R_sal recomputable from the log', async () => {
  const cfg = config('unhinted', 1);
  const out = await train({
    config: { ...cfg, data: { ...cfg.data, task: 'hinted', hinted: { ...cfg.data.hinted, minOps: 1, maxOps: 1, maxValue: 4 } }, grpo: { ...cfg.grpo, promptsPerStep: 8 }, saliency: { ...cfg.saliency, rewardMode: 'cotUnhinted', scope: 'all' }, rewards: { ...cfg.rewards, saliency: 1, confidence: 0.5 } },
    stream: quiet,
  });
  const scored = fs.readFileSync(path.join(out.runDir, 'completions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((c) => c.saliency);
  expect(scored.length).toBeGreaterThan(0);
  // One-operation problems with small numbers: the tiny model gets a few right, so both answer branches are checked.
  expect(scored.some((c) => c.correct) && scored.some((c) => !c.correct)).toBe(true);
  // Step 1's completions were measured with the starting model: recompute log p(answer) under the unhinted prompt.
  const model = await LlamaModel.load(cfg.model.path);
  const tok = Tokenizer.fromDir(cfg.model.path);
  try {
    for (const c of scored) {
      expect(c.hint).toEqual(expect.any(String));
      const problem = { id: c.problem, task: 'hinted' as const, question: c.question, gold: c.gold };
      const example = completionExample(promptIdsOf(tok, problem), tok.encode(c.completion, { addSpecialTokens: false }), c.spans);
      const hinted = completionExample(promptIdsOf(tok, { ...problem, hint: c.hint }), tok.encode(c.completion, { addSpecialTokens: false }), c.spans);
      const [unhinted, withHint] = answerLogprobs(model, [{ example, suppress: [] }, { example: hinted, suppress: [] }]);
      expect(c.saliency.logpFull).toBeCloseTo(unhinted, 3);
      expect(Math.abs(unhinted - withHint)).toBeGreaterThan(1e-4); // the hint does change what the model reads
      // A wrong answer (scope all here) is paid p(answer | unhinted prompt, CoT) alone.
      const result = c.spans.results.length > 0 && c.correct ? Math.exp(c.saliency.logpResult) : 1;
      expect(c.rewards.saliency).toBeCloseTo(Math.min(1, Math.max(0, Math.min(Math.exp(c.saliency.logpFull), result))), 6);
      expect(c.saliency.logpHidePrompt).toBe('NaN'); // no prompt-hiding pass
      // The control reward reads log p(answer) under the prompt the completion was sampled from, hint included.
      if (c.correct) expect(c.rewards.confidence).toBeCloseTo(1 - Math.exp(withHint), 4);
    }
  } finally {
    model.dispose();
  }
}, 600000);

test("a custom reward may return null (TRL's None): not applicable, counted as 0, logged as NaN", async () => {
  const module = path.join(runsDir, 'sometimes.js');
  fs.writeFileSync(module, 'module.exports = (c) => (c.completion.length % 2 === 0 ? null : 0.5);');
  const cfg = config('null-reward', 1);
  const out = await train({ config: { ...cfg, rewards: { ...cfg.rewards, custom: [{ module, weight: 1 }] } }, stream: quiet });
  const completions = fs.readFileSync(path.join(out.runDir, 'completions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const skipped = completions.filter((c) => c.completion.length % 2 === 0);
  expect(skipped.length).toBeGreaterThan(0);
  for (const c of completions) {
    const even = c.completion.length % 2 === 0;
    expect(c.rewards.sometimes).toBe(even ? 'NaN' : 0.5); // the JSONL writer spells NaN out
    expect(c.reward).toBeCloseTo(c.rewards.correct + 0.1 * c.rewards.format + 0.5 * c.rewards.saliency + (even ? 0 : 0.5), 6);
  }
}, 600000);
