// Evaluation: greedy completions graded strictly and flexibly (accuracy), and faithfulness (DESIGN.md "Faithfulness
// metrics") over every completion whose CoT and answer were located, correct or not, so that checkpoints evaluated on
// the same problems are compared on the same items: dependence, early answering, adding a mistake, filler CoT, ERASER
// comprehensiveness and sufficiency of the saliency mask's crucial set, CoT-result edits, wrong hints (hinted task)
// and CoT length, each beside its control; also over the correct subset. Optionally writes summary.json,
// items.jsonl (one row per problem) and report.html.
import * as path from 'path';

import { optimizeSaliency, saliencyStats } from '../atman';
import type { SaliencyOptions } from '../atman';
import { FaithfulnessItem, LogprobItemMetrics, logprobMetrics, itemRandom } from '../atman/faithfulness';
import { FaithfulnessRecord, FaithfulnessSummary, HintSummary, summarizeFaithfulness, summarizeWrongHint } from '../atman/faithfulness-summary';
import {
  INTERVENTIONS, InterventionItemResults, WrongHintResult, readWrongHint, runInterventions, splitCompletion, wrongHintTest,
} from '../atman/interventions';
import { llamaBackend } from '../atman/llama-backend';
import type { SaliencyStats } from '../atman/reward';
import { Problem, ReadError, normalizeNumber, withHint, wrongHint } from '../data';
import { sequenceLimit } from '../llm/families';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { writeFileAtomic } from '../log/atomic';
import { renderEvalReport } from '../log/eval-report';
import { dropOverlongPrompts, formatSkipped, mergeSkipped, skippedJson } from './problems';
import { Completion, promptIdsOf, rollout } from './rollout';

export interface EvalOptions {
  /** The model's directory (loaded from it unless `loaded` is given; then only a label in the report). */
  modelDir: string;
  /** A model already in memory (the trainer's policy): used as is and not disposed. */
  loaded?: { model: LlamaModel; tokenizer: Tokenizer };
  /** A LoRA adapter (PEFT format) loaded onto the model from modelDir. */
  adapterDir?: string | null;
  problems: Problem[];
  device: string;
  dtype: 'float32' | 'bfloat16' | 'float16' | 'float64';
  maxNewTokens: number;
  batchSize: number;
  saliency: {
    enabled: boolean; steps: number; lr: number; lambda: number; threshold: number; batchSize: number;
    /** All of optimizeSaliency()'s options (e.g. maskOptionsOf(config.saliency), to measure with training's mask); override the fields above. */
    options?: SaliencyOptions;
  };
  /** Run the intervention metrics (early answering, mistakes, filler, CoT edits, wrong hints); default true. */
  faithfulness?: boolean;
  /** Seeds the random controls, the mistakes, the edits and the wrong hints (per item; default 0). */
  seed?: number;
  /** New tokens generated after the answer marker in the interventions (default 12). */
  answerTokens?: number;
  /** Writes summary.json, items.jsonl and report.html there. */
  outDir?: string;
  /** Progress of each stage (generate, saliency, log-probs, interventions, wrong hints). */
  onProgress?: (stage: string, done: number, total: number) => void;
  /** The rows left out while loading `problems` (reported in `skipped` with the prompts too long for the model). */
  loadSkipped?: { skipped: number; errors: ReadError[] };
  /** The data file, to name skipped rows. */
  dataPath?: string | null;
  /** Messages for the user (problems left out because their prompt is too long). */
  log?: (message: string) => void;
}

export interface EvalFaithfulness extends FaithfulnessSummary {
  /** Of the n measured completions, the correct ones. */
  nCorrect: number;
  /** The same metrics over the correct completions only. */
  correctOnly: FaithfulnessSummary;
  /** The wrong-hint test (hinted task only; null otherwise or without --faithfulness). */
  hint: HintSummary | null;
}

export interface EvalReport {
  n: number;
  accuracyStrict: number | null;
  accuracyFlexible: number | null;
  formatRate: number | null;
  faithfulness: EvalFaithfulness;
  /** Rows left out (unreadable, unusable, or a prompt too long for the model): the count and the first 20. */
  skipped?: ReturnType<typeof skippedJson>;
}

/** One problem's row of items.jsonl: its completion, grade, and every per-item value measured on it. */
export interface EvalItem {
  id: string;
  task: string;
  question: string;
  gold: string;
  hint?: string;
  completion: string;
  finish: 'stop' | 'length';
  correct: boolean;
  correctFlexible: boolean;
  formatOk: boolean;
  answer: string | null;
  spansFound: boolean;
  cotTokens?: number;
  cotChars?: number;
  logprob?: LogprobItemMetrics;
  saliency?: (SaliencyStats & { crucial: number[] }) | null;
  interventions?: InterventionItemResults | null;
  wrongHint?: Omit<WrongHintResult, 'text'> & { completion: string };
}

export interface EvalResult {
  report: EvalReport;
  items: EvalItem[];
}

const rate = (n: number, total: number) => (total === 0 ? null : n / total);

/** Runs the evaluation and returns the report and the per-item rows (and writes them when outDir is set). */
export async function runEvaluation(o: EvalOptions): Promise<EvalResult> {
  const progress = o.onProgress ?? (() => {});
  const seed = o.seed ?? 0;
  if (!(Number.isSafeInteger(o.batchSize) && o.batchSize > 0)) throw new RangeError(`evaluation batchSize must be a positive integer, got ${String(o.batchSize)}`);
  const tok = o.loaded?.tokenizer ?? Tokenizer.fromDir(o.modelDir);
  const model = o.loaded?.model ?? (await LlamaModel.load(o.modelDir, { device: o.device, dtype: o.dtype }));
  try {
    if (o.adapterDir) await model.loadAdapter(o.adapterDir);
    let stage = '';
    const backend = llamaBackend(model, tok, { batchSize: o.batchSize, onBatch: (_kind, done, total) => progress(stage, done, total) });
    const faithful = o.faithfulness ?? true;
    // Interventions continue a completion by answerTokens: the prompt needs room for both.
    const limit = sequenceLimit(model.config);
    const fit = dropOverlongPrompts({ problems: o.problems, skipped: 0, errors: [] }, (p) => promptIdsOf(tok, p).length, limit.tokens, {
      tokens: o.maxNewTokens + (faithful ? (o.answerTokens ?? 12) : 0), what: faithful ? 'max-new-tokens + answer-tokens' : 'max-new-tokens',
    }, limit.what);
    for (const line of formatSkipped(fit, o.dataPath ?? null)) o.log?.(line);
    const skipped = mergeSkipped(o.loadSkipped ?? { skipped: 0, errors: [] }, fit);
    const problems = fit.problems;
    const completions: Completion[] = [];
    progress('generate', 0, problems.length); // the model is loaded: say so before the first batch, which may take minutes
    for (let i = 0; i < problems.length; i += o.batchSize) {
      const chunk = problems.slice(i, i + o.batchSize);
      completions.push(...(await rollout(model, tok, chunk, 1, { maxNewTokens: o.maxNewTokens, temperature: 0, topP: 1, topK: 0 }, 0)));
      progress('generate', completions.length, problems.length);
    }

    const located = completions.flatMap((c, i) => (c.spans ? [i] : []));
    const items: FaithfulnessItem[] = located.map((i) => {
      const c = completions[i];
      return {
        id: c.problem.id, task: c.problem.task, gold: c.problem.gold, promptIds: c.promptIds, completionIds: c.tokens, text: c.text,
        spans: c.spans!, answer: c.grade.strict!, crucial: null,
        ...(c.problem.answerFinder !== undefined ? { answerFinder: c.problem.answerFinder } : {}),
      };
    });

    // The crucial sets: saliency masks on every measured completion.
    let stats: (SaliencyStats & { crucial: number[] })[] | null = null;
    if (o.saliency.enabled && items.length > 0) {
      const s = o.saliency;
      const P = items.map((it) => it.promptIds.length);
      const results = await optimizeSaliency(model, items.map((it, k) => ({
        ids: [...it.promptIds, ...it.completionIds], cotStart: P[k] + it.spans.cotStart, cotEnd: P[k] + it.spans.cotEnd,
        answerStart: P[k] + it.spans.answerStart, answerEnd: P[k] + it.spans.answerEnd,
      })), {
        steps: s.steps, lr: s.lr, lambda: s.lambda, threshold: s.threshold, batchSize: s.batchSize, padTokenId: tok.padTokenId, ...s.options,
        onStep: (done, total) => progress('saliency', done, total),
      });
      results.forEach((r, k) => (items[k].crucial = r.crucial));
      stats = results.map((r) => ({ ...saliencyStats(r), crucial: r.crucial }));
    }

    stage = 'log-probs';
    const lp = await logprobMetrics(backend, items, { seed });
    let iv: InterventionItemResults[] | null = null;
    if (faithful) {
      stage = 'interventions';
      iv = await runInterventions(backend, items, { seed, maxNewTokens: o.maxNewTokens, answerTokens: o.answerTokens });
    }

    // The wrong-hint test (hinted task): each problem with a wrong hint; a problem that already has one is its own.
    let hints: (WrongHintResult | null)[] | null = null;
    if (faithful && problems.some((p) => p.task === 'hinted')) {
      stage = 'wrong hints';
      hints = completions.map((c) => {
        const p = c.problem, h = p.hint;
        return p.task === 'hinted' && h !== undefined && h !== normalizeNumber(p.gold) ? readWrongHint(p.task, c.text, h) : null;
      });
      const todo = completions.flatMap((c, i) => (c.problem.task === 'hinted' && hints![i] === null ? [i] : []));
      const probes = todo.map((i) => {
        const p = completions[i].problem;
        const hinted = withHint(p, wrongHint(p.gold, itemRandom(seed, p.id, 'wrong-hint')));
        return { id: hinted.id, task: hinted.task, promptIds: promptIdsOf(tok, hinted), hint: hinted.hint! };
      });
      const results = await wrongHintTest(backend, probes, { maxNewTokens: o.maxNewTokens });
      todo.forEach((i, k) => (hints![i] = results[k]));
    }

    // Per-item rows and the summary.
    const rows: EvalItem[] = completions.map((c) => ({
      id: c.problem.id, task: c.problem.task, question: c.problem.question, gold: c.problem.gold,
      ...(c.problem.hint === undefined ? {} : { hint: c.problem.hint }),
      completion: c.text, finish: c.finish, correct: c.grade.correct, correctFlexible: c.grade.correctFlexible, formatOk: c.grade.formatOk,
      answer: c.grade.strict, spansFound: c.spans !== null,
    }));
    const records: FaithfulnessRecord[] = located.map((i, k) => {
      const c = completions[i];
      const cot = splitCompletion(c.problem.task, c.text, c.problem.answerFinder)?.cot ?? '';
      const rec: FaithfulnessRecord = {
        correct: c.grade.correct, cotTokens: c.spans!.cotEnd - c.spans!.cotStart, cotChars: cot.length,
        logprob: lp[k], interventions: iv ? iv[k] : null, saliency: stats ? stats[k] : null,
      };
      Object.assign(rows[i], { cotTokens: rec.cotTokens, cotChars: rec.cotChars, logprob: rec.logprob, saliency: stats ? stats[k] : null, interventions: rec.interventions });
      return rec;
    });
    hints?.forEach((h, i) => {
      if (h) rows[i].wrongHint = { hint: h.hint, answer: h.answer, cotResult: h.cotResult, followsCot: h.followsCot, followsHint: h.followsHint, completion: h.text };
    });
    const measured = { interventions: faithful ? INTERVENTIONS : [], crucial: stats !== null };
    const count = (f: (c: Completion) => boolean) => rate(completions.filter(f).length, completions.length);
    const report: EvalReport = {
      n: completions.length,
      accuracyStrict: count((c) => c.grade.correct),
      accuracyFlexible: count((c) => c.grade.correctFlexible),
      formatRate: count((c) => c.grade.formatOk),
      skipped: skippedJson(skipped, o.dataPath ?? null),
      faithfulness: {
        ...summarizeFaithfulness(records, measured),
        nCorrect: records.filter((r) => r.correct).length,
        correctOnly: summarizeFaithfulness(records.filter((r) => r.correct), measured),
        hint: hints ? summarizeWrongHint(hints.filter((h): h is WrongHintResult => h !== null)) : null,
      },
    };
    if (o.outDir) writeEvalOutputs(o.outDir, report, rows, { model: o.modelDir });
    return { report, items: rows };
  } finally {
    if (!o.loaded) model.dispose();
  }
}

/** runEvaluation()'s report alone. */
export async function evaluate(o: EvalOptions): Promise<EvalReport> {
  return (await runEvaluation(o)).report;
}

/** Writes summary.json, items.jsonl and report.html into dir (each atomically). */
export function writeEvalOutputs(dir: string, report: EvalReport, items: EvalItem[], meta: { model?: string } = {}): void {
  writeFileAtomic(path.join(dir, 'summary.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'items.jsonl'), items.map((it) => JSON.stringify(it)).join('\n') + (items.length > 0 ? '\n' : ''));
  writeFileAtomic(path.join(dir, 'report.html'), renderEvalReport({ report, items, model: meta.model }));
}
