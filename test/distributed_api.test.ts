// The distributed tensor API (issue 17) on hand-made tensors over Gloo on loopback, the launch-environment contract
// (torchrun's and Slurm's variables), and the launcher's argument checks.
import { spawn } from 'child_process';
import * as path from 'path';

import { distributed, tensor } from '../src';
import { launchEnv } from '../src/distributed/env';
import { freePort, launchOptionsOf, workerArgs } from '../src/distributed/launcher';
import { shareOf } from '../src/distributed/train-group';

const root = path.resolve(__dirname, '..');

test('3 ranks: allReduce (sum, avg, max, min), broadcast, bucketed gradient all-reduce (after and overlapped with backward), barrier', async () => {
  const port = await freePort();
  const outs = await Promise.all([0, 1, 2].map((rank) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'test/dist_worker.js')], {
      env: { ...process.env, RANK: String(rank), WORLD_SIZE: '3', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ATMAN_DIST_TIMEOUT: '60', ATMAN_TEST_JOB: '{"kind":"collectives"}' },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  })));
  expect(outs.map((o) => [o.code, o.stderr])).toEqual([[0, ''], [0, ''], [0, '']]);
  const results = outs.map((o) => JSON.parse(o.stdout));
  results.forEach((r, rank) => {
    expect(r).toMatchObject({
      rank, worldSize: 3, sum: [6, -6], avg: [2], max: [2, 0], min: [0, -2], broadcast: [[2, 2], [2, 2]],
      grads: [[6, 6, 6], [[3, 3], [3, 3]]], // p0: 1 + 2 + 3; p1: none on rank 0 (zeros), 1 + 2
      // q0: (0 + 1) + (1 + 1) + (2 + 1) summed; q1: 1 + 2 + 3; both buckets sent by the backward hooks, before finish()
      overlapped: [[6, 6, 6], [[6, 6], [6, 6]], { overlapped: 2, buckets: 2 }],
    });
    expect(r.nonContiguous).toMatch(/dense and contiguous/);
  });
}, 120000);

test('one process: a group of one reduces to itself; collectives outside a group fail with a clear error', async () => {
  await expect(distributed.allReduce(tensor([1]))).rejects.toThrow(/no process group; call distributed.init\(\) first/);
  expect([distributed.rank(), distributed.worldSize(), distributed.isInitialized()]).toEqual([0, 1, false]);
  expect(distributed.backends()).toContain('gloo');
  await distributed.init({ rank: 0, worldSize: 1, masterPort: await freePort(), timeoutSeconds: 30 });
  try {
    expect(distributed.isInitialized()).toBe(true);
    await expect(distributed.init({ rank: 0, worldSize: 1 })).rejects.toThrow(/already joined a group \(rank 0 of 1\)/);
    const t = tensor([1.5, -2]);
    expect((await distributed.allReduce(t, 'avg')).toArray()).toEqual([1.5, -2]);
    await expect(distributed.allReduce(t, 'prod' as never)).rejects.toThrow(/op must be 'sum', 'avg', 'max' or 'min'/);
    await expect(distributed.broadcast(t, 1)).rejects.toThrow(/src must be a rank in \[0, 1\)/);
    await distributed.barrier();
  } finally {
    distributed.destroy();
  }
  expect(distributed.isInitialized()).toBe(false);
  await expect(distributed.init({ rank: 2, worldSize: 2 })).rejects.toThrow(/rank must be in \[0, 2\)/);
  // A CPU build has no NCCL (the CUDA build's group of one would start NCCL here; test/gpu covers it there).
  if (!distributed.backends().includes('nccl'))
    await expect(distributed.init({ rank: 0, worldSize: 1, backend: 'nccl' })).rejects.toThrow(/no nccl backend/);
});

test('a rank whose peers never come fails the rendezvous within the timeout, naming itself and the address', async () => {
  const port = await freePort();
  const started = Date.now();
  await expect(distributed.init({ rank: 1, worldSize: 2, masterPort: port, timeoutSeconds: 2 })).rejects.toThrow(
    new RegExp(`rank 1 of 2 could not reach the rendezvous store at 127.0.0.1:${port}`),
  );
  expect(Date.now() - started).toBeLessThan(30000);
});

test("the launch environment: torchrun's variables, Slurm's as a fallback, torchrun's agent store", () => {
  expect(launchEnv({})).toBeNull();
  expect(launchEnv({ RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: 'node0', MASTER_PORT: '1234' })).toEqual({
    rank: 1, worldSize: 4, localRank: 1, masterAddr: 'node0', masterPort: 1234, hostStore: true, timeoutSeconds: 600, source: 'torchrun',
  });
  expect(launchEnv({ RANK: '0', WORLD_SIZE: '2', TORCHELASTIC_USE_AGENT_STORE: 'True', ATMAN_DIST_TIMEOUT: '30' })).toMatchObject({ hostStore: false, timeoutSeconds: 30, masterPort: 29500 });
  expect(launchEnv({ SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_LOCALID: '1', SLURM_LAUNCH_NODE_IPADDR: '10.0.0.1' })).toMatchObject({
    rank: 3, worldSize: 8, localRank: 1, masterAddr: '10.0.0.1', source: 'slurm',
  });
  expect(launchEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '1' })).toBeNull();
  expect(() => launchEnv({ WORLD_SIZE: '2' })).toThrow(/WORLD_SIZE is set but RANK is not/);
  expect(() => launchEnv({ WORLD_SIZE: '2', RANK: '2' })).toThrow(/RANK=2 must be below WORLD_SIZE=2/);
  expect(() => launchEnv({ WORLD_SIZE: 'two', RANK: '0' })).toThrow(/WORLD_SIZE="two" is not an integer/);
  expect(() => launchEnv({ ATMAN_DIST_TIMEOUT: '-1' })).toThrow(/ATMAN_DIST_TIMEOUT="-1" must be a positive number/);
});

test('shares: contiguous, sizes differing by at most one, covering the batch', () => {
  expect([0, 1, 2].map((r) => shareOf(7, r, 3))).toEqual([[0, 3], [3, 5], [5, 7]]);
  expect([0, 1].map((r) => shareOf(6, r, 2))).toEqual([[0, 3], [3, 6]]);
});

test('launcher arguments: validation names the flag; Slurm fallbacks; launcher flags never reach the workers', () => {
  expect(launchOptionsOf({ 'nproc-per-node': 2 }, {})).toEqual({ nprocPerNode: 2, nnodes: 1, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: null, timeoutSeconds: 600 });
  expect(() => launchOptionsOf({ 'nproc-per-node': 0 }, {})).toThrow(/--nproc-per-node must be a positive integer/);
  expect(() => launchOptionsOf({ 'nproc-per-node': 1.5 }, {})).toThrow(/--nproc-per-node must be a positive integer/);
  expect(() => launchOptionsOf({ 'nproc-per-node': 2, nnodes: 2 }, {})).toThrow(/--nnodes > 1 needs --master-addr/);
  expect(() => launchOptionsOf({ 'nproc-per-node': 2, nnodes: 2, 'node-rank': 2, 'master-addr': 'h' }, {})).toThrow(/--node-rank must be an integer in \[0, 2\)/);
  expect(() => launchOptionsOf({ 'nproc-per-node': 2, 'master-port': 70000 }, {})).toThrow(/--master-port must be an integer in \[1, 65535\]/);
  expect(() => launchOptionsOf({ 'nproc-per-node': 2, 'dist-timeout': 0 }, {})).toThrow(/--dist-timeout must be a positive number/);
  expect(launchOptionsOf({ 'nproc-per-node': 4, 'master-addr': 'n0' }, { SLURM_NNODES: '2', SLURM_NODEID: '1' })).toMatchObject({ nnodes: 2, nodeRank: 1, masterPort: 29500 });
  expect(workerArgs(['main.js', 'train', '--nproc-per-node', '2', '--name', 'x', '--master-port=1234', '--nnodes', '1', '--dist-timeout', '5', '--json']))
    .toEqual(['main.js', 'train', '--name', 'x', '--json']);
});

test('the CLI: a launcher flag without --nproc-per-node, and a bad --nproc-per-node, fail with the reason', async () => {
  const run = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), ...args], { env: { ...process.env, WORLD_SIZE: '' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  const a = await run(['train', '--nnodes', '2']);
  expect(a.code).not.toBe(0);
  expect(a.stderr).toMatch(/--nnodes is a launcher flag: it needs --nproc-per-node/);
  const b = await run(['sft', '--nproc-per-node', '0', '--out', '/tmp/never']);
  expect(b.code).not.toBe(0);
  expect(b.stderr).toMatch(/--nproc-per-node must be a positive integer/);
});
