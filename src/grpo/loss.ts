// The GRPO policy loss (clipped surrogate + optional k3 KL to a reference), aggregated per token as TRL's
// GRPOTrainer._compute_loss does for loss_type grpo | bnpo | dr_grpo | dapo, with TRL's clip-ratio metrics.
import { Tensor } from '../tensor/tensor';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';

export type LossType = 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo';

export interface GrpoLossInput {
  /** [N, T] per-token log-probs under the current policy, attached to autograd. */
  logprobs: Tensor;
  /** [N, T] detached log-probs under the policy that sampled; null → logprobs.detach() (μ = 1: ratio 1). */
  oldLogprobs: Tensor | null;
  /** [N, T] detached log-probs under the frozen reference; needed when beta ≠ 0. */
  refLogprobs: Tensor | null;
  /** [N] one advantage per completion. */
  advantages: Tensor;
  /** [N, T] 1 for completion tokens counted in the loss, else 0. */
  mask: Tensor;
  beta: number;
  epsilon: number;
  epsilonHigh: number;
  lossType: LossType;
  /** dr_grpo's normalizer is N · maxCompletionLength. */
  maxCompletionLength: number;
  /** dapo: total mask tokens across the whole accumulated batch (default: mask.sum() of this micro-batch). */
  numItemsInBatch?: number;
  /**
   * grpo, bnpo, dr_grpo: the loss is divided by this (TRL's current_gradient_accumulation_steps), so that summing the
   * gradients of the micro-batches of one optimizer step averages them. With micro-batches of unequal size pass
   * (rows in the batch) / (rows in this micro-batch), not an integer then, so that every row weighs the same. dapo
   * ignores it (numItemsInBatch covers the whole accumulated batch). Default 1.
   */
  gradientAccumulationSteps?: number;
}

export interface GrpoLossOutput {
  /** Scalar, attached to autograd through logprobs. */
  loss: Tensor;
  /**
   * As TRL logs them: the *_mean and kl are means over masked tokens; clipRatioLowMin and clipRatioHighMax are the
   * min and max over completions of each completion's masked mean (NaN when no completion has a masked token).
   */
  metrics: {
    kl?: number;
    clipRatioLowMean: number;
    clipRatioLowMin: number;
    clipRatioHighMean: number;
    clipRatioHighMax: number;
    clipRatioRegionMean: number;
  };
}

const LOSS_TYPES: readonly LossType[] = ['grpo', 'bnpo', 'dr_grpo', 'dapo'];
const FLOAT_DTYPES = ['float32', 'float64', 'float16', 'bfloat16'];

function checkNumber(name: string, v: unknown, min: number, hint: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
    throw new RangeError(`grpoLoss: ${name} must be a finite number >= ${min} (${hint}), got ${String(v)}`);
  return v;
}

function checkTensor(name: string, t: unknown, shape: number[]): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`grpoLoss: ${name} must be a Tensor of shape [${shape.join(', ')}]`);
  const s = t.shape;
  if (s.length !== shape.length || s.some((d, k) => d !== shape[k]))
    throw new TypeError(`grpoLoss: ${name} has shape [${s.join(', ')}], expected [${shape.join(', ')}] (like logprobs)`);
  if (!FLOAT_DTYPES.includes(t.dtype)) throw new TypeError(`grpoLoss: ${name} must be a floating tensor, got ${t.dtype}`);
  return t;
}

function validate(i: GrpoLossInput): void {
  if (!LOSS_TYPES.includes(i.lossType))
    throw new RangeError(`grpoLoss: lossType must be one of ${LOSS_TYPES.join(', ')}, got ${JSON.stringify(i.lossType)}`);
  if (!(i.logprobs instanceof Tensor) || i.logprobs.ndim !== 2)
    throw new TypeError('grpoLoss: logprobs must be a 2-D Tensor [completions, tokens]');
  const [n, t] = i.logprobs.shape;
  checkTensor('logprobs', i.logprobs, [n, t]);
  if (i.oldLogprobs !== null) checkTensor('oldLogprobs', i.oldLogprobs, [n, t]);
  checkTensor('mask', i.mask, [n, t]);
  checkTensor('advantages', i.advantages, [n]);
  checkNumber('beta', i.beta, 0, 'the KL coefficient; 0 disables the KL term');
  checkNumber('epsilon', i.epsilon, 0, 'the lower clip range');
  checkNumber('epsilonHigh', i.epsilonHigh, 0, 'the upper clip range; set it to epsilon for symmetric clipping');
  if (i.beta !== 0) {
    if (i.refLogprobs === null)
      throw new TypeError('grpoLoss: beta > 0 needs refLogprobs (the reference model\'s log-probs); pass them or set beta to 0');
    checkTensor('refLogprobs', i.refLogprobs, [n, t]);
  }
  if (i.lossType === 'dr_grpo') checkNumber('maxCompletionLength', i.maxCompletionLength, 1, "dr_grpo's normalizer");
  if (i.numItemsInBatch !== undefined) checkNumber('numItemsInBatch', i.numItemsInBatch, 0, 'mask tokens in the accumulated batch');
  if (i.gradientAccumulationSteps !== undefined)
    checkNumber('gradientAccumulationSteps', i.gradientAccumulationSteps, 1, 'micro-batches per optimizer step');
}

/** Sum of x over masked tokens divided by count (TRL's masked_batch_mean), as a plain number. */
const maskedMean = (x: Tensor, mask: Tensor, count: number): number => Number(x.float().mul(mask).sum().item()) / count;

/** Per completion: the masked mean of x over its tokens (NaN for a completion without masked tokens). */
function perSequenceMeans(x: Tensor, mask: Tensor): number[] {
  const sums = x.float().mul(mask).sum(-1).toArray() as number[];
  const counts = mask.sum(-1).toArray() as number[];
  return sums.map((s, k) => (Number(counts[k]) > 0 ? Number(s) / Number(counts[k]) : NaN));
}

/** min or max of the non-NaN values; NaN when there are none (TRL's nanmin / nanmax). */
function nanExtreme(xs: number[], pick: (...v: number[]) => number): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? NaN : pick(...v);
}

/**
 * Per token: −min(ρ·A, clip(ρ, 1−ε, 1+ε_high)·A) with ρ = exp(lp − lp_old), plus β·(exp(ref−lp) − (ref−lp) − 1).
 * Aggregation (as TRL): grpo = mean over completions of (masked sum / max(tokens, 1)); bnpo = masked sum / max(all
 * tokens, 1); dr_grpo = masked sum / (N · maxCompletionLength); dapo = masked sum / numItemsInBatch (clamped to ≥ 1
 * so that an all-masked batch gives 0 rather than NaN). grpo, bnpo and dr_grpo are also divided by
 * gradientAccumulationSteps. Metrics are computed without autograd; intermediates are disposed.
 */
export function grpoLoss(i: GrpoLossInput): GrpoLossOutput {
  validate(i);
  return tidy(() => {
    const lp = i.logprobs;
    const mask = i.mask;
    const old = i.oldLogprobs ?? lp.detach();
    const adv = i.advantages.unsqueeze(1); // [N, 1], broadcast over tokens
    const ratio = lp.sub(old).exp();
    const clipped = ratio.clamp(1 - i.epsilon, 1 + i.epsilonHigh);
    let perToken = ratio.mul(adv).minimum(clipped.mul(adv)).neg();
    let kl: Tensor | null = null;
    if (i.beta !== 0) {
      const d = (i.refLogprobs as Tensor).sub(lp);
      kl = d.exp().sub(d).sub(1);
      perToken = perToken.add(kl.mul(i.beta));
    }
    const masked = perToken.mul(mask);
    const accumulation = i.gradientAccumulationSteps ?? 1;
    let loss: Tensor;
    switch (i.lossType) {
      case 'grpo':
        loss = masked.sum(-1).div(mask.sum(-1).clamp(1)).mean().div(accumulation);
        break;
      case 'bnpo':
        loss = masked.sum().div(mask.sum().clamp(1)).div(accumulation);
        break;
      case 'dr_grpo':
        loss = masked.sum().div(lp.shape[0] * i.maxCompletionLength).div(accumulation);
        break;
      case 'dapo': {
        const items = i.numItemsInBatch ?? Number(noGrad(() => mask.sum().item()));
        loss = masked.sum().div(Math.max(items, 1));
        break;
      }
    }

    const metrics = noGrad(() => {
      const count = Math.max(Number(mask.sum().item()), 1);
      const low = ratio.lt(1 - i.epsilon).logicalAnd(adv.lt(0));
      const high = ratio.gt(1 + i.epsilonHigh).logicalAnd(adv.gt(0));
      return {
        ...(kl !== null ? { kl: maskedMean(kl.detach(), mask, count) } : {}),
        clipRatioLowMean: maskedMean(low, mask, count),
        clipRatioLowMin: nanExtreme(perSequenceMeans(low, mask), Math.min),
        clipRatioHighMean: maskedMean(high, mask, count),
        clipRatioHighMax: nanExtreme(perSequenceMeans(high, mask), Math.max),
        clipRatioRegionMean: maskedMean(low.logicalOr(high), mask, count),
      };
    });
    return { loss, metrics };
  });
}
