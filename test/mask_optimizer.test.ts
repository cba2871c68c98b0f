// The mask optimizers: Adam moves every token with a steady gradient by about lr per step, whatever the gradient's
// size; rowAdam keeps one second moment per row, so within a row steps keep the ratio of the gradients.
import { full, tensor } from '../src';
import { maskOptimizer } from '../src/atman/mask-optimizer';
import { crucialSet } from '../src/atman/optimize';

function oneStep(name: 'adam' | 'rowAdam'): number[][] {
  const theta = full([2, 3], 2, { requiresGrad: true });
  const mask = tensor([[1, 1, 1], [1, 1, 0]]); // the last entry of row 1 is not a CoT token
  const count = tensor([[3], [2]]);
  const opt = maskOptimizer(name, theta, 0.5, mask, count);
  const w = tensor([[1, 2, 4], [0.001, 0.002, 9]]); // gradient of sum(w·θ) = w
  opt.theta.mul(w).sum().backward();
  opt.step();
  const moved = (opt.theta.toArray() as number[][]).map((row) => row.map((v) => 2 - v));
  opt.dispose();
  return moved;
}

test('adam: every entry moves by about lr (sign-like first step)', () => {
  const d = oneStep('adam');
  for (const row of d) for (const v of row) expect(v).toBeCloseTo(0.5, 3);
});

test('rowAdam: steps within a row keep the gradients\' ratio, rows are scale-free, non-CoT entries stay', () => {
  const d = oneStep('rowAdam');
  expect(d[0][1] / d[0][0]).toBeCloseTo(2, 4);
  expect(d[0][2] / d[0][0]).toBeCloseTo(4, 4);
  // Row scale: the step is lr · g / rms(g of the row's CoT entries), so a row 1000x smaller moves as far.
  const rms0 = Math.sqrt((1 + 4 + 16) / 3), rms1 = Math.sqrt((0.001 ** 2 + 0.002 ** 2) / 2);
  expect(d[0][2]).toBeCloseTo((0.5 * 4) / rms0, 3);
  expect(d[1][1]).toBeCloseTo((0.5 * 0.002) / rms1, 3);
  expect(d[1][2]).toBe(0);
});

test('crucial set: absolute threshold, or relative to the mask\'s own range', () => {
  const s = [0.1, 0.3, 0.25, 0.12];
  expect(crucialSet(s, { threshold: 0.5 })).toEqual([]);
  expect(crucialSet(s, { threshold: 0.5, relativeThreshold: 0.5 })).toEqual([1, 2]); // cut 0.1 + 0.5·0.2 = 0.2
  expect(crucialSet([0.4, 0.4], { threshold: 0.5, relativeThreshold: 0.5 })).toEqual([0, 1]); // no spread: all
  expect(crucialSet([0.9, 0.2], { threshold: 0.5 })).toEqual([0]);
});
