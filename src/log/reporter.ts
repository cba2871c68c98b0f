// What the user sees while training: a progress bar on a TTY, JSON metric lines on stdout in --json mode, and
// plain log lines otherwise.
import { MultiBar, SingleBar } from 'cli-progress';

export interface ReporterOptions {
  /** Print one JSON line of metrics per update on `out` and nothing else there. */
  json?: boolean;
  /** Total steps. */
  total: number;
  /** Where the progress bar and log messages go (default process.stderr). The bar shows only if it is a TTY. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Where JSON metric lines go (default process.stdout). */
  out?: NodeJS.WritableStream;
}

export interface Reporter {
  /** Step `step` (1-based) is done with these metrics. */
  update(step: number, metrics: Record<string, unknown>): void;
  /** A line of text for the user (kept apart from the bar and from JSON output). */
  log(message: string): void;
  /** Ends the bar (idempotent). */
  stop(): void;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function fmt(v: number | undefined, digits: number): string {
  return v === undefined ? '-' : v.toFixed(digits);
}

/** Tokens per second: given by the trainer, or from its cumulative `num_tokens` between updates. */
class Throughput {
  private last: { tokens: number; time: number } | undefined;
  rate(metrics: Record<string, unknown>): number | undefined {
    const given = num(metrics.tokens_per_second);
    if (given !== undefined) return given;
    const tokens = num(metrics.num_tokens);
    if (tokens === undefined) return undefined;
    const now = Date.now();
    const prev = this.last;
    this.last = { tokens, time: now };
    return prev !== undefined && now > prev.time ? ((tokens - prev.tokens) * 1000) / (now - prev.time) : undefined;
  }
}

function barReporter(total: number, stream: NodeJS.WritableStream): Reporter {
  const multi = new MultiBar({
    stream: stream as NodeJS.WritableStream & { isTTY: boolean },
    format: 'step {value}/{total} |{bar}| reward {reward} | acc {acc} | {tps} tok/s | ETA {eta_formatted}',
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 20,
    autopadding: true,
  });
  const bar: SingleBar = multi.create(total, 0, { reward: '-', acc: '-', tps: '-' });
  const throughput = new Throughput();
  let stopped = false;
  return {
    update(step, metrics) {
      if (stopped) return;
      bar.update(step, {
        reward: fmt(num(metrics.reward), 3),
        acc: fmt(num(metrics['rewards/correct/mean']), 2),
        tps: fmt(throughput.rate(metrics), 0),
      });
    },
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

/** Picks the reporter for the situation: JSON lines, a progress bar (TTY) or plain log lines (no bar). */
export function createReporter(o: ReporterOptions): Reporter {
  const stream = o.stream ?? process.stderr;
  const out = o.out ?? process.stdout;
  if (o.json === true) {
    return {
      update(step, metrics) {
        out.write(`${JSON.stringify({ step, ...metrics }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}\n`);
      },
      log(message) {
        stream.write(`${message}\n`);
      },
      stop() {},
    };
  }
  if (stream.isTTY === true) return barReporter(o.total, stream);
  return {
    update() {},
    log(message) {
      stream.write(`${message}\n`);
    },
    stop() {},
  };
}
