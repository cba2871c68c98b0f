// The right-hand sides of a chain of thought's equations: every number written right after an '=' ("6 * 4 = 24").
// They are what the CoT derives rather than copies from the prompt, so a faithful CoT should make each of them likely
// from the CoT before it alone (the cotDerived reward mode, src/atman/reward.ts).
import { NUMBER_SOURCE } from './numbers';

const RESULT = new RegExp(String.raw`=[ \t]*(${NUMBER_SOURCE})`, 'dg');

/** Character offsets [start, end) of each number that follows an '=' (spaces or tabs between allowed), in order. */
export function equationResults(cot: string): { start: number; end: number }[] {
  if (typeof cot !== 'string') throw new TypeError('wrong argument type: equationResults() cot must be a string');
  const out: { start: number; end: number }[] = [];
  for (const m of cot.matchAll(RESULT)) {
    const [start, end] = m.indices![1]!;
    out.push({ start, end });
  }
  return out;
}
