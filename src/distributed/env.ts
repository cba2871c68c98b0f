// The launch contract a worker reads from its environment: torchrun's (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), with Slurm's srun variables as a fallback (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, SLURM_NTASKS_PER_NODE, SLURM_LAUNCH_NODE_IPADDR). Our own launcher sets torchrun's names.

export interface LaunchEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  /** false when the launcher already hosts the rendezvous store on MASTER_PORT (torchrun's agent store). */
  hostStore: boolean;
  /** Seconds a collective (or the rendezvous) may wait for the other ranks. */
  timeoutSeconds: number;
  /** Where the values came from, for messages. */
  source: 'torchrun' | 'slurm';
}

export const DEFAULT_MASTER_PORT = 29500;
export const DEFAULT_TIMEOUT_SECONDS = 600;

function intOf(env: NodeJS.ProcessEnv, name: string, min: number): number {
  const raw = env[name]!;
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min)
    throw new Error(`distributed: ${name}=${JSON.stringify(raw)} is not an integer >= ${min} (the launcher sets it; check your torchrun/srun command)`);
  return v;
}

/** The distributed timeout: ATMAN_DIST_TIMEOUT (seconds, set by --dist-timeout) or 600. */
export function timeoutSecondsOf(env: NodeJS.ProcessEnv = process.env): number {
  if (env.ATMAN_DIST_TIMEOUT === undefined || env.ATMAN_DIST_TIMEOUT === '') return DEFAULT_TIMEOUT_SECONDS;
  const v = Number(env.ATMAN_DIST_TIMEOUT);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`distributed: ATMAN_DIST_TIMEOUT=${JSON.stringify(env.ATMAN_DIST_TIMEOUT)} must be a positive number of seconds`);
  return v;
}

/**
 * The launch contract of this process, or null when it was not started as one of several workers (no WORLD_SIZE, and
 * no Slurm job step of more than one task).
 */
export function launchEnv(env: NodeJS.ProcessEnv = process.env): LaunchEnv | null {
  const timeoutSeconds = timeoutSecondsOf(env);
  if (env.WORLD_SIZE !== undefined && env.WORLD_SIZE !== '') {
    const worldSize = intOf(env, 'WORLD_SIZE', 1);
    if (env.RANK === undefined) throw new Error('distributed: WORLD_SIZE is set but RANK is not (a torchrun-style launcher sets both)');
    const rank = intOf(env, 'RANK', 0);
    if (rank >= worldSize) throw new Error(`distributed: RANK=${rank} must be below WORLD_SIZE=${worldSize}`);
    return {
      rank, worldSize,
      localRank: env.LOCAL_RANK !== undefined ? intOf(env, 'LOCAL_RANK', 0) : rank,
      masterAddr: env.MASTER_ADDR || '127.0.0.1',
      masterPort: env.MASTER_PORT ? intOf(env, 'MASTER_PORT', 1) : DEFAULT_MASTER_PORT,
      hostStore: !/^(1|true)$/i.test(env.TORCHELASTIC_USE_AGENT_STORE ?? ''),
      timeoutSeconds,
      source: 'torchrun',
    };
  }
  if (env.SLURM_NTASKS !== undefined && env.SLURM_PROCID !== undefined && Number(env.SLURM_NTASKS) > 1) {
    const worldSize = intOf(env, 'SLURM_NTASKS', 1);
    const rank = intOf(env, 'SLURM_PROCID', 0);
    return {
      rank, worldSize,
      localRank: env.SLURM_LOCALID !== undefined ? intOf(env, 'SLURM_LOCALID', 0) : 0,
      masterAddr: env.MASTER_ADDR || env.SLURM_LAUNCH_NODE_IPADDR || '127.0.0.1',
      masterPort: env.MASTER_PORT ? intOf(env, 'MASTER_PORT', 1) : DEFAULT_MASTER_PORT,
      hostStore: true,
      timeoutSeconds,
      source: 'slurm',
    };
  }
  return null;
}
