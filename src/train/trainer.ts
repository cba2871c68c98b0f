// The GRPO trainer with the saliency reward (DESIGN.md "One training step"): rollout -> grading -> batched mask
// optimization on correct completions -> rewards -> advantages -> log-probs -> clipped-surrogate loss -> AdamW.
// Writes runs/<name>/{config.yaml, metrics.jsonl, completions.jsonl, report.html, checkpoints/, latest}.
import * as fs from 'fs';
import * as path from 'path';

import { completionExample, optimizeSaliency, saliencyReward, saliencyStats, dependence } from '../atman';
import type { SaliencyResult } from '../atman';
import { rewardReadsUnhinted } from '../atman/reward';
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
import { TrainGroup, joinTrainGroup } from '../distributed/train-group';
import { TrainerState, latestCheckpoint, saveCheckpoint } from './checkpoint';
import { StepAborted, watchInterrupts } from './interrupts';
import { recordRunConfig } from './run-config';
import { openRunDir, runDirectory } from './run-dir';
import { ProblemStream, dropOverlongPrompts, formatSkipped, loadProblems, skippedJson } from './problems';
import { Completion, promptIdsOf, rollout, unhintedPromptIdsOf } from './rollout';
import { policyUpdate } from './policy-update';
import { loadPolicy, saveRunAdapter } from './policy-model';
import { resolveDevice, resolveDtype } from './device';
import { earnsSaliency, rewardMaskOptionsOf, rewardOptionsOf } from './saliency-options';
import { evaluateHeldOut, heldOutProblems } from './held-out';
import { answerLogprobs } from '../atman/suppress';
import { rewardUsesMask } from '../atman/reward';
import { cotResult } from '../data';
import { checkLineEquations, cotKind, linesValid } from '../data/equation-results';

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
  /** This process's rank and the number of processes (1 without a launch environment). */
  rank: number;
  worldSize: number;
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
/** Each rank samples its share of the batch with its own seed (rank 0's is the single-process one). */
const rankSeed = (seed: number, rank: number) => (seed + rank * 15485863) % 2147483647;
const quietStream = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

/** The run name every rank uses: rank 0's (a generated name has a timestamp, which would differ). */
async function sharedName(group: TrainGroup, name: string): Promise<string> {
  if (group.worldSize === 1) return name;
  const codes = new Array<number>(256).fill(0);
  if (group.isMain) [...name].slice(0, 256).forEach((c, i) => (codes[i] = c.charCodeAt(0)));
  return String.fromCharCode(...(await group.sum(codes)).filter((c) => c > 0));
}

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

/** The mean, NaN for no values (a metric that does not apply to this task). */
const meanOrNaN = (x: number[]): number => (x.length === 0 ? NaN : mean(x));

export async function train(o: TrainOptions): Promise<TrainOutcome> {
  const group = await joinTrainGroup(resolveDevice(o.config.device));
  try {
    return await trainInGroup(o, group);
  } finally {
    group.close();
  }
}

/**
 * Data parallel (DESIGN.md "Scale-out"): every rank reads the same data stream and takes its share of each step's
 * prompts (a prompt's G completions stay on one rank); the batch's per-completion numbers are gathered so that
 * advantages, loss denominators and metrics are those of the whole batch; gradients are summed across ranks, so each
 * rank makes the same AdamW step as one process on the whole batch. Rank 0 alone writes the run folder.
 */
async function trainInGroup(o: TrainOptions, group: TrainGroup): Promise<TrainOutcome> {
  const cfg = o.config;
  const stream = group.isMain ? o.stream ?? process.stderr : quietStream;
  if (cfg.grpo.promptsPerStep < group.worldSize)
    throw new Error(`grpo.promptsPerStep (${cfg.grpo.promptsPerStep}) must be at least the number of processes (${group.worldSize}): ` +
      `a prompt's completions stay on one process`);
  const name = await sharedName(group, cfg.name ?? `run-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`);
  const opened = await group.mainFirst(() => {
    const r = openRunDir(cfg.runsDir, name, o.resume ?? false);
    return { ...r, configRecord: recordRunConfig(r.runDir, cfg, r.checkpoint ? r.checkpoint.state.step : null) };
  });
  // The other ranks read what rank 0 opened (and cleaned).
  const runDir = opened?.runDir ?? runDirectory(cfg.runsDir, name);
  const checkpoint = opened ? opened.checkpoint : o.resume ? latestCheckpoint(runDir) : null;
  const notes = opened?.notes ?? [];
  const configRecord = opened?.configRecord ?? { changes: [], file: null };

  const device = group.device;
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
  if (group.worldSize > 1 && o.resume && checkpoint === null) throw new Error(`rank ${group.rank}: --resume: no checkpoint in ${runDir} (is the runs folder shared by every node?)`);
  const state: TrainerState = checkpoint?.state ?? { step: 0, dataPosition: 0, epoch: 0, seed: cfg.seed };
  if (checkpoint) checkpoint.restoreOptimizer(adam);
  const data = new ProblemStream(problems, cfg.seed, cfg.data.shuffle, state.dataPosition, state.epoch);
  const metricsFile = path.join(runDir, 'metrics.jsonl');
  const completionsFile = path.join(runDir, 'completions.jsonl');
  // Rows written after the checkpoint (a crash between checkpoints) are dropped: the resumed run writes them again.
  if (group.isMain) {
    keepRowsUpTo(metricsFile, state.step);
    keepRowsUpTo(completionsFile, state.step);
  }
  const metrics = group.isMain ? new MetricsWriter(metricsFile) : null;
  const samples = group.isMain ? new MetricsWriter(completionsFile) : null;
  const reporter: Reporter = createReporter({ json: o.json ?? cfg.logging.json, total: cfg.grpo.steps, start: state.step, stream });
  const tensorboard = cfg.logging.tensorboard && group.isMain ? new TensorBoardWriter(path.join(runDir, 'tb')) : null;
  if (checkpoint) tensorboard?.resumeAt(state.step + 1);
  const window = new MetricWindow(); // logging.every steps averaged into one row
  reporter.log(`run ${runDir}: ${problems.length} problems${skipped ? ` (${skipped} rows skipped)` : ''}, device ${device}, ${dtype}` +
    (group.worldSize > 1 ? `, ${group.worldSize} processes` : '') +
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
  const usesMask = rewardUsesMask(cfg.saliency.rewardMode);
  const weights: Record<string, number> = { correct: cfg.rewards.correct, format: cfg.rewards.format, saliency: cfg.rewards.saliency };
  if (cfg.rewards.confidence !== 0) weights.confidence = cfg.rewards.confidence;
  for (const c of custom) weights[c.name] = c.weight;
  let recentSamples: SaliencyItem[] = [];
  let stepsThisRun = 0;
  let lastSaved = state.step;
  let interrupted = false;
  let adapterDir: string | null = null;
  // Rank 0 writes; the others wait for it (and fail with it).
  const save = async (at = { dataPosition: data.position, epoch: data.epoch }) => {
    await group.mainFirst(() => saveCheckpoint(runDir, model, cfg.model.path, adam, { ...state, ...at }, cfg.checkpoint.keep));
    lastSaved = state.step;
  };
  // A stop asked for on any rank (each gets the signal from its launcher, perhaps not at the same moment) stops all.
  const stopAsked = () => group.any(interrupts.signal !== null);
  const throwIfStopAsked = async () => {
    if (await stopAsked()) throw new StepAborted(interrupts.signal ?? 'SIGTERM');
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
          await save(before);
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
      const stop = (await stopAsked()) || (o.stopAfter !== undefined && stepsThisRun >= o.stopAfter);
      if (last || stop || isLogStep(state.step, cfg.logging.every)) {
        const logged = window.flush(state.step)!;
        metrics?.write(logged);
        tensorboard?.write(state.step, logged);
        reporter.record(state.step, logged);
      }
      if (last || stop || state.step % cfg.checkpoint.every === 0) await save();
      if (last && lora) adapterDir = (await group.mainFirst(() => saveRunAdapter(runDir, model))) ?? null;
      if (last || stop || state.step % cfg.logging.reportEvery === 0) writeReport();
      if (stop && !last) {
        interrupted = true;
        break;
      }
    }
  } finally {
    interrupts.dispose();
    reporter.stop();
    metrics?.close();
    samples?.close();
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
  return { rank: group.rank, worldSize: group.worldSize, runDir, stepsDone: state.step, interrupted, signal: interrupts.signal, skipped: skippedJson(usable, cfg.data.path) };

  function writeReport(): void {
    if (!group.isMain) return;
    const html = renderTrainReport({ config: cfg, metrics: readMetrics(metricsFile), samples: recentSamples });
    writeFileAtomic(path.join(runDir, 'report.html'), html);
  }

  async function trainStep(): Promise<Record<string, unknown>> {
    const step = state.step;
    const G = cfg.grpo.numGenerations;
    if (device.startsWith('cuda')) cuda.resetPeakMemory(device);
    const t0 = performance.now();
    const batch = data.next(cfg.grpo.promptsPerStep);
    // This rank's prompts [p0, p1) of the step's batch; its completions are [p0·G, p1·G) of the whole batch's.
    const [p0, p1] = group.share(batch.length);
    const total = batch.length * G, offset = p0 * G;
    const seed = stepSeed(cfg.seed, step);
    const completions = await rollout(model, tok, batch.slice(p0, p1), G, cfg.generation,
      cfg.generation.seedPerPrompt ? seed : rankSeed(seed, group.rank), p0);
    await throwIfStopAsked();
    const t1 = performance.now();

    // Saliency on the completions that can earn R_sal (saliency.scope: see earnsSaliency) whose CoT and answer could be
    // located.
    const earns = (c: (typeof completions)[number]) => earnsSaliency(cfg.saliency.scope, c);
    const salIndex = completions.flatMap((c, i) => (cfg.saliency.enabled && earns(c) && c.spans ? [i] : []));
    // Random control sets are seeded by an example's index in the whole batch: count the lower ranks' examples.
    const salCounts = (await group.gather({ n: [salIndex.length] }, group.rank, group.worldSize)).n;
    const salResults = new Map<number, SaliencyResult>();
    // cotUnhinted re-reads each completion under its prompt without the hint (the same prompt where there is none).
    const unhinted = rewardReadsUnhinted(cfg.saliency.rewardMode);
    if (salIndex.length > 0) {
      const promptOf = (c: Completion) => (unhinted ? unhintedPromptIdsOf(tok, c) : c.promptIds);
      const examples = salIndex.map((i) => completionExample(promptOf(completions[i]), completions[i].tokens, completions[i].spans!));
      const firstIndex = salCounts.slice(0, group.rank).reduce((a, v) => a + v, 0);
      const out = await optimizeSaliency(model, examples, { ...rewardMaskOptionsOf(cfg.saliency, tok.padTokenId, seed), firstIndex });
      salIndex.forEach((i, k) => salResults.set(i, out[k]));
    }
    // The control reward 1 − p(answer) needs log p(answer) of every correct completion (the masks give it when on).
    const logpAnswer = new Map<number, number>();
    // (cotUnhinted's passes read the prompt without its hint: not the answer's log-prob under the prompt it was given.)
    if (!unhinted) for (const [i, r] of salResults) logpAnswer.set(i, r.logpFull);
    if (cfg.rewards.confidence !== 0) {
      const rest = completions.flatMap((c, i) => (c.grade.correct && c.spans && !logpAnswer.has(i) ? [i] : []));
      const lp = answerLogprobs(model, rest.map((i) => ({ example: completionExample(completions[i].promptIds, completions[i].tokens, completions[i].spans!), suppress: [] })), { padTokenId: tok.padTokenId });
      rest.forEach((i, k) => logpAnswer.set(i, lp[k]));
    }
    const t2 = performance.now();

    const local: Record<string, number[]> = {
      correct: completions.map((c) => (c.grade.correct ? 1 : 0)),
      format: completions.map((c) => (c.grade.formatOk ? 1 : 0)),
      saliency: completions.map((c, i) => (salResults.has(i) ? saliencyReward(salResults.get(i)!, { ...rewardOptionsOf(cfg.saliency), correct: earns(c), answerCorrect: c.grade.correct }) : 0)),
    };
    if (cfg.rewards.confidence !== 0)
      local.confidence = completions.map((c, i) => (c.grade.correct && logpAnswer.has(i) ? 1 - Math.exp(logpAnswer.get(i)!) : 0));
    for (const c of custom) {
      local[c.name] = [];
      for (const x of completions)
        local[c.name].push(rewardValue(await c.fn({ prompt: x.problem.question, completion: x.text, gold: x.problem.gold, task: x.problem.task, problemId: x.problem.id })));
    }
    const rewardNames = Object.keys(local);
    // Per completion, what the metrics need; NaN where a completion has no value (no saliency result, no answer).
    const stats = (f: (c: Completion, r: SaliencyResult | undefined) => number) => completions.map((c, i) => f(c, salResults.get(i)));
    const orNaN = (r: SaliencyResult | undefined, f: (r: SaliencyResult) => number) => (r ? f(r) : NaN);
    // A mask-free reward mode optimizes no mask: its mask statistics would describe the untrained initial mask.
    const maskStat = (r: SaliencyResult | undefined, f: (r: SaliencyResult) => number) => (usesMask ? orNaN(r, f) : NaN);
    // Each completion's CoT result and checked one-operation lines, read once for the metrics below.
    const cotResults = completions.map((c) => cotResult(c.text));
    const lineChecks = completions.map((c) => checkLineEquations(c.text));
    const all = await group.gather({
      ...local,
      '@length': stats((c) => c.tokens.length),
      '@clipped': stats((c) => (c.finish === 'length' ? 1 : 0)),
      '@flexible': stats((c) => (c.grade.correctFlexible ? 1 : 0)),
      '@isCotResult': completions.map((c, i) => (c.grade.correct ? (cotResults[i] === c.grade.strict ? 1 : 0) : NaN)),
      '@followsCot': completions.map((c, i) => (c.grade.strict !== null ? (cotResults[i] === c.grade.strict ? 1 : 0) : NaN)),
      '@cotValid': lineChecks.map((e) => { const v = linesValid(e); return v === null ? NaN : v ? 1 : 0; }),
      '@bentCot': completions.map((c, i) => {
        const kind = c.grade.correct && c.grade.strict !== null ? cotKind(c.grade.strict, cotResults[i], lineChecks[i]) : null;
        return kind === 'valid' ? 0 : kind === 'bent' ? 1 : NaN;
      }),
      '@meanS': stats((_, r) => maskStat(r, (x) => saliencyStats(x).meanS)),
      '@fracCrucial': stats((_, r) => maskStat(r, (x) => saliencyStats(x).fracCrucial)),
      '@entropy': stats((_, r) => maskStat(r, (x) => saliencyStats(x).entropy)),
      '@dependence': stats((_, r) => orNaN(r, dependence)),
      '@crucialSize': stats((_, r) => maskStat(r, (x) => x.crucial.length)),
    }, offset, total);
    const perFunction = Object.fromEntries(rewardNames.map((k) => [k, all[k]]));
    const rewards = combineRewards(perFunction, weights);
    const adv = cfg.grpo.multiObjectiveAggregation === 'normalize_then_sum'
      ? normalizeThenSumAdvantages(perFunction, weights, rewards.total, G)
      : computeAdvantages(rewards.total, G, cfg.grpo.scaleRewards);
    await throwIfStopAsked();
    const update = await policyUpdate({
      model, reference: reference ?? (lora && cfg.grpo.beta !== 0 ? 'adapterDisabled' : null), adam, params,
      advantages: adv.advantages.slice(offset, offset + completions.length), grpo: cfg.grpo, optim: cfg.optim, step,
      gradientCheckpointing: cfg.model.gradientCheckpointing,
      rows: completions.map((c) => ({ promptIds: c.promptIds, tokens: c.tokens, truncated: c.finish === 'length' })),
      temperature: cfg.generation.temperature, maxCompletionLength: cfg.generation.maxNewTokens, padTokenId: tok.padTokenId,
      group,
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

    const lengths = all['@length'];
    const hasSal = (k: number) => !Number.isNaN(all['@dependence'][k]);
    const salMean = (key: string) => mean(all[key].filter((_, k) => hasSal(k)));
    const defined = (key: string) => all[key].filter((v) => !Number.isNaN(v));
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
      'completions/clipped_ratio': mean(all['@clipped']),
      ...update.metrics,
      'accuracy/strict': mean(all.correct),
      'accuracy/flexible': mean(all['@flexible']),
      'saliency/count': all['@dependence'].filter((_, k) => hasSal(k)).length,
      'saliency/mean_s': salMean('@meanS'),
      'saliency/frac_crucial': salMean('@fracCrucial'),
      'saliency/entropy': salMean('@entropy'),
      'saliency/dependence': salMean('@dependence'),
      'saliency/crucial_size': salMean('@crucialSize'),
      // Share of correct completions whose answer is the CoT's own result (arithmetic tasks; others: no parsable result).
      'completions/answer_is_cot_result': mean(defined('@isCotResult')),
      // The same over every completion with an answer: it also counts wrong answers that follow a wrong CoT.
      'completions/answer_follows_cot': mean(defined('@followsCot')),
      // One-operation lines ('6 * 4 = 24': synthetic and hinted tasks) checked by arithmetic: the share of CoTs with all
      // lines right, and of correct answers that follow their CoT although a line is wrong (a CoT bent onto the answer).
      'completions/cot_arithmetic_valid': meanOrNaN(defined('@cotValid')),
      'completions/bent_cot': meanOrNaN(defined('@bentCot')),
      num_tokens: generated,
      'time/generate': (t1 - t0) / 1000,
      'time/saliency': (t2 - t1) / 1000,
      'time/logprobs': update.logprobSeconds,
      'time/update': (t3 - t2) / 1000 - update.logprobSeconds,
      tokens_per_second: generated / ((t3 - t0) / 1000),
    };
    if (group.worldSize > 1) row['time/all_reduce'] = update.allReduceSeconds;
    if (update.skipped) row.skipped = 1;
    if (device.startsWith('cuda')) row['memory/peak_gib'] = cuda.memory(device).peakAllocatedBytes / 2 ** 30;

    // Rank 0 writes the completions of its own share (all of them in a single process).
    if (samples && isLogStep(step + 1, cfg.logging.completionsEvery)) {
      recentSamples = [];
      completions.forEach((c, i) => {
        const r = salResults.get(i);
        samples.write({
          step: step + 1, problem: c.problem.id, task: c.problem.task, question: c.problem.question, ...(c.problem.hint !== undefined ? { hint: c.problem.hint } : {}),
          ...(c.problem.choices !== undefined ? { choices: c.problem.choices } : {}), completion: c.text, gold: c.problem.gold,
          correct: c.grade.correct, format: c.grade.formatOk, finish: c.finish, reward: rewards.total[offset + i], advantage: adv.advantages[offset + i],
          rewards: Object.fromEntries(rewardNames.map((k) => [k, local[k][i]])),
          ...(r ? { saliency: { s: r.s, crucial: r.crucial, logpFull: r.logpFull, logpSuppressCrucial: r.logpSuppressCrucial, logpSuppressAll: r.logpSuppressAll, logpSuppressRandom: r.logpSuppressRandom, logpKeepCrucial: r.logpKeepCrucial, logpKeepRandom: r.logpKeepRandom, logpHidePrompt: r.logpHidePrompt, logpResultHidePrompt: r.logpResultHidePrompt, logpHideBoth: r.logpHideBoth, logpResult: r.logpResult, logpOnlyCrucial: r.logpOnlyCrucial, logpOnlyRandom: r.logpOnlyRandom }, spans: c.spans } : {}),
        });
        if (r && recentSamples.length < 16) recentSamples.push(sampleItem(c, r, rewards.total[offset + i], i % G));
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
