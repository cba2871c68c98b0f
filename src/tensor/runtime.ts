// Memory accounting and the cuda namespace.
import { native, CudaDeviceInfo, CudaMemoryInfo } from '../native';

export interface MemoryInfo {
  /** Tensors held by JS handles that are not disposed (or collected) yet. */
  tensors: number;
  /** Bytes of the distinct CPU storages behind those tensors. */
  cpuBytes: number;
  /** Bytes allocated by the CUDA caching allocator on all devices (0 without CUDA). */
  cudaBytes: number;
}

export function memory(): MemoryInfo {
  return native.memory();
}

function deviceIndex(device?: number | string): number | undefined {
  if (device === undefined) return undefined;
  if (typeof device === 'number') return device;
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new TypeError(`unknown device '${device}': use 'cuda' or 'cuda:N'`);
  return m[1] === undefined ? 0 : Number(m[1]);
}

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  devices: (): CudaDeviceInfo[] => native.cudaDevices(),
  /** Waits for all queued GPU work. */
  synchronize: (device?: number | string): void => native.cudaSynchronize(deviceIndex(device)),
  /** The caching allocator's counters for one device (default: current). */
  memory: (device?: number | string): CudaMemoryInfo => native.cudaMemory(deviceIndex(device)),
  resetPeakMemory: (device?: number | string): void => native.cudaResetPeak(deviceIndex(device)),
  /** Returns cached, unused blocks to the driver. */
  emptyCache: (): void => native.cudaEmptyCache(),
};
