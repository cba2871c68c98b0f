// Learning-rate schedules with linear warmup, as transformers' get_constant_schedule_with_warmup and
// get_cosine_schedule_with_warmup (num_cycles 0.5): the rate for optimizer step `step`, counted from 0.

export type Schedule = 'constant' | 'cosine';

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warmup from 0 to lr (step 0 has rate 0 when warmupSteps > 0, as in transformers). */
  warmupSteps: number;
  /** Total optimizer steps; cosine decays to 0 at this step. */
  totalSteps: number;
  schedule: Schedule;
}

function check(name: string, v: unknown, hint: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new RangeError(`learningRateAt: ${name} must be a finite number >= 0 (${hint}), got ${String(v)}`);
  return v;
}

/** The multiplier of lr at `step`, in [0, 1]. */
function factor(step: number, o: ScheduleOptions): number {
  if (step < o.warmupSteps) return step / Math.max(1, o.warmupSteps);
  if (o.schedule === 'constant') return 1;
  const progress = (step - o.warmupSteps) / Math.max(1, o.totalSteps - o.warmupSteps);
  // Past totalSteps the cosine would rise again; transformers clamps the value at 0 only, so do we.
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** The learning rate for optimizer step `step` (0-based). */
export function learningRateAt(step: number, o: ScheduleOptions): number {
  check('step', step, 'optimizer steps taken so far');
  check('lr', o.lr, 'the peak learning rate');
  check('warmupSteps', o.warmupSteps, 'linear warmup steps');
  check('totalSteps', o.totalSteps, 'total optimizer steps');
  if (o.schedule !== 'constant' && o.schedule !== 'cosine')
    throw new RangeError(`learningRateAt: schedule must be 'constant' or 'cosine', got ${JSON.stringify(o.schedule)}`);
  return o.lr * factor(step, o);
}
