// Supervised fine-tuning on reference solutions: each example is the chat prompt followed by the problem's solution
// (chain of thought + '#### answer') and the end-of-turn token; the loss is the mean negative log-likelihood of the
// solution tokens. Used to make the bundled tiny model (scripts/make-tiny-model.sh).
import * as fs from 'fs';
import * as path from 'path';

import { Problem } from '../data';
import { MetricsWriter, createReporter, readMetrics, renderTrainReport, writeFileAtomic } from '../log';
import { MetricWindow, isLogStep } from '../log/metric-window';
import { formatRunSummary } from '../log/run-summary';
import type { LoraTarget } from '../llm/lora';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { copyTokenizerFiles } from '../llm/tokenizer-files';
import { AdamW, clipGradNorm } from '../nn/optim';
import { manualSeed } from '../tensor/creation';
import { tidy } from '../tensor/scope';
import { learningRateAt } from '../grpo/schedule';
import { TrainGroup, joinTrainGroup } from '../distributed/train-group';
import { ProblemStream } from './problems';
import { promptIdsOf } from './rollout';
import { packSequences, disposePacked } from './sequences';

export interface SftOptions {
  modelDir: string;
  tokenizerDir: string;
  problems: Problem[];
  outDir: string;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  seed: number;
  device: string;
  dtype: 'float32' | 'bfloat16' | 'float16' | 'float64';
  /** Train a LoRA adapter (r > 0) on the frozen model instead of every weight; outDir then receives the adapter (PEFT format). */
  lora?: { r: number; alpha: number | null; dropout: number; targetModules: LoraTarget[] };
  json?: boolean;
  /** Log a row (the mean loss over the window) every N steps (default 10) and at the last step. */
  logEvery?: number;
  /** Where metrics.jsonl and report.html go (default <outDir>/logs; its metrics.jsonl is started afresh). */
  logDir?: string;
  /** Where the progress and the summary go (default stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/**
 * Data parallel under a launcher (as train): each rank takes its share of every batch, the loss is normalized by the
 * whole batch's solution tokens and gradients are summed across ranks; rank 0 writes the logs and the model.
 */
export async function sft(o: SftOptions): Promise<{ firstLoss: number; lastLoss: number }> {
  const group = await joinTrainGroup(o.device);
  try {
    return await sftInGroup(o, group);
  } finally {
    group.close();
  }
}

async function sftInGroup(o: SftOptions, group: TrainGroup): Promise<{ firstLoss: number; lastLoss: number }> {
  if (o.batchSize < group.worldSize)
    throw new RangeError(`sft batchSize (${o.batchSize}) must be at least the number of processes (${group.worldSize})`);
  for (const [name, v] of [['steps', o.steps], ['batchSize', o.batchSize]] as const)
    if (!(Number.isSafeInteger(v) && v > 0)) throw new RangeError(`sft ${name} must be a positive integer, got ${String(v)}`);
  const withSolution = o.problems.filter((p) => typeof p.solution === 'string' && p.solution.length > 0);
  if (withSolution.length === 0) throw new Error('sft needs problems with reference solutions (GSM8K answers or the synthetic task)');
  const tok = Tokenizer.fromDir(o.tokenizerDir);
  manualSeed(o.seed);
  const model = await LlamaModel.load(o.modelDir, { device: group.device, dtype: o.dtype });
  const lora = o.lora !== undefined && o.lora.r > 0;
  if (lora) {
    const l = o.lora!;
    model.addLora({ r: l.r, alpha: l.alpha ?? 2 * l.r, dropout: l.dropout, targetModules: l.targetModules, baseModel: o.modelDir });
  }
  model.requiresGrad_(true);
  const params = model.trainableParameters(); // with LoRA: the adapter's A and B only
  const adam = new AdamW(params, { lr: o.lr, weightDecay: 0 });
  const data = new ProblemStream(withSolution, o.seed, true);
  const stream = group.isMain ? o.stream ?? process.stderr : ({ write: () => true, isTTY: false } as unknown as NodeJS.WritableStream);
  const reporter = createReporter({ json: o.json, total: o.steps, stream });
  const logDir = path.resolve(o.logDir ?? path.join(o.outDir, 'logs'));
  const metricsFile = path.join(logDir, 'metrics.jsonl');
  if (group.isMain) fs.rmSync(metricsFile, { force: true });
  const metrics = group.isMain ? new MetricsWriter(metricsFile) : null;
  const window = new MetricWindow();
  const losses: number[] = [];
  try {
    for (let step = 0; step < o.steps; step++) {
      const t0 = performance.now();
      const whole = data.next(o.batchSize);
      const [b0, b1] = group.share(whole.length);
      const batch = whole.slice(b0, b1);
      const prompts = batch.map((p) => promptIdsOf(tok, p));
      const targets = batch.map((p) => [...tok.encode(p.solution!, { addSpecialTokens: false }), tok.eosTokenId]);
      const packed = packSequences(prompts, targets, tok.padTokenId, undefined, model.config.device);
      adam.setLr(learningRateAt(step, { lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.steps, schedule: 'cosine' }));
      adam.zeroGrad();
      const [batchTokens] = await group.sum([packed.mask.sum().item() as number]);
      let loss = tidy(() => {
        const lp = model.tokenLogprobs(packed.ids, { keyStart: packed.keyStart, targetStart: packed.targetStart });
        const nll = lp.mul(packed.mask).sum().div(Math.max(batchTokens, 1)).neg();
        nll.backward();
        return nll.item() as number;
      });
      disposePacked(packed);
      if (group.worldSize > 1) {
        loss = (await group.sum([loss]))[0];
        await group.reduceGradients(params);
      }
      clipGradNorm(params, 1.0);
      adam.step();
      losses.push(loss);
      const [tokens] = await group.sum([[...prompts, ...targets].reduce((a, t) => a + t.length, 0)]);
      window.add({ loss, learning_rate: adam.lr, num_tokens: tokens, tokens_per_second: tokens / ((performance.now() - t0) / 1000) });
      reporter.update(step + 1, { loss });
      if (isLogStep(step + 1, o.logEvery ?? 10) || step + 1 === o.steps) {
        const row = window.flush(step + 1)!;
        metrics?.write(row);
        reporter.record(step + 1, row);
      }
      await new Promise<void>((r) => setImmediate(r));
    }
    adam.zeroGrad();
    model.requiresGrad_(false);
    await group.mainFirst(() => (lora ? saveAdapterWithTokenizer(model, o.tokenizerDir, o.outDir) : saveModelWithTokenizer(model, o.tokenizerDir, o.outDir)));
  } finally {
    reporter.stop();
    metrics?.close();
    for (const p of params) p.dispose();
    model.dispose();
  }
  const report = path.join(logDir, 'report.html');
  if (group.isMain) writeFileAtomic(report, renderTrainReport({ config: sftConfig(o), metrics: readMetrics(metricsFile), samples: [] }));
  stream.write(formatRunSummary({
    command: 'sft', stepsDone: losses.length, totalSteps: o.steps, interrupted: false,
    files: [['report', report], ['metrics', metricsFile], ['model', path.resolve(o.outDir)]],
  }));
  return { firstLoss: losses[0], lastLoss: losses[losses.length - 1] };
}

/** The settings shown in the report. */
function sftConfig(o: SftOptions): object {
  const { modelDir, tokenizerDir, outDir, steps, batchSize, lr, warmupSteps, seed, device, dtype, logEvery, lora } = o;
  return { name: `sft ${path.basename(path.resolve(outDir))}`, modelDir, tokenizerDir, outDir, problems: o.problems.length, steps, batchSize, lr, warmupSteps, seed, device, dtype, logEvery: logEvery ?? 10, ...(lora && lora.r > 0 ? { lora } : {}) };
}

/** Saves the model into outDir through a temporary directory (then renamed), with the tokenizer files beside it. */
export function saveModelWithTokenizer(model: LlamaModel, tokenizerDir: string, outDir: string): void {
  saveThroughTemp(outDir, (tmp) => {
    model.save(tmp);
    copyTokenizerFiles(tokenizerDir, tmp);
  });
}

/** Saves the model's LoRA adapter (PEFT format) into outDir as saveModelWithTokenizer saves a model. */
export function saveAdapterWithTokenizer(model: LlamaModel, tokenizerDir: string, outDir: string): void {
  saveThroughTemp(outDir, (tmp) => {
    model.saveAdapter(tmp);
    copyTokenizerFiles(tokenizerDir, tmp);
  });
}

function saveThroughTemp(outDir: string, write: (tmp: string) => void): void {
  const out = path.resolve(outDir);
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  write(tmp);
  if (fs.existsSync(out)) {
    // Replace only what we write, so other files of outDir (README, ...) stay.
    for (const f of fs.readdirSync(tmp)) fs.renameSync(path.join(tmp, f), path.join(out, f));
    fs.rmSync(tmp, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, out);
  }
}
