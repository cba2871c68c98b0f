// The `train`, `sft` and `eval` commands (yargs modules). Each parses its command line into config overrides, and the
// functions of src/api (what scripts call too) validate them with the command's schema and do the work.
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';

import { BUNDLED_CONFIGS } from '../config';
import type { SftConfigInput } from '../config';
import { HINT_MODES, TASK_NAMES } from '../data';
import { fieldsHelp, overridesFromArgv, shortFlag } from './config-args';

/** The short data and model flags of train, sft and eval (each is a config field too: --data.task, --model.path). */
function dataFlags(y: Argv): Argv {
  const flags: [string, string][] = [
    ['model', 'model directory (Hugging Face format); = --model.path'],
    ['dtype', "weights in memory: 'auto', 'float32', 'bfloat16' or 'float16'; = --model.dtype"],
    ['task', `dataset: ${TASK_NAMES.join(', ')}; = --data.task`],
    ['data-path', 'gsm8k: a .jsonl/.parquet file; mmlu: a directory of <subject>_<split>.csv or a file; = --data.path'],
    ['limit', 'use only the first N problems; = --data.limit'],
    ['count', 'synthetic/hinted: problems to generate; = --data.<task>.count'],
    ['min-ops', 'synthetic/hinted: fewest operations per problem; = --data.<task>.minOps'],
    ['max-ops', 'synthetic/hinted: most operations per problem; = --data.<task>.maxOps'],
    ['max-value', 'synthetic/hinted: largest operand; = --data.<task>.maxValue'],
    ['hint', `hinted: the prompt's 'the answer is N': ${HINT_MODES.join(', ')}; = --data.hinted.hint`],
    ['seed', 'random seed (data order, sampling, generated problems)'],
    ['device', "'auto', 'cpu', 'cuda' or 'cuda:N'"],
  ];
  for (const [name, describe] of flags) y = shortFlag(y, name, describe);
  return y.strict(false); // the schema checks every other flag, with a suggestion for unknown ones
}

/** Data-parallel launch flags of train and sft (src/distributed/launcher.ts); not config fields. */
function launchFlags(y: Argv): Argv {
  return y
    .option('nproc-per-node', { type: 'number', describe: 'start this many data-parallel workers on this node (one per GPU) and supervise them' })
    .option('nnodes', { type: 'number', describe: 'nodes in the run (default 1, or SLURM_NNODES)' })
    .option('node-rank', { type: 'number', describe: "this node's index in [0, nnodes) (default 0, or SLURM_NODEID)" })
    .option('master-addr', { type: 'string', describe: 'address of node 0, where rank 0 hosts the rendezvous (default 127.0.0.1, or MASTER_ADDR)' })
    .option('master-port', { type: 'number', describe: 'rendezvous port on node 0 (default: a free one on one node, 29500 on several, or MASTER_PORT)' })
    .option('dist-timeout', { type: 'number', describe: 'seconds a collective waits for the other ranks before failing (default 600)' });
}

const LAUNCH_EPILOGUE =
  'Data parallel: --nproc-per-node N starts N workers (Gloo on CPU, NCCL on CUDA, one GPU each) and stops them all when one fails; ' +
  'several nodes: the same command on each with --nnodes, --node-rank and --master-addr. Under torchrun or srun (RANK and ' +
  'WORLD_SIZE, or SLURM_PROCID and SLURM_NTASKS, set) the command joins the group instead: ' +
  'torchrun --no-python --nproc-per-node N npx atman-native train ...\n';

/**
 * Starts the workers when --nproc-per-node is given outside a launcher; returns true when it did (the exit code is
 * set). Inside a launcher (WORLD_SIZE set) the command joins the group instead, with --dist-timeout applied.
 */
async function launchedWorkers(a: Record<string, unknown>): Promise<boolean> {
  const { LAUNCH_FLAGS, launchOptionsOf, launchWorkers, workerArgs } = await import('../distributed/launcher');
  const flags = Object.fromEntries(LAUNCH_FLAGS.map((f) => [f, a[f]]));
  for (const f of LAUNCH_FLAGS) {
    delete a[f];
    delete a[f.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
  }
  if (flags['dist-timeout'] !== undefined) process.env.ATMAN_DIST_TIMEOUT = String(flags['dist-timeout']);
  if (flags['nproc-per-node'] === undefined || (process.env.WORLD_SIZE ?? '') !== '') {
    const others = LAUNCH_FLAGS.filter((f) => f !== 'dist-timeout' && f !== 'nproc-per-node' && flags[f] !== undefined);
    if (others.length > 0 && (process.env.WORLD_SIZE ?? '') === '')
      throw new Error(`--${others[0]} is a launcher flag: it needs --nproc-per-node (the workers to start on this node)`);
    return false;
  }
  const options = launchOptionsOf(flags);
  process.exitCode = await launchWorkers(workerArgs(process.argv.slice(1)), options);
  return true;
}

const CONFIG_INTRO = 'Every config field is a flag, dotted or kebab-case (--data.path = --data-path); unknown names get the nearest valid one.';

export const trainCommand: CommandModule = {
  command: 'train',
  describe: 'GRPO training with the AtMan saliency reward (no arguments: the bundled tiny CPU run)',
  builder: (y: Argv) =>
    launchFlags(dataFlags(y))
      .option('config', { type: 'string', describe: `YAML or JSON run config, or a bundled one (${BUNDLED_CONFIGS.join(', ')}); it layers over the bundled default tiny-synthetic` })
      .option('name', { type: 'string', describe: 'run name: the run directory is <runsDir>/<name> (default run-<date>-<time>)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue run <name> from its latest checkpoint' })
      .option('json', { type: 'boolean', describe: 'print one JSON line of metrics per step on stdout instead of a progress bar; = --logging.json' })
      .epilogue(LAUNCH_EPILOGUE +
        'Writes runs/<name>/: config.yaml, metrics.jsonl, completions.jsonl, report.html, checkpoints/ and latest (tb/ with ' +
          '--logging.tensorboard true). Off a terminal it prints one log line per metrics row (--logging.every). ' +
          'Ctrl-C or SIGTERM (docker stop, Slurm) stops at the next safe point, writes a checkpoint and exits with 130 / 143; ' +
          '--resume continues exactly, from the config the run last used with your flags on top (differences are printed ' +
          'and saved as config-resume-<n>.yaml).\n' +
          'A --config file sets only the fields it names; the rest keep the defaults below (the bundled tiny-synthetic run).\n\n' +
          fieldsHelp('train', `${CONFIG_INTRO} Config fields:`),
      ),
  handler: async (argv) => {
    const { train } = await import('../api/train');
    const { exitCodeOf } = await import('../train/interrupts');
    const a = argv as Record<string, unknown>;
    if (await launchedWorkers(a)) return;
    if (a.resume && a.name === undefined) throw new Error('--resume needs --name: the run to continue');
    const out = await train({ configFile: a.config as string | undefined, config: overridesFromArgv(a, ['config', 'resume']), resume: a.resume as boolean });
    if (out.rank !== 0) {
      // Rank 0 tells the user; the others only exit as it does.
      if (out.interrupted) process.exitCode = out.signal ? exitCodeOf(out.signal) : 130;
      return;
    }
    if (!out.interrupted) {
      process.stderr.write(`done: ${out.stepsDone} steps in ${out.runDir}\n`);
      return;
    }
    const runsDir = path.dirname(out.runDir);
    const again = `atman-native train --name ${path.basename(out.runDir)} --resume` +
      (path.resolve('runs') === runsDir ? '' : ` --runsDir ${runsDir}`);
    process.stderr.write(out.stepsDone > 0
      ? `interrupted${out.signal ? ` (${out.signal})` : ''}: ${out.stepsDone} steps in ${out.runDir}; continue with: ${again}\n`
      : `interrupted${out.signal ? ` (${out.signal})` : ''} before the first step finished: nothing to checkpoint; run the same command again to start over\n`);
    process.exitCode = out.signal ? exitCodeOf(out.signal) : 130;
  },
};

export const sftCommand: CommandModule = {
  command: 'sft',
  describe: 'Supervised fine-tuning on reference solutions (makes the bundled tiny model from a fresh init)',
  builder: (y: Argv) => {
    let b = launchFlags(dataFlags(y));
    for (const [name, describe] of [
      ['init-config', 'instead of --model: a config.json to initialize a fresh model from (needs --tokenizer)'],
      ['tokenizer', 'tokenizer directory (default: --model)'],
      ['out', 'output model directory (written via a temporary one); required'],
      ['steps', 'optimizer steps'],
      ['batch-size', 'examples per step'],
      ['lr', 'peak AdamW learning rate (cosine decay after warmup)'],
      ['warmup-steps', 'linear warmup steps'],
    ]) b = shortFlag(b, name, describe);
    return b
      .option('json', { type: 'boolean', describe: 'machine-readable output on stdout' })
      .epilogue(LAUNCH_EPILOGUE + fieldsHelp('sft', `${CONFIG_INTRO} Fields:`));
  },
  handler: async (argv) => {
    const { sft } = await import('../api/sft');
    const a = argv as Record<string, unknown>;
    if (await launchedWorkers(a)) return;
    const r = await sft({ config: overridesFromArgv(a) as SftConfigInput });
    process.stderr.write(`sft: loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}; ${r.lora ? 'LoRA adapter (PEFT format)' : 'model'} written to ${r.out}\n`);
  },
};

export const evalCommand: CommandModule = {
  command: 'eval',
  describe: 'Accuracy (strict and flexible) and faithfulness metrics, each beside its control (dependence, early answering, mistakes, filler, ERASER, hints)',
  builder: (y: Argv) => {
    let b = dataFlags(y);
    for (const [name, describe] of [
      ['adapter', "LoRA adapter directory (PEFT format) loaded onto --model, e.g. a LoRA run's runs/<name>/adapter; = --model.adapter"],
      ['max-new-tokens', 'greedy completion length limit (also for continuations after a mistake)'],
      ['batch-size', 'problems generated together'],
      ['saliency-steps', "mask optimization steps K; = --saliency.steps (default: the --config's)"],
      ['saliency-lr', 'mask optimization learning rate; = --saliency.lr'],
      ['saliency-lambda', 'weight of the sparsity term; = --saliency.lambda'],
      ['answer-tokens', 'tokens generated after the answer marker in the interventions'],
      ['out', 'also write the report as JSON to this file'],
      ['out-dir', 'write summary.json, items.jsonl (one row per problem) and report.html there'],
    ]) b = shortFlag(b, name, describe);
    return b
      .option('config', { type: 'string', describe: "a train run config whose saliency section the masks use (default: train's defaults)" })
      .option('faithfulness', { type: 'boolean', describe: 'run the intervention metrics (--no-faithfulness: log-prob metrics only)' })
      .option('json', { type: 'boolean', describe: 'machine-readable output on stdout' })
      .epilogue(
        '--no-saliency: no masks, so no comprehensiveness/sufficiency (= --saliency.enabled false). Faithfulness is measured on every ' +
          'completion whose CoT and answer are located, correct or not, so checkpoints evaluated with the same --seed/--count are ' +
          'compared on the same problems; --seed also seeds the controls and interventions.\n\n' + fieldsHelp('eval', `${CONFIG_INTRO} Fields:`),
      );
  },
  handler: async (argv) => {
    const a = argv as Record<string, unknown>;
    const { evaluate, evalConfigOf } = await import('../api/evaluate');
    const { defaultEvalDir, formatEvalSummary, progressPrinter } = await import('./eval-summary');
    const options = {
      runConfig: a.config as string | undefined, config: overridesFromArgv(a, ['config']), onProgress: progressPrinter(process.stderr),
      log: (line: string) => process.stderr.write(`${line}\n`), defaultOutDir: defaultEvalDir(),
    };
    const c = evalConfigOf(options);
    const outDir = c.outDir ?? options.defaultOutDir;
    const started = Date.now();
    const { report } = await evaluate(options);
    process.stderr.write(`eval: done in ${((Date.now() - started) / 1000).toFixed(1)} s; wrote ${path.join(outDir, 'report.html')}, summary.json and items.jsonl (one row per problem) there\n`);
    if (c.json) console.log(JSON.stringify(report));
    else console.log(formatEvalSummary(report));
  },
};
