// "Did you mean ...?" for unknown config keys: edit distance over the valid dotted paths and their last segments,
// plus the names TRL's GRPOConfig uses for the same settings (people coming from TRL type those).
import { configFields } from './fields';

/** Levenshtein distance between a and b. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** TRL / Hugging Face Trainer argument names → our dotted paths. */
const FOREIGN_NAMES: Record<string, string> = {
  learning_rate: 'optim.lr',
  weight_decay: 'optim.weightDecay',
  adam_beta1: 'optim.beta1',
  adam_beta2: 'optim.beta2',
  adam_epsilon: 'optim.eps',
  max_grad_norm: 'optim.maxGradNorm',
  lr_scheduler_type: 'optim.schedule',
  warmup_steps: 'optim.warmupSteps',
  max_steps: 'grpo.steps',
  num_generations: 'grpo.numGenerations',
  num_iterations: 'grpo.numIterations',
  max_completion_length: 'generation.maxNewTokens',
  max_new_tokens: 'generation.maxNewTokens',
  top_p: 'generation.topP',
  top_k: 'generation.topK',
  epsilon_high: 'grpo.epsilonHigh',
  scale_rewards: 'grpo.scaleRewards',
  loss_type: 'grpo.lossType',
  mask_truncated_completions: 'grpo.maskTruncatedCompletions',
  gradient_accumulation_steps: 'grpo.gradientAccumulationSteps',
  gradient_checkpointing: 'model.gradientCheckpointing',
  model_name_or_path: 'model.path',
  torch_dtype: 'model.dtype',
  logging_steps: 'logging.every',
  save_steps: 'checkpoint.every',
  save_total_limit: 'checkpoint.keep',
  output_dir: 'runsDir',
  reward_weights: 'rewards',
};

/** Case, '_' and '-' do not matter when comparing names. */
const norm = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');

const parentOf = (path: string): string => (path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '');
const lastOf = (path: string): string => path.slice(path.lastIndexOf('.') + 1);

/**
 * The valid dotted path nearest to an unknown one, or undefined when nothing is close. Candidates are compared by
 * whole path and by last segment (any level, so a key in the wrong group is found too); a match under the same
 * parent wins ties.
 */
export function suggestKey(unknown: string): string | undefined {
  const given = norm(lastOf(unknown));
  const givenPath = norm(unknown);
  const parent = parentOf(unknown);
  const candidates: { name: string; path: string }[] = [];
  for (const f of configFields()) candidates.push({ name: norm(lastOf(f.path)), path: f.path });
  for (const [name, path] of Object.entries(FOREIGN_NAMES)) candidates.push({ name: norm(name), path });

  let best: { path: string; score: number } | undefined;
  const consider = (path: string, distance: number, length: number): void => {
    if (distance > Math.max(1, Math.floor(length / 3))) return;
    const score = distance * 2 + (parentOf(path) === parent ? 0 : 1);
    if (best === undefined || score < best.score) best = { path, score };
  };
  for (const c of candidates) consider(c.path, editDistance(given, c.name), Math.max(given.length, c.name.length));
  for (const f of configFields()) {
    const p = norm(f.path);
    consider(f.path, editDistance(givenPath, p), Math.max(givenPath.length, p.length));
  }
  return best?.path;
}
