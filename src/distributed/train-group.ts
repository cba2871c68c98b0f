// What a data-parallel training loop needs from the process group (DESIGN.md "Scale-out"): its share of a batch, the
// batch-level numbers of every rank, the gradient all-reduce, agreement on stopping, and rank 0 going first. With one
// process (no launch environment) every operation is local and free, so the single-process run is unchanged.
import { tensor } from '../tensor/creation';
import { Tensor } from '../tensor/tensor';
import * as dist from './index';
import { launchEnv } from './env';

export interface TrainGroup {
  rank: number;
  worldSize: number;
  /** Rank 0: the one that writes metrics, reports and checkpoints. */
  isMain: boolean;
  /** The device this rank trains on (cuda:LOCAL_RANK under NCCL). */
  device: string;
  /** [start, end) of this rank's contiguous share of n items (sizes differ by at most one, lower ranks larger). */
  share(n: number): [number, number];
  /**
   * Per-item numbers of this rank's share (items offset.. of total) → the whole batch's, every rank's in order. Exact:
   * each slot is one rank's value plus zeros.
   */
  gather(columns: Record<string, number[]>, offset: number, total: number): Promise<Record<string, number[]>>;
  /** Element-wise sums over the ranks. */
  sum(values: number[]): Promise<number[]>;
  /** True on every rank when it is true on any. */
  any(flag: boolean): Promise<boolean>;
  /** Sums the parameters' gradients over the ranks; resolves to the seconds it took. */
  reduceGradients(params: Tensor[]): Promise<number>;
  /**
   * The sum over ranks overlapped with backward (one reducer per parameter list, kept for the run): arm() before the
   * backward that completes the gradients, then finish() (resolves to the seconds it waited); no other collective in
   * between. null for one process, or with ATMAN_DIST_OVERLAP=0 (then reduceGradients after backward).
   */
  overlappedReducer(params: Tensor[]): { arm(): void; finish(): Promise<number> } | null;
  /** Rank 0 runs fn (others wait); a failure there fails every rank, with rank 0's message. */
  mainFirst<T>(fn: () => T | Promise<T>): Promise<T | undefined>;
  barrier(): Promise<void>;
  /** Leaves the group if this object joined it. */
  close(): void;
}

export function shareOf(n: number, rank: number, worldSize: number): [number, number] {
  const base = Math.floor(n / worldSize), extra = n % worldSize;
  const start = rank * base + Math.min(rank, extra);
  return [start, start + base + (rank < extra ? 1 : 0)];
}

export const SOLO_GROUP = (device: string): TrainGroup => ({
  rank: 0, worldSize: 1, isMain: true, device,
  share: (n) => [0, n],
  gather: async (columns) => columns,
  sum: async (values) => values,
  any: async (flag) => flag,
  reduceGradients: async () => 0,
  overlappedReducer: () => null,
  mainFirst: async (fn) => fn(),
  barrier: async () => undefined,
  close: () => undefined,
});

/** Gradient buckets in MiB: ATMAN_DIST_BUCKET_MB or 25 (DDP's default). */
const bucketMb = () => Number(process.env.ATMAN_DIST_BUCKET_MB) || 25;

/**
 * The group of this training process: SOLO_GROUP without a launch environment; else joins (or reuses) the c10d
 * group, Gloo for a CPU run, NCCL for CUDA (each rank on cuda:LOCAL_RANK).
 */
export async function joinTrainGroup(device: string): Promise<TrainGroup> {
  const env = launchEnv();
  if ((env === null || env.worldSize === 1) && !dist.isInitialized()) return SOLO_GROUP(device);
  const onCuda = device.startsWith('cuda');
  const rankDevice = onCuda ? `cuda:${env?.localRank ?? 0}` : device;
  const joined = !dist.isInitialized();
  if (joined) await dist.init({ backend: onCuda ? 'nccl' : 'gloo', device: onCuda ? rankDevice : undefined });
  const rank = dist.rank(), worldSize = dist.worldSize();
  const numbers = async (values: number[]) => {
    const t = tensor(values.length > 0 ? values : [0], { dtype: 'float64', device: rankDevice });
    try {
      await dist.allReduce(t, 'sum');
      return (t.toArray() as number[]).slice(0, values.length);
    } finally {
      t.dispose();
    }
  };
  const reducers = new Map<Tensor[], dist.GradientReducer>();
  const group: TrainGroup = {
    rank, worldSize, isMain: rank === 0, device: rankDevice,
    share: (n) => shareOf(n, rank, worldSize),
    async gather(columns, offset, total) {
      const names = Object.keys(columns);
      const flat = new Array<number>(names.length * total).fill(0);
      names.forEach((name, k) => columns[name].forEach((v, i) => (flat[k * total + offset + i] = v)));
      const all = await numbers(flat);
      return Object.fromEntries(names.map((name, k) => [name, all.slice(k * total, (k + 1) * total)]));
    },
    sum: numbers,
    any: async (flag) => (await numbers([flag ? 1 : 0]))[0] > 0,
    async reduceGradients(params) {
      const t0 = performance.now();
      await dist.allReduceGradients(params, { op: 'sum', bucketMb: bucketMb() });
      return (performance.now() - t0) / 1000;
    },
    overlappedReducer(params) {
      if (process.env.ATMAN_DIST_OVERLAP === '0') return null;
      let r = reducers.get(params);
      if (!r) reducers.set(params, (r = new dist.GradientReducer(params, { bucketMb: bucketMb() })));
      const reducer = r;
      return {
        arm: () => reducer.arm('sum'),
        async finish() {
          const t0 = performance.now();
          await reducer.finish();
          return (performance.now() - t0) / 1000;
        },
      };
    },
    async mainFirst<T>(fn: () => T | Promise<T>): Promise<T | undefined> {
      let result: T | undefined, failure: unknown = null;
      if (rank === 0) {
        try {
          result = await fn();
        } catch (e) {
          failure = e;
        }
      }
      const failed = await group.any(failure !== null);
      if (failure !== null) throw failure;
      if (failed) throw new Error(`rank 0 failed (its message says why); rank ${rank} stops too`);
      return result;
    },
    barrier: () => dist.barrier(),
    close: () => {
      for (const r of reducers.values()) r.dispose();
      if (joined) dist.destroy();
    },
  };
  return group;
}
