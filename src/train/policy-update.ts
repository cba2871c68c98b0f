// The policy update of one GRPO step (DESIGN.md "One training step", after the rewards): μ iterations of the clipped
// surrogate over the batch's completions, in gradientAccumulationSteps micro-batches each, then gradient clipping and
// AdamW. An iteration whose loss or gradient is not finite, or whose AdamW step would diverge (update-guard.ts), is
// not applied. Shared by the trainer and `bench grpo`, so the bench times exactly what training runs.
import type { TrainConfig } from '../config';
import { SOLO_GROUP, TrainGroup } from '../distributed/train-group';
import { grpoLoss } from '../grpo/loss';
import { learningRateAt } from '../grpo/schedule';
import { LlamaModel } from '../llm/model';
import { AdamW, clipGradNorm } from '../nn/optim';
import { tensor } from '../tensor/creation';
import { cat, noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { disposePacked, packSequences, slicePacked } from './sequences';
import { MAX_RELATIVE_UPDATE, predictUpdate, weightsFinite } from './update-guard';

export interface UpdateRow {
  promptIds: number[];
  /** The completion's tokens (the stop token included when generation stopped). */
  tokens: number[];
  /** Generation hit maxNewTokens (dropped from the loss with maskTruncatedCompletions). */
  truncated: boolean;
}

export interface PolicyUpdateInput {
  model: LlamaModel;
  /**
   * The frozen reference model for the KL term (beta > 0), else null; 'adapterDisabled': the policy itself with its
   * LoRA adapter switched off (the base), as for a LoRA run.
   */
  reference: LlamaModel | 'adapterDisabled' | null;
  adam: AdamW;
  params: Tensor[];
  rows: UpdateRow[];
  advantages: number[];
  grpo: TrainConfig['grpo'];
  optim: TrainConfig['optim'];
  /** The sampling temperature: log-probs are taken of logits / temperature, as TRL does (0, greedy, counts as 1). */
  temperature: number;
  maxCompletionLength: number;
  padTokenId: number;
  /** Recompute activations in backward during this update (off again afterwards). */
  gradientCheckpointing: boolean;
  /** The 0-based optimizer step (for the learning-rate schedule). */
  step: number;
  /**
   * Data parallel: rows and advantages are this rank's share of the batch; loss denominators, the loss, metrics and
   * gradients are those of the whole batch (summed over the group). Default: one process.
   */
  group?: TrainGroup;
}

export interface PolicyUpdateResult {
  /** Mean loss over the μ iterations that were applied; NaN when every one was skipped. */
  loss: number;
  gradNorm: number;
  lr: number;
  /** Some iteration had a non-finite loss or gradient, or a diverging step, and was not applied. */
  skipped: boolean;
  /** Iterations whose AdamW step was applied (0: the weights and optimizer state are as before). */
  applied: number;
  /** Why the last skipped iteration was skipped, naming the likely cause; null when none was. */
  skipReason: string | null;
  /** TRL-named metrics: kl, entropy, clip_ratio/*. */
  metrics: Record<string, number>;
  /** Seconds spent on the no-grad log-prob passes (old policy for μ > 1, reference for beta > 0). */
  logprobSeconds: number;
  /** Seconds spent summing gradients across the group (0 for one process). */
  allReduceSeconds: number;
}

const METRIC_NAMES: Record<string, string> = {
  kl: 'kl', clipRatioLowMean: 'clip_ratio/low_mean', clipRatioLowMin: 'clip_ratio/low_min', clipRatioHighMean: 'clip_ratio/high_mean',
  clipRatioHighMax: 'clip_ratio/high_max', clipRatioRegionMean: 'clip_ratio/region_mean',
};

const mean = (x: number[]) => (x.length === 0 ? 0 : x.reduce((a, v) => a + v, 0) / x.length);
/** TRL's logged value of a metric: the mean of its non-NaN values (NaN when there are none). */
const nanMean = (x: number[]) => {
  const v = x.filter((e) => !Number.isNaN(e));
  return v.length === 0 ? NaN : mean(v);
};

/**
 * [start, end) of each micro-batch: gradientAccumulationSteps of them (at most one per row), sizes differing by at
 * most one. Each micro-batch's loss is weighted by its share of the rows (see grpoLoss' gradientAccumulationSteps).
 */
export function microBatches(rows: number, gradientAccumulationSteps: number): [number, number][] {
  const count = Math.max(1, Math.min(rows, gradientAccumulationSteps));
  const out: [number, number][] = [];
  for (let k = 0, start = 0; k < count; k++) {
    const size = Math.floor(rows / count) + (k < rows % count ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}

export async function policyUpdate(o: PolicyUpdateInput): Promise<PolicyUpdateResult> {
  const g = o.grpo;
  const temperature = o.temperature > 0 ? o.temperature : 1;
  const weightsOfRows = o.rows.map((r) => (g.maskTruncatedCompletions && r.truncated ? 0 : 1));
  const device = o.model.config.device;
  const packed = packSequences(o.rows.map((r) => r.promptIds), o.rows.map((r) => r.tokens), o.padTokenId, weightsOfRows, device);
  const group = o.group ?? SOLO_GROUP(device);
  const N = o.rows.length;
  const chunks = microBatches(N, g.gradientAccumulationSteps);
  // Rows and mask tokens of the whole batch: the loss is normalized by them on every rank.
  const [batchRows, numItems] = await group.sum([N, packed.mask.sum().item() as number]);
  const advTensor = tensor(o.advantages, { device });
  const lp0 = performance.now();
  const logprobsOf = (m: LlamaModel) => noGrad(() => cat(chunks.map(([a, b]) => {
    const p = slicePacked(packed, a, b);
    return m.tokenLogprobs(p.ids, { keyStart: p.keyStart, targetStart: p.targetStart, temperature });
  }), 0));
  // With μ = 1 the ratio is taken against the detached current log-probs (TRL does the same): no extra pass.
  const old = g.numIterations > 1 ? logprobsOf(o.model) : null;
  const ref = o.reference === 'adapterDisabled' ? o.model.withAdapterDisabled(() => logprobsOf(o.model))
    : o.reference ? logprobsOf(o.reference) : null;
  const logprobSeconds = (performance.now() - lp0) / 1000;
  const lr = learningRateAt(o.step, { lr: o.optim.lr, warmupSteps: o.optim.warmupSteps, totalSteps: g.steps, schedule: o.optim.schedule });
  o.adam.setLr(lr);
  let lossSum = 0, applied = 0, gradNorm = 0, skipped = false, allReduceSeconds = 0;
  let skipReason: string | null = null;
  const m: Record<string, number[]> = {};
  let entropySum = 0;
  o.model.setGradientCheckpointing(o.gradientCheckpointing);
  const reducer = group.overlappedReducer(o.params);
  try {
    for (let it = 0; it < g.numIterations; it++) {
      o.adam.zeroGrad();
      let iterLoss = 0;
      for (const [a, b] of chunks) {
        // The last micro-batch's backward completes the gradients: its buckets are summed across ranks as it runs.
        if (b === N) reducer?.arm();
        const value = tidy(() => {
          const p = slicePacked(packed, a, b);
          const { logprobs, entropy } = o.model.tokenLogprobsWithEntropy(p.ids, { keyStart: p.keyStart, targetStart: p.targetStart, temperature });
          if (it === 0) entropySum += entropy.mul(p.mask).sum().item() as number;
          const out = grpoLoss({
            logprobs, oldLogprobs: old ? old.narrow(0, a, b - a) : null, refLogprobs: ref ? ref.narrow(0, a, b - a) : null,
            advantages: advTensor.narrow(0, a, b - a), mask: p.mask, beta: g.beta, epsilon: g.epsilon,
            epsilonHigh: g.epsilonHigh ?? g.epsilon, lossType: g.lossType, maxCompletionLength: o.maxCompletionLength,
            numItemsInBatch: numItems, gradientAccumulationSteps: batchRows / (b - a),
          });
          for (const [k, v] of Object.entries(out.metrics)) (m[k] ??= []).push(v as number);
          const loss = out.loss.item() as number;
          if (Number.isFinite(loss)) out.loss.backward();
          return loss;
        });
        iterLoss += value;
        await new Promise<void>((r) => setImmediate(r)); // let Ctrl-C and the progress bar through
      }
      if (group.worldSize > 1) {
        // Every rank takes the same decisions below: the same summed gradients and loss.
        allReduceSeconds += reducer ? await reducer.finish() : await group.reduceGradients(o.params);
        iterLoss = (await group.sum([iterLoss]))[0];
      }
      gradNorm = clipGradNorm(o.params, o.optim.maxGradNorm);
      const reason = !Number.isFinite(iterLoss) || !Number.isFinite(gradNorm)
        ? `the ${!Number.isFinite(iterLoss) ? `loss (${iterLoss})` : `gradient norm (${gradNorm})`} is not finite`
        : divergenceOf(predictUpdate(o.adam, o.params).relativeChange, lr);
      if (reason !== null) {
        skipped = true;
        skipReason = reason;
        o.adam.zeroGrad(); // not applied: weights and optimizer state stay as they were (logged as `skipped`)
        continue;
      }
      o.adam.step();
      lossSum += iterLoss;
      applied += 1;
    }
    o.adam.zeroGrad();
    if (applied > 0 && !weightsFinite(o.params))
      throw new Error(
        `the update of step ${o.step + 1} made the weights non-finite (learning rate ${lr.toExponential()}); they are not checkpointed. ` +
          'Resume from the last checkpoint with a lower --optim.lr (or a smaller --optim.maxGradNorm)',
      );
  } finally {
    o.model.setGradientCheckpointing(false);
    disposePacked(packed);
    for (const t of [advTensor, old, ref]) t?.dispose();
  }
  const metrics = await groupMetrics(group, Object.fromEntries(Object.entries(m).map(([k, v]) => [METRIC_NAMES[k] ?? k, nanMean(v)])));
  const [entropyAll] = await group.sum([entropySum]);
  metrics.entropy = numItems > 0 ? entropyAll / numItems : 0;
  return { loss: applied === 0 ? NaN : lossSum / applied, gradNorm, lr, skipped, applied, skipReason, metrics, logprobSeconds, allReduceSeconds };
}

/**
 * The loss metrics of the whole group from each rank's (each a mean over its micro-batches): the mean over ranks,
 * the min of *_min and the max of *_max, NaN-skipping as TRL's nanmean/nanmin/nanmax. One process: unchanged.
 */
async function groupMetrics(group: TrainGroup, local: Record<string, number>): Promise<Record<string, number>> {
  if (group.worldSize === 1) return local;
  const names = Object.keys(local).sort();
  const all = await group.gather(Object.fromEntries(names.map((k) => [k, [local[k]]])), group.rank, group.worldSize);
  return Object.fromEntries(names.map((k) => {
    const v = all[k].filter((x) => !Number.isNaN(x));
    if (v.length === 0) return [k, NaN];
    return [k, k.endsWith('_min') ? Math.min(...v) : k.endsWith('_max') ? Math.max(...v) : mean(v)];
  }));
}

/** The skip reason for a predicted update of relativeChange × the weights' norm, or null when it is within bounds. */
function divergenceOf(relativeChange: number, lr: number): string | null {
  if (relativeChange <= MAX_RELATIVE_UPDATE) return null;
  const size = Number.isFinite(relativeChange) ? `${relativeChange.toPrecision(3)}×` : 'a non-finite multiple of';
  return `the AdamW step would change the weights by ${size} their norm (more than ${MAX_RELATIVE_UPDATE}×): ` +
    `the learning rate ${lr.toExponential()} is the likely cause (optim.lr)`;
}
