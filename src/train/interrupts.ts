// SIGINT (Ctrl-C) and SIGTERM (docker stop, Slurm, kill) during training: the first one asks the trainer to stop at
// the next safe point and checkpoint; a second one quits at once, without a checkpoint.

/** Thrown at a safe point of a step once a stop was asked for: the step is abandoned before its update. */
export class StepAborted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`step abandoned after ${signal}`);
    this.name = 'StepAborted';
  }
}

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };
const WATCHED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export interface Interrupts {
  /** The first signal received, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Throws StepAborted when a signal was received (call it where abandoning the step loses nothing). */
  throwIfSignalled(): void;
  dispose(): void;
}

/** The exit status a shell reports for a process ended by this signal (130 for SIGINT, 143 for SIGTERM). */
export const exitCodeOf = (signal: NodeJS.Signals): number => EXIT_CODES[signal] ?? 1;

/** Watches SIGINT and SIGTERM until dispose(); onFirst runs when the first one arrives. */
export function watchInterrupts(onFirst: (signal: NodeJS.Signals) => void): Interrupts {
  let received: NodeJS.Signals | null = null;
  const handler = (signal: NodeJS.Signals) => {
    if (received !== null) process.exit(exitCodeOf(signal));
    received = signal;
    onFirst(signal);
  };
  for (const s of WATCHED) process.on(s, handler);
  return {
    get signal() {
      return received;
    },
    throwIfSignalled() {
      if (received !== null) throw new StepAborted(received);
    },
    dispose() {
      for (const s of WATCHED) process.off(s, handler);
    },
  };
}
