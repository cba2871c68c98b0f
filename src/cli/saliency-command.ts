// The `saliency` command (yargs module): flags → the saliency command's config (its schema, as for every command).
import type { Argv, CommandModule } from 'yargs';

import { fieldsHelp, overridesFromArgv, shortFlag } from './config-args';

export const saliencyCommand: CommandModule = {
  command: 'saliency',
  describe: "Optimize an AtMan mask over each completion's chain of thought; write saliency.jsonl and an HTML heat map",
  builder: (y: Argv) => {
    let b = y.strict(false);
    for (const [name, describe] of [
      ['model', 'Hugging Face Llama directory (weights, config.json and tokenizer files), or a bundled one (models/tiny-arith); = --model.path'],
      ['adapter', "LoRA adapter directory (PEFT format) loaded onto --model, e.g. a LoRA run's runs/<name>/adapter; = --model.adapter"],
      ['input', "completions (.jsonl, .json, .csv, .parquet), e.g. a run's runs/<run>/completions.jsonl as train wrote it"],
      ['out', 'output directory for saliency.jsonl and saliency.html (created if missing)'],
      ['config', "a train run config whose saliency section (the mask) and data.task apply (default: the config.yaml beside --input, else train's defaults)"],
      ['dtype', 'weights in memory: float32, bfloat16, float16 or float64 (default: as on disk); = --model.dtype'],
      ['device', "'auto', 'cpu', 'cuda' or 'cuda:N'"],
      ['task', 'task of rows without a task field (system prompt, answer format, grading)'],
      ['prompt-format', "chat: the prompt is the question, rendered as train renders it; raw: the full prompt text"],
      ['steps', 'mask steps K; = --saliency.steps'],
      ['lr', 'mask learning rate; = --saliency.lr'],
      ['lambda', 'weight of the sparsity term; = --saliency.lambda'],
      ['threshold', 'absolute crucial-set threshold (with --saliency.relativeThreshold null); = --saliency.threshold'],
      ['tau', 'answer log-prob drop that earns the full saliency reward; = --saliency.tau'],
      ['batch-size', 'completions optimized together; = --saliency.batchSize'],
      ['limit', 'only the first N rows'],
    ]) b = shortFlag(b, name, describe);
    return b
      .option('per-layer', { type: 'boolean', describe: 'one mask per layer instead of one shared by all layers; = --saliency.perLayer' })
      .epilogue(fieldsHelp('saliency', 'Every field is a flag, dotted or kebab-case; unknown names get the nearest valid one. Fields:'));
  },
  handler: async (argv) => {
    const a = argv as Record<string, unknown>;
    const { runSaliencyCommand } = await import('./saliency');
    await runSaliencyCommand(overridesFromArgv(a, ['config']), { runConfig: a.config as string | undefined });
  },
};
