// The GRPO trainer with the saliency reward (DESIGN.md "One training step"): rollout -> grading -> batched mask
// optimization on correct completions -> rewards -> advantages -> log-probs -> clipped-surrogate loss -> AdamW.
// Writes runs/<name>/{config.yaml, metrics.jsonl, completions.jsonl, report.html, checkpoints/, latest}.
import * as fs from 'fs';
import * as path from 'path';

import { completionExample, optimizeSaliency, saliencyReward, saliencyStats, dependence } from '../atman';
import type { SaliencyResult } from '../atman';
import { TrainConfig, configToYaml } from '../config';
import { computeAdvantages } from '../grpo/advantages';
import { RewardFn, combineRewards, loadRewardFunction } from '../grpo/reward-functions';
import { MetricsWriter, Reporter, SaliencyItem, createReporter, readMetrics, renderTrainReport, saliencyItem, writeFileAtomic } from '../log';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { AdamW } from '../nn/optim';
import { cuda } from '../tensor/runtime';
import { TrainerState, latestCheckpoint, saveCheckpoint } from './checkpoint';
import { ProblemStream, dropOverlongPrompts, formatSkipped, loadProblems, skippedJson } from './problems';
import { Completion, promptIdsOf, rollout } from './rollout';
import { policyUpdate } from './policy-update';
import { resolveDevice, resolveDtype } from './device';
import { maskOptionsOf, rewardOptionsOf } from './saliency-options';
import { answerLogprobs } from '../atman/suppress';
import { cotResult } from '../data';

export interface TrainOptions {
  config: TrainConfig;
  /** Continue the run in runs/<config.name> from its latest checkpoint. */
  resume?: boolean;
  json?: boolean;
  /** Stop (as Ctrl-C would: checkpoint, interrupted = true) after this many steps of this invocation. For tests. */
  stopAfter?: number;
  /** Where messages and the progress bar go (default stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface TrainOutcome {
  runDir: string;
  stepsDone: number;
  interrupted: boolean;
  /** Data rows left out (unreadable, unusable, or a prompt too long for the model): the count and the first 20. */
  skipped: ReturnType<typeof skippedJson>;
}

/** Metric keys that measure time or memory: they differ between otherwise identical runs. */
export const TIMING_KEYS = /^(time\/|tokens_per_second$|memory\/)/;

const stepSeed = (seed: number, step: number) => (seed * 1000003 + step * 7919 + 1) % 2147483647;

function keepRowsUpTo(file: string, step: number): void {
  if (!fs.existsSync(file)) return;
  const kept = fs.readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      return (JSON.parse(line) as { step?: number }).step! <= step;
    } catch {
      return false; // a line cut by a crash
    }
  });
  writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

function mean(x: number[]): number {
  return x.length === 0 ? 0 : x.reduce((a, v) => a + v, 0) / x.length;
}

export async function train(o: TrainOptions): Promise<TrainOutcome> {
  const cfg = o.config;
  const stream = o.stream ?? process.stderr;
  const name = cfg.name ?? `run-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const runDir = path.resolve(cfg.runsDir, name);
  const checkpoint = o.resume ? latestCheckpoint(runDir) : null;
  if (o.resume && !fs.existsSync(runDir)) throw new Error(`--resume: no run directory ${runDir} (give the run's --name)`);
  if (!o.resume && fs.existsSync(path.join(runDir, 'metrics.jsonl')))
    throw new Error(`run directory ${runDir} already holds a run: pass --resume to continue it, or another --name`);
  fs.mkdirSync(runDir, { recursive: true });
  writeFileAtomic(path.join(runDir, 'config.yaml'), configToYaml(cfg));

  const device = resolveDevice(cfg.device);
  const dtype = resolveDtype(cfg.model.dtype, device);
  const tok = Tokenizer.fromDir(cfg.model.path);
  const loaded = await loadProblems(cfg.data, cfg.seed); // before the model: a data error shows at once
  const model = await LlamaModel.load(checkpoint ? checkpoint.modelDir : cfg.model.path, { device, dtype });
  const reference = cfg.grpo.beta !== 0 ? await LlamaModel.load(cfg.model.reference ?? cfg.model.path, { device, dtype }) : null;
  model.requiresGrad_(true);
  const params = model.parameters();
  const adam = new AdamW(params, { lr: cfg.optim.lr, betas: [cfg.optim.beta1, cfg.optim.beta2], eps: cfg.optim.eps, weightDecay: cfg.optim.weightDecay });
  const custom: { name: string; fn: RewardFn; weight: number }[] = [];
  for (const c of cfg.rewards.custom) custom.push({ ...(await loadRewardFunction(c.module, c.name)), weight: c.weight });

  const usable = dropOverlongPrompts(loaded, (p) => promptIdsOf(tok, p).length, model.config.maxPositionEmbeddings,
    { tokens: cfg.generation.maxNewTokens, what: 'generation.maxNewTokens' });
  const { problems, skipped } = usable;
  const state: TrainerState = checkpoint?.state ?? { step: 0, dataPosition: 0, epoch: 0, seed: cfg.seed };
  if (checkpoint) checkpoint.restoreOptimizer(adam);
  const data = new ProblemStream(problems, cfg.seed, cfg.data.shuffle, state.dataPosition, state.epoch);
  const metricsFile = path.join(runDir, 'metrics.jsonl');
  const completionsFile = path.join(runDir, 'completions.jsonl');
  // Rows written after the checkpoint (a crash between checkpoints) are dropped: the resumed run writes them again.
  keepRowsUpTo(metricsFile, state.step);
  keepRowsUpTo(completionsFile, state.step);
  const metrics = new MetricsWriter(metricsFile);
  const samples = new MetricsWriter(completionsFile);
  const reporter: Reporter = createReporter({ json: o.json ?? cfg.logging.json, total: cfg.grpo.steps, stream });
  reporter.log(`run ${runDir}: ${problems.length} problems${skipped ? ` (${skipped} rows skipped)` : ''}, device ${device}, ${dtype}` +
    (checkpoint ? `, resuming after step ${state.step}` : ''));
  for (const line of [...loaded.notes, ...formatSkipped(usable, cfg.data.path)]) reporter.log(line);

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    reporter.log('interrupt: finishing this step, then writing a checkpoint (Ctrl-C again to quit without one)');
  };
  process.on('SIGINT', onSigint);
  const weights: Record<string, number> = { correct: cfg.rewards.correct, format: cfg.rewards.format, saliency: cfg.rewards.saliency };
  if (cfg.rewards.confidence !== 0) weights.confidence = cfg.rewards.confidence;
  for (const c of custom) weights[c.name] = c.weight;
  let recentSamples: SaliencyItem[] = [];
  let stepsThisRun = 0;
  const save = () => saveCheckpoint(runDir, model, cfg.model.path, adam, { ...state, dataPosition: data.position, epoch: data.epoch }, cfg.checkpoint.keep);

  try {
    while (state.step < cfg.grpo.steps) {
      const row = await trainStep();
      state.step += 1;
      stepsThisRun += 1;
      metrics.write(row);
      reporter.update(state.step, row);
      const last = state.step === cfg.grpo.steps;
      const stop = interrupted || (o.stopAfter !== undefined && stepsThisRun >= o.stopAfter);
      if (last || stop || state.step % cfg.checkpoint.every === 0) save();
      if (last || stop || state.step % cfg.logging.reportEvery === 0) writeReport();
      if (stop && !last) {
        interrupted = true;
        break;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    reporter.stop();
    metrics.close();
    samples.close();
    for (const p of params) p.dispose();
    model.dispose();
    reference?.dispose();
  }
  return { runDir, stepsDone: state.step, interrupted, skipped: skippedJson(usable, cfg.data.path) };

  function writeReport(): void {
    const html = renderTrainReport({ config: cfg, metrics: readMetrics(metricsFile), samples: recentSamples });
    writeFileAtomic(path.join(runDir, 'report.html'), html);
  }

  async function trainStep(): Promise<Record<string, unknown>> {
    const step = state.step;
    const G = cfg.grpo.numGenerations;
    if (device.startsWith('cuda')) cuda.resetPeakMemory(device);
    const t0 = performance.now();
    const batch = data.next(cfg.grpo.promptsPerStep);
    const completions = await rollout(model, tok, batch, G, cfg.generation, stepSeed(cfg.seed, step));
    const t1 = performance.now();

    // Saliency on the correct completions whose CoT and answer could be located.
    const salIndex = completions.flatMap((c, i) => (cfg.saliency.enabled && c.grade.correct && c.spans ? [i] : []));
    const salResults = new Map<number, SaliencyResult>();
    if (salIndex.length > 0) {
      const examples = salIndex.map((i) => completionExample(completions[i].promptIds, completions[i].tokens, completions[i].spans!));
      const out = await optimizeSaliency(model, examples, maskOptionsOf(cfg.saliency, tok.padTokenId, stepSeed(cfg.seed, step)));
      salIndex.forEach((i, k) => salResults.set(i, out[k]));
    }
    // The control reward 1 − p(answer) needs log p(answer) of every correct completion (the masks give it when on).
    const logpAnswer = new Map<number, number>();
    for (const [i, r] of salResults) logpAnswer.set(i, r.logpFull);
    if (cfg.rewards.confidence !== 0) {
      const rest = completions.flatMap((c, i) => (c.grade.correct && c.spans && !logpAnswer.has(i) ? [i] : []));
      const lp = answerLogprobs(model, rest.map((i) => ({ example: completionExample(completions[i].promptIds, completions[i].tokens, completions[i].spans!), suppress: [] })), { padTokenId: tok.padTokenId });
      rest.forEach((i, k) => logpAnswer.set(i, lp[k]));
    }
    const t2 = performance.now();

    const perFunction: Record<string, number[]> = {
      correct: completions.map((c) => (c.grade.correct ? 1 : 0)),
      format: completions.map((c) => (c.grade.formatOk ? 1 : 0)),
      saliency: completions.map((c, i) => (salResults.has(i) ? saliencyReward(salResults.get(i)!, { ...rewardOptionsOf(cfg.saliency), correct: c.grade.correct }) : 0)),
    };
    if (cfg.rewards.confidence !== 0)
      perFunction.confidence = completions.map((c, i) => (c.grade.correct && logpAnswer.has(i) ? 1 - Math.exp(logpAnswer.get(i)!) : 0));
    for (const c of custom) {
      perFunction[c.name] = [];
      for (const x of completions)
        perFunction[c.name].push(await c.fn({ prompt: x.problem.question, completion: x.text, gold: x.problem.gold, task: x.problem.task, problemId: x.problem.id }));
    }
    const rewards = combineRewards(perFunction, weights);
    const adv = computeAdvantages(rewards.total, G, cfg.grpo.scaleRewards);
    const update = await policyUpdate({
      model, reference, adam, params, advantages: adv.advantages, grpo: cfg.grpo, optim: cfg.optim, step,
      gradientCheckpointing: cfg.model.gradientCheckpointing,
      rows: completions.map((c) => ({ promptIds: c.promptIds, tokens: c.tokens, truncated: c.finish === 'length' })),
      temperature: cfg.generation.temperature, maxCompletionLength: cfg.generation.maxNewTokens, padTokenId: tok.padTokenId,
    });
    const t3 = performance.now();

    const lengths = completions.map((c) => c.tokens.length);
    const sal = [...salResults.values()];
    const generated = lengths.reduce((a, v) => a + v, 0);
    const row: Record<string, unknown> = {
      step: step + 1,
      epoch: data.epoch,
      loss: update.loss,
      grad_norm: update.gradNorm,
      learning_rate: update.lr,
      reward: adv.rewardMean,
      reward_std: adv.rewardStd,
      ...rewards.metrics,
      frac_reward_zero_std: adv.fracRewardZeroStd,
      'completions/mean_length': mean(lengths),
      'completions/min_length': Math.min(...lengths),
      'completions/max_length': Math.max(...lengths),
      'completions/clipped_ratio': mean(completions.map((c) => (c.finish === 'length' ? 1 : 0))),
      ...update.metrics,
      'accuracy/strict': mean(completions.map((c) => (c.grade.correct ? 1 : 0))),
      'accuracy/flexible': mean(completions.map((c) => (c.grade.correctFlexible ? 1 : 0))),
      'saliency/count': sal.length,
      'saliency/mean_s': mean(sal.map((r) => saliencyStats(r).meanS)),
      'saliency/frac_crucial': mean(sal.map((r) => saliencyStats(r).fracCrucial)),
      'saliency/entropy': mean(sal.map((r) => saliencyStats(r).entropy)),
      'saliency/dependence': mean(sal.map(dependence)),
      'saliency/crucial_size': mean(sal.map((r) => r.crucial.length)),
      // Share of correct completions whose answer is the CoT's own result (arithmetic tasks; others: no parsable result).
      'completions/answer_is_cot_result': mean(completions.filter((c) => c.grade.correct).map((c) => (cotResult(c.text) === c.grade.strict ? 1 : 0))),
      num_tokens: generated,
      'time/generate': (t1 - t0) / 1000,
      'time/saliency': (t2 - t1) / 1000,
      'time/logprobs': update.logprobSeconds,
      'time/update': (t3 - t2) / 1000 - update.logprobSeconds,
      tokens_per_second: generated / ((t3 - t0) / 1000),
    };
    if (update.skipped) row.skipped = 1;
    if (device.startsWith('cuda')) row['memory/peak_gib'] = cuda.memory(device).peakAllocatedBytes / 2 ** 30;

    if (step % cfg.logging.completionsEvery === 0) {
      recentSamples = [];
      completions.forEach((c, i) => {
        const r = salResults.get(i);
        samples.write({
          step: step + 1, problem: c.problem.id, question: c.problem.question, ...(c.problem.hint !== undefined ? { hint: c.problem.hint } : {}), completion: c.text, gold: c.problem.gold,
          correct: c.grade.correct, format: c.grade.formatOk, finish: c.finish, reward: rewards.total[i], advantage: adv.advantages[i],
          rewards: Object.fromEntries(Object.keys(perFunction).map((k) => [k, perFunction[k][i]])),
          ...(r ? { saliency: { s: r.s, crucial: r.crucial, logpFull: r.logpFull, logpSuppressCrucial: r.logpSuppressCrucial, logpSuppressAll: r.logpSuppressAll, logpSuppressRandom: r.logpSuppressRandom, logpKeepCrucial: r.logpKeepCrucial, logpKeepRandom: r.logpKeepRandom, logpHidePrompt: r.logpHidePrompt, logpOnlyCrucial: r.logpOnlyCrucial, logpOnlyRandom: r.logpOnlyRandom }, spans: c.spans } : {}),
        });
        if (r && recentSamples.length < 16) recentSamples.push(sampleItem(c, r, rewards.total[i]));
      });
    }
    return row;
  }

  function sampleItem(c: Completion, r: SaliencyResult, reward: number): SaliencyItem {
    return saliencyItem({
      id: c.problem.id, prompt: c.problem.question, tokens: c.tokens.map((t) => tok.decode([t])), spans: c.spans!, result: r, reward,
      correct: c.grade.correct,
    });
  }
}
