// The device and weight dtype a run uses: 'auto' picks CUDA when there is one; weights are bf16 on CUDA, fp32 on CPU.
import { Dtype } from '../tensor/dtype';
import { cuda } from '../tensor/runtime';

export function resolveDevice(device: string): string {
  if (device === 'auto') return cuda.isAvailable() ? 'cuda' : 'cpu';
  if (device.startsWith('cuda') && !cuda.isAvailable())
    throw new Error(`device '${device}' asked for, but this build sees no CUDA device (run 'atman-native doctor'); use --device cpu`);
  return device;
}

export function resolveDtype(dtype: string, device: string): Dtype {
  if (dtype !== 'auto') return dtype as Dtype;
  return device.startsWith('cuda') ? 'bfloat16' : 'float32';
}
