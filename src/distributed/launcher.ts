// Our torchrun for users without Python: `atman-native train --nproc-per-node N` starts N workers of the same command
// with torchrun's environment contract (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and
// supervises them. A worker that fails ends the run: the others get a short grace period to stop on their own (their
// collectives fail at once when a peer is gone), then are killed, and the error names every rank's fate. SIGINT /
// SIGTERM are forwarded once as SIGTERM (each worker checkpoints and stops); a second one kills them. Workers run in
// their own process group so that a terminal's Ctrl-C reaches them only once, through us.
import { ChildProcess, spawn } from 'child_process';
import * as net from 'net';

import { DEFAULT_MASTER_PORT, timeoutSecondsOf } from './env';

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** null: a free port (one node only). */
  masterPort: number | null;
  timeoutSeconds: number;
}

/** The launcher flags, in yargs' camelCase and kebab-case forms; they never reach the workers. */
export const LAUNCH_FLAGS = ['nproc-per-node', 'nnodes', 'node-rank', 'master-addr', 'master-port', 'dist-timeout'];

const isInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * Launch options from the flags, with Slurm's variables (SLURM_NNODES, SLURM_NODEID, MASTER_ADDR/MASTER_PORT) as the
 * fallback for the multi-node ones. Bad values throw an error naming the flag.
 */
export function launchOptionsOf(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): LaunchOptions {
  const num = (name: string, fallback: string | undefined) => {
    const v = flags[name] ?? (fallback !== undefined && fallback !== '' ? Number(fallback) : undefined);
    return v === undefined ? undefined : Number(v);
  };
  const nproc = num('nproc-per-node', undefined);
  if (!isInt(nproc) || nproc! < 1) throw new Error(`--nproc-per-node must be a positive integer (processes on this node, e.g. one per GPU), got ${String(flags['nproc-per-node'])}`);
  const nnodes = num('nnodes', env.SLURM_NNODES) ?? 1;
  if (!isInt(nnodes) || nnodes < 1) throw new Error(`--nnodes must be a positive integer, got ${String(flags.nnodes ?? env.SLURM_NNODES)}`);
  const nodeRank = num('node-rank', env.SLURM_NODEID) ?? 0;
  if (!isInt(nodeRank) || nodeRank < 0 || nodeRank >= nnodes)
    throw new Error(`--node-rank must be an integer in [0, ${nnodes}) (--nnodes ${nnodes}), got ${String(flags['node-rank'] ?? env.SLURM_NODEID)}`);
  const masterAddr = (flags['master-addr'] as string | undefined) ?? env.MASTER_ADDR;
  if (nnodes > 1 && !masterAddr) throw new Error('--nnodes > 1 needs --master-addr: the address of node 0, reachable from every node (or MASTER_ADDR)');
  const masterPort = num('master-port', env.MASTER_PORT) ?? (nnodes > 1 ? DEFAULT_MASTER_PORT : null);
  if (masterPort !== null && (!isInt(masterPort) || masterPort < 1 || masterPort > 65535))
    throw new Error(`--master-port must be an integer in [1, 65535], got ${String(flags['master-port'] ?? env.MASTER_PORT)}`);
  const timeout = flags['dist-timeout'] !== undefined ? Number(flags['dist-timeout']) : timeoutSecondsOf(env);
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new Error(`--dist-timeout must be a positive number of seconds, got ${String(flags['dist-timeout'])}`);
  return { nprocPerNode: nproc!, nnodes, nodeRank, masterAddr: masterAddr || '127.0.0.1', masterPort, timeoutSeconds: timeout };
}

/** A TCP port free on this host now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** argv without the launcher's own flags (both `--flag v` and `--flag=v`, kebab or camel case). */
export function workerArgs(argv: string[]): string[] {
  const names = new Set(LAUNCH_FLAGS.flatMap((f) => [f, f.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())]));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(=.*)?$/.exec(argv[i]);
    if (m && names.has(m[1])) {
      if (m[2] === undefined) i++;
      continue;
    }
    out.push(argv[i]);
  }
  return out;
}

interface Worker {
  rank: number;
  child: ChildProcess;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/**
 * Runs argv (a script and its arguments, for process.execPath) as this node's workers; resolves to the exit code the
 * launcher should end with (0: every worker succeeded). A failed run also writes why to `log`.
 */
export async function launchWorkers(argv: string[], o: LaunchOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const port = o.masterPort ?? (await freePort());
  const worldSize = o.nprocPerNode * o.nnodes;
  const workers: Worker[] = [];
  for (let local = 0; local < o.nprocPerNode; local++) {
    const rank = o.nodeRank * o.nprocPerNode + local;
    const env = {
      ...process.env, RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(local), LOCAL_WORLD_SIZE: String(o.nprocPerNode),
      GROUP_RANK: String(o.nodeRank), MASTER_ADDR: o.masterAddr, MASTER_PORT: String(port), ATMAN_DIST_TIMEOUT: String(o.timeoutSeconds),
    };
    const child = spawn(process.execPath, [...process.execArgv, ...argv], { env, detached: true, stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe'] });
    const prefix = rank === 0 ? '' : `[rank ${rank}] `;
    let pending = '';
    child.stderr!.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) process.stderr.write(`${prefix}${line}\n`);
    });
    child.stderr!.on('end', () => pending && process.stderr.write(`${prefix}${pending}\n`));
    workers.push({ rank, child, exit: null });
    log(`launcher: rank ${rank} of ${worldSize} (local ${local}) is pid ${child.pid}`);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    log(signals === 1
      ? `launcher: ${signal}: asking every worker to checkpoint and stop (${signal} again kills them)`
      : `launcher: ${signal} again: killing the workers`);
    for (const w of workers) if (w.exit === null) killGroup(w.child, signals === 1 ? 'SIGTERM' : 'SIGKILL');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const firstFailure = await new Promise<Worker | null>((resolve) => {
      let done = 0;
      for (const w of workers) {
        w.child.on('exit', (code, signal) => {
          w.exit = { code, signal };
          if (code !== 0 && signals === 0) resolve(w);
          if (++done === workers.length) resolve(null);
        });
      }
    });
    if (firstFailure === null) {
      const codes = workers.map((w) => w.exit!.code ?? 1);
      return codes.find((c) => c !== 0) ?? 0;
    }
    // The others' collectives fail at once when a peer is gone: give them a moment to say why in their own words (a
    // hung one would keep the run waiting; the run is lost either way, and checkpoints are written atomically).
    const grace = Math.min(o.timeoutSeconds, 10) * 1000 + 2000;
    await Promise.race([Promise.all(workers.map((w) => (w.exit ? null : new Promise((r) => w.child.on('exit', r))))), sleep(grace)]);
    for (const w of workers) if (w.exit === null) killGroup(w.child, 'SIGKILL');
    log(`atman-native: the run failed: rank ${firstFailure.rank} ${fate(firstFailure)} first` +
      (workers.length > 1 ? `; ${workers.filter((w) => w !== firstFailure).map((w) => `rank ${w.rank} ${w.exit ? fate(w) : 'did not stop (hung?) and was killed'}`).join('; ')}` : '') +
      `. Its own messages above (prefixed [rank ${firstFailure.rank}]${firstFailure.rank === 0 ? ' or unprefixed for rank 0' : ''}) say why.`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function fate(w: Worker): string {
  const e = w.exit!;
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal); // the worker and anything it started
  } catch {
    child.kill(signal);
  }
}
