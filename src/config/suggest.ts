// "Did you mean ...?" for unknown config keys: edit distance over the valid dotted paths and their last segments,
// plus the names TRL's GRPOConfig / HF TrainingArguments use for the same settings (people coming from TRL type those).
import { ConfigSchema, FieldInfo, configFields } from './fields';

/** Optimal-string-alignment distance between a and b: Levenshtein, with a swap of two neighbours counting 1. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** TRL / Hugging Face Trainer argument names → our dotted paths (used only where the command has that path). */
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
  eval_steps: 'eval.every',
  output_dir: 'runsDir',
  reward_weights: 'rewards',
};

/** Case, '_' and '-' do not matter when comparing names. */
const norm = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');

const parentOf = (path: string): string => (path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '');
const lastOf = (path: string): string => path.slice(path.lastIndexOf('.') + 1);

/** Typos allowed: one per four characters, at least one. "eval_steps" is 3 edits from "max_steps": not a typo of it. */
const tolerance = (length: number): number => Math.max(1, Math.floor(length / 4));

/**
 * The valid dotted path nearest to an unknown one, or undefined when nothing is close. Candidates are compared by
 * whole path and by last segment (any level, so a key in the wrong group is found too: grpo.temperature →
 * generation.temperature); a match under the same parent wins ties. A key under a real group moves to another group
 * only when its name is unique there (eval.steps does not become grpo.steps: several groups have a `steps`).
 */
export function suggestKey(unknown: string, schema?: ConfigSchema): string | undefined {
  const fields = configFields(schema);
  const paths = new Set(fields.map((f) => f.path));
  const given = norm(lastOf(unknown));
  const givenPath = norm(unknown);
  const parent = parentOf(unknown);
  const parentIsGroup = parent !== '' && fields.some((f) => f.group && f.path === parent);
  const candidates: { name: string; path: string }[] = fields.map((f: FieldInfo) => ({ name: norm(lastOf(f.path)), path: f.path }));
  for (const [name, path] of Object.entries(FOREIGN_NAMES)) if (paths.has(path)) candidates.push({ name: norm(name), path });
  const owners = new Map<string, Set<string>>();
  for (const c of candidates) owners.set(c.name, (owners.get(c.name) ?? new Set()).add(c.path));

  let best: { path: string; score: number } | undefined;
  const consider = (path: string, distance: number, length: number, unique: boolean): void => {
    if (distance > tolerance(length)) return;
    const sameParent = parentOf(path) === parent;
    if (parentIsGroup && !sameParent && !unique) return;
    const score = distance * 2 + (sameParent ? 0 : 1);
    if (best === undefined || score < best.score) best = { path, score };
  };
  for (const c of candidates) {
    consider(c.path, editDistance(given, c.name), Math.max(given.length, c.name.length), owners.get(c.name)!.size === 1);
  }
  for (const f of fields) {
    const p = norm(f.path);
    consider(f.path, editDistance(givenPath, p), Math.max(givenPath.length, p.length), true);
  }
  return best?.path;
}

/** The keys of a group, for a message about a key in it that has no near name. */
export function groupKeys(group: string, schema?: ConfigSchema): string[] {
  return configFields(schema).filter((f) => parentOf(f.path) === group).map((f) => lastOf(f.path));
}
