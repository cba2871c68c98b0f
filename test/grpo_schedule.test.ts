// learningRateAt against transformers' constant / cosine schedules with warmup, at key steps.
import { learningRateAt } from '../src/grpo/schedule';
import { thrown } from './helpers';

const base = { lr: 1e-5, warmupSteps: 10, totalSteps: 110 };

describe('learningRateAt', () => {
  test('constant: linear warmup from 0, then flat', () => {
    const o = { ...base, schedule: 'constant' as const };
    expect(learningRateAt(0, o)).toBe(0);
    expect(learningRateAt(5, o)).toBeCloseTo(0.5e-5, 15);
    expect(learningRateAt(9, o)).toBeCloseTo(0.9e-5, 15);
    expect(learningRateAt(10, o)).toBe(1e-5);
    expect(learningRateAt(60, o)).toBe(1e-5);
    expect(learningRateAt(110, o)).toBe(1e-5);
  });

  test('cosine: warmup, then half a cosine period down to 0 at totalSteps', () => {
    const o = { ...base, schedule: 'cosine' as const };
    expect(learningRateAt(0, o)).toBe(0);
    expect(learningRateAt(10, o)).toBeCloseTo(1e-5, 15); // end of warmup: peak
    expect(learningRateAt(60, o)).toBeCloseTo(0.5e-5, 15); // half way through the decay: cos(π/2) = 0
    // A quarter of the way: 0.5 · (1 + cos(π/4)).
    expect(learningRateAt(35, o)).toBeCloseTo(1e-5 * 0.5 * (1 + Math.SQRT1_2), 15);
    expect(learningRateAt(110, o)).toBeCloseTo(0, 15);
  });

  test('no warmup starts at the peak', () => {
    expect(learningRateAt(0, { lr: 2e-6, warmupSteps: 0, totalSteps: 4, schedule: 'cosine' })).toBe(2e-6);
    expect(learningRateAt(0, { lr: 2e-6, warmupSteps: 0, totalSteps: 4, schedule: 'constant' })).toBe(2e-6);
    expect(learningRateAt(2, { lr: 2e-6, warmupSteps: 0, totalSteps: 4, schedule: 'cosine' })).toBeCloseTo(1e-6, 18);
  });

  test('bad options get an actionable error', () => {
    expect(thrown(() => learningRateAt(-1, { ...base, schedule: 'cosine' })).message).toMatch(/step must be a finite number >= 0/);
    expect(thrown(() => learningRateAt(0, { ...base, lr: NaN, schedule: 'cosine' })).message).toMatch(/lr must be/);
    expect(thrown(() => learningRateAt(0, { ...base, schedule: 'linear' as never })).message).toMatch(/schedule must be 'constant' or 'cosine'/);
  });
});
