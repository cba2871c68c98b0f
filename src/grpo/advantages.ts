// Group-relative advantages from rewards, with the semantics of TRL's GRPOTrainer (_generate_and_score_completions,
// TRL >= 1.6): a NaN reward marks an unscorable completion (every reward function abstained); it is left out of its
// group's mean and std and gets advantage 0. Plain numbers: a batch holds at most a few hundred rewards.

export type ScaleRewards = 'group' | 'batch' | 'none';
/** TRL's multi_objective_aggregation: sum the weighted rewards then normalize, or normalize each per group then sum. */
export type MultiObjectiveAggregation = 'sum_then_normalize' | 'normalize_then_sum';

export interface AdvantageResult {
  /** One per completion, group-major like the rewards; 0 for unscorable completions. */
  advantages: number[];
  /** One per prompt (group): the mean of its scorable rewards (NaN when it has none). */
  groupMean: number[];
  /** One per prompt: the unbiased std of its scorable rewards (0 when groupSize is 1, NaN with fewer than 2). */
  groupStd: number[];
  /** As TRL's `frac_reward_zero_std`: share of completions whose scaling std is ~0 (see computeAdvantages). */
  fracRewardZeroStd: number;
  /** As TRL's `reward`: the mean of the scorable rewards. */
  rewardMean: number;
  /** As TRL's `reward_std`: the unbiased std of all scorable rewards of the batch (NaN with fewer than 2). */
  rewardStd: number;
}

const SCALES: readonly ScaleRewards[] = ['group', 'batch', 'none'];
/** Added to the std before dividing, as TRL does, so a zero-std group gives zero advantages rather than NaN. */
const STD_EPS = 1e-4;

/** Mean of the non-NaN values (NaN when there are none), as torch.nanmean. */
export function nanMean(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

/** TRL's nanstd: the unbiased (n − 1) std of the non-NaN values; NaN with fewer than two. */
export function nanStd(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  if (v.length < 2) return NaN;
  const m = nanMean(v);
  return Math.sqrt(v.reduce((a, x) => a + (x - m) * (x - m), 0) / (v.length - 1));
}

/** torch.isclose(x, 0) with its default tolerances (atol 1e-8, rtol 1e-5: the rtol term vanishes against 0); NaN is not close. */
const isCloseToZero = (x: number): boolean => Math.abs(x) <= 1e-8;

const shareOf = (flags: boolean[]): number => flags.filter(Boolean).length / flags.length;

function checkShape(rewards: number[], groupSize: number): void {
  if (!Number.isInteger(groupSize) || groupSize < 1)
    throw new RangeError(`computeAdvantages: groupSize must be a positive integer (completions per prompt), got ${groupSize}`);
  if (!Array.isArray(rewards) || rewards.length === 0) throw new RangeError('computeAdvantages: rewards is empty: there is nothing to score');
  if (rewards.length % groupSize !== 0)
    throw new RangeError(
      `computeAdvantages: ${rewards.length} rewards do not split into groups of ${groupSize}; ` +
        'each prompt needs exactly groupSize completions',
    );
  const bad = rewards.findIndex((r) => typeof r !== 'number' || r === Infinity || r === -Infinity);
  if (bad >= 0)
    throw new RangeError(`computeAdvantages: reward ${bad} is ${rewards[bad]}; rewards must be finite numbers, or NaN for an unscorable completion`);
}

function groupsOf(xs: number[], groupSize: number): number[][] {
  const groups: number[][] = [];
  for (let i = 0; i < xs.length; i += groupSize) groups.push(xs.slice(i, i + groupSize));
  return groups;
}

/** The group std as TRL computes it: nanstd over the group, or 0 when a group has one completion. */
const groupStdOf = (g: number[], groupSize: number): number => (groupSize > 1 ? nanStd(g) : 0);

/**
 * Advantages for rewards laid out group-major (prompt p's completions at p*G .. p*G+G-1), as TRL's GRPOTrainer with
 * multi_objective_aggregation 'sum_then_normalize': A = r − mean(group); 'group' divides by (group std + 1e-4),
 * 'batch' by (std of all rewards + 1e-4), 'none' does not divide. Means and stds skip NaN rewards (unscorable
 * completions), whose advantage is 0, as is any advantage left NaN (a group with one scorable completion). Stds are
 * unbiased (torch's default); with G = 1 the group std is 0, as in TRL. fracRewardZeroStd is TRL's
 * `is_std_zero.float().mean()` over completions of the std used for scaling ('group' and 'none': the group stds;
 * 'batch': the batch std, so 0 or 1).
 */
export function computeAdvantages(rewards: number[], groupSize: number, scale: ScaleRewards): AdvantageResult {
  checkShape(rewards, groupSize);
  if (!SCALES.includes(scale))
    throw new RangeError(`computeAdvantages: scale must be one of ${SCALES.join(', ')}, got ${JSON.stringify(scale)}`);

  const groups = groupsOf(rewards, groupSize);
  const groupMean = groups.map(nanMean);
  const groupStd = groups.map((g) => groupStdOf(g, groupSize));

  // The std each completion is scaled by (and that TRL's frac_reward_zero_std judges, also in 'none' mode).
  const batchStd = rewards.length > 1 ? nanStd(rewards) : 0;
  const stdOf = (i: number): number => (scale === 'batch' ? batchStd : groupStd[Math.floor(i / groupSize)]);

  const advantages = rewards.map((r, i) => {
    const centered = r - groupMean[Math.floor(i / groupSize)];
    const a = scale === 'none' ? centered : centered / (stdOf(i) + STD_EPS);
    return Number.isNaN(a) ? 0 : a;
  });
  return {
    advantages,
    groupMean,
    groupStd,
    fracRewardZeroStd: shareOf(rewards.map((_, i) => isCloseToZero(stdOf(i)))),
    rewardMean: nanMean(rewards),
    rewardStd: nanStd(rewards),
  };
}

/**
 * TRL's multi_objective_aggregation 'normalize_then_sum' (GDPO): each reward function's values are normalized within
 * each group, (r − group mean) / (group std + 1e-4) over its non-NaN values, then summed with the weights (NaN counts
 * as 0), so every function counts by its weight whatever its scale. The sums are then centered and scaled over the
 * whole batch (scaleRewards does not apply, as in TRL). `total` is the raw weighted sum (combineRewards'): NaN marks
 * an unscorable completion, which gets advantage 0 and is left out of the batch statistics; rewardMean and rewardStd
 * are of `total`, as TRL logs them.
 */
export function normalizeThenSumAdvantages(
  perFunction: Record<string, number[]>, weights: Record<string, number>, total: number[], groupSize: number,
): AdvantageResult {
  checkShape(total, groupSize);
  const normalizedSum = total.map((t) => (Number.isNaN(t) ? NaN : 0));
  for (const [name, values] of Object.entries(perFunction)) {
    if (!Array.isArray(values) || values.length !== total.length)
      throw new RangeError(`normalizeThenSumAdvantages: reward function ${name} gave ${Array.isArray(values) ? values.length : 'no'} rewards for ${total.length} completions`);
    const w = weights[name] ?? 1;
    groupsOf(values, groupSize).forEach((g, p) => {
      const m = nanMean(g);
      const s = groupStdOf(g, groupSize);
      g.forEach((r, j) => {
        const k = p * groupSize + j;
        const z = (r - m) / (s + STD_EPS);
        if (!Number.isNaN(normalizedSum[k]) && !Number.isNaN(z)) normalizedSum[k] += w * z;
      });
    });
  }
  const batchStd = normalizedSum.length > 1 ? nanStd(normalizedSum) : 0;
  const batchMean = nanMean(normalizedSum);
  const advantages = normalizedSum.map((r) => {
    const a = (r - batchMean) / (batchStd + STD_EPS);
    return Number.isNaN(a) ? 0 : a;
  });
  const groups = groupsOf(total, groupSize);
  return {
    advantages,
    groupMean: groups.map(nanMean),
    groupStd: groups.map((g) => groupStdOf(g, groupSize)),
    fracRewardZeroStd: isCloseToZero(batchStd) ? 1 : 0,
    rewardMean: nanMean(total),
    rewardStd: nanStd(total),
  };
}
