// The text of progress: durations, the time left (ETA) from recent steps, the status fields of a step (loss, reward,
// accuracy, tok/s, ETA), a plain log line with all of them, and a terminal line that fits its width.
import { formatNumber } from './escape';

/** 42s, 5m07s, 3h02m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Time left from the pace of the last `span` steps (the first step counts from construction: model loading excluded). */
export class Eta {
  private marks: { step: number; time: number }[];
  private readonly started: number;
  constructor(readonly total: number, start = 0, private readonly clock: () => number = Date.now, private readonly span = 20) {
    this.started = clock();
    this.marks = [{ step: start, time: this.started }];
  }

  /** Records that `step` (1-based, of `total`) is done now. */
  tick(step: number): void {
    const last = this.marks[this.marks.length - 1];
    if (step <= last.step) return;
    this.marks.push({ step, time: this.clock() });
    if (this.marks.length > this.span + 1) this.marks.shift();
  }

  /** Seconds since construction. */
  elapsed(): number {
    return (this.clock() - this.started) / 1000;
  }

  /** Seconds left, or undefined before the first step. */
  left(): number | undefined {
    const a = this.marks[0], b = this.marks[this.marks.length - 1];
    if (b.step <= a.step) return undefined;
    return (((b.time - a.time) / 1000) * Math.max(0, this.total - b.step)) / (b.step - a.step);
  }
}

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** One status field: its text, a shorter form for narrow terminals, and how long it stays when space runs out (higher: longer). */
export interface Field {
  text: string;
  short: string;
  keep: number;
}

function rateText(tps: number, short: boolean): string {
  if (!short) return `${tps.toFixed(0)} tok/s`;
  return tps >= 1e4 ? `${(tps / 1000).toFixed(0)}k t/s` : tps >= 1000 ? `${(tps / 1000).toFixed(1)}k t/s` : `${tps.toFixed(0)} t/s`;
}

/**
 * The status of a step from its metrics (keys missing from them are left out): loss, reward, accuracy
 * ('rewards/correct/mean'), tokens per second, and the ETA when known.
 */
export function statusFields(metrics: Record<string, unknown>, o: { tps?: number; eta?: number } = {}): Field[] {
  const fields: Field[] = [];
  const loss = finite(metrics.loss), reward = finite(metrics.reward), acc = finite(metrics['rewards/correct/mean']);
  if (loss !== undefined) fields.push({ text: `loss ${formatNumber(loss)}`, short: `L ${formatNumber(loss)}`, keep: reward === undefined ? 3 : 1 });
  if (reward !== undefined) fields.push({ text: `reward ${reward.toFixed(3)}`, short: `r ${reward.toFixed(2)}`, keep: 3 });
  if (acc !== undefined) fields.push({ text: `acc ${acc.toFixed(2)}`, short: `acc ${acc.toFixed(2)}`, keep: 2 });
  const lr = finite(metrics.learning_rate);
  if (lr !== undefined && reward === undefined) fields.push({ text: `lr ${formatNumber(lr)}`, short: `lr ${formatNumber(lr)}`, keep: 0 });
  if (o.tps !== undefined && Number.isFinite(o.tps)) fields.push({ text: rateText(o.tps, false), short: rateText(o.tps, true), keep: 1 });
  if (o.eta !== undefined) fields.push({ text: `ETA ${formatDuration(o.eta)}`, short: `ETA ${formatDuration(o.eta)}`, keep: 4 });
  return fields;
}

/** A plain log line (no terminal: files, Slurm, CI): `step 6/100 | loss … | reward … | acc … | … tok/s | elapsed … | ETA …`. */
export function plainLine(step: number, total: number, fields: Field[], elapsed?: number): string {
  const parts = [`step ${step}/${total}`, ...fields.filter((f) => !f.text.startsWith('ETA')).map((f) => f.text)];
  if (elapsed !== undefined) parts.push(`elapsed ${formatDuration(elapsed)}`);
  parts.push(...fields.filter((f) => f.text.startsWith('ETA')).map((f) => f.text));
  return parts.join(' | ');
}

/** A bar of `width` cells, `progress` in [0, 1] of them filled. */
export function barText(progress: number, width: number): string {
  const full = Math.round(Math.min(1, Math.max(0, progress)) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

const MIN_BAR = 10, MAX_BAR = 40;

/**
 * A terminal line of at most `width` characters: `head |bar| field | field …`. When it does not fit, the bar shrinks
 * (to 10 cells), then the fields take their short forms, then the bar goes, then the fields that matter least go.
 */
export function fitLine(head: string, progress: number, fields: Field[], width: number): string {
  const join = (fs: Field[], short: boolean) => fs.map((f) => (short ? f.short : f.text)).join(' | ');
  const withBar = (rest: string) => {
    const room = width - head.length - rest.length - (rest ? 5 : 3); // ' |' bar '| ' (or ' |' bar '|')
    return room >= MIN_BAR ? `${head} |${barText(progress, Math.min(MAX_BAR, room))}|${rest ? ` ${rest}` : ''}` : null;
  };
  for (const short of [false, true]) {
    const line = withBar(join(fields, short));
    if (line !== null) return line;
  }
  let kept = fields.slice();
  for (;;) {
    const line = [head, join(kept, true)].filter((s) => s !== '').join(' | ');
    if (line.length <= width || kept.length === 0) return line.slice(0, width);
    const least = kept.reduce((a, f) => (f.keep < a.keep ? f : a));
    kept = kept.filter((f) => f !== least);
  }
}
