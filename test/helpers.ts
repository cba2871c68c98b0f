// Shared helpers for the CPU test suites: approximate comparison of (nested) numeric values.
import { Tensor } from '../src';

type Nested = number | bigint | boolean | Nested[];

/** Flattens nested arrays (or a single value) to a list of numbers. */
export function flat(x: unknown): number[] {
  if (Array.isArray(x)) return x.flatMap((v) => flat(v));
  if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number | bigint>, Number);
  if (typeof x === 'bigint' || typeof x === 'boolean') return [Number(x)];
  return [x as number];
}

/** The shape of nested arrays (rectangular ones). */
export function nestedShape(x: unknown): number[] {
  const shape: number[] = [];
  while (Array.isArray(x)) {
    shape.push(x.length);
    x = x[0];
  }
  return shape;
}

function valuesOf(x: Tensor | Nested | ArrayLike<number>): { values: number[]; shape?: number[] } {
  if (x instanceof Tensor) return { values: flat(x.toArray()), shape: x.shape };
  return { values: flat(x), shape: Array.isArray(x) ? nestedShape(x) : undefined };
}

/**
 * Asserts that actual and expected hold the same number of values, each within atol + rtol * |expected|
 * (NaN matches NaN). Tensors and nested arrays also need equal shapes.
 */
export function expectClose(
  actual: Tensor | Nested | ArrayLike<number>,
  expected: Tensor | Nested | ArrayLike<number>,
  atol = 1e-5,
  rtol = 1e-5,
): void {
  const a = valuesOf(actual);
  const e = valuesOf(expected);
  if (a.shape !== undefined && e.shape !== undefined && Array.isArray(expected)) expect(a.shape).toEqual(e.shape);
  expect(a.values.length).toBe(e.values.length);
  const bad: string[] = [];
  for (let i = 0; i < e.values.length; i++) {
    const x = a.values[i];
    const y = e.values[i];
    if (Number.isNaN(y) ? !Number.isNaN(x) : !(Math.abs(x - y) <= atol + rtol * Math.abs(y)) && x !== y)
      bad.push(`[${i}] got ${x}, expected ${y}`);
  }
  if (bad.length > 0) throw new Error(`values differ (atol ${atol}, rtol ${rtol}):\n  ${bad.slice(0, 10).join('\n  ')}`);
}

/** Asserts a tensor's shape, dtype and exact values (nested, as toArray gives them). */
export function expectTensor(t: Tensor, expected: Nested, dtype?: string): void {
  if (dtype !== undefined) expect(t.dtype).toBe(dtype);
  expect(t.toArray()).toEqual(expected);
}

/** Row-major nested array of the given shape from a flat list. */
export function nest(values: number[], shape: number[]): Nested {
  if (shape.length === 0) return values[0];
  const [n, ...rest] = shape;
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => nest(values.slice(i * size, (i + 1) * size), rest));
}

/** Deterministic, irregular test values in about [-1, 1]. */
export function wave(n: number, phase = 0): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + phase) * 0.9 + 0.05 * Math.cos(7 * i + phase));
}

/** A float32 rounding of x (what a float32 tensor stores). */
export const f32 = (x: number): number => Math.fround(x);

/** Runs global.gc and lets finalizers run; fails clearly when node was not started with --expose-gc. */
export async function collectGarbage(rounds = 3): Promise<void> {
  const gc = (global as { gc?: () => void }).gc;
  if (typeof gc !== 'function') throw new Error('global.gc is missing: run jest with node --expose-gc (npm test does)');
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * The class name of a value, e.g. 'Float32Array'. Arrays and Promises made by the addon come from Node's main realm,
 * not jest's sandbox, so toBeInstanceOf cannot check them.
 */
export function kind(x: unknown): string {
  return Object.prototype.toString.call(x).slice(8, -1);
}

/**
 * Runs call and returns what it threw (or fails the test if it returned). Errors made by the addon come from
 * Node's main realm, not jest's sandbox, so tests compare their `name` rather than using instanceof.
 */
export function thrown(call: () => unknown): Error {
  try {
    call();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** A TypedArray of the given kind holding exactly these values (cross-realm safe, unlike toEqual on typed arrays). */
export function expectTyped(x: unknown, kindName: string, values: (number | bigint)[]): void {
  expect(kind(x)).toBe(kindName);
  expect(Array.from(x as ArrayLike<number | bigint>)).toEqual(values);
}
