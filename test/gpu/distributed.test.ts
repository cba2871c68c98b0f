// Data-parallel GRPO over NCCL (issue 17): 2 GPUs equal 1 GPU on the same global batch, started both by our launcher
// (`train --nproc-per-node 2`) and with torchrun's environment. Needs 2 GPUs and a build with NCCL; skips with fewer
// GPUs, fails without NCCL. float32 weights so the tolerance stays tight.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as at from '../../src';
import { configToYaml } from '../../src/config';
import { freePort } from '../../src/distributed/launcher';
import { readMetrics } from '../../src/log';
import { TIMING_KEYS, train } from '../../src/train/trainer';
import { tinyRunConfig } from '../tiny_run';

const twoGpus = at.cuda.isAvailable() && at.cuda.deviceCount() >= 2;
const describeTwo = twoGpus ? describe : describe.skip;
const root = path.resolve(__dirname, '../..');
const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-nccl-'));
const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

const config = (name: string) => tinyRunConfig(runsDir, name, 3, {
  device: 'cuda', model: { dtype: 'float32' },
  grpo: { promptsPerStep: 4, numGenerations: 4 }, generation: { maxNewTokens: 16, seedPerPrompt: true },
});

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, WORLD_SIZE: '', ...env } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

function expectSameRun(dir: string, reference: string): void {
  const rows = (d: string) => readMetrics(path.join(d, 'metrics.jsonl')).map((r) => Object.entries(r).filter(([k]) => !TIMING_KEYS.test(k) && k !== 'time/all_reduce'));
  const a = rows(dir), b = rows(reference);
  expect(a.length).toBe(b.length);
  a.forEach((row, i) => {
    const other = Object.fromEntries(b[i]);
    for (const [k, v] of row)
      if (typeof v === 'number' && !Number.isNaN(v)) expect({ k, close: Math.abs(v - (other[k] as number)) <= 1e-4 + 1e-3 * Math.abs(other[k] as number) }).toEqual({ k, close: true });
  });
  const weights = (d: string) => at.load(path.join(d, fs.readFileSync(path.join(d, 'latest'), 'utf8').trim(), 'model', 'model.safetensors')).tensors;
  const wa = weights(dir), wb = weights(reference);
  let maxDiff = 0;
  for (const k of Object.keys(wb)) maxDiff = Math.max(maxDiff, wa[k].sub(wb[k]).abs().max().item() as number);
  expect(maxDiff).toBeLessThan(1e-4);
}

describeTwo('data parallel over NCCL on 2 GPUs', () => {
  let reference = '';
  beforeAll(async () => {
    expect(at.distributed.backends()).toContain('nccl');
    reference = (await train({ config: config('one'), stream: quiet })).runDir;
  }, 600000);

  test('`train --nproc-per-node 2` equals one GPU', async () => {
    const file = path.join(runsDir, 'two.yaml');
    fs.writeFileSync(file, configToYaml(config('two')));
    const out = await run([path.join(root, 'dist/cli/main.js'), 'train', '--nproc-per-node', '2', '--config', file, '--json']);
    expect({ code: out.code, stderr: out.code === 0 ? '' : out.stderr }).toEqual({ code: 0, stderr: '' });
    expectSameRun(path.join(runsDir, 'two'), reference);
  }, 600000);

  test("torchrun's environment: each rank joins on cuda:LOCAL_RANK and equals one GPU", async () => {
    const port = String(await freePort());
    const job = JSON.stringify({ kind: 'train', config: config('torchrun') });
    const outs = await Promise.all([0, 1].map((rank) => run([path.join(root, 'test/dist_worker.js')],
      { RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: port, ATMAN_TEST_JOB: job })));
    expect(outs.map((o) => [o.code, o.code === 0 ? '' : o.stderr])).toEqual([[0, ''], [0, '']]);
    expectSameRun(path.join(runsDir, 'torchrun'), reference);
  }, 600000);
});
