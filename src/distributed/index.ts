// Collectives for TS scripts and the trainer (DESIGN.md "Scale-out"): one c10d process group per process, Gloo for
// CPU tensors, NCCL for CUDA tensors. Every collective returns a Promise and must be called by every rank in the same
// order; a peer that died or hung rejects it with an error naming this rank, after the timeout at the latest.
import { native } from '../native';
import { Tensor } from '../tensor/tensor';
import { LaunchEnv, launchEnv, timeoutSecondsOf } from './env';

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';
export type Backend = 'gloo' | 'nccl';

export interface InitOptions {
  /** Defaults: the launch environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; Slurm's as a fallback). */
  rank?: number;
  worldSize?: number;
  masterAddr?: string;
  masterPort?: number;
  /** 'gloo' for CPU tensors (default), 'nccl' for CUDA tensors. */
  backend?: Backend;
  /** Seconds the rendezvous and each collective may wait for the other ranks (default ATMAN_DIST_TIMEOUT or 600). */
  timeoutSeconds?: number;
  /** Rank 0 hosts the rendezvous store (default: unless torchrun's agent already does). */
  hostStore?: boolean;
  /** nccl: this rank's GPU, 'cuda:N' (default cuda:LOCAL_RANK). */
  device?: string;
}

/** Joins the process group; resolves once every rank has joined. */
export async function init(o: InitOptions = {}): Promise<void> {
  const env: LaunchEnv | null = o.rank === undefined || o.worldSize === undefined ? launchEnv() : null;
  const rank = o.rank ?? env?.rank;
  const worldSize = o.worldSize ?? env?.worldSize;
  if (rank === undefined || worldSize === undefined)
    throw new Error('distributed.init(): no rank/worldSize given and none in the environment (RANK and WORLD_SIZE, as torchrun sets them)');
  const backend = o.backend ?? 'gloo';
  if (!backends().includes(backend))
    throw new Error(`distributed.init(): this build has no ${backend} backend (it has: ${backends().join(', ') || 'none'}); run 'atman-native doctor'`);
  const timeout = o.timeoutSeconds ?? env?.timeoutSeconds ?? timeoutSecondsOf();
  await native.distInit(rank, worldSize, o.masterAddr ?? env?.masterAddr ?? '127.0.0.1', o.masterPort ?? env?.masterPort ?? 29500, backend,
    Math.round(timeout * 1000), o.hostStore ?? env?.hostStore ?? true, o.device ? Number(/^cuda:(\d+)$/.exec(o.device)?.[1] ?? 0) : env?.localRank ?? 0);
}

/** Reduces t in place across the ranks (avg: the sum divided by worldSize); resolves to t. */
export async function allReduce(t: Tensor, op: ReduceOp = 'sum'): Promise<Tensor> {
  await native.distAllReduce([t.handle], op);
  return t;
}

/** Copies rank src's t into every rank's t (in place); resolves to t. */
export async function broadcast(t: Tensor, src = 0): Promise<Tensor> {
  await native.distBroadcast(t.handle, src);
  return t;
}

/** Resolves once every rank has reached it. */
export async function barrier(): Promise<void> {
  await native.distBarrier();
}

/**
 * Reduces the gradients of params across the ranks (sum by default) in flat buckets of about bucketMb MiB; a parameter
 * without a gradient counts as zeros and receives the reduced one. Every rank must pass the same parameters.
 */
export async function allReduceGradients(params: Tensor[], o: { op?: ReduceOp; bucketMb?: number } = {}): Promise<void> {
  await native.distAllReduceGradients(params.map((p) => p.handle), o.op ?? 'sum', Math.max(1, Math.round((o.bucketMb ?? 25) * 2 ** 20)));
}

/**
 * DDP-style gradient all-reduce overlapped with backward: hooks on the parameters' gradient accumulators start each
 * bucket's all-reduce (the last parameters first) as soon as its gradients are final. arm() before the backward that
 * completes the step's gradients, then await finish(); no other collective in between. dispose() removes the hooks.
 */
export class GradientReducer {
  private native: ReturnType<typeof makeReducer> | null;

  constructor(params: Tensor[], o: { bucketMb?: number } = {}) {
    this.native = makeReducer(params, o.bucketMb ?? 25);
  }

  arm(op: ReduceOp = 'sum'): void {
    this.live().arm(op);
  }

  async finish(): Promise<void> {
    await this.live().finish();
  }

  /** Of the last finish(): the buckets whose all-reduce had started during backward, and all buckets. */
  stats(): { overlapped: number; buckets: number } {
    return this.live().stats();
  }

  dispose(): void {
    this.native?.dispose();
    this.native = null;
  }

  private live() {
    if (this.native === null) throw new Error('distributed: the gradient reducer was disposed');
    return this.native;
  }
}

const makeReducer = (params: Tensor[], bucketMb: number) =>
  new native.GradientReducer(params.map((p) => p.handle), Math.max(1, Math.round(bucketMb * 2 ** 20)));

/** The addon's group state; an addon built before data parallel (an old prebuild) has none and is never in a group. */
function info(): ReturnType<typeof native.distInfo> {
  if (typeof native.distInfo !== 'function') return { initialized: false, rank: 0, worldSize: 1, backend: '', backends: [] };
  return native.distInfo();
}

/** This process's rank (0 outside a group). */
export function rank(): number {
  return info().rank;
}

/** The number of processes in the group (1 outside a group). */
export function worldSize(): number {
  return info().worldSize;
}

export function isInitialized(): boolean {
  return info().initialized;
}

/** The backends this build has ('gloo', 'nccl'). */
export function backends(): Backend[] {
  return info().backends as Backend[];
}

/** Leaves the group (other ranks' pending collectives then fail). A no-op outside a group. */
export function destroy(): void {
  if (info().initialized) native.distDestroy();
}

export { launchEnv } from './env';
export type { LaunchEnv } from './env';
