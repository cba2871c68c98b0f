// What the faithfulness experiment's policies wrote during training and what the reward paid for it: the correct
// answers of runs/<condition>-s<seed>/completions.jsonl split by how they relate to their CoT (cotKind: valid, bent,
// decorative), in step windows, pooled over seeds, each kind with its mean R_sal (bench/faithfulness-experiment.md,
// runs 6 and 8). A truncated last line (a run killed mid-write) is skipped, not fatal.
import * as fs from 'fs';
import * as path from 'path';
import { CotKind, checkLineEquations, cotKind } from '../data/equation-results';
import { cotResult } from '../data/hinted';
import { readJsonl } from '../data/jsonl';
import { mean } from '../stats';

const KINDS: readonly CotKind[] = ['valid', 'bent', 'decorative'];

/** One logged completion, as the trainer writes it (only the fields read here). */
export interface LoggedCompletion {
  step: number;
  completion: string;
  correct: boolean;
  gold: string;
  rewards?: { saliency?: number };
}

export interface CompositionRow {
  condition: string;
  /** The step window [from, to]. */
  from: number;
  to: number;
  /** Correct answers in the window whose CoT has a result and a checked line. */
  n: number;
  share: Record<CotKind, number>;
  meanSaliency: Record<CotKind, number>;
}

/** Splits each condition's correct completions into `windows` equal step windows (1..max step) and counts each kind. */
export function trainingComposition(byCondition: Map<string, LoggedCompletion[]>, windows = 3): CompositionRow[] {
  if (!Number.isInteger(windows) || windows < 1) throw new RangeError(`invalid values: trainingComposition() windows must be a positive integer, got ${windows}`);
  const out: CompositionRow[] = [];
  for (const [condition, rows] of byCondition) {
    const last = Math.max(0, ...rows.map((r) => r.step));
    if (last === 0) continue;
    const width = Math.ceil(last / windows);
    for (let from = 1; from <= last; from += width) {
      const to = Math.min(last, from + width - 1);
      const saliency: Record<CotKind, number[]> = { valid: [], bent: [], decorative: [] };
      for (const r of rows) {
        if (r.step < from || r.step > to || !r.correct) continue;
        const kind = cotKind(r.gold, cotResult(r.completion), checkLineEquations(r.completion.split('####')[0]));
        if (kind !== null) saliency[kind].push(r.rewards?.saliency ?? 0);
      }
      const n = KINDS.reduce((a, k) => a + saliency[k].length, 0);
      const share = Object.fromEntries(KINDS.map((k) => [k, n ? saliency[k].length / n : NaN])) as Record<CotKind, number>;
      const meanSaliency = Object.fromEntries(KINDS.map((k) => [k, saliency[k].length ? mean(saliency[k]) : NaN])) as Record<CotKind, number>;
      out.push({ condition, from, to, n, share, meanSaliency });
    }
  }
  return out;
}

/** The completions of every <condition>-s<seed> run under `runsDir`, grouped by condition. */
export function loadTrainingCompletions(runsDir: string): Map<string, LoggedCompletion[]> {
  if (!fs.existsSync(runsDir)) throw new Error(`bench experiment: no directory ${runsDir} (give the runs directory of scripts/faithfulness-experiment.sh)`);
  const out = new Map<string, LoggedCompletion[]>();
  for (const name of fs.readdirSync(runsDir).sort()) {
    const m = /^(.+)-s(\d+)$/.exec(name);
    const file = path.join(runsDir, name, 'completions.jsonl');
    if (!m || !fs.existsSync(file)) continue;
    const rows = readJsonl(file).rows.filter(
      (r) => typeof r.step === 'number' && typeof r.completion === 'string' && typeof r.correct === 'boolean' && typeof r.gold === 'string',
    ) as unknown as LoggedCompletion[];
    out.set(m[1], [...(out.get(m[1]) ?? []), ...rows]);
  }
  return out;
}

/** The Markdown table: per condition and window, each kind's share of the correct answers and its mean R_sal. */
export function formatComposition(rows: CompositionRow[]): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  const lines = [
    '| condition | steps | correct answers | valid CoT, answer = its result | bent: a line wrong, answer = CoT result | decorative: answer ≠ CoT result |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows)
    lines.push(`| ${r.condition} | ${r.from}–${r.to} | ${r.n} | ${KINDS.map((k) => `${f(r.share[k])} (R_sal ${f(r.meanSaliency[k])})`).join(' | ')} |`);
  return lines.join('\n');
}
