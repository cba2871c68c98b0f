// dtype and device names, and the options creation functions take.
export const DTYPES = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'bool', 'uint8'] as const;
export type Dtype = (typeof DTYPES)[number];
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export interface TensorOptions {
  dtype?: Dtype;
  device?: Device | string;
  requiresGrad?: boolean;
}

export function isDtype(x: unknown): x is Dtype {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function isFloatingDtype(d: Dtype): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
}
