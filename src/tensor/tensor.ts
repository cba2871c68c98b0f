// The Tensor class: a handle on a native libtorch tensor with a torch-like, camelCase API.
import { native, op, NativeArg, NativeResult, NativeTensor } from '../native';
import { DTYPES, Device, Dtype, isDtype } from './dtype';
import { track } from './scope';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type NestedArray<T> = T | NestedArray<T>[];

const OP = {
  shape: op('shape'), dtype: op('dtype'), device: op('device'), requiresGrad: op('requiresGrad'), isLeaf: op('isLeaf'),
  item: op('item'), gradOf: op('gradOf'), to: op('to'),
  add: op('add'), sub: op('sub'), mul: op('mul'), div: op('div'), pow: op('pow'), maximum: op('maximum'),
  minimum: op('minimum'), eq: op('eq'), ne: op('ne'), lt: op('lt'), le: op('le'), gt: op('gt'), ge: op('ge'),
  logicalAnd: op('logicalAnd'), logicalOr: op('logicalOr'), logicalNot: op('logicalNot'), neg: op('neg'),
  exp: op('exp'), log: op('log'), sqrt: op('sqrt'), rsqrt: op('rsqrt'), abs: op('abs'), tanh: op('tanh'),
  sigmoid: op('sigmoid'), relu: op('relu'), silu: op('silu'), gelu: op('gelu'), clamp: op('clamp'), where: op('where'),
  sum: op('sum'), mean: op('mean'), max: op('max'), min: op('min'), argmax: op('argmax'), argmin: op('argmin'),
  logsumexp: op('logsumexp'), norm: op('norm'), std: op('std'), var: op('var'), cumsum: op('cumsum'),
  softmax: op('softmax'), logSoftmax: op('logSoftmax'),
  matmul: op('matmul'), reshape: op('reshape'), view: op('view'), transpose: op('transpose'), permute: op('permute'),
  unsqueeze: op('unsqueeze'), squeeze: op('squeeze'), expand: op('expand'), contiguous: op('contiguous'),
  flatten: op('flatten'), narrow: op('narrow'), indexSelect: op('indexSelect'), gather: op('gather'),
  scatter: op('scatter'), maskedFill: op('maskedFill'), topk: op('topk'), sort: op('sort'),
  multinomial: op('multinomial'), clone: op('clone'), detach: op('detach'), split: op('split'), chunk: op('chunk'),
  backward: op('backward'), requiresGrad_: op('requiresGrad_'), zeroGrad: op('zeroGrad'),
};

/** Converts API arguments to what the addon takes: Tensors to their handles, lists element-wise. */
export function toNative(x: unknown): NativeArg {
  if (x instanceof Tensor) return x.handle;
  if (Array.isArray(x)) return x.map(toNative);
  return x as NativeArg;
}

export function callOp(opIndex: number, ...args: unknown[]): NativeResult {
  // In place, no second array: this runs once per op.
  for (let i = 0; i < args.length; i++) args[i] = toNative(args[i]);
  return native.call(opIndex, ...(args as NativeArg[]));
}

/** Wraps a native result that must be a tensor. */
export function asTensor(r: NativeResult): Tensor {
  return new Tensor(r as NativeTensor);
}

export function asTensors(r: NativeResult): Tensor[] {
  return (r as NativeTensor[]).map((h) => new Tensor(h));
}

function callTensor(opIndex: number, ...args: unknown[]): Tensor {
  return asTensor(callOp(opIndex, ...args));
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function readElement(data: ArrayBufferView, i: number, dtype: Dtype): number | bigint | boolean {
  if (dtype === 'bool') return (data as Uint8Array)[i] !== 0;
  if (dtype === 'int64') {
    const v = (data as BigInt64Array)[i];
    return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
  }
  return (data as Float32Array)[i];
}

export class Tensor {
  private h: NativeTensor | null;
  private cachedShape?: number[];
  private cachedDtype?: Dtype;
  private cachedDevice?: string;

  /** @internal Use the creation functions (tensor, zeros, ...) instead. */
  constructor(handle: NativeTensor) {
    this.h = handle;
    track(this);
  }

  /** @internal The native handle; throws if disposed. */
  get handle(): NativeTensor {
    if (this.h === null) throw new TypeError('disposed tensor: this Tensor was disposed and can no longer be used');
    return this.h;
  }

  // ---- properties ----
  get shape(): number[] {
    this.cachedShape ??= callOp(OP.shape, this) as number[];
    return [...this.cachedShape];
  }
  get dtype(): Dtype {
    return (this.cachedDtype ??= callOp(OP.dtype, this) as Dtype);
  }
  get device(): string {
    return (this.cachedDevice ??= callOp(OP.device, this) as string);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get requiresGrad(): boolean {
    return callOp(OP.requiresGrad, this) as boolean;
  }
  get isLeaf(): boolean {
    return callOp(OP.isLeaf, this) as boolean;
  }
  /** The accumulated gradient, a new Tensor handle each time (dispose it or use tidy), or null. */
  get grad(): Tensor | null {
    const g = callOp(OP.gradOf, this);
    return g === undefined || g === null ? null : asTensor(g);
  }
  get isDisposed(): boolean {
    return this.h === null;
  }

  // ---- memory ----
  dispose(): void {
    if (this.h === null) return;
    native.dispose(this.h);
    this.h = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- conversion ----
  to(target: Dtype | Device | string | { device?: Device | string; dtype?: Dtype }): Tensor {
    if (typeof target === 'string') {
      if (isDtype(target)) return callTensor(OP.to, this, target, null);
      if (!/^(cpu|cuda)(:|$)/.test(target))
        throw new TypeError(
          `unknown dtype or device '${target}': dtypes are ${DTYPES.join(', ')}; devices are 'cpu', 'cuda' and 'cuda:N'`,
        );
      return callTensor(OP.to, this, null, target);
    }
    if (target === null || typeof target !== 'object') throw new TypeError('wrong argument type: to() takes a dtype, a device or {device, dtype}');
    return callTensor(OP.to, this, target.dtype ?? null, target.device ?? null);
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(index = 0): Tensor {
    return this.to(`cuda:${index}`);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  half(): Tensor {
    return this.to('float16');
  }
  bfloat16(): Tensor {
    return this.to('bfloat16');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }

  /** A copy of the values: Float32Array for float32/float16/bfloat16, BigInt64Array for int64, Uint8Array for bool/uint8. */
  dataSync(): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array {
    return native.dataSync(this.handle) as Float32Array;
  }
  /** Like dataSync(), with the device-to-host copy made off the JS thread. */
  data(): Promise<Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array> {
    return native.data(this.handle) as Promise<Float32Array>;
  }
  /** Nested JS arrays; int64 as numbers when safe, else bigint; bool as booleans. A 0-dim tensor gives its value. */
  toArray(): NestedArray<number | bigint | boolean> {
    const data = this.dataSync();
    const shape = this.shape;
    const dtype = this.dtype;
    let pos = 0;
    const build = (dim: number): NestedArray<number | bigint | boolean> => {
      if (dim === shape.length) return readElement(data, pos++, dtype);
      const out: NestedArray<number | bigint | boolean>[] = new Array(shape[dim]);
      for (let i = 0; i < shape[dim]; i++) out[i] = build(dim + 1);
      return out;
    };
    return build(0);
  }
  /** The value of a one-element tensor (number; bigint for int64 beyond 2^53; boolean for bool). */
  item(): number | bigint | boolean {
    return callOp(OP.item, this) as number;
  }

  // ---- elementwise math (tensor or number operand, broadcasting) ----
  add(other: TensorOrScalar): Tensor { return callTensor(OP.add, this, other); }
  sub(other: TensorOrScalar): Tensor { return callTensor(OP.sub, this, other); }
  mul(other: TensorOrScalar): Tensor { return callTensor(OP.mul, this, other); }
  div(other: TensorOrScalar): Tensor { return callTensor(OP.div, this, other); }
  pow(exponent: TensorOrScalar): Tensor { return callTensor(OP.pow, this, exponent); }
  maximum(other: TensorOrScalar): Tensor { return callTensor(OP.maximum, this, other); }
  minimum(other: TensorOrScalar): Tensor { return callTensor(OP.minimum, this, other); }
  neg(): Tensor { return callTensor(OP.neg, this); }
  exp(): Tensor { return callTensor(OP.exp, this); }
  log(): Tensor { return callTensor(OP.log, this); }
  sqrt(): Tensor { return callTensor(OP.sqrt, this); }
  rsqrt(): Tensor { return callTensor(OP.rsqrt, this); }
  abs(): Tensor { return callTensor(OP.abs, this); }
  tanh(): Tensor { return callTensor(OP.tanh, this); }
  sigmoid(): Tensor { return callTensor(OP.sigmoid, this); }
  relu(): Tensor { return callTensor(OP.relu, this); }
  silu(): Tensor { return callTensor(OP.silu, this); }
  /** approximate: 'none' (exact erf, default) or 'tanh'. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return callTensor(OP.gelu, this, approximate); }
  clamp(min?: number | null, max?: number | null): Tensor { return callTensor(OP.clamp, this, min ?? null, max ?? null); }

  // ---- comparisons and logic (bool results) ----
  eq(other: TensorOrScalar): Tensor { return callTensor(OP.eq, this, other); }
  ne(other: TensorOrScalar): Tensor { return callTensor(OP.ne, this, other); }
  lt(other: TensorOrScalar): Tensor { return callTensor(OP.lt, this, other); }
  le(other: TensorOrScalar): Tensor { return callTensor(OP.le, this, other); }
  gt(other: TensorOrScalar): Tensor { return callTensor(OP.gt, this, other); }
  ge(other: TensorOrScalar): Tensor { return callTensor(OP.ge, this, other); }
  logicalAnd(other: TensorOrScalar): Tensor { return callTensor(OP.logicalAnd, this, other); }
  logicalOr(other: TensorOrScalar): Tensor { return callTensor(OP.logicalOr, this, other); }
  logicalNot(): Tensor { return callTensor(OP.logicalNot, this); }
  /** Elements of this where cond is true, else of other (torch's Tensor.where). */
  where(cond: Tensor, other: TensorOrScalar): Tensor { return callTensor(OP.where, cond, this, other); }

  // ---- reductions: no dim reduces everything ----
  sum(dim?: number | number[], keepdim = false): Tensor { return callTensor(OP.sum, this, dim ?? null, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return callTensor(OP.mean, this, dim ?? null, keepdim); }
  /** Largest values (along dim if given); argmax() gives their indices. */
  max(dim?: number, keepdim = false): Tensor { return callTensor(OP.max, this, dim ?? null, keepdim); }
  min(dim?: number, keepdim = false): Tensor { return callTensor(OP.min, this, dim ?? null, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return callTensor(OP.argmax, this, dim ?? null, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return callTensor(OP.argmin, this, dim ?? null, keepdim); }
  logsumexp(dim?: number | number[], keepdim = false): Tensor { return callTensor(OP.logsumexp, this, dim ?? null, keepdim); }
  /** Vector p-norm (default 2) over dim, or over all elements. */
  norm(dim?: number | number[], keepdim = false, p = 2): Tensor { return callTensor(OP.norm, this, dim ?? null, keepdim, p); }
  /** Standard deviation, unbiased (n - 1) unless unbiased is false. */
  std(dim?: number | number[], keepdim = false, unbiased = true): Tensor { return callTensor(OP.std, this, dim ?? null, keepdim, unbiased); }
  var(dim?: number | number[], keepdim = false, unbiased = true): Tensor { return callTensor(OP.var, this, dim ?? null, keepdim, unbiased); }
  cumsum(dim: number): Tensor { return callTensor(OP.cumsum, this, dim); }
  softmax(dim = -1): Tensor { return callTensor(OP.softmax, this, dim); }
  logSoftmax(dim = -1): Tensor { return callTensor(OP.logSoftmax, this, dim); }

  // ---- shape and indexing ----
  matmul(other: Tensor): Tensor { return callTensor(OP.matmul, this, other); }
  reshape(shape: number[]): Tensor { return callTensor(OP.reshape, this, shape); }
  view(shape: number[]): Tensor { return callTensor(OP.view, this, shape); }
  transpose(dim0: number, dim1: number): Tensor { return callTensor(OP.transpose, this, dim0, dim1); }
  permute(dims: number[]): Tensor { return callTensor(OP.permute, this, dims); }
  unsqueeze(dim: number): Tensor { return callTensor(OP.unsqueeze, this, dim); }
  squeeze(dim?: number): Tensor { return callTensor(OP.squeeze, this, dim ?? null); }
  expand(shape: number[]): Tensor { return callTensor(OP.expand, this, shape); }
  contiguous(): Tensor { return callTensor(OP.contiguous, this); }
  flatten(startDim = 0, endDim = -1): Tensor { return callTensor(OP.flatten, this, startDim, endDim); }
  narrow(dim: number, start: number, length: number): Tensor { return callTensor(OP.narrow, this, dim, start, length); }
  indexSelect(dim: number, index: Tensor): Tensor { return callTensor(OP.indexSelect, this, dim, index); }
  gather(dim: number, index: Tensor): Tensor { return callTensor(OP.gather, this, dim, index); }
  /** Out-of-place scatter: a copy with src (tensor or number) written at index along dim. */
  scatter(dim: number, index: Tensor, src: TensorOrScalar): Tensor { return callTensor(OP.scatter, this, dim, index, src); }
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor { return callTensor(OP.maskedFill, this, mask, value); }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [values, indices] = asTensors(callOp(OP.topk, this, k, dim, largest, sorted));
    return { values, indices };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = asTensors(callOp(OP.sort, this, dim, descending));
    return { values, indices };
  }
  /** Samples indices from the (unnormalized, non-negative) weights in the last dim. */
  multinomial(numSamples: number, replacement = false): Tensor { return callTensor(OP.multinomial, this, numSamples, replacement); }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] { return asTensors(callOp(OP.split, this, sizeOrSizes, dim)); }
  chunk(chunks: number, dim = 0): Tensor[] { return asTensors(callOp(OP.chunk, this, chunks, dim)); }
  clone(): Tensor { return callTensor(OP.clone, this); }
  detach(): Tensor { return callTensor(OP.detach, this); }

  // ---- autograd ----
  backward(grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    callOp(OP.backward, this, grad ?? null, opts.retainGraph ?? false);
  }
  requiresGrad_(flag = true): this {
    callOp(OP.requiresGrad_, this, flag);
    return this;
  }
  /** Drops the accumulated gradient (grad becomes null). */
  zeroGrad(): void {
    callOp(OP.zeroGrad, this);
  }

  toString(): string {
    if (this.h === null) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
}
