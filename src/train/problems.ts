// The problems a run trains or evaluates on (from the config's data section), and a seeded, resumable stream over
// them: shuffled once per epoch with a PRNG of (seed, epoch), so a position and an epoch restore the order exactly.
import { HintMode, LoadedProblems, Problem, loadGsm8k, loadMmlu, makeHintedProblems, makeSyntheticProblems, mulberry32 } from '../data';

export interface DataSection {
  task: 'synthetic' | 'gsm8k' | 'mmlu' | 'hinted';
  path: string | null;
  limit: number | null;
  shuffle: boolean;
  mmluSubjects: string[] | null;
  synthetic: { count: number; minOps: number; maxOps: number; maxValue: number; ops: ('+' | '-' | '*')[] };
  // The rates are left out by the CLI: the generator's defaults apply.
  hinted: { count: number; minOps: number; maxOps: number; maxValue: number; hint: HintMode; decorativeRate?: number; hintedFaithfulRate?: number };
}

export async function loadProblems(d: DataSection, seed: number): Promise<LoadedProblems> {
  let loaded: LoadedProblems;
  if (d.task === 'synthetic') {
    loaded = { problems: makeSyntheticProblems({ seed, ...d.synthetic }), skipped: 0 };
  } else if (d.task === 'hinted') {
    loaded = { problems: makeHintedProblems({ seed, ...d.hinted }), skipped: 0 };
  } else {
    if (d.path === null)
      throw new Error(`data.task '${d.task}' needs data.path: a ${d.task === 'gsm8k' ? 'GSM8K .jsonl or .parquet file' : 'MMLU directory of <subject>_<split>.csv files, or a .csv/.parquet file'} (e.g. --data.path FILE)`);
    loaded = d.task === 'gsm8k' ? await loadGsm8k(d.path) : await loadMmlu(d.path, { subjects: d.mmluSubjects ?? undefined });
  }
  if (loaded.problems.length === 0) throw new Error(`no usable problems in ${d.path ?? `the ${d.task} task`} (${loaded.skipped} rows skipped)`);
  const problems = d.limit === null ? loaded.problems : loaded.problems.slice(0, d.limit);
  return { problems, skipped: loaded.skipped };
}

export class ProblemStream {
  private order: number[] = [];

  constructor(
    private readonly problems: Problem[],
    private readonly seed: number,
    private readonly shuffle: boolean,
    public position = 0,
    public epoch = 0,
  ) {
    this.order = this.orderFor(epoch);
  }

  private orderFor(epoch: number): number[] {
    const order = this.problems.map((_, i) => i);
    if (!this.shuffle) return order;
    const rand = mulberry32((this.seed * 7919 + epoch) >>> 0);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  /** The next n problems (wrapping into the next epoch). */
  next(n: number): Problem[] {
    const out: Problem[] = [];
    while (out.length < n) {
      if (this.position >= this.order.length) {
        this.epoch += 1;
        this.position = 0;
        this.order = this.orderFor(this.epoch);
      }
      out.push(this.problems[this.order[this.position++]]);
    }
    return out;
  }
}
