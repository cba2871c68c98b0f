// The logging cadence (logging.every): per-step metric rows are collected and written as one row every N steps, each
// number the mean over the steps of the window, as TRL averages its metrics between two logging steps.

export type Row = Record<string, unknown>;

/** Whether `step` (1-based) ends a logging window of `every` steps (steps every, 2·every, …, like TRL's global_step % N == 0). */
export const isLogStep = (step: number, every: number): boolean => every > 0 && step % every === 0;

export class MetricWindow {
  /** Per key, in order of first appearance: the running sum and count of its numbers, or its last other value. */
  private keys = new Map<string, { sum: number; n: number } | { value: unknown }>();
  private count = 0;

  /** Steps collected since the last flush. */
  get size(): number {
    return this.count;
  }

  /** Adds one step's row. Numbers are averaged (a NaN stays NaN: a bad step must show); anything else keeps its last value. */
  add(row: Row): void {
    this.count += 1;
    for (const [k, v] of Object.entries(row)) {
      if (v === undefined) continue;
      const acc = this.keys.get(k);
      if (typeof v === 'number' && (acc === undefined || 'sum' in acc)) {
        const s = acc ?? { sum: 0, n: 0 };
        s.sum += v;
        s.n += 1;
        this.keys.set(k, s);
      } else this.keys.set(k, { value: v });
    }
  }

  /** The window's row, logged at `step`, and a fresh window; null when nothing was added. */
  flush(step: number): Row | null {
    if (this.count === 0) return null;
    const row: Row = { step };
    for (const [k, acc] of this.keys) if (k !== 'step') row[k] = 'sum' in acc ? acc.sum / acc.n : acc.value;
    this.keys = new Map();
    this.count = 0;
    return row;
  }
}
