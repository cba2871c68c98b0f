// evaluate(): the eval command from a script: accuracy and faithfulness metrics of a model on a task, configured and
// validated exactly as `eval` is.
import { EvalConfig, EvalConfigInput, resolveEvalConfig } from '../config';
import { resolvePackagePath } from '../config/package-path';
import { Tokenizer } from '../llm/tokenizer';
import { writeFileAtomic } from '../log/atomic';
import { resolveDevice, resolveDtype } from '../train/device';
import { EvalResult, runEvaluation } from '../train/evaluate';
import { formatSkipped, loadProblems } from '../train/problems';
import { maskOptionsOf } from '../train/saliency-options';

export interface EvaluateOptions {
  /** The eval fields: { model: { path }, data: { task, ... }, maxNewTokens, saliency: { enabled }, faithfulness, outDir, ... } */
  config?: EvalConfigInput;
  /** A train run config whose saliency section the masks use (default: train's). */
  runConfig?: string;
  /** Progress of each stage (generate, saliency, log-probs, interventions, wrong hints). */
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Messages: the start line, the inferred task, skipped rows (default: none). */
  log?: (message: string) => void;
  /** The output folder when config.outDir is not set (the CLI: evals/eval-<date>-<time>). */
  defaultOutDir?: string;
}

/** The resolved eval config of these options (validated; nothing loaded). */
export function evalConfigOf(o: EvaluateOptions = {}): EvalConfig {
  return resolveEvalConfig({ runConfig: o.runConfig, overrides: (o.config ?? {}) as Record<string, unknown> });
}

/** Evaluates; writes config.outDir (summary.json, items.jsonl, report.html) and config.out (the report) when set. */
export async function evaluate(o: EvaluateOptions = {}): Promise<EvalResult> {
  const c = evalConfigOf(o);
  const device = resolveDevice(c.device);
  const modelDir = resolvePackagePath(c.model.path);
  const loaded = await loadProblems(c.data, c.seed);
  const dataPath = c.data.path ?? null;
  for (const line of [...loaded.notes, ...formatSkipped(loaded, dataPath)]) o.log?.(line);
  const { problems } = loaded;
  const outDir = c.outDir ?? o.defaultOutDir;
  o.log?.(`eval: ${problems.length} problems, model ${c.model.path}, device ${device}; loading the model`);
  const tokenizer = Tokenizer.fromDir(modelDir);
  const mask = maskOptionsOf(c.saliency, tokenizer.padTokenId, c.seed);
  const result = await runEvaluation({
    modelDir, adapterDir: c.model.adapter, problems, device, dtype: resolveDtype(c.model.dtype, device) as 'float32', maxNewTokens: c.maxNewTokens, batchSize: c.batchSize,
    saliency: { enabled: c.saliency.enabled, steps: mask.steps!, lr: mask.lr!, lambda: mask.lambda!, threshold: mask.threshold!, batchSize: mask.batchSize!, options: mask },
    faithfulness: c.faithfulness, seed: c.seed, answerTokens: c.answerTokens, outDir, onProgress: o.onProgress,
    loadSkipped: loaded, dataPath, log: o.log,
  });
  if (c.out !== null) writeFileAtomic(c.out, JSON.stringify(result.report, null, 2) + '\n');
  return result;
}
