// What the user sees while a run goes: a progress bar on a TTY (fitted to its width), one JSON line per logged row in
// --json mode, and a plain log line per logged row otherwise (nohup, Slurm, CI: stdout/stderr not a terminal).
import { MultiBar, SingleBar } from 'cli-progress';
import { Eta, fitLine, plainLine, statusFields } from './progress-line';

export interface ReporterOptions {
  /** Print one JSON line per logged row on `out` and nothing else there. */
  json?: boolean;
  /** Total steps. */
  total: number;
  /** Steps already done before this invocation (a resumed run), for the bar and the ETA. */
  start?: number;
  /** Where the progress bar and log lines go (default process.stderr). The bar shows only if it is a TTY. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Where JSON lines go (default process.stdout). */
  out?: NodeJS.WritableStream;
  /** The clock (milliseconds), for tests. */
  clock?: () => number;
}

export interface Reporter {
  /** Step `step` (1-based) is done with these metrics: moves the bar (TTY) and the ETA; prints nothing otherwise. */
  update(step: number, metrics: Record<string, unknown>): void;
  /**
   * A row of the metrics log (at the logging cadence, averaged over its window): one JSON line in --json mode, a plain
   * line off a terminal, nothing on a terminal (the bar shows it).
   */
  record(step: number, row: Record<string, unknown>): void;
  /** A line of text for the user (kept apart from the bar and from JSON output). */
  log(message: string): void;
  /** Ends the bar (idempotent). */
  stop(): void;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

const jsonLine = (row: Record<string, unknown>) =>
  JSON.stringify(row, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));

function barReporter(o: ReporterOptions, stream: NodeJS.WritableStream & { columns?: number }, eta: Eta): Reporter {
  let metrics: Record<string, unknown> = {};
  const multi = new MultiBar({
    stream: stream as NodeJS.WritableStream & { isTTY: boolean },
    format: (_opts, params) => {
      // the GRPO loss says little about progress: the bar shows it only when there is no reward (sft)
      const shown = num(metrics.reward) === undefined ? metrics : { ...metrics, loss: undefined };
      const fields = statusFields(shown, { tps: num(metrics.tokens_per_second), eta: eta.left() });
      return fitLine(`step ${params.value}/${params.total}`, params.progress, fields, (stream.columns ?? params.maxWidth) - 1);
    },
    hideCursor: true,
    clearOnComplete: false,
  });
  const bar: SingleBar = multi.create(o.total, o.start ?? 0);
  let stopped = false;
  return {
    update(step, m) {
      if (stopped) return;
      metrics = m;
      eta.tick(step);
      bar.update(step);
    },
    record() {},
    log(message) {
      if (stopped) stream.write(`${message}\n`);
      else {
        multi.log(`${message}\n`);
        multi.update(); // print it now (cli-progress would wait for its next redraw and drop it on stop)
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multi.stop();
    },
  };
}

/** Picks the reporter for the situation: JSON lines, a progress bar (TTY) or plain log lines (no terminal). */
export function createReporter(o: ReporterOptions): Reporter {
  const stream = o.stream ?? process.stderr;
  const out = o.out ?? process.stdout;
  const eta = new Eta(o.total, o.start ?? 0, o.clock);
  const log = (message: string) => void stream.write(`${message}\n`);
  if (o.json === true) {
    return {
      update: (step) => eta.tick(step),
      record: (step, row) => void out.write(`${jsonLine({ step, ...row })}\n`),
      log,
      stop() {},
    };
  }
  if (stream.isTTY === true) return barReporter(o, stream, eta);
  return {
    update: (step) => eta.tick(step),
    record(step, row) {
      const fields = statusFields(row, { tps: num(row.tokens_per_second), eta: eta.left() });
      log(plainLine(step, o.total, fields, eta.elapsed()));
    },
    log,
    stop() {},
  };
}
