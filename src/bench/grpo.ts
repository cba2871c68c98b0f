// The GRPO step benchmark (GPU host): the trainer's phases on a Llama directory (bf16, CUDA) at the shapes of
// scripts/grpo_peer.py — P random prompts x G samples, exactly N new tokens, saliency forced on every completion,
// the clipped-surrogate update (dapo, beta 0, μ 1) with AdamW — timed per phase, median over steps.
import * as fs from 'fs';

import { SaliencyExample, optimizeSaliency, saliencyStats } from '../atman';
import type { SaliencyRewardMode } from '../atman/reward';
import { bundledConfigPath, resolveConfig } from '../config';
import { mulberry32 } from '../data/prng';
import { LlamaModel } from '../llm/model';
import { rewardMaskOptionsOf } from '../train/saliency-options';
import { AdamW } from '../nn/optim';
import { cuda } from '../tensor/runtime';
import { policyUpdate } from '../train/policy-update';
import { ANSWER_LEN, SEED, SUPPRESS_S, THETA_INIT, VOCAB_IDS, gib, median, nowMs as now } from './peer-settings';

export interface GrpoBenchOptions {
  modelDir: string;
  device: string;
  json?: string;
  prompts?: number;
  generations?: number;
  newTokens?: number;
  promptLen?: number;
  /** Timed GRPO steps (default 3, the median is reported). */
  steps?: number;
  /** Completions per mask-optimization batch (default 8, as the peer). */
  saliencyBatch?: number;
  /** Rows per forward/backward of the update (default 8, as the peer). */
  microBatch?: number;
  /** Recompute activations in the update's backward (default true, as the peer). */
  gradientCheckpointing?: boolean;
  /** Train a LoRA adapter of this rank (alpha 2·r, all linear layers) instead of every weight (default 0: full). */
  loraR?: number;
  /**
   * Time the saliency phase of this reward mode: a mask-free mode (cotAlone, cotDerived, cotUnhinted, cotSufficiency, cotCarried) runs no mask
   * steps and no random sets, only the passes its reward reads. Default: the mask of the paper config (K steps), as
   * before, with every pass.
   */
  rewardMode?: SaliencyRewardMode;
}


function randomPrompts(n: number, len: number, vocab: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => Array.from({ length: len }, () => Math.floor(rand() * Math.min(vocab, VOCAB_IDS))));
}

/** Standard normal advantages (Box-Muller), seeded: a random model earns no real reward. */
function randomAdvantages(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

type Phase = 'generate' | 'saliency' | 'update';
interface StepResult {
  ms: Record<Phase | 'total', number>;
  peak_gib: Record<Phase, number>;
  generated_tokens: number;
  saliency: { mean_s: number; frac_crucial: number };
  grad_norm: number;
  entropy: number;
}

export async function runGrpoBench(o: GrpoBenchOptions): Promise<Record<string, unknown>> {
  // On CPU (a smoke run with a tiny model) there is no device to synchronize and no peak memory to read.
  const onCuda = o.device.startsWith('cuda');
  const sync = () => onCuda && cuda.synchronize(o.device);
  const resetPeak = () => onCuda && cuda.resetPeakMemory(o.device);
  const peakGib = () => (onCuda ? gib(cuda.memory(o.device).peakAllocatedBytes) : 0);
  const P = o.prompts ?? 8, G = o.generations ?? 8, N = o.newTokens ?? 256, L = o.promptLen ?? 128, steps = o.steps ?? 3;
  const salBatch = o.saliencyBatch ?? 8, micro = o.microBatch ?? 8, checkpointing = o.gradientCheckpointing ?? true;
  if (N <= ANSWER_LEN) throw new Error(`the GRPO bench needs more than ${ANSWER_LEN} new tokens (the answer is the last ${ANSWER_LEN})`);
  // The paper-setting config with the bench's batch shape (TRL defaults: dapo, beta 0, μ 1, lr 1e-6, clip 1.0).
  const cfg = resolveConfig({
    file: bundledConfigPath('llama-3.2-3b-gsm8k'),
    overrides: {
      generation: { maxNewTokens: N, temperature: 1, topP: 1, topK: 0 },
      grpo: { promptsPerStep: P, numGenerations: G, gradientAccumulationSteps: Math.ceil((P * G) / micro), lossType: 'dapo', beta: 0, numIterations: 1 },
    },
  });
  const model = await LlamaModel.load(o.modelDir, { device: o.device, dtype: onCuda ? 'bfloat16' : 'float32' });
  const name = onCuda ? cuda.devices()[0]?.name ?? o.device : 'cpu';
  const loraR = o.loraR ?? 0;
  const mode = o.rewardMode;
  // Only the steps and passes the mode's reward reads, as the trainer runs them (optimizeSaliency's defaults, with every
  // pass, when no mode is given).
  const forMode = mode === undefined ? null : rewardMaskOptionsOf({ ...cfg.saliency, rewardMode: mode }, 0);
  const K = forMode?.steps ?? cfg.saliency.steps;
  const passes = forMode === null ? {} : { hidePrompt: forMode.hidePrompt, measureDerived: forMode.measureDerived, ...(K === 0 ? { randomSets: 0 } : {}) };
  if (loraR > 0) model.addLora({ r: loraR });
  model.requiresGrad_(true);
  const params = model.trainableParameters(); // with LoRA: the adapter only (the base frozen, no optimizer state for it)
  try {
    sync();
    const weightsGib = onCuda ? gib(cuda.memory(o.device).allocatedBytes) : 0;
    console.log(
      `# GRPO bench: ${o.modelDir} (${model.config.numHiddenLayers} layers), ${onCuda ? 'bf16' : 'fp32'} on ${name}; ${P} prompts x G=${G}, ` +
        `prompt ${L} + ${N} new tokens, saliency on all ${P * G} completions (${mode ? `reward mode ${mode}, ` : ''}K=${K}, batches of ${salBatch}), ` +
        `update in micro-batches of ${micro}${checkpointing ? ' with activation checkpointing' : ''}` +
        (loraR > 0 ? `; LoRA r ${loraR} (alpha ${2 * loraR}, all linear layers, ${params.reduce((a, p) => a + p.numel, 0)} trainable parameters)` : '; full fine-tuning'),
    );
    const adam = new AdamW(params, { lr: cfg.optim.lr, betas: [cfg.optim.beta1, cfg.optim.beta2], eps: cfg.optim.eps, weightDecay: cfg.optim.weightDecay });
    const results: StepResult[] = [];
    for (let step = 0; step < steps; step++) {
      const ms = {} as Record<Phase | 'total', number>, peak = {} as Record<Phase, number>;
      const phase = async <T>(p: Phase, fn: () => Promise<T>): Promise<T> => {
        sync();
        resetPeak();
        const t0 = now();
        const out = await fn();
        sync();
        ms[p] = Number((now() - t0).toFixed(3));
        peak[p] = peakGib();
        process.stderr.write(`step ${step} ${p}: ${ms[p].toFixed(0)} ms, peak ${peak[p]} GiB\n`);
        return out;
      };
      const prompts = randomPrompts(P, L, model.config.vocabSize, SEED + 100 + step);
      const gen = await phase('generate', () =>
        model.generate(prompts, { maxNewTokens: N, temperature: 1, topP: 1, topK: 0, numReturnSequences: G, stopTokenIds: [], seed: SEED + 200 + step }));
      const rows = gen.tokens.map((tokens, i) => ({ promptIds: prompts[Math.floor(i / G)], tokens, truncated: true }));
      const examples: SaliencyExample[] = rows.map((r) => {
        const T = r.promptIds.length + r.tokens.length;
        return { ids: [...r.promptIds, ...r.tokens], cotStart: r.promptIds.length, cotEnd: T - ANSWER_LEN, answerStart: T - ANSWER_LEN, answerEnd: T };
      });
      const sal = await phase('saliency', () => optimizeSaliency(model, examples, {
        ...passes, steps: K, lr: cfg.saliency.lr, lambda: cfg.saliency.lambda, threshold: cfg.saliency.threshold,
        batchSize: salBatch, initLogit: THETA_INIT, suppressBias: Math.log(SUPPRESS_S),
      }));
      const update = await phase('update', () => policyUpdate({
        model, reference: null, adam, params, rows, advantages: randomAdvantages(rows.length, SEED + 300 + step),
        grpo: cfg.grpo, optim: cfg.optim, temperature: 1, maxCompletionLength: N, padTokenId: 0, step, gradientCheckpointing: checkpointing,
      }));
      ms.total = Number((ms.generate + ms.saliency + ms.update).toFixed(3));
      const mean = (f: (x: (typeof sal)[number]) => number) => sal.reduce((a, r) => a + f(r), 0) / sal.length;
      results.push({
        ms, peak_gib: peak, generated_tokens: gen.tokens.reduce((a, t) => a + t.length, 0),
        saliency: { mean_s: mean((r) => saliencyStats(r).meanS), frac_crucial: mean((r) => saliencyStats(r).fracCrucial) },
        grad_norm: update.gradNorm, entropy: update.metrics.entropy,
      });
    }
    const med = Object.fromEntries((['generate', 'saliency', 'update', 'total'] as const).map((k) => [k, median(results.map((r) => r.ms[k]))]));
    const result: Record<string, unknown> = {
      impl: 'atman-native', device: name, dtype: onCuda ? 'bfloat16' : 'float32', weights_gib: weightsGib, prompts: P, generations: G,
      new_tokens: N, prompt_len: L, saliency_steps: K, reward_mode: mode ?? null, saliency_batch: salBatch, micro_batch: micro,
      gradient_checkpointing: checkpointing, lora_r: loraR, trainable_parameters: params.reduce((a, p) => a + p.numel, 0), loss_type: cfg.grpo.lossType, epsilon: cfg.grpo.epsilon, beta: 0, lr: cfg.optim.lr,
      theta_init: THETA_INIT, suppress_s: SUPPRESS_S, saliency_on: 'all completions (forced)',
      steps: results, median_step_ms: med, tokens_per_s: Number(((P * G * N) / (med.total / 1000)).toFixed(2)),
      peak_gib: Math.max(...results.flatMap((r) => Object.values(r.peak_gib))),
    };
    printTable(result, med);
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(result, null, 1) + '\n');
    return result;
  } finally {
    for (const p of params) p.dispose();
    model.dispose();
  }
}

function printTable(r: Record<string, unknown>, med: Record<string, number>): void {
  console.log(`\nweights ${String(r.weights_gib)} GiB; peak ${String(r.peak_gib)} GiB (weights and optimizer state included)\n`);
  console.log('| impl | training | generate ms | saliency ms | update ms | step ms | generated tokens/s | peak GiB |');
  console.log('|---|---|---|---|---|---|---|---|');
  const training = (Number(r.lora_r) > 0 ? `LoRA r ${String(r.lora_r)}` : 'full') + (r.reward_mode ? `, saliency ${String(r.reward_mode)}` : '');
  console.log(`| atman-native | ${training} | ${med.generate.toFixed(0)} | ${med.saliency.toFixed(0)} | ${med.update.toFixed(0)} | ${med.total.toFixed(0)} | ${String(r.tokens_per_s)} | ${String(r.peak_gib)} |`);
}
