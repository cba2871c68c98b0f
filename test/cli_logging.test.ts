// Logging of whole runs on CPU with the bundled tiny model: logging.every windows (means over the window) and
// completionsEvery in metrics.jsonl, completions.jsonl and the TensorBoard events; plain log lines off a terminal; the
// summary that ends train and sft; eval's progress lines and per-item results.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { runSaliencyCommand } from '../src/cli/saliency';
import { resolveConfig } from '../src/config';
import { makeSyntheticProblems } from '../src/data';
import { readMetrics } from '../src/log';
import { loadProblems } from '../src/train/problems';
import { sft } from '../src/train/sft';
import { TIMING_KEYS, train } from '../src/train/trainer';
import { decodeEvent, readRecords } from './tfevents_reader';
import { tinyRunConfig } from './tiny_run';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-logging-'));
afterAll(() => fs.rmSync(runsDir, { recursive: true, force: true }));

/** A non-TTY stream that keeps what is written (as nohup's or Slurm's log file would). */
function logFile() {
  const s = { text: '', isTTY: false, write: (c: string | Buffer) => ((s.text += c.toString()), true) };
  return s as unknown as NodeJS.WritableStream & { text: string; isTTY: boolean };
}

const config = (name: string, steps: number, logging: Record<string, unknown>) =>
  tinyRunConfig(runsDir, name, steps, { checkpoint: { every: 0, keep: 1 }, logging });

const numbers = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).filter(([k, v]) => typeof v === 'number' && k !== 'step' && !TIMING_KEYS.test(k))) as Record<string, number>;

test('logging.every 2 over 3 steps: rows at 2 (mean of steps 1-2) and 3 (the last, partial window); completions at step 2', async () => {
  const reference = await train({ config: config('every1', 3, { every: 1 }), stream: logFile() });
  const perStep = readMetrics(path.join(reference.runDir, 'metrics.jsonl'));
  expect(perStep.map((r) => r.step)).toEqual([1, 2, 3]);

  const log = logFile();
  const out = await train({ config: config('every2', 3, { every: 2, completionsEvery: 2, tensorboard: true }), stream: log });
  const rows = readMetrics(path.join(out.runDir, 'metrics.jsonl'));
  expect(rows.map((r) => r.step)).toEqual([2, 3]);
  const [a, b, c] = perStep.map(numbers);
  const mean12 = numbers(rows[0]), last = numbers(rows[1]);
  expect(Object.keys(mean12).sort()).toEqual(Object.keys(a).sort());
  for (const k of Object.keys(a)) {
    expect([k, mean12[k]]).toEqual([k, expect.closeTo((a[k] + b[k]) / 2, 9)]);
    expect([k, last[k]]).toEqual([k, expect.closeTo(c[k], 9)]);
  }

  // completionsEvery 2: the rows of step 2 only (2 prompts × 4 generations)
  const completions = fs.readFileSync(path.join(out.runDir, 'completions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(completions.map((r) => r.step)).toEqual(Array(8).fill(2));

  // off a terminal: a plain line per logged row, then the summary naming the files
  const lines = log.text.trim().split('\n');
  const stepLines = lines.filter((l) => l.startsWith('step '));
  expect(stepLines).toHaveLength(2);
  expect(stepLines[0]).toMatch(/^step 2\/3 \| loss \S+ \| reward \d\.\d{3} \| acc \d\.\d\d \| \d+ tok\/s \| elapsed \d+s \| ETA \d+s$/);
  expect(stepLines[1]).toMatch(/^step 3\/3 \| .* \| ETA 0s$/);
  const summary = lines.slice(lines.findIndex((l) => l.startsWith('train: done')));
  expect(summary[0]).toBe('train: done, 3 steps');
  const named = Object.fromEntries(summary.slice(1).map((l) => l.trim().split(/:\s+/)));
  expect(Object.keys(named)).toEqual(['report', 'metrics', 'completions', 'tensorboard', 'checkpoint']);
  expect(path.resolve(named.report)).toBe(path.join(out.runDir, 'report.html'));
  expect(path.resolve(named.metrics)).toBe(path.join(out.runDir, 'metrics.jsonl'));
  expect(path.resolve(named.checkpoint)).toBe(path.join(out.runDir, 'checkpoints', 'step-000003'));

  // TensorBoard: the same rows as train/ scalars (float32) at the same steps, behind a file_version event
  const files = fs.readdirSync(named.tensorboard);
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(/^events\.out\.tfevents\./);
  const events = readRecords(fs.readFileSync(path.join(named.tensorboard, files[0]))).map(decodeEvent);
  expect(events[0].fileVersion).toBe('brain.Event:2');
  expect(events.slice(1).map((e) => e.step)).toEqual([2, 3]);
  events.slice(1).forEach((e, i) => {
    expect(e.scalars!['train/reward']).toBe(Math.fround(rows[i].reward as number));
    expect(e.scalars!['train/loss']).toBe(Math.fround(rows[i].loss as number));
  });
}, 600000);

test('an interrupted run ends with how to continue it', async () => {
  const log = logFile();
  const out = await train({ config: config('stopped', 3, { every: 1 }), stopAfter: 1, stream: log });
  expect(out.interrupted).toBe(true);
  expect(log.text).toContain('train: interrupted after step 1 of 3\n');
  expect(log.text).toMatch(/checkpoint: +\S*step-000001\n/);
  expect(log.text).toContain('continue with: atman-native train --name stopped --resume\n');
}, 600000);

test('sft: rows every logEvery steps with the mean loss, a report, and a summary naming report, metrics and model', async () => {
  const data = resolveConfig({ file: 'configs/tiny-synthetic.yaml' }).data;
  const { problems } = await loadProblems({ ...data, synthetic: { ...data.synthetic, count: 64 } }, 0);
  const base = { modelDir: 'models/tiny-arith', tokenizerDir: 'models/tiny-arith', problems, steps: 3, batchSize: 4, lr: 1e-4, warmupSteps: 0, seed: 0, device: 'cpu', dtype: 'float32' as const };
  const every1 = await sft({ ...base, outDir: path.join(runsDir, 'sft1'), logEvery: 1, stream: logFile() });
  const perStep = readMetrics(path.join(runsDir, 'sft1', 'logs', 'metrics.jsonl'));
  expect(perStep.map((r) => r.step)).toEqual([1, 2, 3]);
  expect(perStep[0].loss).toBe(every1.firstLoss);

  const log = logFile();
  await sft({ ...base, outDir: path.join(runsDir, 'sft2'), logEvery: 2, stream: log });
  const rows = readMetrics(path.join(runsDir, 'sft2', 'logs', 'metrics.jsonl'));
  expect(rows.map((r) => r.step)).toEqual([2, 3]);
  expect(rows[0].loss).toBeCloseTo(((perStep[0].loss as number) + (perStep[1].loss as number)) / 2, 5);
  expect(rows[1].loss).toBeCloseTo(perStep[2].loss as number, 5);
  expect(log.text).toMatch(/^step 2\/3 \| loss \S+ \| lr \S+ \| \d+ tok\/s \| elapsed \d+s \| ETA \d+s$/m);
  expect(log.text).toContain('sft: done, 3 steps\n');
  expect(log.text).toMatch(/report: +\S*sft2\/logs\/report\.html\n/);
  expect(log.text).toMatch(/metrics: +\S*sft2\/logs\/metrics\.jsonl\n/);
  expect(log.text).toMatch(/model: +\S*sft2\n/);
  expect(fs.readFileSync(path.join(runsDir, 'sft2', 'logs', 'report.html'), 'utf8')).toContain('<svg class="chart"');
  expect(fs.existsSync(path.join(runsDir, 'sft2', 'model.safetensors'))).toBe(true);
}, 600000);

test('eval off a terminal: progress lines while it runs, per-item results in evals/ without --out-dir', async () => {
  const cwd = fs.mkdtempSync(path.join(runsDir, 'eval-'));
  const cli = path.resolve('dist/cli/main.js');
  const { stderr, stdout } = await new Promise<{ stderr: string; stdout: string }>((resolve, reject) =>
    execFile(process.execPath, [cli, 'eval', '--count', '6', '--batch-size', '3', '--device', 'cpu', '--no-faithfulness', '--no-saliency'],
      { cwd }, (err, so, se) => (err ? reject(new Error(`${err.message}\n${se}`)) : resolve({ stdout: so, stderr: se }))));
  const lines = stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^eval: 6 problems, model models\/tiny-arith, device cpu; loading the model$/);
  expect(lines[1]).toMatch(/^eval: generate 0\/6 \(\d+\.\d s\)$/);
  expect(lines).toContainEqual(expect.stringMatching(/^eval: generate 6\/6 \(/));
  const dirs = fs.readdirSync(path.join(cwd, 'evals'));
  expect(dirs).toHaveLength(1);
  expect(dirs[0]).toMatch(/^eval-\d{8}-\d{6}$/);
  const dir = path.join(cwd, 'evals', dirs[0]);
  expect(lines[lines.length - 1]).toBe(`eval: done in ${lines[lines.length - 1].match(/done in (\S+ s)/)![1]}; wrote ${path.join('evals', dirs[0], 'report.html')}, summary.json and items.jsonl (one row per problem) there`);
  const items = fs.readFileSync(path.join(dir, 'items.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(items).toHaveLength(6);
  expect(items[0]).toEqual(expect.objectContaining({ id: expect.any(String), question: expect.any(String), completion: expect.any(String), correct: expect.any(Boolean) }));
  expect(fs.existsSync(path.join(dir, 'summary.json'))).toBe(true);
  expect(stdout).toMatch(/^problems 6: accuracy strict/);
}, 600000);

test('saliency.html: the cards in the order of the input ("original order"), with the stats explained', async () => {
  const problems = makeSyntheticProblems({ count: 5, seed: 11, minOps: 1, maxOps: 2 });
  const input = path.join(runsDir, 'sal-input.jsonl');
  fs.writeFileSync(input, problems.map((p) => JSON.stringify({ id: p.id, task: 'synthetic', prompt: p.question, completion: p.solution, gold: p.gold })).join('\n') + '\n');
  const out = await runSaliencyCommand({ model: 'models/tiny-arith', input, out: path.join(runsDir, 'sal-out'), steps: 2, batchSize: 5 }, { stream: logFile() });
  const html = fs.readFileSync(out.html, 'utf8');
  const ids = [...html.matchAll(/<span class="sal-id">([^<]*)</g)].map((m) => m[1]);
  expect(ids).toEqual(problems.map((p) => p.id));
  expect(html).toContain('The <b>crucial set C</b>');
}, 600000);
