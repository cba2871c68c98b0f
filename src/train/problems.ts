// The problems a run trains or evaluates on (from the config's data section), and a seeded, resumable stream over
// them: shuffled once per epoch with a PRNG of (seed, epoch), so a position and an epoch restore the order exactly.
import {
  FieldMap, HintMode, LoadedProblems, MAX_REPORTED_ERRORS, Problem, ReadError, TaskName, loadAnswerFinder, loadDataFile,
  makeHintedProblems, makeSyntheticProblems, mulberry32,
} from '../data';

export interface DataSection {
  /** 'auto': synthetic without a path, else inferred from the path and its rows. */
  task: TaskName | 'auto';
  path: string | null;
  limit: number | null;
  shuffle: boolean;
  mmluSubjects: string[] | null;
  synthetic: { count: number; minOps: number; maxOps: number; maxValue: number; ops: ('+' | '-' | '*')[] };
  // The rates are left out by the CLI: the generator's defaults apply.
  hinted: { count: number; minOps: number; maxOps: number; maxValue: number; hint: HintMode; decorativeRate?: number; hintedFaithfulRate?: number; wrongHintRate?: number };
  /** Column names of the data file (question, answer, choices, subject). */
  fields?: FieldMap;
  /** The system message instead of the task's ('' for none). */
  systemPrompt?: string | null;
  /** A regex whose first capture group is the final answer, instead of '#### <answer>'. */
  answerPattern?: string | null;
  /** A JS module ('file.js' or 'file.js#exportName') whose function (completion) => answer | null reads the final answer. */
  answerExtractor?: string | null;
}

export interface ProblemSet extends LoadedProblems {
  /** The task the problems are of (data.task, or the one inferred). */
  task: TaskName;
  /** What the user should know about how the data was read (an inferred task). */
  notes: string[];
}

export async function loadProblems(d: DataSection, seed: number): Promise<ProblemSet> {
  const finder = await loadAnswerFinder(d);
  let loaded: LoadedProblems;
  let task: TaskName;
  const notes: string[] = [];
  if (d.path === null && (d.task === 'synthetic' || d.task === 'hinted' || d.task === 'auto')) {
    task = d.task === 'auto' ? 'synthetic' : d.task;
    const problems = task === 'synthetic' ? makeSyntheticProblems({ seed, ...d.synthetic }) : makeHintedProblems({ seed, ...d.hinted });
    loaded = { problems, skipped: 0, errors: [] };
  } else {
    if (d.path === null)
      throw new Error(`data.task '${d.task}' needs data.path: ${d.task === 'gsm8k' ? 'a GSM8K .jsonl or .parquet file' : d.task === 'mmlu' ? 'an MMLU directory of <subject>_<split>.csv files, or a .csv/.parquet file' : 'a .jsonl, .json, .csv or .parquet file'} (e.g. --data.path FILE)`);
    const file = await loadDataFile(d.path, { task: d.task, fields: d.fields, finder, mmluSubjects: d.mmluSubjects ?? undefined });
    ({ task } = file);
    loaded = file;
    if (file.inferred) notes.push(`data.task auto: reading ${d.path} as '${task}' (${file.inferred}); set data.task to choose`);
  }
  if (loaded.problems.length === 0)
    throw new Error(`no usable problems in ${d.path ?? `the ${d.task} task`} (${loaded.skipped} rows skipped)` +
      (loaded.errors.length > 0 ? `; first: ${formatReadError(loaded.errors[0], d.path)}` : ''));
  let problems = d.limit === null ? loaded.problems : loaded.problems.slice(0, d.limit);
  if ((d.systemPrompt ?? null) !== null || finder !== undefined) {
    problems = problems.map((p) => ({
      ...p,
      ...(d.systemPrompt !== null && d.systemPrompt !== undefined ? { system: d.systemPrompt } : {}),
      ...(finder !== undefined ? { answerFinder: finder } : {}),
    }));
  }
  if (finder !== undefined && (d.systemPrompt ?? null) === null && problems.some((p) => p.messages === undefined))
    notes.push("data.answerPattern/answerExtractor is set but data.systemPrompt is not: the task's system prompt asks for '#### <answer>'; set data.systemPrompt to ask for your format");
  return { problems, skipped: loaded.skipped, errors: loaded.errors, task, notes };
}

function formatReadError(e: ReadError, where: string | null): string {
  const file = e.file ?? where;
  const at = [file, e.row > 0 ? String(e.row) : null].filter((x) => x).join(':');
  return at === '' ? e.message : `${at}: ${e.message}`;
}

/**
 * The skipped rows as lines for the user: the count, then the first MAX_REPORTED_ERRORS as 'file:line: reason'.
 * Empty when nothing was skipped.
 */
export function formatSkipped(s: { skipped: number; errors: ReadError[] }, where: string | null): string[] {
  if (s.skipped === 0) return [];
  const lines = [`skipped ${s.skipped} row(s)${where ? ` of ${where}` : ''}${s.skipped > s.errors.length ? ` (the first ${s.errors.length}):` : ':'}`];
  for (const e of s.errors) lines.push(`  ${formatReadError(e, where)}`);
  return lines;
}

/** The skipped rows as the `skipped` field of JSON output: {count, rows: [{file?, row, reason}]} (the first 20). */
export function skippedJson(s: { skipped: number; errors: ReadError[] }, where: string | null): { count: number; rows: { file?: string; row: number; reason: string }[] } {
  return {
    count: s.skipped,
    rows: s.errors.map((e) => ({ ...((e.file ?? where) ? { file: (e.file ?? where)! } : {}), row: e.row, reason: e.message })),
  };
}

/**
 * Leaves out the problems whose prompt, with `reserve` more tokens (the completion), does not fit the model's
 * `maxPositions` (a model cannot attend past them; generating anyway fails or runs out of memory). They are counted
 * with the other skipped rows, named by their line (or id). Throws when no problem is left.
 */
export function dropOverlongPrompts<T extends { problems: Problem[]; skipped: number; errors: ReadError[] }>(
  set: T, promptLength: (p: Problem) => number, maxPositions: number, reserve: { tokens: number; what: string },
  limitName = 'max_position_embeddings',
): T {
  if (!(maxPositions > 0)) return set;
  const kept: Problem[] = [];
  const dropped: ReadError[] = [];
  for (const p of set.problems) {
    const n = promptLength(p);
    if (n + reserve.tokens <= maxPositions) {
      kept.push(p);
      continue;
    }
    const message = `prompt too long: problem ${p.id} has ${n} prompt tokens + ${reserve.tokens} (${reserve.what}) > the model's ${maxPositions} positions (${limitName})`;
    dropped.push({ row: p.source?.row ?? 0, message, ...(p.source ? { file: p.source.file } : {}) });
  }
  if (dropped.length === 0) return set;
  if (kept.length === 0)
    throw new Error(`every problem's prompt is too long for the model: ${dropped[0].message}. ` +
      `Lower ${reserve.what}, shorten the prompts, or use a model with more positions`);
  return { ...set, problems: kept, ...mergeSkipped(set, { skipped: dropped.length, errors: dropped }) };
}

/** Two sets of skipped rows as one: the counts added, the first MAX_REPORTED_ERRORS errors by file and row. */
export function mergeSkipped(a: { skipped: number; errors: ReadError[] }, b: { skipped: number; errors: ReadError[] }): { skipped: number; errors: ReadError[] } {
  const errors = [...a.errors, ...b.errors].sort((x, y) => (x.file ?? '').localeCompare(y.file ?? '') || x.row - y.row);
  return { skipped: a.skipped + b.skipped, errors: errors.slice(0, MAX_REPORTED_ERRORS) };
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
