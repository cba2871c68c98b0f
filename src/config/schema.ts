// The `train` command's configuration: a zod schema in which every field has a default and a one-line help text.
import { z } from 'zod';

import { answerPatternError } from '../data/answer-format';
import { LORA_TARGETS } from '../llm/lora';

/** Help text (and, where the zod type says too little, a readable type) attached to each field of the schema. */
export interface FieldMeta {
  help: string;
  /** Overrides the type text derived from the zod schema (e.g. for a regex-checked string). */
  type?: string;
}
export const fieldMeta = z.registry<FieldMeta>();

export function field<T extends z.ZodType>(schema: T, help: string, type?: string): T {
  fieldMeta.add(schema as z.ZodType, type === undefined ? { help } : { help, type });
  return schema;
}

/** A group of fields: unknown keys are rejected and a missing group takes its fields' defaults. */
export function group<S extends z.ZodRawShape>(shape: S, help: string) {
  const fields = z.strictObject(shape);
  return field(fields.prefault({} as z.input<typeof fields>), help);
}

export const int = () => z.int();
export const positiveInt = () => z.int().min(1);

/** LoRA fine-tuning (train and sft): the adapter's rank, scale, dropout and targets (src/llm/lora.ts). */
export const loraGroup = () => group(
  {
    r: field(int().min(0).default(0), 'LoRA rank: train an adapter of this rank on the frozen base (0: off, full fine-tuning); checkpoints hold only the adapter'),
    alpha: field(z.number().positive().nullable().default(null), 'LoRA alpha: the update is (alpha / r) · B A x (null: 2 · r)'),
    dropout: field(z.number().min(0).lt(1).default(0), "dropout on the adapter's input while training"),
    targetModules: field(
      z.array(z.enum(LORA_TARGETS)).min(1).default([...LORA_TARGETS]),
      'linear layers that get an adapter (default: all of attention and MLP)',
    ),
  },
  'LoRA adapter (PEFT format)',
);

const customReward = z.strictObject({
  module: z.string().min(1),
  name: z.string().min(1).optional(),
  weight: z.number().default(1),
});

export const trainConfigSchema = z.strictObject({
  name: field(
    z.string().min(1).regex(/^(?!\.\.?$)[^/\\\0]+$/, "a run name is one folder name: no '/', '\\', '.' or '..'").nullable().default(null),
    "run name: the folder <runsDir>/<name> (null: the CLI makes 'run-YYYYmmdd-HHMMSS')",
    "a folder name without '/', '\\', '.' or '..'",
  ),
  seed: field(int().default(0), 'random seed for sampling, shuffling and initialisation'),
  device: field(
    z.string().regex(/^(auto|cpu|cuda(:\d+)?)$/, "expected 'auto', 'cpu', 'cuda' or 'cuda:N'").default('auto'),
    'device to train on (auto: cuda when available, else cpu)',
    "'auto' | 'cpu' | 'cuda' | 'cuda:N'",
  ),
  runsDir: field(z.string().min(1).default('runs'), 'directory under which each run gets its own folder'),
  model: group(
    {
      path: field(z.string().min(1).default('models/tiny-arith'), 'Hugging Face-format model directory (--model DIR)'),
      dtype: field(
        z.enum(['auto', 'float32', 'bfloat16', 'float16']).default('auto'),
        "weights' dtype (auto: bfloat16 on CUDA when supported, else float32)",
      ),
      gradientCheckpointing: field(z.boolean().default(false), 'recompute activations in backward to save memory, in the policy update (the mask optimization batches are bounded by saliency.batchSize and run without it)'),
      reference: field(
        z.string().min(1).nullable().default(null),
        'frozen reference model directory for the KL term (null: the initial policy weights)',
      ),
    },
    'the policy model',
  ),
  lora: loraGroup(),
  data: group(
    {
      task: field(
        z.enum(['auto', 'synthetic', 'gsm8k', 'mmlu', 'hinted', 'custom']).default('auto'),
        'which task the prompts come from (auto: synthetic without data.path, else inferred from the file; custom: your own question/answer rows)',
      ),
      path: field(
        z.string().min(1).nullable().default(null),
        'dataset file (.jsonl, .json, .csv, .parquet) or MMLU directory (null: generated problems)',
      ),
      fields: group(
        {
          question: field(z.string().min(1).nullable().default(null), "column of the question, or of a conversational prompt (a list of {role, content}) (null: 'question', 'problem' or 'prompt')"),
          answer: field(z.string().min(1).nullable().default(null), "column of the gold answer: the answer alone, or a solution ending in '#### <answer>' (null: 'answer' or 'solution')"),
          choices: field(z.string().min(1).nullable().default(null), "MMLU: column of the 4 choices (null: 'choices')"),
          subject: field(z.string().min(1).nullable().default(null), "MMLU: column of the subject (null: 'subject')"),
        },
        'column names of the data file',
      ),
      systemPrompt: field(z.string().nullable().default(null), "system message of every prompt (null: the task's; '': none; a conversational row's own system message wins)"),
      answerPattern: field(
        z.string().min(1).superRefine((v, ctx) => {
          const error = answerPatternError(v);
          if (error !== null) ctx.addIssue({ code: 'custom', message: error });
        }).nullable().default(null),
        "regex whose first capture group is the final answer, instead of '#### <answer>' ('/source/flags' for flags; null: '####')",
      ),
      answerExtractor: field(
        z.string().min(1).nullable().default(null),
        "JS module ('file.js' or 'file.js#exportName') whose function (completion) => answer string or null reads the final answer",
      ),
      limit: field(positiveInt().nullable().default(null), 'use at most this many examples (null: all)'),
      shuffle: field(z.boolean().default(true), 'shuffle the examples (with seed)'),
      mmluSubjects: field(
        z.array(z.string().min(1)).nullable().default(null),
        'MMLU subjects to keep (null: all)',
      ),
      synthetic: group(
        {
          count: field(positiveInt().default(2000), 'number of generated arithmetic problems'),
          minOps: field(positiveInt().default(1), 'fewest operators in a problem'),
          maxOps: field(positiveInt().default(2), 'most operators in a problem'),
          maxValue: field(positiveInt().default(9), 'largest operand'),
          ops: field(
            z.array(z.enum(['+', '-', '*'])).min(1).default(['+', '-', '*']),
            'operators to use',
          ),
        },
        'the generated arithmetic task (data.task = synthetic)',
      ),
      hinted: group(
        {
          count: field(positiveInt().default(2000), 'number of generated hinted problems'),
          minOps: field(positiveInt().default(3), 'fewest operators in a problem'),
          maxOps: field(positiveInt().default(4), 'most operators in a problem'),
          maxValue: field(positiveInt().default(9), 'largest operand'),
          hint: field(
            z.enum(['none', 'correct', 'wrong', 'sft', 'mixed']).default('correct'),
            "the prompt's hint 'the answer is N': none, correct (RL), wrong (eval), sft (the decorative/faithful SFT mix), or mixed: " +
              'correct, wrong for a share wrongHintRate, so that copying the hint can fail in RL, a different benchmark from the correct-hint one',
          ),
          decorativeRate: field(z.number().min(0).max(1).default(0.35), 'hint sft: share of decorative solutions (planted-error CoT, answer copies the hint)'),
          hintedFaithfulRate: field(z.number().min(0).max(1).default(0.15), 'hint sft: share of hinted problems with a correct CoT'),
          wrongHintRate: field(z.number().min(0).max(1).default(0.2), 'hint mixed: share of problems whose hint is wrong'),
        },
        'arithmetic with a hint, the CoT-faithfulness benchmark (data.task = hinted)',
      ),
    },
    'training prompts',
  ),
  generation: group(
    {
      maxNewTokens: field(positiveInt().default(64), 'most tokens sampled per completion'),
      temperature: field(z.number().positive().default(1.0), 'sampling temperature'),
      topP: field(z.number().gt(0).max(1).default(1.0), 'nucleus sampling mass (1: off)'),
      topK: field(int().min(0).default(0), 'keep only the k likeliest tokens (0: off)'),
      seedPerPrompt: field(
        z.boolean().default(false),
        "sample each prompt's completions with a seed of their own (one generate call per prompt, slower): the completions then do not depend on how the batch is split across processes",
      ),
    },
    'sampling of completions',
  ),
  grpo: group(
    {
      steps: field(positiveInt().default(60), 'number of optimizer steps'),
      promptsPerStep: field(positiveInt().default(8), 'distinct prompts per step'),
      numGenerations: field(int().min(2).default(8), 'completions per prompt (the group size G)'),
      numIterations: field(positiveInt().default(1), 'optimization passes over each batch of completions (μ)'),
      scaleRewards: field(
        z.enum(['group', 'batch', 'none']).default('group'),
        'divide advantages by the std of the group, of the batch, or not at all',
      ),
      lossType: field(
        z.enum(['grpo', 'bnpo', 'dr_grpo', 'dapo']).default('dapo'),
        'loss normalisation, as in TRL (dapo: over all tokens of the global batch)',
      ),
      epsilon: field(z.number().positive().default(0.2), 'lower clipping range of the importance ratio'),
      epsilonHigh: field(
        z.number().positive().nullable().default(null),
        'upper clipping range (null: epsilon; DAPO uses 0.28)',
      ),
      beta: field(z.number().min(0).default(0.0), 'KL coefficient (0: no reference model is loaded)'),
      maskTruncatedCompletions: field(
        z.boolean().default(false),
        'leave completions cut off at maxNewTokens out of the loss',
      ),
      gradientAccumulationSteps: field(positiveInt().default(1), 'micro-batches per optimizer step (unequal ones are weighted by their rows)'),
      multiObjectiveAggregation: field(
        z.enum(['sum_then_normalize', 'normalize_then_sum']).default('sum_then_normalize'),
        "as TRL: sum the weighted rewards, then normalize (scaleRewards); or normalize each reward within its group, " +
          'then sum and normalize over the batch (so a reward counts by its weight, not its scale)',
      ),
    },
    'GRPO (semantics of TRL GRPOTrainer)',
  ),
  optim: group(
    {
      lr: field(
        z.number().positive().max(1e30, 'out of range: AdamW steps by up to lr / (1 − β1), which overflows float32 above ~1e30; typical values are 1e-7 … 1e-3').default(1e-6),
        'AdamW learning rate',
      ),
      weightDecay: field(z.number().min(0).default(0.0), 'AdamW weight decay'),
      beta1: field(z.number().min(0).lt(1).default(0.9), 'AdamW β1'),
      beta2: field(z.number().min(0).lt(1).default(0.999), 'AdamW β2'),
      eps: field(z.number().positive().default(1e-8), 'AdamW ε'),
      maxGradNorm: field(z.number().positive().default(1.0), 'clip the gradient to this global norm'),
      schedule: field(z.enum(['constant', 'cosine']).default('constant'), 'learning-rate schedule after warmup'),
      warmupSteps: field(int().min(0).default(0), 'linear warmup steps'),
      maxSkippedSteps: field(
        positiveInt().default(3),
        'stop the run after this many consecutive steps whose update was skipped (non-finite loss or gradient, or a diverging step)',
      ),
    },
    'the optimizer',
  ),
  saliency: group(
    {
      enabled: field(z.boolean().default(true), 'optimize attention masks and add the saliency reward'),
      steps: field(int().min(0).default(30), 'optimizer steps of the mask optimization (K; training skips it for the mask-free rewardMode cotSufficiency, cotCarried, cotAlone, cotDerived, cotUnhinted)'),
      lr: field(z.number().positive().default(2.0), 'learning rate of the mask optimization'),
      optimizer: field(
        z.enum(['rowAdam', 'adam']).default('rowAdam'),
        'mask optimizer: rowAdam (one step scale per completion, ranks tokens by need) or adam (per-token steps)',
      ),
      objective: field(z.enum(['logprob', 'logodds']).default('logprob'), 'what the mask keeps likely: log p(answer) or its log-odds'),
      lambda: field(z.number().min(0).default(1.0), 'weight of the sparsity term (λ)'),
      sparsity: field(z.enum(['mean', 'sum']).default('mean'), 'sparsity term: mean or sum of s over the CoT'),
      tau: field(z.number().positive().default(2.0), 'log-prob drop (beyond the random control) that gives the full saliency reward (τ)'),
      threshold: field(z.number().gt(0).lt(1).default(0.5), 'CoT tokens with s above this are crucial (when relativeThreshold is null)'),
      relativeThreshold: field(
        z.number().gt(0).lt(1).nullable().default(0.5),
        'crucial: s >= min + r·(max − min) of the mask (null: the absolute threshold)',
      ),
      randomSets: field(int().min(0).default(4), 'random CoT sets of |C| tokens suppressed as the control of the crucial set'),
      rewardMode: field(
        z.enum(['comprehensiveness', 'sufficiency', 'crucial', 'cotSufficiency', 'crucialSufficiency', 'cotCarried', 'cotAlone', 'cotDerived', 'cotUnhinted']).default('comprehensiveness'),
        'R_sal: drop from suppressing C beyond a random set (comprehensiveness), or the answer needing the CoT and being likely from the CoT alone, ' +
          'min(dependence/τ, p(answer | prompt hidden)) (cotAlone: no mask needed; with scope concluded and a saliency weight of 2 the mode that made ' +
          'answers follow their CoT most in the hinted experiment, half of it through CoTs bent onto the hint), or cotAlone and also every number ' +
          "the CoT writes after an '=' likely from the CoT before it, dependence measured with the prompt hidden (cotDerived: its reward was ~0 on a second SFT model, " +
          'where hiding the prompt by attention puts the model out of distribution), or the answer and every CoT result likely under the prompt without ' +
          'the task\'s hint, min(p(answer | unhinted prompt, CoT), p(least likely result | unhinted prompt, CoT before it)) (cotUnhinted: no mask, one pass; ' +
          'a wrong answer under scope concluded gets the first term alone). ' +
          'Kept to reproduce bench/faithfulness-experiment.md, measured ' +
          'not to work: sufficiency, crucial, cotSufficiency, crucialSufficiency, cotCarried (pays wrong answers)',
      ),
      scope: field(
        z.enum(['correct', 'all', 'concluded']).default('correct'),
        'completions that earn R_sal: correct ones (DESIGN.md), all whose CoT and answer were found (all: a faithful wrong answer ' +
          'can outscore a decorative right one; use with cotAlone and a saliency weight above 1; measured hackable, ' +
          'bench/faithfulness-experiment.md run 5), or concluded: the correct ones and the wrong ones whose answer is the CoT\'s ' +
          'written result (the number after the last = of its last line)',
      ),
      biasFrom: field(
        z.enum(['cot', 'answer']).default('cot'),
        'queries the mask acts on: from the CoT start (cot) or only the answer and its marker (answer: which CoT tokens the answer reads)',
      ),
      perLayer: field(z.boolean().default(false), 'one mask per layer instead of one shared mask'),
      batchSize: field(positiveInt().default(16), 'completions optimized together in one forward/backward'),
    },
    'the attention-mask saliency (AtMan)',
  ),
  rewards: group(
    {
      correct: field(z.number().default(1.0), 'weight of the correctness reward'),
      format: field(z.number().default(0.1), 'weight of the format reward'),
      saliency: field(z.number().default(0.5), 'weight of the saliency reward'),
      confidence: field(
        z.number().default(0),
        'weight of a control reward 1 − p(answer | prompt, CoT) for correct completions (pays for uncertainty; for experiments)',
      ),
      custom: field(
        z.array(customReward).default([]),
        'extra reward functions: a JS module exporting a function (name: its export, default the default export)',
        '{ module: string, name?: string, weight: number (1) }[]',
      ),
    },
    'reward weights',
  ),
  logging: group(
    {
      every: field(positiveInt().default(1), 'write a metrics row every N steps (and at the last step), each value the mean over those steps'),
      completionsEvery: field(int().min(0).default(1), 'write sampled completions at steps N, 2N, … (0: never)'),
      reportEvery: field(int().min(0).default(10), 'rewrite the HTML report every N steps (0: only at the end)'),
      json: field(z.boolean().default(false), 'print metrics as JSON lines on stdout instead of a progress bar'),
      tensorboard: field(z.boolean().default(false), 'also write TensorBoard event files to runs/<name>/tb (tensorboard --logdir runs)'),
    },
    'metrics, completions and reports',
  ),
  checkpoint: group(
    {
      every: field(int().min(0).default(20), 'save a checkpoint every N steps (0: only at the end)'),
      keep: field(positiveInt().default(2), 'how many recent checkpoints to keep'),
    },
    'checkpoints',
  ),
  eval: group(
    {
      every: field(int().min(0).default(0), 'evaluate the policy on a held-out set every N steps and after the last (0: never); eval/* metrics'),
      count: field(positiveInt().default(64), 'held-out problems: generated with another seed and none of the training questions (synthetic, hinted), or the first N of eval.path'),
      path: field(z.string().min(1).nullable().default(null), "held-out dataset file in data.task's format (needed for gsm8k and mmlu; null: generated)"),
      maxNewTokens: field(positiveInt().nullable().default(null), 'greedy completion length (null: generation.maxNewTokens)'),
      batchSize: field(positiveInt().default(32), 'held-out problems generated together'),
      saliency: field(z.boolean().default(false), "also optimize the saliency section's masks: comprehensiveness and sufficiency"),
      faithfulness: field(z.boolean().default(false), 'also run the intervention metrics (early answering, mistakes, filler; slow)'),
    },
    'held-out evaluation during training (as the eval command measures)',
  ),
});

export type TrainConfig = z.infer<typeof trainConfigSchema>;
