// The config of every command: `train` (the train schema, layered over the bundled default), `sft`, `eval` and
// `saliency`. They share train's field schemas (data, saliency, device, seed, model dtype) and one validation layer
// (resolveWith), so a flag means the same in each, and each takes dotted, kebab-case and the short forms below.
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';

import { BUNDLED_CONFIGS, bundledConfigPath } from './bundled';
import { Raw } from './coerce';
import { ConfigSchema, describeConfig, FieldDescription, schemaDefaults } from './fields';
import { deepMerge } from './overrides';
import { loraChecks, resolveConfig, resolveWith } from './resolve';
import { field, group, int, positiveInt, TrainConfig, trainConfigSchema } from './schema';

const T = trainConfigSchema.shape;
const trainModel = T.model.unwrap().shape;
const trainData = T.data.unwrap().shape;
const { enabled: _enabled, ...maskShape } = T.saliency.unwrap().shape;

/** The short flags every model-and-data command takes, as they were before the shared schema (`--task`, `--count`). */
const DATA_SHORTCUTS: Record<string, string> = {
  model: 'model.path',
  dtype: 'model.dtype',
  task: 'data.task',
  limit: 'data.limit',
  count: 'data.{data.task}.count',
  minOps: 'data.{data.task}.minOps',
  maxOps: 'data.{data.task}.maxOps',
  maxValue: 'data.{data.task}.maxValue',
  hint: 'data.hinted.hint',
};

/** The bundled default run (tiny-synthetic): what `train` with no --config runs, and what a --config file layers over. */
export const TRAIN_BASE = (): string => bundledConfigPath('tiny-synthetic');

/** A --config value: a bundled config's name or a file. */
export function configFilePath(nameOrFile: string): string {
  return (BUNDLED_CONFIGS as readonly string[]).includes(nameOrFile) ? bundledConfigPath(nameOrFile as (typeof BUNDLED_CONFIGS)[number]) : nameOrFile;
}

export const TRAIN_SHORTCUTS: Record<string, string> = { ...DATA_SHORTCUTS, json: 'logging.json' };

export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/** The train config: the bundled default, then `file` (a path or a bundled name), then the overrides. */
export function resolveTrainConfig(o: { file?: string; overrides?: Record<string, unknown> | string[] } = {}): TrainConfig {
  return resolveConfig({ base: TRAIN_BASE(), file: o.file === undefined ? undefined : configFilePath(o.file), overrides: o.overrides, shortcuts: TRAIN_SHORTCUTS });
}

// ---- sft

export const sftConfigSchema = z.strictObject({
  model: group(
    {
      path: field(z.string().min(1).nullable().default(null), 'model directory to start from (Hugging Face format); --model DIR (null: initConfig)'),
      dtype: trainModel.dtype,
    },
    'the model fine-tuned',
  ),
  initConfig: field(z.string().min(1).nullable().default(null), 'instead of model.path: a config.json to initialize a fresh model from (needs tokenizer)'),
  tokenizer: field(z.string().min(1).nullable().default(null), 'tokenizer directory (null: model.path)'),
  out: field(z.string().min(1), 'output model directory (written via a temporary one); required'),
  seed: T.seed,
  device: T.device,
  lora: T.lora,
  data: T.data,
  steps: field(positiveInt().default(1000), 'optimizer steps'),
  batchSize: field(positiveInt().default(32), 'examples per step'),
  lr: field(z.number().positive().default(3e-3), 'peak AdamW learning rate (cosine decay after warmup)'),
  warmupSteps: field(int().min(0).default(50), 'linear warmup steps'),
  logEvery: field(positiveInt().default(10), 'log metrics every N optimizer steps (and the last step)'),
  json: field(z.boolean().default(false), 'one JSON line of metrics per logged step on stdout'),
});
export type SftConfig = z.output<typeof sftConfigSchema>;
export type SftConfigInput = z.input<typeof sftConfigSchema>;

/** sft's own default: the hinted task's decorative/faithful training mix. */
const SFT_BASE: Raw = { data: { hinted: { hint: 'sft' } } };

function sftChecks(c: SftConfig): string[] {
  const out: string[] = [];
  if ((c.model.path === null) === (c.initConfig === null)) out.push('sft needs exactly one of model.path (--model DIR) and initConfig (--init-config FILE)');
  if (c.initConfig !== null && c.tokenizer === null) out.push('initConfig needs tokenizer (--tokenizer DIR): the fresh model has none');
  return out.concat(dataChecks(c.data), loraChecks(c.lora));
}

function dataChecks(d: TrainConfig['data']): string[] {
  const g = d.task === 'hinted' ? d.hinted : d.synthetic;
  return g.minOps > g.maxOps ? [`'data.${d.task === 'hinted' ? 'hinted' : 'synthetic'}.minOps' (${g.minOps}) is larger than its maxOps (${g.maxOps})`] : [];
}

export function resolveSftConfig(o: { overrides?: Record<string, unknown> | string[] } = {}): SftConfig {
  return resolveWith(sftConfigSchema, { base: SFT_BASE, overrides: o.overrides, shortcuts: DATA_SHORTCUTS, crossChecks: sftChecks });
}

// ---- eval

/** eval's and saliency's --adapter: a LoRA adapter on the model (a LoRA run's runs/<name>/adapter). */
const adapterField = () =>
  field(z.string().min(1).nullable().default(null), "LoRA adapter directory (PEFT format: adapter_config.json + adapter_model.safetensors) loaded onto the model, e.g. a LoRA run's runs/<name>/adapter; --adapter DIR");

export const evalConfigSchema = z.strictObject({
  model: group(
    {
      path: field(z.string().min(1).default('models/tiny-arith'), 'model directory (Hugging Face format, with its tokenizer); --model DIR'),
      dtype: trainModel.dtype,
      adapter: adapterField(),
    },
    'the model evaluated',
  ),
  seed: T.seed,
  device: T.device,
  data: T.data,
  maxNewTokens: field(positiveInt().default(64), 'greedy completion length limit (also for continuations after a mistake)'),
  batchSize: field(positiveInt().default(32), 'problems generated together'),
  saliency: T.saliency,
  faithfulness: field(z.boolean().default(true), 'run the intervention metrics (--no-faithfulness: log-prob metrics only)'),
  answerTokens: field(positiveInt().default(12), 'tokens generated after the answer marker in the interventions'),
  out: field(z.string().min(1).nullable().default(null), 'also write the report as JSON to this file'),
  outDir: field(z.string().min(1).nullable().default(null), 'write summary.json, items.jsonl (one row per problem) and report.html there'),
  json: field(z.boolean().default(false), 'print the report as JSON on stdout'),
});
export type EvalConfig = z.output<typeof evalConfigSchema>;
export type EvalConfigInput = z.input<typeof evalConfigSchema>;

export const EVAL_SHORTCUTS: Record<string, string> = { ...DATA_SHORTCUTS, saliency: 'saliency.enabled', adapter: 'model.adapter' };

/** The saliency section of a train run config (the masks training used), as a base for eval and saliency. */
function runSaliency(runConfig: string | undefined): Raw {
  const s = resolveTrainConfig({ file: runConfig }).saliency;
  return { saliency: s };
}

/** eval's config: the masks of `runConfig` (a train config; default train's), then the overrides. */
export function resolveEvalConfig(o: { runConfig?: string; overrides?: Record<string, unknown> | string[] } = {}): EvalConfig {
  return resolveWith(evalConfigSchema, {
    base: runSaliency(o.runConfig), overrides: o.overrides, shortcuts: EVAL_SHORTCUTS, crossChecks: (c) => dataChecks(c.data),
  });
}

// ---- saliency

export const saliencyConfigSchema = z.strictObject({
  model: group(
    {
      path: field(z.string().min(1), 'Hugging Face Llama directory (weights, config.json, tokenizer files); --model DIR; required'),
      dtype: field(
        z.enum(['float32', 'bfloat16', 'float16', 'float64']).nullable().default(null),
        'weights in memory (null: as on disk)',
      ),
      adapter: adapterField(),
    },
    'the model measured',
  ),
  input: field(
    z.string().min(1),
    'completions (.jsonl, .json, .csv, .parquet), e.g. runs/<run>/completions.jsonl: rows {question or prompt, completion, gold, ' +
      'task?, hint?, choices?, id or problem?, correct?}; prompt_ids / completion_ids (token ids) are used instead of the texts when present; required',
  ),
  out: field(z.string().min(1), 'output directory for saliency.jsonl and saliency.html (created if missing); required'),
  device: T.device,
  task: field(
    z.enum(['gsm8k', 'mmlu', 'synthetic', 'hinted', 'custom']).nullable().default(null),
    "task of rows without a task field (null: the run's data.task when --input is in a run folder, else gsm8k)",
  ),
  promptFormat: field(
    z.enum(['chat', 'raw']).default('chat'),
    "chat: the prompt is the question, rendered as train renders it (chat template, task system prompt, pinned date); raw: the full prompt text",
  ),
  limit: field(positiveInt().nullable().default(null), 'only the first N rows (null: all)'),
  // How the answer is found in each completion: train's fields, taken from the run's config.yaml when there is one.
  answerPattern: trainData.answerPattern,
  answerExtractor: trainData.answerExtractor,
  saliency: group(maskShape, "the mask (train's saliency section; default: the run's config.yaml beside --input, else train's default)"),
});
export type SaliencyConfig = z.output<typeof saliencyConfigSchema>;
export type SaliencyConfigInput = z.input<typeof saliencyConfigSchema>;

export const SALIENCY_SHORTCUTS: Record<string, string> = {
  model: 'model.path',
  adapter: 'model.adapter',
  dtype: 'model.dtype',
  steps: 'saliency.steps',
  lr: 'saliency.lr',
  lambda: 'saliency.lambda',
  threshold: 'saliency.threshold',
  tau: 'saliency.tau',
  perLayer: 'saliency.perLayer',
  batchSize: 'saliency.batchSize',
};

/** The run config beside a run's completions.jsonl, if there is one. */
export function runConfigBeside(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const file = path.join(path.dirname(input), 'config.yaml');
  return fs.existsSync(file) ? file : undefined;
}

/**
 * The saliency command's config: the mask of `runConfig` (default: the config.yaml of the run whose completions are
 * read, else train's default), then the overrides.
 */
export function resolveSaliencyConfig(o: { runConfig?: string; overrides?: Record<string, unknown> } = {}): SaliencyConfig & { runConfig?: string } {
  const input = o.overrides?.input;
  const runConfig = o.runConfig ?? runConfigBeside(input);
  const { enabled: _e, ...mask } = runSaliency(runConfig).saliency as Raw;
  const base: Raw = { saliency: mask };
  if (runConfig !== undefined) {
    // A run with data.task 'auto' recorded each row's own task in completions.jsonl: no default needed then.
    const { task, answerPattern, answerExtractor } = resolveTrainConfig({ file: runConfig }).data;
    if (task !== 'auto') base.task = task;
    Object.assign(base, { answerPattern, answerExtractor });
  }
  const c = resolveWith(saliencyConfigSchema, { base, overrides: o.overrides, shortcuts: SALIENCY_SHORTCUTS });
  return runConfig === undefined ? c : { ...c, runConfig };
}

// ---- help

/** The `--help` listing of a command's fields, with the defaults that apply to it. */
export function helpFields(command: 'train' | 'sft' | 'eval' | 'saliency'): FieldDescription[] {
  const schemas: Record<typeof command, ConfigSchema> = {
    train: trainConfigSchema, sft: sftConfigSchema, eval: evalConfigSchema, saliency: saliencyConfigSchema,
  };
  if (command === 'train') return describeConfig(trainConfigSchema, resolveTrainConfig());
  if (command === 'sft') return describeConfig(sftConfigSchema, deepMerge(schemaDefaults(sftConfigSchema), SFT_BASE));
  return describeConfig(schemas[command]);
}

