// save/load in the safetensors format (placeholder until the io work lands).
import { Tensor } from './tensor';

export type TensorRecord = Record<string, Tensor>;
export interface LoadOptions {
  device?: string;
}

export function save(path: string, record: TensorRecord, metadata?: Record<string, string>): void {
  throw new Error('save() is not implemented yet');
}

export function load(path: string, opts: LoadOptions = {}): { tensors: TensorRecord; metadata: Record<string, string> } {
  throw new Error('load() is not implemented yet');
}
