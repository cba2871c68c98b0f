// The `train`, `sft` and `eval` commands (yargs modules). The work itself lives in src/train.
import * as fs from 'fs';
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';

import { BUNDLED_CONFIGS, TrainConfig, bundledConfigPath, describeConfig, resolveConfig } from '../config';
import { HINT_MODES, HintMode, TASK_NAMES, TaskName } from '../data';

const PACKAGE_ROOT = path.join(__dirname, '..', '..');

/** A relative model path missing from the working directory but shipped with the package (the bundled model). */
export function resolvePackagePath(p: string): string {
  if (path.isAbsolute(p) || fs.existsSync(p)) return p;
  const shipped = path.join(PACKAGE_ROOT, p);
  return fs.existsSync(shipped) ? shipped : p;
}

/** The run's config: --config FILE (default: the bundled tiny-synthetic.yaml), then dotted overrides, then flags. */
function configFromArgv(argv: Record<string, unknown>): TrainConfig {
  const overrides: Record<string, unknown> = {};
  // Everything but the command's own flags is a config override; the schema rejects unknown keys with a suggestion.
  const own = new Set(['_', '$0', 'config', 'model', 'name', 'resume', 'device', 'json', 'help', 'version']);
  for (const [k, v] of Object.entries(argv))
    if (!own.has(k) && !(k.includes('-') && argv[k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] !== undefined)) overrides[k] = v;
  if (typeof argv.model === 'string') overrides.model = { path: argv.model };
  else if (argv.model && typeof argv.model === 'object') overrides.model = argv.model;
  if (argv.device !== undefined) overrides.device = argv.device;
  if (argv.name !== undefined) overrides.name = String(argv.name);
  if (argv.json === true) overrides.logging = { ...((overrides.logging as object) ?? {}), json: true };
  const file = (argv.config as string | undefined) ?? bundledConfigPath('tiny-synthetic');
  const cfg = resolveConfig({ file: BUNDLED_CONFIGS.includes(file as never) ? bundledConfigPath(file as never) : file, overrides });
  return { ...cfg, model: { ...cfg.model, path: resolvePackagePath(cfg.model.path) } };
}

const optionsHelp = () =>
  'Config fields (set in the YAML/JSON file or as dotted flags, e.g. --grpo.steps 100 --optim.lr 1e-6):\n' +
  describeConfig().map((f) => `  --${f.path} (${f.type}, default ${JSON.stringify(f.default)}): ${f.help}`).join('\n');

export const trainCommand: CommandModule = {
  command: 'train',
  describe: 'GRPO training with the AtMan saliency reward (no arguments: the bundled tiny CPU run)',
  builder: (y: Argv) =>
    y
      .strict(false) // dotted config overrides (--grpo.steps 5) are checked against the config schema instead
      .option('config', { type: 'string', describe: `YAML or JSON run config, or a bundled one: ${BUNDLED_CONFIGS.join(', ')} (default tiny-synthetic)` })
      .option('model', { type: 'string', describe: 'model directory (Hugging Face format); sets model.path' })
      .option('name', { type: 'string', describe: 'run name: the run directory is <runsDir>/<name> (default run-<date>-<time>)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue run <name> from its latest checkpoint' })
      .option('device', { type: 'string', describe: "'auto' (default), 'cpu', 'cuda' or 'cuda:N'" })
      .option('json', { type: 'boolean', describe: 'print one JSON line of metrics per step on stdout instead of a progress bar' })
      .epilogue(
        'Writes runs/<name>/: config.yaml, metrics.jsonl, completions.jsonl, report.html, checkpoints/ and latest. ' +
          'Ctrl-C finishes the current step, writes a checkpoint and exits with 130; --resume continues exactly.\n\n' + optionsHelp(),
      ),
  handler: async (argv) => {
    const { train } = await import('../train/trainer');
    const a = argv as Record<string, unknown>;
    if (a.resume && a.name === undefined) throw new Error('--resume needs --name: the run to continue');
    let cfg = configFromArgv(a);
    if (a.resume) {
      const saved = path.join(path.resolve(cfg.runsDir, cfg.name!), 'config.yaml');
      if (fs.existsSync(saved)) cfg = configFromArgv({ ...a, config: saved });
    }
    const out = await train({ config: cfg, resume: a.resume as boolean, json: a.json as boolean | undefined });
    process.stderr.write(`${out.interrupted ? 'interrupted' : 'done'}: ${out.stepsDone} steps in ${out.runDir}\n`);
    if (out.interrupted) process.exitCode = 130;
  },
};

// The generated tasks' operation counts when not given: synthetic [1, 2], hinted [3, 4] (hence no yargs default).
const DEFAULT_OPS: Record<string, [number, number]> = { synthetic: [1, 2], hinted: [3, 4] };

function problemsOptions(y: Argv, defaults: { hint: HintMode } = { hint: 'correct' }): Argv {
  return y
    .option('task', { type: 'string', choices: ['auto', ...TASK_NAMES], default: 'auto', describe: 'dataset (auto: synthetic without --data-path, else inferred from the file)' })
    .option('data-path', { type: 'string', describe: 'gsm8k/custom: a .jsonl/.json/.csv/.parquet file; mmlu: a directory of <subject>_<split>.csv or a file' })
    .option('limit', { type: 'number', describe: 'use only the first N problems' })
    .option('count', { type: 'number', default: 2000, describe: 'synthetic/hinted: problems to generate' })
    .option('min-ops', { type: 'number', describe: 'synthetic/hinted: fewest operations per problem [default: 1 synthetic, 3 hinted]' })
    .option('max-ops', { type: 'number', describe: 'synthetic/hinted: most operations per problem [default: 2 synthetic, 4 hinted]' })
    .option('max-value', { type: 'number', default: 9, describe: 'synthetic/hinted: largest operand' })
    .option('hint', {
      type: 'string', choices: [...HINT_MODES], default: defaults.hint,
      describe: "hinted: the prompt's 'the answer is N': none, correct, wrong (eval), sft (the decorative/faithful training mix)",
    })
    .option('seed', { type: 'number', default: 0, describe: 'random seed (data order, sampling, synthetic problems)' })
    .option('device', { type: 'string', default: 'auto', describe: "'auto', 'cpu', 'cuda' or 'cuda:N'" })
    .option('dtype', { type: 'string', choices: ['auto', 'float32', 'bfloat16', 'float16'], default: 'auto', describe: 'weights in memory (auto: bf16 on CUDA, fp32 on CPU)' })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output on stdout' });
}

async function problemsFromArgv(a: Record<string, unknown>) {
  const { loadProblems, formatSkipped } = await import('../train/problems');
  const [minOps, maxOps] = DEFAULT_OPS[a.task as string] ?? DEFAULT_OPS.synthetic;
  const generated = { count: a.count as number, minOps: (a.minOps as number | undefined) ?? minOps, maxOps: (a.maxOps as number | undefined) ?? maxOps, maxValue: a.maxValue as number };
  const dataPath = (a.dataPath as string | undefined) ?? null;
  const loaded = await loadProblems({
    task: a.task as TaskName | 'auto', path: dataPath, limit: (a.limit as number | undefined) ?? null, shuffle: false, mmluSubjects: null,
    synthetic: { ...generated, ops: ['+', '-', '*'] },
    hinted: { ...generated, hint: a.hint as HintMode },
  }, a.seed as number);
  for (const line of [...loaded.notes, ...formatSkipped(loaded, dataPath)]) process.stderr.write(`${line}\n`);
  return { ...loaded, dataPath };
}

export const sftCommand: CommandModule = {
  command: 'sft',
  describe: 'Supervised fine-tuning on reference solutions (makes the bundled tiny model from a fresh init)',
  builder: (y: Argv) =>
    problemsOptions(y, { hint: 'sft' })
      .option('model', { type: 'string', describe: 'model directory to start from (Hugging Face format)' })
      .option('init-config', { type: 'string', describe: 'instead of --model: a config.json to initialize a fresh model from (needs --tokenizer)' })
      .option('tokenizer', { type: 'string', describe: 'tokenizer directory (default: --model)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output model directory (written via a temporary one)' })
      .option('steps', { type: 'number', default: 1000, describe: 'optimizer steps' })
      .option('batch-size', { type: 'number', default: 32, describe: 'examples per step' })
      .option('lr', { type: 'number', default: 3e-3, describe: 'peak AdamW learning rate (cosine decay after warmup)' })
      .option('warmup-steps', { type: 'number', default: 50, describe: 'linear warmup steps' }),
  handler: async (argv) => {
    const a = argv as Record<string, unknown>;
    const { sft } = await import('../train/sft');
    const { resolveDevice, resolveDtype } = await import('../train/device');
    if (!a.model === !a.initConfig) throw new Error('sft needs exactly one of --model DIR and --init-config FILE');
    let modelDir = a.model as string | undefined;
    const tokenizerDir = (a.tokenizer as string | undefined) ?? modelDir;
    if (!tokenizerDir) throw new Error('--init-config needs --tokenizer DIR');
    if (!modelDir) {
      const { writeRandomLlama } = await import('../llm/init');
      modelDir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'atman-init-'));
      writeRandomLlama(modelDir, JSON.parse(fs.readFileSync(a.initConfig as string, 'utf8')), a.seed as number);
    }
    const { problems } = await problemsFromArgv(a);
    const device = resolveDevice(a.device as string);
    const r = await sft({
      modelDir, tokenizerDir, problems, outDir: a.out as string, steps: a.steps as number, batchSize: a.batchSize as number,
      lr: a.lr as number, warmupSteps: a.warmupSteps as number, seed: a.seed as number, device,
      dtype: resolveDtype(a.dtype as string, device) as 'float32', json: a.json as boolean,
    });
    process.stderr.write(`sft: loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}; model written to ${a.out}\n`);
  },
};

export const evalCommand: CommandModule = {
  command: 'eval',
  describe: 'Accuracy (strict and flexible) and faithfulness metrics, each beside its control (dependence, early answering, mistakes, filler, ERASER, hints)',
  builder: (y: Argv) =>
    problemsOptions(y)
      .option('model', { type: 'string', default: 'models/tiny-arith', describe: 'model directory (Hugging Face format, with its tokenizer)' })
      .option('max-new-tokens', { type: 'number', default: 64, describe: 'greedy completion length limit (also for continuations after a mistake)' })
      .option('batch-size', { type: 'number', default: 32, describe: 'problems generated together' })
      .option('saliency', { type: 'boolean', default: true, describe: 'optimize saliency masks for the crucial sets (--no-saliency: no comprehensiveness/sufficiency)' })
      .option('config', { type: 'string', describe: "a run config whose saliency section the masks use (default: train's defaults)" })
      .option('saliency-steps', { type: 'number', describe: 'mask optimization steps K (default: the config\'s saliency.steps)' })
      .option('saliency-lr', { type: 'number', describe: 'mask optimization learning rate (default: the config\'s saliency.lr)' })
      .option('saliency-lambda', { type: 'number', describe: 'weight of the sparsity term (default: the config\'s saliency.lambda)' })
      .option('faithfulness', { type: 'boolean', default: true, describe: 'run the intervention metrics (--no-faithfulness: log-prob metrics only)' })
      .option('answer-tokens', { type: 'number', default: 12, describe: 'tokens generated after the answer marker in the interventions' })
      .option('out', { type: 'string', describe: 'also write the report as JSON to this file' })
      .option('out-dir', { type: 'string', describe: 'write summary.json, items.jsonl (one row per problem) and report.html there' })
      .epilogue('Faithfulness is measured on every completion whose CoT and answer are located, correct or not, so checkpoints ' +
        'evaluated with the same --seed/--count are compared on the same problems; --seed also seeds the controls and interventions.'),
  handler: async (argv) => {
    const a = argv as Record<string, unknown>;
    const { runEvaluation } = await import('../train/evaluate');
    const { resolveDevice, resolveDtype } = await import('../train/device');
    const { writeFileAtomic } = await import('../log');
    const { formatEvalSummary, progressPrinter } = await import('./eval-summary');
    const { maskOptionsOf } = await import('../train/saliency-options');
    const device = resolveDevice(a.device as string);
    const loaded = await problemsFromArgv(a);
    const tokenizer = (await import('../llm/tokenizer')).Tokenizer.fromDir(resolvePackagePath(a.model as string));
    // The masks of training: the config's saliency section, with the flags given on top.
    const sal = resolveConfig({ file: a.config as string | undefined, overrides: {} }).saliency;
    const mask = maskOptionsOf({
      ...sal, steps: (a.saliencySteps as number | undefined) ?? sal.steps, lr: (a.saliencyLr as number | undefined) ?? sal.lr,
      lambda: (a.saliencyLambda as number | undefined) ?? sal.lambda,
    }, tokenizer.padTokenId, a.seed as number);
    const started = Date.now();
    const { report } = await runEvaluation({
      modelDir: resolvePackagePath(a.model as string), problems: loaded.problems, loadSkipped: loaded, dataPath: loaded.dataPath,
      log: (line) => process.stderr.write(`${line}\n`), device, dtype: resolveDtype(a.dtype as string, device) as 'float32',
      maxNewTokens: a.maxNewTokens as number, batchSize: a.batchSize as number,
      saliency: { enabled: a.saliency as boolean, steps: mask.steps!, lr: mask.lr!, lambda: mask.lambda!, threshold: mask.threshold!, batchSize: mask.batchSize!, options: mask },
      faithfulness: a.faithfulness as boolean, seed: a.seed as number, answerTokens: a.answerTokens as number,
      outDir: a.outDir as string | undefined, onProgress: progressPrinter(process.stderr),
    });
    process.stderr.write(`eval: done in ${((Date.now() - started) / 1000).toFixed(1)} s${a.outDir ? `; wrote ${a.outDir}/summary.json, items.jsonl, report.html` : ''}\n`);
    if (a.out) writeFileAtomic(a.out as string, JSON.stringify(report, null, 2) + '\n');
    if (a.json) console.log(JSON.stringify(report));
    else console.log(formatEvalSummary(report));
  },
};
