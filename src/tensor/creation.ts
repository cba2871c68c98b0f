// Functions that make new tensors.
import { native, op } from '../native';
import { Dtype, TensorOptions, isDtype } from './dtype';
import { NestedArray, Tensor, asTensor, callOp } from './tensor';

const OP = {
  zeros: op('zeros'), ones: op('ones'), empty: op('empty'), full: op('full'), arange: op('arange'),
  rand: op('rand'), randn: op('randn'), randint: op('randint'), manualSeed: op('manualSeed'),
};

export interface TensorDataOptions extends TensorOptions {
  /** Shape of flat data (a TypedArray or a flat array); default: inferred from nesting. */
  shape?: number[];
}

type Element = number | boolean | bigint;
type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

function checkOptions(opts: TensorOptions | undefined, fn: string): TensorOptions {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object') throw new TypeError(`wrong argument type: ${fn}() options must be an object {dtype, device, requiresGrad}`);
  if (opts.dtype !== undefined && !isDtype(opts.dtype))
    throw new TypeError(`unknown dtype '${String(opts.dtype)}': use one of float32, float16, bfloat16, float64, int64, int32, bool, uint8`);
  if (opts.device !== undefined && typeof opts.device !== 'string') throw new TypeError(`wrong argument type: ${fn}() device must be a string`);
  return opts;
}

function checkShape(shape: unknown, fn: string): number[] {
  if (typeof shape === 'number') shape = [shape];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new TypeError(`invalid shape: ${fn}() needs an array of non-negative integers, got ${JSON.stringify(shape)}`);
  const huge = (shape as number[]).find((d) => !Number.isSafeInteger(d));
  if (huge !== undefined)
    throw new RangeError(`invalid shape: ${fn}() got the size ${huge}, too large: a size must be at most 2^53 - 1 and the element count must fit in int64`);
  return shape as number[];
}

/** Flattens nested arrays, checking that they are rectangular. */
function flatten(data: NestedArray<Element>): { values: Element[]; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const values: Element[] = [];
  const walk = (node: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(node)) throw new TypeError('invalid shape: tensor() got ragged nested arrays (deeper here than elsewhere)');
      if (typeof node !== 'number' && typeof node !== 'boolean' && typeof node !== 'bigint')
        throw new TypeError(`wrong argument type: tensor() data must hold numbers, booleans or bigints, got ${typeof node}`);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim])
      throw new TypeError(`invalid shape: tensor() got ragged nested arrays (dim ${dim} expected length ${shape[dim]})`);
    for (const child of node) walk(child, dim + 1);
  };
  walk(data, 0);
  return { values, shape };
}

// The one rule for numbers going into integer dtypes, everywhere (tensor(), full(), to()): see native/core/dtype.h.
const INTEGER_RULE = 'numbers become integers by truncation toward zero (as torch does), never by wrapping around';
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// Ranges of integer dtypes for JS numbers (int64's top, 2^63 - 1, is no double: 2^63 itself is out).
const INT_RANGE: Partial<Record<Dtype, [number, number, string]>> = {
  int64: [-(2 ** 63), 2 ** 63 - 1024, '[-2^63, 2^63 - 1]'],
  int32: [-(2 ** 31), 2 ** 31 - 1, '[-2147483648, 2147483647]'],
  uint8: [0, 255, '[0, 255]'],
};

function toTypedData(values: Element[], dtype: Dtype | undefined): { data: TypedData; isBool: boolean; dtype: Dtype } {
  const kind = values.length > 0 ? typeof values[0] : 'number';
  if (!values.every((v) => typeof v === kind)) throw new TypeError('wrong argument type: tensor() data mixes numbers, booleans and bigints');
  if (kind === 'boolean') return { data: Uint8Array.from(values as boolean[], (b) => (b ? 1 : 0)), isBool: true, dtype: dtype ?? 'bool' };
  if (kind === 'bigint') {
    // BigInt64Array.from would wrap out-of-range values silently.
    const bad = (values as bigint[]).find((v) => v < INT64_MIN || v > INT64_MAX);
    if (bad !== undefined) throw new RangeError(`invalid values: tensor() got ${bad}, which does not fit in an int64 tensor [-2^63, 2^63 - 1]; ${INTEGER_RULE}`);
    return { data: BigInt64Array.from(values as bigint[]), isBool: false, dtype: dtype ?? 'int64' };
  }
  const target = dtype ?? 'float32';
  if (target === 'int64' || target === 'int32' || target === 'uint8' || target === 'bool') {
    if (!(values as number[]).every(Number.isFinite))
      throw new RangeError(`invalid values: tensor() cannot store NaN or Infinity in a ${target} tensor; ${INTEGER_RULE}`);
    const range = INT_RANGE[target];
    if (range !== undefined) {
      const bad = (values as number[]).find((v) => Math.trunc(v) < range[0] || Math.trunc(v) > range[1]);
      if (bad !== undefined)
        throw new RangeError(`invalid values: tensor() got ${bad}, which does not fit in a ${target} tensor ${range[2]}; ${INTEGER_RULE}`);
    }
    if (target === 'int64') return { data: BigInt64Array.from(values as number[], (v) => BigInt(Math.trunc(v))), isBool: false, dtype: target };
  }
  return { data: Float64Array.from(values as number[]), isBool: false, dtype: target };
}

/**
 * A tensor from nested arrays (numbers default to float32, booleans to bool, bigints to int64), a TypedArray
 * (its own dtype) or a single number. opts.shape gives the shape of flat data.
 */
export function tensor(data: NestedArray<Element> | TypedData, opts?: TensorDataOptions): Tensor {
  const o = checkOptions(opts, 'tensor') as TensorDataOptions;
  let typed: TypedData;
  let isBool = false;
  let dtype: Dtype | undefined = o.dtype;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array || data instanceof BigInt64Array || data instanceof Uint8Array))
      throw new TypeError('wrong argument type: tensor() accepts Float32Array, Float64Array, Int32Array, BigInt64Array and Uint8Array');
    typed = data;
    shape = o.shape !== undefined ? checkShape(o.shape, 'tensor') : [data.length];
  } else {
    if (data === undefined || data === null) throw new TypeError('wrong argument type: tensor() needs data');
    const flat = flatten(data as NestedArray<Element>);
    shape = o.shape !== undefined ? checkShape(o.shape, 'tensor') : flat.shape;
    const converted = toTypedData(flat.values, dtype);
    typed = converted.data;
    isBool = converted.isBool;
    dtype = converted.dtype;
  }
  return new Tensor(native.fromTypedArray(typed, shape, dtype, o.device, o.requiresGrad ?? false, isBool));
}

function factory(opIndex: number, name: string) {
  return (shape: number[] | number, opts?: TensorOptions): Tensor => {
    const o = checkOptions(opts, name);
    return asTensor(callOp(opIndex, checkShape(shape, name), o.dtype ?? null, o.device ?? null, o.requiresGrad ?? false));
  };
}

export const zeros = factory(OP.zeros, 'zeros');
export const ones = factory(OP.ones, 'ones');
/** Uninitialized memory: every element must be written before it is read. */
export const empty = factory(OP.empty, 'empty');
/** Uniform on [0, 1). */
export const rand = factory(OP.rand, 'rand');
/** Standard normal. */
export const randn = factory(OP.randn, 'randn');

export function full(shape: number[] | number, value: number | boolean, opts?: TensorOptions): Tensor {
  const o = checkOptions(opts, 'full');
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new TypeError('wrong argument type: full() value must be a number or boolean');
  return asTensor(callOp(OP.full, checkShape(shape, 'full'), value, o.dtype ?? null, o.device ?? null, o.requiresGrad ?? false));
}

/** arange(end) or arange(start, end, step = 1): int64 when all are integers (as torch), else float32. */
export function arange(start: number, end?: number, step = 1, opts?: TensorOptions): Tensor {
  if (end === undefined) [start, end] = [0, start];
  for (const [n, v] of [['start', start], ['end', end], ['step', step]] as const)
    if (typeof v !== 'number') throw new TypeError(`wrong argument type: arange() ${n} must be a number`);
  const o = checkOptions(opts, 'arange');
  return asTensor(callOp(OP.arange, start, end, step, o.dtype ?? null, o.device ?? null, o.requiresGrad ?? false));
}

/** Integers uniform in [low, high); int64 unless opts.dtype says otherwise. */
export function randint(low: number, high: number, shape: number[] | number, opts?: TensorOptions): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high)) throw new TypeError('wrong argument type: randint() low and high must be integers');
  const o = checkOptions(opts, 'randint');
  return asTensor(callOp(OP.randint, low, high, checkShape(shape, 'randint'), o.dtype ?? null, o.device ?? null, o.requiresGrad ?? false));
}

/** Seeds the CPU and CUDA generators. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError('out of range: manualSeed() needs a non-negative integer');
  callOp(OP.manualSeed, seed);
}
