// Group-relative advantages from rewards, with the semantics of TRL's GRPOTrainer (_generate_and_score_completions).
// Plain numbers: a batch holds at most a few hundred rewards, so no tensors are needed here.

export type ScaleRewards = 'group' | 'batch' | 'none';

export interface AdvantageResult {
  /** One per completion, group-major like the rewards. */
  advantages: number[];
  /** One per prompt (group). */
  groupMean: number[];
  /** One per prompt: the unbiased std of the group's rewards (0 when groupSize is 1), whatever the scale mode. */
  groupStd: number[];
  /** As TRL's `frac_reward_zero_std`: share of completions whose scaling std is ~0 (see computeAdvantages). */
  fracRewardZeroStd: number;
  /** As TRL's `reward`: the mean of the group means (= the mean reward, groups being equal in size). */
  rewardMean: number;
  /** As TRL's `reward_std`: the mean over completions of the std used for scaling (group std, or the batch std). */
  rewardStd: number;
}

const SCALES: readonly ScaleRewards[] = ['group', 'batch', 'none'];
/** Added to the std before dividing, as TRL does, so a zero-std group gives zero advantages rather than NaN. */
const STD_EPS = 1e-4;

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** torch's default (unbiased, n − 1) std; TRL uses 0 where there is a single value instead of torch's NaN. */
function unbiasedStd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) * (x - m), 0) / (xs.length - 1));
}

/** torch.isclose(x, 0) with its default tolerances (atol 1e-8, rtol 1e-5: the rtol term vanishes against 0). */
const isCloseToZero = (x: number): boolean => Math.abs(x) <= 1e-8;

/**
 * Advantages for rewards laid out group-major (prompt p's completions at p*G .. p*G+G-1), as TRL's GRPOTrainer:
 * A = r − mean(group); 'group' divides by (group std + 1e-4), 'batch' by (std of all rewards + 1e-4), 'none' does not
 * divide. Stds are unbiased (torch's default); with one value (G = 1, or a batch of one) the std is 0, as in TRL.
 * fracRewardZeroStd is TRL's `is_std_zero.float().mean()` over completions of the std used for scaling ('group' and
 * 'none': the group stds, so it is the fraction of groups with all-equal rewards; 'batch': the batch std, so 0 or 1).
 */
export function computeAdvantages(rewards: number[], groupSize: number, scale: ScaleRewards): AdvantageResult {
  if (!Number.isInteger(groupSize) || groupSize < 1)
    throw new RangeError(`computeAdvantages: groupSize must be a positive integer (completions per prompt), got ${groupSize}`);
  if (!SCALES.includes(scale))
    throw new RangeError(`computeAdvantages: scale must be one of ${SCALES.join(', ')}, got ${JSON.stringify(scale)}`);
  if (!Array.isArray(rewards) || rewards.length === 0) throw new RangeError('computeAdvantages: rewards is empty: there is nothing to score');
  if (rewards.length % groupSize !== 0)
    throw new RangeError(
      `computeAdvantages: ${rewards.length} rewards do not split into groups of ${groupSize}; ` +
        'each prompt needs exactly groupSize completions',
    );
  const bad = rewards.findIndex((r) => typeof r !== 'number' || !Number.isFinite(r));
  if (bad >= 0)
    throw new RangeError(`computeAdvantages: reward ${bad} is ${rewards[bad]}; rewards must be finite numbers (combine NaN rewards first)`);

  const groups: number[][] = [];
  for (let i = 0; i < rewards.length; i += groupSize) groups.push(rewards.slice(i, i + groupSize));
  const groupMean = groups.map(mean);
  const groupStd = groups.map(unbiasedStd);

  // The std each completion is scaled by (and that TRL logs, also in 'none' mode).
  const batchStd = unbiasedStd(rewards);
  const stdOf = (i: number): number => (scale === 'batch' ? batchStd : groupStd[Math.floor(i / groupSize)]);

  const advantages = rewards.map((r, i) => {
    const centered = r - groupMean[Math.floor(i / groupSize)];
    return scale === 'none' ? centered : centered / (stdOf(i) + STD_EPS);
  });
  const stds = rewards.map((_, i) => stdOf(i));
  return {
    advantages,
    groupMean,
    groupStd,
    fracRewardZeroStd: stds.filter(isCloseToZero).length / stds.length,
    rewardMean: mean(groupMean),
    rewardStd: mean(stds),
  };
}
