// Runs that are never lost or corrupted, end to end on CPU with the bundled tiny model: SIGTERM is handled as Ctrl-C
// (checkpoint, exit 143, a message saying how to resume), a signal during a step abandons it before its update, a
// diverging learning rate is skipped and stops the run without checkpointing, and a resume reports its config changes.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { resolveConfig } from '../src/config';
import { readMetrics } from '../src/log';
import { train } from '../src/train/trainer';
import { tinyRunConfig } from './tiny_run';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-runs-'));

/** A stream that keeps what the trainer prints. */
function capture() {
  let text = '';
  const stream = { write: (s: string | Uint8Array) => ((text += String(s)), true), isTTY: false } as unknown as NodeJS.WritableStream;
  return { stream, text: () => text };
}

const config = (name: string, steps: number, extra: Record<string, unknown> = {}) =>
  tinyRunConfig(runsDir, name, steps, { generation: { maxNewTokens: 16 }, saliency: { steps: 2 }, checkpoint: { every: 1, keep: 2 }, ...extra });

async function runCli(name: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  const args = ['dist/cli/main.js', 'train', '--name', name, '--device', 'cpu', '--json', '--runsDir', runsDir, '--grpo.steps', '50',
    '--grpo.promptsPerStep', '2', '--grpo.numGenerations', '4', '--generation.maxNewTokens', '16', '--saliency.steps', '2'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.once('data', () => child.kill(signal)); // after the first step's metrics line
    child.on('exit', (c) => resolve(c));
  });
  return { code, stderr };
}

test.each([['SIGTERM', 143], ['SIGINT', 130]] as const)('%s writes a checkpoint, exits with %i and says how to resume', async (signal, exit) => {
  const name = `signal-${signal}`;
  const { code, stderr } = await runCli(name, signal);
  expect({ code, stderr: code === exit ? '' : stderr }).toEqual({ code: exit, stderr: '' });
  expect(stderr).toContain(`${signal}: stopping at the next safe point`);
  expect(stderr).toMatch(new RegExp(`interrupted \\(${signal}\\): \\d+ steps in .*; continue with: atman-native train --name ${name} --resume --runsDir ${runsDir}`));
  const dir = path.join(runsDir, name);
  const latest = fs.readFileSync(path.join(dir, 'latest'), 'utf8').trim();
  const state = JSON.parse(fs.readFileSync(path.join(dir, latest, 'state.json'), 'utf8'));
  expect(state.step).toBeGreaterThanOrEqual(1);
  // Checkpointed once: metrics hold exactly the checkpointed steps.
  expect(readMetrics(path.join(dir, 'metrics.jsonl')).map((r) => r.step)).toEqual(Array.from({ length: state.step }, (_, i) => i + 1));
}, 600000);

test('a signal during a step abandons it before its update: the checkpoint is of the step before, and resume redoes it', async () => {
  // A custom reward (weight 0) that sends SIGTERM while step 2 scores its completions (8 per step).
  const module = path.join(runsDir, 'term-in-step-2.js');
  fs.writeFileSync(module, 'let calls = 0;\nmodule.exports = () => { if (++calls === 9) process.emit("SIGTERM", "SIGTERM"); return 0; };\n');
  const cfg = config('abandon', 3, { rewards: { custom: [{ module, weight: 0 }] } });
  const log = capture();
  const out = await train({ config: cfg, stream: log.stream });
  expect(out).toMatchObject({ stepsDone: 1, interrupted: true, signal: 'SIGTERM' });
  const dir = out.runDir;
  expect(fs.readFileSync(path.join(dir, 'latest'), 'utf8').trim()).toBe(path.join('checkpoints', 'step-000001'));
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'step-000001', 'state.json'), 'utf8'));
  expect(state).toMatchObject({ step: 1, dataPosition: 2 }); // step 2's prompts are drawn again on resume
  expect(readMetrics(path.join(dir, 'metrics.jsonl')).map((r) => r.step)).toEqual([1]);

  const resumed = await train({ config: { ...cfg, rewards: { ...cfg.rewards, custom: [] } }, resume: true, stream: capture().stream });
  expect(resumed).toMatchObject({ stepsDone: 3, interrupted: false, signal: null });
}, 600000);

test('lr 1e15: every update with a gradient is skipped, named, never applied or checkpointed, and the run stops', async () => {
  const log = capture();
  const cfg = config('diverge', 10, { optim: { lr: 1e15, maxSkippedSteps: 2 }, checkpoint: { every: 100, keep: 2 } });
  await expect(train({ config: cfg, stream: log.stream })).rejects.toThrow(
    /stopping: the updates of the last 2 steps with a gradient were all skipped \(optim\.maxSkippedSteps 2\); the last because the AdamW step would change the weights by .* their norm .*the learning rate 1e\+15 is the likely cause \(optim\.lr\)\. .*no diverged state was checkpointed; start again with a lower --optim\.lr/,
  );
  expect(log.text()).toMatch(/step \d+: update skipped: the AdamW step would change the weights/);
  const dir = path.join(runsDir, 'diverge');
  expect(fs.existsSync(path.join(dir, 'latest'))).toBe(false);
  const rows = readMetrics(path.join(dir, 'metrics.jsonl'));
  expect(rows.filter((r) => r.skipped === 1).length).toBeGreaterThanOrEqual(1);
  // The name is free again: nothing was checkpointed.
  const again = await train({ config: config('diverge', 1), stream: capture().stream });
  expect(again).toMatchObject({ stepsDone: 1, interrupted: false });
}, 600000);

test('--resume with a changed lr prints the differences and keeps config.yaml as the original', async () => {
  const cfg = config('changed', 2);
  await train({ config: cfg, stopAfter: 1, stream: capture().stream });
  const dir = path.join(runsDir, 'changed');
  const original = fs.readFileSync(path.join(dir, 'config.yaml'), 'utf8');
  const log = capture();
  await train({ config: { ...cfg, optim: { ...cfg.optim, lr: 1e-3 } }, resume: true, stream: log.stream });
  expect(log.text()).toContain('resume: the config differs from the one the run last used (config.yaml keeps the original; this one is saved as config-resume-1.yaml):\n  optim.lr: 0.00001 → 0.001');
  expect(fs.readFileSync(path.join(dir, 'config.yaml'), 'utf8')).toBe(original);
  expect(resolveConfig({ file: path.join(dir, 'config-resume-1.yaml') }).optim.lr).toBe(1e-3);
  expect(readMetrics(path.join(dir, 'metrics.jsonl'))[1].learning_rate).toBe(1e-3);
}, 600000);
