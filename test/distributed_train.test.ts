// Data-parallel training over Gloo on loopback (issue 17): 2 and 3 processes equal one process on the same global
// batch (metrics and final weights, within float tolerance), resume from a 2-process checkpoint on 1 and 3 processes,
// and the launcher's supervision (a killed or hung rank ends the run with an error naming it). Ranks are started both
// ways: with torchrun's environment (test/dist_worker.js) and by `atman-native train --nproc-per-node N`.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { configToYaml } from '../src/config';
import { freePort } from '../src/distributed/launcher';
import { readMetrics } from '../src/log';
import { load } from '../src/tensor/io';
import { TIMING_KEYS, train } from '../src/train/trainer';
import { expectSignalCheckpoint, tinyRunConfig } from './tiny_run';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-dist-'));
const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
const root = path.resolve(__dirname, '..');

// 6 prompts split 3/3 or 2/2/2; one seed per prompt so that the completions do not depend on the split.
const config = (name: string) => tinyRunConfig(runsDir, name, 3, {
  grpo: { promptsPerStep: 6, numGenerations: 4 }, generation: { maxNewTokens: 16, seedPerPrompt: true }, checkpoint: { every: 2, keep: 1 },
});

interface Exit { code: number | null; stdout: string; stderr: string }

function waitExit(child: ReturnType<typeof spawn>): Promise<Exit> {
  let stdout = '', stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** n ranks of test/dist_worker.js, started as torchrun starts them. */
async function torchrunStyle(n: number, job: object): Promise<Exit[]> {
  const port = await freePort();
  return Promise.all(Array.from({ length: n }, (_, rank) => waitExit(spawn(process.execPath, [path.join(root, 'test/dist_worker.js')], {
    cwd: root,
    env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(n), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ATMAN_DIST_TIMEOUT: '60', ATMAN_TEST_JOB: JSON.stringify(job) },
  }))));
}

/** `atman-native <args>` (the launcher when args hold --nproc-per-node). */
function cli(args: string[]): ReturnType<typeof spawn> {
  return spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), ...args], { cwd: root, env: { ...process.env, WORLD_SIZE: '' } });
}

function configFile(name: string): string {
  const file = path.join(runsDir, `${name}.yaml`);
  fs.writeFileSync(file, configToYaml(config(name)));
  return file;
}

const withoutTiming = (rows: Record<string, unknown>[]) =>
  rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMING_KEYS.test(k) && k !== 'time/all_reduce')));

/** The same metrics (numbers within float tolerance) and final weights as the reference run. */
function expectSameRun(dir: string, reference: string): void {
  const a = withoutTiming(readMetrics(path.join(dir, 'metrics.jsonl')));
  const b = withoutTiming(readMetrics(path.join(reference, 'metrics.jsonl')));
  expect(a.map((r) => Object.keys(r).sort())).toEqual(b.map((r) => Object.keys(r).sort()));
  a.forEach((row, i) => {
    for (const [k, v] of Object.entries(row)) {
      const w = b[i][k];
      if (typeof v === 'number' && typeof w === 'number' && !(Number.isNaN(v) && Number.isNaN(w)))
        expect({ step: i + 1, k, close: Math.abs(v - w) <= 1e-5 + 1e-4 * Math.abs(w) ? true : [v, w] }).toEqual({ step: i + 1, k, close: true });
      else expect({ k, v }).toEqual({ k, v: w });
    }
  });
  const weights = (d: string) => load(path.join(d, fs.readFileSync(path.join(d, 'latest'), 'utf8').trim(), 'model', 'model.safetensors')).tensors;
  const wa = weights(dir), wb = weights(reference);
  expect(Object.keys(wa).sort()).toEqual(Object.keys(wb).sort());
  let maxDiff = 0;
  for (const k of Object.keys(wa)) maxDiff = Math.max(maxDiff, wa[k].sub(wb[k]).abs().max().item() as number);
  expect(maxDiff).toBeLessThan(1e-5);
  expect(maxDiff).toBeGreaterThanOrEqual(0);
}

let reference = '';

beforeAll(async () => {
  reference = (await train({ config: config('one'), stream: quiet })).runDir;
  const rows = readMetrics(path.join(reference, 'metrics.jsonl'));
  expect(rows.map((r) => r.step)).toEqual([1, 2, 3]);
}, 300000);

test('2 processes (torchrun environment) equal one process on the same global batch', async () => {
  const exits = await torchrunStyle(2, { kind: 'train', config: config('two') });
  expect(exits.map((e) => e.code)).toEqual([0, 0]);
  const outcomes = exits.map((e) => JSON.parse(e.stdout.trim().split('\n').pop()!));
  expect(outcomes.map((o) => [o.rank, o.worldSize, o.stepsDone])).toEqual([[0, 2, 3], [1, 2, 3]]);
  const dir = path.join(runsDir, 'two');
  expectSameRun(dir, reference);
  // Rank 0 writes the completions of its share: 3 prompts x 4 per step.
  expect(fs.readFileSync(path.join(dir, 'completions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3 * 3 * 4);
  expect(readMetrics(path.join(dir, 'metrics.jsonl'))[0]).toHaveProperty(['time/all_reduce']);
}, 300000);

test('3 processes started by `train --nproc-per-node 3` equal one process', async () => {
  const out = await waitExit(cli(['train', '--nproc-per-node', '3', '--config', configFile('three'), '--json']));
  expect({ code: out.code, stderr: out.code === 0 ? '' : out.stderr }).toEqual({ code: 0, stderr: '' });
  expect(out.stderr).toMatch(/launcher: rank 2 of 3 \(local 2\) is pid \d+/);
  expectSameRun(path.join(runsDir, 'three'), reference);
}, 300000);

test('a 2-process checkpoint resumes on 1 and on 3 processes, equal to the uninterrupted run', async () => {
  const exits = await torchrunStyle(2, { kind: 'train', config: config('half'), stopAfter: 2 });
  expect(exits.map((e) => e.code)).toEqual([0, 0]);
  for (const name of ['resume1', 'resume3']) fs.cpSync(path.join(runsDir, 'half'), path.join(runsDir, name), { recursive: true });
  const one = await train({ config: config('resume1'), resume: true, stream: quiet });
  expect(one).toMatchObject({ stepsDone: 3, interrupted: false, worldSize: 1 });
  expectSameRun(one.runDir, reference);
  const three = await waitExit(cli(['train', '--nproc-per-node', '3', '--config', configFile('resume3'), '--resume', '--name', 'resume3']));
  expect({ code: three.code, stderr: three.code === 0 ? '' : three.stderr }).toEqual({ code: 0, stderr: '' });
  expect(three.stderr).toMatch(/3 processes, resuming after step 2/);
  expectSameRun(path.join(runsDir, 'resume3'), reference);
}, 300000);

test("rank 0's failure (resuming a run that does not exist) fails every rank, with rank 0's message", async () => {
  const exits = await torchrunStyle(2, { kind: 'train', config: config('missing'), resume: true });
  expect(exits.map((e) => e.code)).toEqual([1, 1]);
  expect(exits[0].stderr).toMatch(/rank 0: --resume: there is no run missing/);
  expect(exits[1].stderr).toMatch(/rank 0 failed \(its message says why\); rank 1 stops too/);
}, 120000);

/** Starts a long 2-process run, waits until rank 1 is running, does `act` to its pid; resolves to the launcher's exit. */
async function failingRun(name: string, timeout: number, act: (pid: number) => void): Promise<Exit & { seconds: number }> {
  const child = cli(['train', '--nproc-per-node', '2', '--dist-timeout', String(timeout), '--name', name, '--device', 'cpu', '--json', '--runsDir', runsDir,
    '--grpo.steps', '200', '--grpo.promptsPerStep', '2', '--grpo.numGenerations', '2', '--generation.maxNewTokens', '8', '--saliency.steps', '1']);
  const started = Date.now();
  let acted = false;
  child.stdout!.on('data', () => {
    if (acted) return;
    const m = /rank 1 of 2 \(local 1\) is pid (\d+)/.exec(stderrSoFar);
    if (!m) return;
    acted = true;
    act(Number(m[1])); // after rank 0's first metrics line: the group is up and training
  });
  let stderrSoFar = '';
  child.stderr!.on('data', (d) => (stderrSoFar += d));
  const exit = await waitExit(child);
  return { ...exit, stderr: stderrSoFar, seconds: (Date.now() - started) / 1000 };
}

test('a killed rank ends the run with an error naming it', async () => {
  const out = await failingRun('killed', 30, (pid) => process.kill(pid, 'SIGKILL'));
  expect(out.code).toBe(1);
  expect(out.stderr).toMatch(/the run failed: rank 1 was killed by SIGKILL first; rank 0 exited with code 1/);
  // Rank 0's own message says its peer went away.
  expect(out.stderr).toMatch(/failed on rank 0 of 2: a peer rank closed its connection/);
  expect(out.seconds).toBeLessThan(60);
}, 120000);

test('a hung rank: the other times out and the launcher names the one that did not stop', async () => {
  const out = await failingRun('hung', 8, (pid) => process.kill(pid, 'SIGSTOP'));
  expect(out.code).toBe(1);
  expect(out.stderr).toMatch(/failed on rank 0 of 2: timed out after 8/);
  expect(out.stderr).toMatch(/rank 0 exited with code 1 first; rank 1 did not stop \(hung\?\) and was killed/);
  expect(out.seconds).toBeLessThan(60);
}, 120000);

test('sft on 2 processes (`sft --nproc-per-node 2`) equals one process: losses and weights', async () => {
  const args = (out: string) => ['sft', '--model', 'models/tiny-arith', '--out', out, '--steps', '3', '--batch-size', '4', '--log-every', '1', '--device', 'cpu', '--json'];
  const one = path.join(runsDir, 'sft-one'), two = path.join(runsDir, 'sft-two');
  const [a, b] = await Promise.all([waitExit(cli(args(one))), waitExit(cli([...args(two), '--nproc-per-node', '2']))]);
  expect([a.code, b.code]).toEqual([0, 0]);
  expect(b.stderr).toMatch(/launcher: rank 1 of 2/);
  const rows = (d: string) => withoutTiming(readMetrics(path.join(d, 'logs', 'metrics.jsonl')));
  const ra = rows(one), rb = rows(two);
  expect(ra.map((r) => r.step)).toEqual([1, 2, 3]);
  expect(rb.map((r) => [r.step, r.num_tokens, r.learning_rate])).toEqual(ra.map((r) => [r.step, r.num_tokens, r.learning_rate]));
  rb.forEach((r, i) => expect(Math.abs((r.loss as number) - (ra[i].loss as number))).toBeLessThan(1e-5));
  const wa = load(path.join(one, 'model.safetensors')).tensors, wb = load(path.join(two, 'model.safetensors')).tensors;
  let maxDiff = 0;
  for (const k of Object.keys(wa)) maxDiff = Math.max(maxDiff, wa[k].sub(wb[k]).abs().max().item() as number);
  expect(maxDiff).toBeLessThan(1e-5);
}, 300000);

test('SIGTERM on the launcher: every worker checkpoints once and stops; the launcher exits with 143', async () => {
  const child = cli(['train', '--nproc-per-node', '2', '--name', 'sigterm', '--device', 'cpu', '--json', '--runsDir', runsDir,
    '--grpo.steps', '200', '--grpo.promptsPerStep', '2', '--grpo.numGenerations', '2', '--generation.maxNewTokens', '8', '--saliency.steps', '1']);
  let signalled = false;
  child.stdout!.on('data', () => {
    if (signalled) return;
    signalled = true;
    child.kill('SIGTERM'); // after rank 0's first metrics line
  });
  const out = await waitExit(child);
  expect({ code: out.code, stderr: out.code === 143 ? '' : out.stderr }).toEqual({ code: 143, stderr: '' });
  expect(out.stderr).toMatch(/launcher: SIGTERM: asking every worker to checkpoint and stop/);
  expect(out.stderr).not.toMatch(/the run failed/);
  const dir = path.join(runsDir, 'sigterm');
  const step = expectSignalCheckpoint(dir, 200);
  expect(readMetrics(path.join(dir, 'metrics.jsonl')).pop()!.step).toBe(step);
}, 120000);
