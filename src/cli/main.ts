#!/usr/bin/env node
// The atman-native command line.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

import { REWARD_MODES, SaliencyRewardMode } from '../atman/reward';
import { saliencyCommand } from './saliency-command';
import { evalCommand, sftCommand, trainCommand } from './train-commands';

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName('atman-native')
    .usage('$0 <command> [options]\n\nAtManRL: GRPO training of faithful LLM reasoning, native over libtorch.')
    .command(trainCommand)
    .command(sftCommand)
    .command(evalCommand)
    .command(
      'doctor',
      'Show the libtorch found, CUDA devices and which native build is loaded',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' }),
      async (argv) => {
        const { doctorReport, printDoctor, printLoadFailure } = await import('./doctor');
        let report;
        try {
          report = doctorReport();
        } catch (e) {
          printLoadFailure(e, (await import('../loader')).lastLoadReport());
          process.exitCode = 1;
          return;
        }
        if (argv.json) console.log(JSON.stringify(report, null, 2));
        else printDoctor(report);
      },
    )
    .command(
      'demo',
      'A tiny autograd run: fit a 2-layer MLP with AdamW and print the loss (checks the install end to end)',
      (y) =>
        y
          .option('steps', { type: 'number', default: 300, describe: 'optimizer steps' })
          .option('hidden', { type: 'number', default: 32, describe: 'hidden units' })
          .option('lr', { type: 'number', default: 0.02, describe: 'AdamW learning rate' })
          .option('device', { type: 'string', default: 'cpu', describe: "'cpu', 'cuda' or 'cuda:N'" })
          .option('seed', { type: 'number', default: 0, describe: 'random seed' }),
      async (argv) => {
        const { runDemo } = await import('./demo');
        const { first, last } = runDemo({ steps: argv.steps, hidden: argv.hidden, lr: argv.lr, device: argv.device, seed: argv.seed });
        console.log(`loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
        if (!(last < first)) {
          console.error('the loss did not fall: something is wrong with this install');
          process.exitCode = 1;
        }
      },
    )
    .command(saliencyCommand)
    .command(
      'merge',
      'Fold a LoRA adapter (PEFT format) into its base model and write a full Hugging Face checkpoint',
      (y) =>
        y
          .option('model', { type: 'string', demandOption: true, describe: 'the base model directory the adapter was trained on' })
          .option('adapter', { type: 'string', demandOption: true, describe: "the adapter directory (adapter_config.json + adapter_model.safetensors), e.g. a LoRA run's runs/<name>/adapter" })
          .option('out', { type: 'string', demandOption: true, describe: 'output model directory (written via a temporary one; the base\'s tokenizer files are copied)' })
          .option('dtype', { type: 'string', choices: ['float32', 'bfloat16', 'float16', 'float64'], describe: "weights' dtype (default: the base's)" })
          .epilogue('W + (alpha / r) · B A per adapted layer, summed in float32 and rounded once (as PEFT merge_and_unload). The output loads like any model: --model OUT.'),
      async (argv) => {
        const { merge } = await import('../api/merge');
        const r = await merge({ model: argv.model, adapter: argv.adapter, out: argv.out, dtype: argv.dtype as 'float32' | undefined });
        process.stderr.write(`merge: LoRA r ${r.r} (${r.targetModules.join(', ')}) folded into ${argv.model}; model written to ${r.out}\n`);
      },
    )
    .command(
      'bench <name>',
      'Run a benchmark and print its table (names: overhead, attention, llama, saliency, grpo, gates, experiment)',
      (y) =>
        y
          .positional('name', { type: 'string', choices: ['overhead', 'attention', 'llama', 'saliency', 'grpo', 'gates', 'experiment'], demandOption: true })
          .option('model', { type: 'string', describe: 'llama, saliency, grpo, gates: a Hugging Face-format Llama directory (e.g. the random 3B of scripts/llama3b_parity.py)' })
          .option('task', { type: 'string', choices: ['synthetic', 'hinted'], default: 'synthetic', describe: 'gates: the task whose completions are measured' })
          .option('config', { type: 'string', describe: 'gates: a run config whose saliency section is measured (default: the bundled defaults)' })
          .option('dir', { type: 'string', describe: 'experiment: the eval directory of scripts/faithfulness-experiment.sh' })
          .option('runs', { type: 'string', describe: "experiment: also its runs directory: the training completions' composition (valid, bent, decorative CoTs) and their R_sal" })
          .option('device', { type: 'string', default: 'cpu', describe: "'cpu', 'cuda' or 'cuda:N'" })
          .option('iters', {
            type: 'number',
            describe:
              'overhead: timed calls per case (default 20000); attention: timed steps per case, median reported (default 20); ' +
              'llama: timed runs per case after one warm-up (default 1; training: at least 3); ' +
              'saliency: timed mask and training steps after 2 warm-ups, median reported (default 5); ' +
              'grpo: timed GRPO steps, median reported (default 3)',
          })
          .option('small', {
            type: 'boolean',
            default: false,
            describe: 'attention: tiny shapes (Hq 4, Hkv 2, D 64, T 64 and 128) for a smoke run, e.g. on the CPU reference',
          })
          .option('json', { type: 'string', describe: 'also write the results as JSON to this file' })
          .option('reward-mode', {
            type: 'string',
            choices: REWARD_MODES as readonly string[],
            describe: 'grpo: time the saliency phase of this reward mode (cotAlone, cotDerived, cotUnhinted, cotSufficiency, cotCarried: no mask steps, only the passes the reward reads); default: the K-step mask with every pass',
          })
          .option('lora-r', { type: 'number', describe: 'grpo: train a LoRA adapter of this rank (alpha 2·r, every linear layer) instead of every weight (default 0: full fine-tuning)' })
          .epilogue(
            'overhead: wall time of one small tensor op through the JS API (peer: bench/overhead.py).\n' +
              'attention: attention() at the Llama-3.2-3B shapes (Hq 24, Hkv 8, D 128, causal, bf16; (B, T) = (8, 512), ' +
              '(4, 1024), (2, 2048), (1, 4096)) with a float32 keyBias [B, T]: forward and forward+backward median ms, ' +
              'TFLOP/s (FlashAttention-2 count) and peak CUDA memory above the inputs, for the cases "only keyBias needs ' +
              'a gradient" (AtMan), "q, k, v and keyBias do" and "no bias, q, k, v do". It runs whichever implementation ' +
              'attention() dispatches to. Peers: python3 bench/attention.py (see bench/attention.md).\n' +
              'llama: LlamaModel (bf16, CUDA) on --model: generate with sampling, batch 1 (128-token prompt, 128 new tokens) ' +
              'and batch 64 (128-token prompts, 256 new tokens), and training forward+backward B=8 x T=512 ' +
              '(loss = mean of -tokenLogprobs, all parameters requiring grad): tokens/s and peak CUDA memory. ' +
              'Peers: python3 bench/llama.py (see bench/llama.md).\n' +
              'saliency: optimizeSaliency on --model (bf16, CUDA), B=8 x T=512 random ids, CoT [T/4, T-16), answer the last 16: ' +
              'one mask step vs one full training forward+backward (ms, peak memory), and a K=30 optimization of 64 completions ' +
              '(wall s). Peer: python3 scripts/saliency_peer.py (see bench/peers-README.md).\n' +
              'grpo: the trainer\'s phases on --model (bf16, CUDA): 8 random 128-token prompts x G=8, exactly 256 new tokens, ' +
              'saliency forced on all 64 completions (K=30, batches of 8), the dapo update (beta 0, micro-batches of 8, ' +
              'activation checkpointing, AdamW lr 1e-6): ms per phase and per step, peak memory. Peer: python3 scripts/grpo_peer.py.\n' +
              'gates: the saliency gates of DESIGN.md on --model\'s own completions (--task synthetic: the bundled task; hinted: ' +
              'the hinted-arithmetic benchmark): mask vs leave-one-out suppression, R_sal on answers that follow their CoT (F) vs ' +
              'not (D), confidence, cheap paths (bench/saliency-gates.md).\n' +
              'experiment: the table of scripts/faithfulness-experiment.sh (AtManRL vs GRPO vs a confidence control, per seed).',
          ),
      async (argv) => {
        if (argv.name === 'gates') {
          if (!argv.model) throw new Error('bench gates needs --model DIR');
          const { resolveTrainConfig } = await import('../config');
          const { maskOptionsOf, rewardOptionsOf } = await import('../train/saliency-options');
          const { runGatesBench } = await import('../bench/saliency-gates');
          const cfg = resolveTrainConfig({ file: argv.config });
          const { resolveDevice } = await import('../train/device');
          await runGatesBench({
            modelDir: argv.model, task: argv.task as 'synthetic' | 'hinted', device: resolveDevice(argv.device), json: argv.json,
            saliency: maskOptionsOf(cfg.saliency, 0), reward: rewardOptionsOf(cfg.saliency),
          });
          return;
        }
        if (argv.name === 'experiment') {
          if (!argv.dir) throw new Error('bench experiment needs --dir DIR');
          const { runExperimentReport } = await import('../bench/faithfulness-experiment');
          runExperimentReport(argv.dir, argv.json, argv.runs);
          return;
        }
        if (argv.name === 'grpo') {
          if (!argv.model) throw new Error('bench grpo needs --model DIR');
          const { runGrpoBench } = await import('../bench/grpo');
          await runGrpoBench({ modelDir: argv.model, device: argv.device, steps: argv.iters, json: argv.json, loraR: argv.loraR, rewardMode: argv.rewardMode as SaliencyRewardMode | undefined });
        } else if (argv.name === 'saliency') {
          if (!argv.model) throw new Error('bench saliency needs --model DIR');
          const { runSaliencyBench } = await import('../bench/saliency');
          await runSaliencyBench({ modelDir: argv.model, device: argv.device === 'cpu' ? 'cuda' : argv.device, samples: argv.iters, json: argv.json });
        } else if (argv.name === 'llama') {
          if (!argv.model) throw new Error('bench llama needs --model DIR');
          const { runLlamaBench } = await import('../bench/llama');
          await runLlamaBench({ modelDir: argv.model, device: argv.device === 'cpu' ? 'cuda' : argv.device, iters: argv.iters ?? 1, json: argv.json });
        } else if (argv.name === 'attention') {
          const { runAttentionBench } = await import('../bench/attention');
          await runAttentionBench({ device: argv.device, iters: argv.iters ?? 20, small: argv.small, json: argv.json });
        } else {
          if (argv.small) throw new Error('--small applies to the attention bench only');
          const { runOverheadBench } = await import('../bench/overhead');
          await runOverheadBench({ device: argv.device, iters: argv.iters ?? 20000, json: argv.json });
        }
      },
    )
    .demandCommand(1, 'Name a command (see --help).')
    .strict()
    .recommendCommands()
    .help()
    .fail((msg, err, y) => {
      if (err) throw err;
      console.error(`${msg}\n`);
      y.showHelp();
      process.exit(2);
    })
    .parseAsync();
}

main().catch((e: unknown) => {
  console.error(`atman-native: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
