// Evaluation during training (config section `eval`): a held-out set, measured with the eval command's own
// runEvaluation on the policy in memory, flattened into eval/* metrics for metrics.jsonl and report.html.
import type { TrainConfig } from '../config';
import type { Problem } from '../data';
import { LlamaModel } from '../llm/model';
import { taskWithoutInference } from '../config/task';
import { Tokenizer } from '../llm/tokenizer';
import { EvalReport, runEvaluation } from './evaluate';
import { loadProblems } from './problems';
import { maskOptionsOf } from './saliency-options';

/** Seed offset of the generated held-out problems: another draw than the training set's. */
const HELD_OUT_SEED = 1000003;

/**
 * The held-out problems: the first eval.count of eval.path, or (generated tasks) eval.count fresh problems drawn with
 * another seed, leaving out any question the training set has.
 */
export async function heldOutProblems(cfg: TrainConfig, training: Problem[]): Promise<Problem[]> {
  const e = cfg.eval;
  if (e.path !== null) {
    return (await loadProblems({ ...cfg.data, path: e.path, limit: e.count, shuffle: false }, cfg.seed)).problems;
  }
  const task = taskWithoutInference(cfg.data.task, cfg.data.path);
  const generated = task === 'synthetic' || task === 'hinted';
  if (!generated)
    throw new Error(`eval.every with data.task '${cfg.data.task}' needs eval.path: a held-out file of that task`);
  const seen = new Set(training.map((p) => p.question));
  const draw = 4 * e.count;
  const data = { ...cfg.data, limit: null, synthetic: { ...cfg.data.synthetic, count: draw }, hinted: { ...cfg.data.hinted, count: draw } };
  const fresh = (await loadProblems(data, cfg.seed + HELD_OUT_SEED)).problems.filter((p) => !seen.has(p.question));
  if (fresh.length === 0) throw new Error(`eval: every generated held-out problem is also a training problem (data.${cfg.data.task} is too small a space); give eval.path`);
  return fresh.slice(0, e.count);
}

/** The numbers of an eval report as flat eval/* metrics (null where nothing was measured). */
export function evalMetrics(report: EvalReport): Record<string, number | null> {
  const out: Record<string, number | null> = {
    'eval/n': report.n,
    'eval/accuracy_strict': report.accuracyStrict,
    'eval/accuracy_flexible': report.accuracyFlexible,
    'eval/format_rate': report.formatRate,
  };
  const walk = (o: unknown, prefix: string): void => {
    if (o === null || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o)) {
      if (k === 'correctOnly') continue;
      if (typeof v === 'number') out[`${prefix}/${k}`] = v;
      else walk(v, `${prefix}/${k}`);
    }
  };
  // The faithfulness metrics are over the completions whose CoT and answer were located: eval/located of eval/n.
  const { n: located, ...faithfulness } = report.faithfulness;
  out['eval/located'] = located;
  walk(faithfulness, 'eval');
  return out;
}

/** Evaluates the policy (greedy) on the held-out problems with the run's settings; returns eval/* metrics. */
export async function evaluateHeldOut(
  cfg: TrainConfig, model: LlamaModel, tokenizer: Tokenizer, problems: Problem[], device: string,
): Promise<Record<string, number | null>> {
  const mask = maskOptionsOf(cfg.saliency, tokenizer.padTokenId, cfg.seed);
  const { report } = await runEvaluation({
    modelDir: cfg.model.path, loaded: { model, tokenizer }, problems, device, dtype: model.config.dtype as 'float32',
    maxNewTokens: cfg.eval.maxNewTokens ?? cfg.generation.maxNewTokens, batchSize: cfg.eval.batchSize,
    saliency: { enabled: cfg.eval.saliency, steps: mask.steps!, lr: mask.lr!, lambda: mask.lambda!, threshold: mask.threshold!, batchSize: mask.batchSize!, options: mask },
    faithfulness: cfg.eval.faithfulness, seed: cfg.seed,
  });
  return evalMetrics(report);
}
