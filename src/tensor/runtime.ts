// Memory accounting and the cuda namespace.
import { native, CudaDeviceInfo, CudaMemoryInfo } from '../native';

export interface MemoryInfo {
  /** Tensors held by JS handles that are not disposed (or collected) yet. */
  tensors: number;
  /** Bytes of the distinct CPU storages behind those tensors. */
  cpuBytes: number;
  /** Bytes allocated by the CUDA caching allocator on all devices (0 without CUDA). */
  cudaBytes: number;
  /**
   * Bytes of freed CPU tensor blocks (16 KB and larger) kept for reuse by atman-native's CPU allocator, at most
   * 1 GiB (ATMAN_CPU_CACHE_MB); they count in the process's RSS.
   */
  cpuCachedBytes: number;
}

export function memory(): MemoryInfo {
  return native.memory();
}

// A named device must exist: on a machine without CUDA, or past the last GPU, asking for it throws instead of
// answering zeros. No device means the current one (all counters 0 without CUDA).
function deviceIndex(device?: number | string): number | undefined {
  if (device === undefined) return undefined;
  let index: number;
  let name: string;
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device < 0) throw new TypeError(`unknown device ${device}: a CUDA device index is an integer >= 0`);
    index = device;
    name = `cuda:${device}`;
  } else {
    const m = typeof device === 'string' ? /^cuda(?::(\d+))?$/.exec(device) : null;
    if (!m) throw new TypeError(`unknown device '${String(device)}': use 'cuda' or 'cuda:N'`);
    index = m[1] === undefined ? 0 : Number(m[1]);
    name = device;
  }
  if (!native.cudaIsAvailable())
    throw new TypeError(`device '${name}' is not available: this libtorch has no CUDA or no GPU is visible (atman-native doctor shows what was found)`);
  const count = native.cudaDeviceCount();
  if (index >= count) throw new RangeError(`device '${name}' does not exist: ${count} CUDA device(s) visible (cuda:0 to cuda:${count - 1})`);
  return index;
}

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  devices: (): CudaDeviceInfo[] => native.cudaDevices(),
  /** Waits for all queued GPU work. */
  synchronize: (device?: number | string): void => native.cudaSynchronize(deviceIndex(device)),
  /** The caching allocator's counters for one device (default: the current one; all 0 without CUDA). A named device must exist. */
  memory: (device?: number | string): CudaMemoryInfo => native.cudaMemory(deviceIndex(device)),
  resetPeakMemory: (device?: number | string): void => native.cudaResetPeak(deviceIndex(device)),
  /** Returns cached, unused blocks to the driver. */
  emptyCache: (): void => native.cudaEmptyCache(),
};
