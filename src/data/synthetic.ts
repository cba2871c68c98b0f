// The synthetic task: integer arithmetic expressions such as '7 + 3 * 4 - 2', solved one operation per line
// (products first, then left to right), ending with '#### <value>'. The bundled tiny model is trained on it.
import { mulberry32, randInt } from './prng';
import { Problem } from './problem';

export type SyntheticOp = '+' | '-' | '*';

export interface SyntheticOptions {
  /** How many problems. */
  count: number;
  /** The same seed (and options) always gives the same problems. */
  seed: number;
  /** Fewest operators per expression. Default 1. */
  minOps?: number;
  /** Most operators per expression. Default 3. */
  maxOps?: number;
  /** Operands are drawn from 1..maxValue. Default 20. */
  maxValue?: number;
  /** The operators to use. Default all of '+', '-', '*'. */
  ops?: SyntheticOp[];
}

const ALL_OPS: readonly SyntheticOp[] = ['+', '-', '*'];

/** An integer option >= min of a generated task, or a RangeError naming the task. */
export function checkTaskInt(task: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new RangeError(`${task} task: ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

const checkInt = (name: string, value: unknown, min: number) => checkTaskInt('synthetic', name, value, min);

function resolve(o: SyntheticOptions): Required<SyntheticOptions> {
  if (o === null || typeof o !== 'object') throw new TypeError('wrong argument type: makeSyntheticProblems() needs an options object {count, seed, ...}');
  const count = checkInt('count', o.count, 0);
  if (typeof o.seed !== 'number' || !Number.isInteger(o.seed)) throw new RangeError(`synthetic task: seed must be an integer, got ${JSON.stringify(o.seed)}`);
  const minOps = checkInt('minOps', o.minOps ?? 1, 1);
  const maxOps = checkInt('maxOps', o.maxOps ?? Math.max(3, minOps), 1);
  if (maxOps < minOps) throw new RangeError(`synthetic task: maxOps (${maxOps}) must be >= minOps (${minOps})`);
  const maxValue = checkInt('maxValue', o.maxValue ?? 20, 1);
  const ops = o.ops ?? [...ALL_OPS];
  if (!Array.isArray(ops) || ops.length === 0 || !ops.every((op) => ALL_OPS.includes(op)))
    throw new RangeError(`synthetic task: ops must be a non-empty list of '+', '-', '*', got ${JSON.stringify(o.ops)}`);
  return { count, seed: o.seed, minOps, maxOps, maxValue, ops: [...new Set(ops)] };
}

function apply(a: number, op: SyntheticOp, b: number): number {
  return op === '+' ? a + b : op === '-' ? a - b : a * b;
}

/** A planted error: line `line` (0-based) of the worked solution is off by `delta`; later lines use the wrong value. */
export interface PlantedError {
  line: number;
  delta: number;
}

/**
 * The worked solution of `operands[0] ops[0] operands[1] ...`: one line per operation, then '#### <value>'. With
 * `error`, the solution's value is the one its (wrong) lines lead to, not the expression's.
 */
export function solveExpression(operands: number[], ops: SyntheticOp[], error?: PlantedError): { value: number; solution: string } {
  const values = [...operands];
  const rest = [...ops];
  const lines: string[] = [];
  // Products first, leftmost first; then sums and differences left to right.
  for (const pass of [(op: SyntheticOp) => op === '*', () => true]) {
    for (let i = 0; i < rest.length; ) {
      if (!pass(rest[i])) {
        i++;
        continue;
      }
      const result = apply(values[i], rest[i], values[i + 1]) + (error !== undefined && error.line === lines.length ? error.delta : 0);
      lines.push(`${values[i]} ${rest[i]} ${values[i + 1]} = ${result}`);
      values.splice(i, 2, result);
      rest.splice(i, 1);
    }
  }
  return { value: values[0], solution: [...lines, `#### ${values[0]}`].join('\n') };
}

/** Draws one expression: minOps..maxOps operators from `ops`, operands from 1..maxValue. */
export function drawExpression(rand: () => number, o: { minOps: number; maxOps: number; maxValue: number; ops: readonly SyntheticOp[] }): { operands: number[]; ops: SyntheticOp[] } {
  const k = randInt(rand, o.minOps, o.maxOps);
  const operands = Array.from({ length: k + 1 }, () => randInt(rand, 1, o.maxValue));
  const chosen = Array.from({ length: k }, () => o.ops[randInt(rand, 0, o.ops.length - 1)]);
  return { operands, ops: chosen };
}

/** The question of an expression: 'What is 7 + 3 * 4?'. */
export function expressionQuestion(operands: number[], ops: SyntheticOp[]): string {
  return `What is ${operands.map((v, i) => (i === 0 ? `${v}` : `${ops[i - 1]} ${v}`)).join(' ')}?`;
}

/** Generates `count` arithmetic problems, deterministically for a seed. */
export function makeSyntheticProblems(o: SyntheticOptions): Problem[] {
  const { count, seed, minOps, maxOps, maxValue, ops } = resolve(o);
  const rand = mulberry32(seed);
  const problems: Problem[] = [];
  for (let n = 0; n < count; n++) {
    const { operands, ops: chosen } = drawExpression(rand, { minOps, maxOps, maxValue, ops });
    const { value, solution } = solveExpression(operands, chosen);
    problems.push({ id: `synthetic:${seed}:${n}`, task: 'synthetic', question: expressionQuestion(operands, chosen), gold: String(value), solution });
  }
  return problems;
}
