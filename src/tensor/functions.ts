// Module-level tensor functions: joining, splitting, selection and gradient mode.
import { op } from '../native';
import { Tensor, TensorOrScalar, asTensor, callOp } from './tensor';

const OP = {
  cat: op('cat'), stack: op('stack'), where: op('where'), grad: op('grad'),
  setGradEnabled: op('setGradEnabled'), isGradEnabled: op('isGradEnabled'),
};

function checkList(list: unknown, fn: string): Tensor[] {
  if (!Array.isArray(list) || list.length === 0 || !list.every((t) => t instanceof Tensor))
    throw new TypeError(`wrong argument type: ${fn}() needs a non-empty array of Tensors`);
  return list as Tensor[];
}

export function cat(list: Tensor[], dim = 0): Tensor {
  return asTensor(callOp(OP.cat, checkList(list, 'cat'), dim));
}

export function stack(list: Tensor[], dim = 0): Tensor {
  return asTensor(callOp(OP.stack, checkList(list, 'stack'), dim));
}

export function split(t: Tensor, sizeOrSizes: number | number[], dim = 0): Tensor[] {
  return t.split(sizeOrSizes, dim);
}

export function chunk(t: Tensor, chunks: number, dim = 0): Tensor[] {
  return t.chunk(chunks, dim);
}

/** a where cond is true, else b; a and b may be numbers. */
export function where(cond: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return asTensor(callOp(OP.where, cond, a, b));
}

/** Runs fn with gradient recording off (like torch.no_grad()). Works with async functions too. */
export function noGrad<T>(fn: () => T): T {
  const previous = callOp(OP.setGradEnabled, false) as boolean;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    callOp(OP.setGradEnabled, previous);
    throw e;
  }
  if (result instanceof Promise) {
    // Grad mode is per thread: restore it when the promise settles.
    return result.finally(() => callOp(OP.setGradEnabled, previous)) as T;
  }
  callOp(OP.setGradEnabled, previous);
  return result;
}

export function isGradEnabled(): boolean {
  return callOp(OP.isGradEnabled) as boolean;
}

export interface GradOptions {
  gradOutputs?: Tensor[];
  retainGraph?: boolean;
  createGraph?: boolean;
}

/** Gradients of outputs with respect to inputs (torch.autograd.grad); null where an input is unused. */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = checkList(Array.isArray(outputs) ? outputs : [outputs], 'grad');
  const ins = checkList(Array.isArray(inputs) ? inputs : [inputs], 'grad');
  const r = callOp(OP.grad, outs, ins, opts.gradOutputs ?? null, opts.retainGraph ?? false, opts.createGraph ?? false) as unknown[];
  return r.map((h) => (h === null ? null : asTensor(h as never)));
}

