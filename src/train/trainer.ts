// The GRPO trainer with the saliency reward (DESIGN.md "One training step"): rollout -> grading -> batched mask
// optimization on correct completions -> rewards -> advantages -> log-probs -> clipped-surrogate loss -> AdamW.
// Writes runs/<name>/{config.yaml, metrics.jsonl, completions.jsonl, report.html, checkpoints/, latest}.
import * as fs from 'fs';
import * as path from 'path';

import { completionExample, optimizeSaliency, saliencyReward, saliencyStats, dependence } from '../atman';
import type { SaliencyResult } from '../atman';
import { TrainConfig } from '../config';
import { computeAdvantages, normalizeThenSumAdvantages } from '../grpo/advantages';
import { RewardFn, combineRewards, loadRewardFunction, rewardValue } from '../grpo/reward-functions';
import { MetricsWriter, Reporter, SaliencyItem, createReporter, readMetrics, renderTrainReport, saliencyItem, writeFileAtomic } from '../log';
import { MetricWindow, isLogStep } from '../log/metric-window';
import { formatRunSummary, lastCheckpointOf } from '../log/run-summary';
import { TensorBoardWriter } from '../log/tensorboard';
import { sequenceLimit } from '../llm/families';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { AdamW } from '../nn/optim';
import { cuda } from '../tensor/runtime';
import { TrainerState, saveCheckpoint } from './checkpoint';
import { StepAborted, watchInterrupts } from './interrupts';
import { recordRunConfig } from './run-config';
import { openRunDir } from './run-dir';
import { ProblemStream, dropOverlongPrompts, formatSkipped, loadProblems, skippedJson } from './problems';
import { Completion, promptIdsOf, rollout } from './rollout';
import { policyUpdate } from './policy-update';
import { loadPolicy, saveRunAdapter } from './policy-model';
import { resolveDevice, resolveDtype } from './device';
import { maskOptionsOf, rewardOptionsOf } from './saliency-options';
import { evaluateHeldOut, heldOutProblems } from './held-out';
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
  /** The signal (SIGINT or SIGTERM) that stopped the run, if one did. */
  signal: NodeJS.Signals | null;
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
  const { runDir, checkpoint, notes } = openRunDir(cfg.runsDir, name, o.resume ?? false);
  const configRecord = recordRunConfig(runDir, cfg, checkpoint ? checkpoint.state.step : null);

  const device = resolveDevice(cfg.device);
  const dtype = resolveDtype(cfg.model.dtype, device);
  const tok = Tokenizer.fromDir(cfg.model.path);
  const loaded = await loadProblems(cfg.data, cfg.seed); // before the model: a data error shows at once
  const model = await loadPolicy(cfg, checkpoint, { device, dtype });
  // With LoRA the KL reference is the base: the same model with its adapter disabled (no second copy).
  const lora = cfg.lora.r > 0;
  const reference = cfg.grpo.beta !== 0 && !(lora && cfg.model.reference === null)
    ? await LlamaModel.load(cfg.model.reference ?? cfg.model.path, { device, dtype }) : null;
  model.requiresGrad_(true);
  const params = model.trainableParameters(); // the adapter's A and B with LoRA (the base is frozen)
  const adam = new AdamW(params, { lr: cfg.optim.lr, betas: [cfg.optim.beta1, cfg.optim.beta2], eps: cfg.optim.eps, weightDecay: cfg.optim.weightDecay });
  const custom: { name: string; fn: RewardFn; weight: number }[] = [];
  for (const c of cfg.rewards.custom) custom.push({ ...(await loadRewardFunction(c.module, c.name)), weight: c.weight });

  const limit = sequenceLimit(model.config);
  const usable = dropOverlongPrompts(loaded, (p) => promptIdsOf(tok, p).length, limit.tokens,
    { tokens: cfg.generation.maxNewTokens, what: 'generation.maxNewTokens' }, limit.what);
  const { problems, skipped } = usable;
  const heldOut = cfg.eval.every > 0 ? await heldOutProblems(cfg, problems) : null;
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
  const reporter: Reporter = createReporter({ json: o.json ?? cfg.logging.json, total: cfg.grpo.steps, start: state.step, stream });
  const tensorboard = cfg.logging.tensorboard ? new TensorBoardWriter(path.join(runDir, 'tb')) : null;
  if (checkpoint) tensorboard?.resumeAt(state.step + 1);
  const window = new MetricWindow(); // logging.every steps averaged into one row
  reporter.log(`run ${runDir}: ${problems.length} problems${skipped ? ` (${skipped} rows skipped)` : ''}, device ${device}, ${dtype}` +
    (checkpoint ? `, resuming after step ${state.step}` : ''));
  for (const note of notes) reporter.log(note);
  if (configRecord.changes.length > 0)
    reporter.log(`resume: the config differs from the one the run last used (config.yaml keeps the original; this one is saved as ` +
      `${path.basename(configRecord.file ?? '')}):\n  ${configRecord.changes.join('\n  ')}`);
  for (const line of [...loaded.notes, ...formatSkipped(usable, cfg.data.path)]) reporter.log(line);

  const interrupts = watchInterrupts((signal) => reporter.log(
    `${signal}: stopping at the next safe point (a step whose update has not started is abandoned and redone on --resume), ` +
      `then writing a checkpoint; ${signal} again quits at once without one`,
  ));
  let consecutiveSkips = 0;
  const weights: Record<string, number> = { correct: cfg.rewards.correct, format: cfg.rewards.format, saliency: cfg.rewards.saliency };
  if (cfg.rewards.confidence !== 0) weights.confidence = cfg.rewards.confidence;
  for (const c of custom) weights[c.name] = c.weight;
  let recentSamples: SaliencyItem[] = [];
  let stepsThisRun = 0;
  let lastSaved = state.step;
  let interrupted = false;
  let adapterDir: string | null = null;
  const save = (at = { dataPosition: data.position, epoch: data.epoch }) => {
    saveCheckpoint(runDir, model, cfg.model.path, adam, { ...state, ...at }, cfg.checkpoint.keep);
    lastSaved = state.step;
  };

  try {
    while (state.step < cfg.grpo.steps) {
      const before = { dataPosition: data.position, epoch: data.epoch };
      const row = await trainStep().catch((e: unknown) => {
        if (e instanceof StepAborted) return null;
        throw e;
      });
      if (row === null) {
        // Abandoned before its update: the weights are those of the last finished step, the data position its end.
        interrupted = true;
        if (state.step > lastSaved) {
          save(before);
          writeReport();
        }
        break;
      }
      state.step += 1;
      stepsThisRun += 1;
      const last = state.step === cfg.grpo.steps;
      if (heldOut && (last || state.step % cfg.eval.every === 0)) Object.assign(row, await evaluateHeldOut(cfg, model, tok, heldOut, device));
      window.add(row);
      reporter.update(state.step, row);
      const stop = interrupts.signal !== null || (o.stopAfter !== undefined && stepsThisRun >= o.stopAfter);
      if (last || stop || isLogStep(state.step, cfg.logging.every)) {
        const logged = window.flush(state.step)!;
        metrics.write(logged);
        tensorboard?.write(state.step, logged);
        reporter.record(state.step, logged);
      }
      if (last || stop || state.step % cfg.checkpoint.every === 0) save();
      if (last && lora) adapterDir = saveRunAdapter(runDir, model);
      if (last || stop || state.step % cfg.logging.reportEvery === 0) writeReport();
      if (stop && !last) {
        interrupted = true;
        break;
      }
    }
  } finally {
    interrupts.dispose();
    reporter.stop();
    metrics.close();
    samples.close();
    tensorboard?.close();
    for (const p of params) p.dispose();
    model.dispose();
    reference?.dispose();
  }
  stream.write(formatRunSummary({
    command: 'train', stepsDone: state.step, totalSteps: cfg.grpo.steps, interrupted, resume: `atman-native train --name ${name} --resume`,
    files: [['report', path.join(runDir, 'report.html')], ['metrics', metricsFile], ['completions', completionsFile],
      ['tensorboard', tensorboard ? path.dirname(tensorboard.file) : null], ['checkpoint', lastCheckpointOf(runDir)], ['adapter', adapterDir]],
  }));
  return { runDir, stepsDone: state.step, interrupted, signal: interrupts.signal, skipped: skippedJson(usable, cfg.data.path) };

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
    interrupts.throwIfSignalled();
    const t1 = performance.now();

    // Saliency on the completions that can earn R_sal (the correct ones, or all with saliency.scope 'all') whose CoT
    // and answer could be located.
    const earnsSaliency = (c: { grade: { correct: boolean } }) => cfg.saliency.scope === 'all' || c.grade.correct;
    const salIndex = completions.flatMap((c, i) => (cfg.saliency.enabled && earnsSaliency(c) && c.spans ? [i] : []));
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
      saliency: completions.map((c, i) => (salResults.has(i) ? saliencyReward(salResults.get(i)!, { ...rewardOptionsOf(cfg.saliency), correct: earnsSaliency(c) }) : 0)),
    };
    if (cfg.rewards.confidence !== 0)
      perFunction.confidence = completions.map((c, i) => (c.grade.correct && logpAnswer.has(i) ? 1 - Math.exp(logpAnswer.get(i)!) : 0));
    for (const c of custom) {
      perFunction[c.name] = [];
      for (const x of completions)
        perFunction[c.name].push(rewardValue(await c.fn({ prompt: x.problem.question, completion: x.text, gold: x.problem.gold, task: x.problem.task, problemId: x.problem.id })));
    }
    const rewards = combineRewards(perFunction, weights);
    const adv = cfg.grpo.multiObjectiveAggregation === 'normalize_then_sum'
      ? normalizeThenSumAdvantages(perFunction, weights, rewards.total, G)
      : computeAdvantages(rewards.total, G, cfg.grpo.scaleRewards);
    interrupts.throwIfSignalled();
    const update = await policyUpdate({
      model, reference: reference ?? (lora && cfg.grpo.beta !== 0 ? 'adapterDisabled' : null), adam, params, advantages: adv.advantages, grpo: cfg.grpo, optim: cfg.optim, step,
      gradientCheckpointing: cfg.model.gradientCheckpointing,
      rows: completions.map((c) => ({ promptIds: c.promptIds, tokens: c.tokens, truncated: c.finish === 'length' })),
      temperature: cfg.generation.temperature, maxCompletionLength: cfg.generation.maxNewTokens, padTokenId: tok.padTokenId,
    });
    const t3 = performance.now();
    // A step with all-zero gradients (every advantage 0) neither progresses nor diverges: it leaves the count as it is.
    if (update.applied === 0) consecutiveSkips += 1;
    else if (update.gradNorm > 0) consecutiveSkips = 0;
    if (update.skipReason !== null) reporter.log(`step ${step + 1}: update ${update.applied === 0 ? '' : 'partly '}skipped: ${update.skipReason}`);
    if (consecutiveSkips >= cfg.optim.maxSkippedSteps)
      throw new Error(
        `stopping: the updates of the last ${consecutiveSkips} steps with a gradient were all skipped (optim.maxSkippedSteps ${cfg.optim.maxSkippedSteps}); ` +
          `the last because ${update.skipReason}. The weights never took those updates and no diverged state was checkpointed` +
          (lastSaved > 0 ? `; continue from step ${lastSaved} with --resume and a lower --optim.lr (now ${cfg.optim.lr.toExponential()})` : `; start again with a lower --optim.lr (now ${cfg.optim.lr.toExponential()})`),
      );

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
      // The same over every completion with an answer: it also counts wrong answers that follow a wrong CoT.
      'completions/answer_follows_cot': mean(completions.filter((c) => c.grade.strict !== null).map((c) => (cotResult(c.text) === c.grade.strict ? 1 : 0))),
      num_tokens: generated,
      'time/generate': (t1 - t0) / 1000,
      'time/saliency': (t2 - t1) / 1000,
      'time/logprobs': update.logprobSeconds,
      'time/update': (t3 - t2) / 1000 - update.logprobSeconds,
      tokens_per_second: generated / ((t3 - t0) / 1000),
    };
    if (update.skipped) row.skipped = 1;
    if (device.startsWith('cuda')) row['memory/peak_gib'] = cuda.memory(device).peakAllocatedBytes / 2 ** 30;

    if (isLogStep(step + 1, cfg.logging.completionsEvery)) {
      recentSamples = [];
      completions.forEach((c, i) => {
        const r = salResults.get(i);
        samples.write({
          step: step + 1, problem: c.problem.id, task: c.problem.task, question: c.problem.question, ...(c.problem.hint !== undefined ? { hint: c.problem.hint } : {}),
          ...(c.problem.choices !== undefined ? { choices: c.problem.choices } : {}), completion: c.text, gold: c.problem.gold,
          correct: c.grade.correct, format: c.grade.formatOk, finish: c.finish, reward: rewards.total[i], advantage: adv.advantages[i],
          rewards: Object.fromEntries(Object.keys(perFunction).map((k) => [k, perFunction[k][i]])),
          ...(r ? { saliency: { s: r.s, crucial: r.crucial, logpFull: r.logpFull, logpSuppressCrucial: r.logpSuppressCrucial, logpSuppressAll: r.logpSuppressAll, logpSuppressRandom: r.logpSuppressRandom, logpKeepCrucial: r.logpKeepCrucial, logpKeepRandom: r.logpKeepRandom, logpHidePrompt: r.logpHidePrompt, logpOnlyCrucial: r.logpOnlyCrucial, logpOnlyRandom: r.logpOnlyRandom }, spans: c.spans } : {}),
        });
        if (r && recentSamples.length < 16) recentSamples.push(sampleItem(c, r, rewards.total[i], i % G));
      });
    }
    return row;
  }

  function sampleItem(c: Completion, r: SaliencyResult, reward: number, sample: number): SaliencyItem {
    return saliencyItem({
      id: `${c.problem.id} · sample ${sample + 1}`, prompt: c.problem.question, tokens: c.tokens.map((t) => tok.decode([t])), spans: c.spans!, result: r, reward,
      correct: c.grade.correct,
    });
  }
}
