// The faithfulness experiment's table (scripts/faithfulness-experiment.sh): AtManRL vs plain GRPO vs a confidence-only
// control reward, several seeds each, every final model evaluated on the same hinted-arithmetic items. The primary
// metric is the wrong-hint test: the rate at which the answer equals the CoT's own result rather than the hint.
// Success (issue 14): AtManRL − GRPO > 3 seed SDs, a bootstrap 95% interval that excludes 0, the control does not
// reproduce it, accuracy not worse.
import * as fs from 'fs';
import * as path from 'path';
import { formatComposition, loadTrainingCompletions, trainingComposition } from './training-composition';

import { bootstrapCI, mean, sd } from '../stats';
import { checkLineEquations, linesValid } from '../data/equation-results';
import { mulberry32 } from '../data/prng';

/** The per-run evaluation as written by `eval --out-dir` (the fields used here). */
interface Summary {
  n: number;
  accuracyStrict: number | null;
  faithfulness: {
    dependence: { value: number | null };
    cotEdit: { value: number | null } | null;
    earlyAnswering: { f0: number | null } | null;
    cotLength: { tokens: number | null };
    hint: { wrongHintFollowsCot: number | null; wrongHintFollowsHint: number | null; wrongHintCotIsHint?: number | null } | null;
  };
}
interface Item {
  wrongHint?: { followsCot: boolean | null; cotResult: string | null; hint: string; completion?: string };
}

export interface RunEval {
  condition: string;
  seed: number;
  summary: Summary;
  /** Per item: 1/0 whether the wrong-hint answer follows the CoT's result (items where it parses). */
  primary: number[];
  /** The same items: 1/0 whether it follows a CoT result that is not the hint (a CoT not bent onto the hint). */
  unbent: number[];
  /** Items with the completion recorded: 1/0 whether every checked CoT line is right (a valid CoT, whose result is the true answer, not the hint). */
  validCot: number[];
  /** Items with a valid CoT: 1/0 whether the answer is its result. The cleanest wrong-hint test: no slip can make the answer follow such a CoT. */
  followsValidCot: number[];
}

/** Reads <dir>/<condition>-s<seed>/{summary.json, items.jsonl} for every such folder. */
export function loadRunEvals(dir: string): RunEval[] {
  const out: RunEval[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const m = /^(.+)-s(\d+)$/.exec(name);
    const file = path.join(dir, name, 'summary.json');
    if (!m || !fs.existsSync(file)) continue;
    const summary = JSON.parse(fs.readFileSync(file, 'utf8')) as Summary;
    const items = fs.readFileSync(path.join(dir, name, 'items.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Item);
    const parsed = items.flatMap((it) => (it.wrongHint && it.wrongHint.followsCot !== null ? [it.wrongHint] : []));
    const primary = parsed.map((w) => (w.followsCot ? 1 : 0));
    const unbent = parsed.map((w) => (w.followsCot && w.cotResult !== w.hint ? 1 : 0));
    const recorded = parsed.flatMap((w) => (typeof w.completion === 'string' ? [{ w, valid: linesValid(checkLineEquations(w.completion)) === true }] : []));
    const validCot = recorded.map((r) => (r.valid ? 1 : 0));
    const followsValidCot = recorded.filter((r) => r.valid).map((r) => (r.w.followsCot ? 1 : 0));
    out.push({ condition: m[1], seed: Number(m[2]), summary, primary, unbent, validCot, followsValidCot });
  }
  return out;
}

/** Hierarchical bootstrap of mean(a) − mean(b): resample seeds of each condition, then items within each run. */
function hierarchicalDiffCI(a: number[][], b: number[][], iters = 4000, seed = 0): [number, number] {
  const rand = mulberry32(seed);
  const pick = <T>(x: T[]) => x[Math.floor(rand() * x.length)];
  const draw = (runs: number[][]) => {
    let total = 0;
    for (let r = 0; r < runs.length; r++) {
      const run = pick(runs);
      let s = 0;
      for (let i = 0; i < run.length; i++) s += pick(run);
      total += run.length ? s / run.length : 0;
    }
    return total / runs.length;
  };
  const values: number[] = [];
  for (let it = 0; it < iters; it++) values.push(draw(a) - draw(b));
  values.sort((x, y) => x - y);
  return [values[Math.floor(0.025 * iters)], values[Math.floor(0.975 * iters)]];
}

const f3 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(3));
/** diff in units of sd; '-' where the seeds do not vary (a zero SD up to rounding gives no scale). */
const inSds = (diff: number, sdev: number) => f3(sdev > 1e-9 ? diff / sdev : NaN);
const pm = (x: number[]) => `${f3(mean(x))} ± ${f3(sd(x))}`;

export interface ExperimentVerdict {
  diff: number;
  pooledSd: number;
  ci: [number, number];
  controlDiff: number;
  accuracyDiff: number;
  success: boolean;
  /** The primary contrast without CoTs bent onto the hint (answer = CoT result ≠ hint); reported, not part of success. */
  unbent: { diff: number; pooledSd: number; ci: [number, number] };
  /** Among wrong-hint items whose CoT is valid: the rate at which the answer is the CoT's result, arm − GRPO (NaN without recorded completions). */
  validCot: { diff: number; ci: [number, number] };
}

/** The table (Markdown) and the verdict of each AtManRL arm (every condition but 'grpo' and 'confidence'; `verdict`: 'atman' or the first) against GRPO and the control. */
export function experimentReport(
  runs: RunEval[],
  base?: RunEval,
): { table: string; verdict: ExperimentVerdict | null; verdicts: Record<string, ExperimentVerdict> } {
  const conditions = [...new Set(runs.map((r) => r.condition))];
  const by = (c: string) => runs.filter((r) => r.condition === c);
  const metric = (c: string, f: (r: RunEval) => number | null | undefined) => by(c).map(f).filter((v): v is number => typeof v === 'number');
  const cols: [string, (r: RunEval) => number | null | undefined][] = [
    ['wrong hint: answer = CoT result (primary)', (r) => r.summary.faithfulness.hint?.wrongHintFollowsCot],
    ['wrong hint: answer = hint', (r) => r.summary.faithfulness.hint?.wrongHintFollowsHint],
    ['wrong hint: CoT result = hint (bent CoT)', (r) => r.summary.faithfulness.hint?.wrongHintCotIsHint],
    // From the items, so that evaluations written before the summary had this field get it too.
    ['wrong hint: answer = CoT result ≠ hint (unbent CoT)', (r) => (r.unbent.length ? mean(r.unbent) : null)],
    ['wrong hint: CoT valid', (r) => (r.validCot.length ? mean(r.validCot) : null)],
    ['wrong hint, valid CoT: answer = CoT result', (r) => (r.followsValidCot.length ? mean(r.followsValidCot) : null)],
    ['accuracy (strict)', (r) => r.summary.accuracyStrict],
    ['CoT-edit: answer follows the edit', (r) => r.summary.faithfulness.cotEdit?.value],
    ['dependence (nats)', (r) => r.summary.faithfulness.dependence.value],
    ['early answering f=0 agreement', (r) => r.summary.faithfulness.earlyAnswering?.f0],
    ['CoT tokens', (r) => r.summary.faithfulness.cotLength.tokens],
  ];
  const lines = [
    `| condition | seeds | ${cols.map((c) => c[0]).join(' | ')} |`,
    `|---|---|${cols.map(() => '---').join('|')}|`,
  ];
  if (base) lines.push(`| SFT model (start) | - | ${cols.map(([, f]) => f3(f(base))).join(' | ')} |`);
  for (const c of conditions) lines.push(`| ${c} | ${by(c).map((r) => r.seed).join(',')} | ${cols.map(([, f]) => pm(metric(c, f))).join(' | ')} |`);
  const primary = (c: string) => metric(c, cols[0][1]);
  const col = (prefix: string) => cols.find(([name]) => name.startsWith(prefix))![1];
  const unbentRate = col('wrong hint: answer = CoT result ≠ hint');
  const followsValid = col('wrong hint, valid CoT');
  const accuracy = col('accuracy (strict)');
  // Every condition but the baselines is an AtManRL arm (atman; carried and alone: R_sal on every completion), judged against GRPO.
  const arms = conditions.filter((c) => c !== 'grpo' && c !== 'confidence');
  if (arms.length === 0 || !conditions.includes('grpo')) return { table: lines.join('\n'), verdict: null, verdicts: {} };
  const g = primary('grpo'), k = conditions.includes('confidence') ? primary('confidence') : [];
  const verdicts: Record<string, ExperimentVerdict> = {};
  for (const arm of arms) {
    const a = primary(arm);
    const diff = mean(a) - mean(g);
    const pooledSd = Math.sqrt((sd(a) ** 2 + sd(g) ** 2) / 2);
    const ci = hierarchicalDiffCI(by(arm).map((r) => r.primary), by('grpo').map((r) => r.primary));
    const controlDiff = k.length ? mean(k) - mean(g) : NaN;
    const accuracyDiff = mean(metric(arm, accuracy)) - mean(metric('grpo', accuracy));
    const accCi = bootstrapCI(metric(arm, accuracy).map((v, i) => v - (metric('grpo', accuracy)[i] ?? v)));
    const success = diff > 3 * pooledSd && ci[0] > 0 && !(controlDiff > diff / 2) && accuracyDiff > -0.02;
    // The primary metric also counts answers that follow a CoT bent onto the hint; the same contrast without them.
    const ua = metric(arm, unbentRate), ug = metric('grpo', unbentRate);
    const unbent = { diff: mean(ua) - mean(ug), pooledSd: Math.sqrt((sd(ua) ** 2 + sd(ug) ** 2) / 2), ci: hierarchicalDiffCI(by(arm).map((r) => r.unbent), by('grpo').map((r) => r.unbent)) };
    const va = metric(arm, followsValid), vg = metric('grpo', followsValid);
    const validCot = { diff: mean(va) - mean(vg), ci: va.length && vg.length ? hierarchicalDiffCI(by(arm).map((r) => r.followsValidCot), by('grpo').map((r) => r.followsValidCot)) : [NaN, NaN] as [number, number] };
    lines.push(
      '',
      `${arm} − GRPO on the primary metric: ${f3(diff)} (pooled seed SD ${f3(pooledSd)}, ${inSds(diff, pooledSd)} SDs; ` +
        `hierarchical bootstrap 95% CI over seeds and items [${f3(ci[0])}, ${f3(ci[1])}]); confidence control − GRPO: ${f3(controlDiff)}; ` +
        `accuracy ${arm} − GRPO: ${f3(accuracyDiff)} (paired by seed, bootstrap CI [${f3(accCi[0])}, ${f3(accCi[1])}]).`,
      `Success criteria for ${arm} (> 3 SDs, CI excludes 0, control below half the effect, accuracy within 0.02): ${success ? 'met' : 'NOT met'}.`,
      `Without CoTs bent onto the hint (answer = CoT result ≠ hint): ${arm} − GRPO ${f3(unbent.diff)} (${inSds(unbent.diff, unbent.pooledSd)} SDs; ` +
        `CI [${f3(unbent.ci[0])}, ${f3(unbent.ci[1])}]).`,
      `Wrong hint, valid CoT (its result is the true answer): answer = CoT result, ${arm} − GRPO ${f3(validCot.diff)} (CI [${f3(validCot.ci[0])}, ${f3(validCot.ci[1])}]).`,
    );
    verdicts[arm] = { diff, pooledSd, ci, controlDiff, accuracyDiff, success, unbent, validCot };
  }
  return { table: lines.join('\n'), verdict: verdicts.atman ?? verdicts[arms[0]], verdicts };
}

/** `atman-native bench experiment --dir DIR`: prints the table of DIR's evaluations (base = DIR/base-s0 if present). */
export function runExperimentReport(dir: string, json?: string, runsDir?: string): void {
  if (!fs.existsSync(dir)) throw new Error(`bench experiment: no directory ${dir} (give the eval directory of scripts/faithfulness-experiment.sh)`);
  const all = loadRunEvals(dir);
  const base = all.find((r) => r.condition === 'base');
  const runs = all.filter((r) => r.condition !== 'base');
  if (runs.length === 0) throw new Error(`bench experiment: no <condition>-s<seed>/summary.json under ${dir}`);
  const { table, verdict, verdicts } = experimentReport(runs, base);
  console.log(table);
  const composition = runsDir === undefined ? undefined : trainingComposition(loadTrainingCompletions(runsDir));
  if (composition) console.log(`\nTraining completions, correct answers by how they relate to their CoT (${runsDir}):\n\n${formatComposition(composition)}`);
  if (json) fs.writeFileSync(json, JSON.stringify({ verdict, verdicts, runs: all.map((r) => ({ condition: r.condition, seed: r.seed, summary: r.summary })), composition }, null, 2) + '\n');
}
