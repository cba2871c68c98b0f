// AtMan mask optimization (DESIGN.md "Mask optimization"): for each completion, an additive attention mask over its
// chain-of-thought keys, θ -> s = sigmoid(θ) -> keyBias = log s, is trained with Adam through the frozen model to keep
// the answer likely while switching off as much CoT as possible:  L(θ) = −log p(answer | prompt, CoT; b) + λ·mean(s).
import { LlamaModel, PastKeyValues } from '../llm/model';
import { AdamW } from '../nn/optim';
import { full } from '../tensor/creation';
import { Dtype } from '../tensor/dtype';
import { noGrad } from '../tensor/functions';
import { keep, tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { SaliencyBatch, SaliencyExample, checkExample, collate, disposeBatch } from './batch';

export type { SaliencyExample } from './batch';

export interface SaliencyOptions {
  /** Adam steps K (default 30). */
  steps?: number;
  /** Adam learning rate on θ (default 0.1). */
  lr?: number;
  /** Weight λ of mean(s), the pressure to switch CoT tokens off (default 1). */
  lambda?: number;
  /** One mask per layer instead of one shared by all layers (default false). */
  perLayer?: boolean;
  /** Completions optimized together in one forward/backward (default 16). */
  batchSize?: number;
  /**
   * Initial θ (default 2: s ≈ 0.88). Adam moves θ by about lr per step, so K·lr (3 with the defaults) bounds how far
   * a token can travel: from 2, a token the answer does not need can reach s ≈ 0.27 in 30 steps, below 0.5.
   */
  initLogit?: number;
  /** Tokens with s above this are the crucial set C (default 0.5). */
  threshold?: number;
  /** Bias that suppresses a token when measuring log p(answer | suppressed): log s with s → 0 (default −1e4). */
  suppressBias?: number;
  /** Padding id for the batch (default 0; padding is masked out, any id works). */
  padTokenId?: number;
  /** Called after every Adam step of every mini-batch with (stepsDone, stepsTotal). */
  onStep?: (done: number, total: number) => void;
}

export interface SaliencyResult {
  /** Saliency s ∈ (0, 1) per CoT token (per-layer masks: the mean over layers). */
  s: number[];
  /** With perLayer: s per layer, [numLayers][nCot]. */
  sPerLayer?: number[][];
  /** Indices into the CoT (0 = cotStart) of the crucial tokens, s > threshold. */
  crucial: number[];
  threshold: number;
  /** Sum of the answer tokens' log-probs: with the whole CoT, with the crucial set suppressed, with all CoT suppressed. */
  logpFull: number;
  logpSuppressCrucial: number;
  logpSuppressAll: number;
  /** L(θ) before each Adam step (length K). */
  lossCurve: number[];
}

const DEFAULTS = { steps: 30, lr: 0.1, lambda: 1, perLayer: false, batchSize: 16, initLogit: 2, threshold: 0.5, suppressBias: -1e4, padTokenId: 0 };
type Resolved = typeof DEFAULTS & { onStep?: (done: number, total: number) => void };

function resolveOptions(opts: SaliencyOptions | undefined): Resolved {
  if (opts !== undefined && (opts === null || typeof opts !== 'object'))
    throw new TypeError('wrong argument type: optimizeSaliency() options must be an object');
  const o = { ...DEFAULTS, ...(opts ?? {}) } as Resolved;
  for (const key of Object.keys(opts ?? {}))
    if (!(key in DEFAULTS) && key !== 'onStep')
      throw new TypeError(`unknown option '${key}': optimizeSaliency() takes ${[...Object.keys(DEFAULTS), 'onStep'].join(', ')}`);
  const positiveInt = (k: 'steps' | 'batchSize') => {
    if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new RangeError(`invalid values: optimizeSaliency() ${k} must be a positive integer, got ${o[k]}`);
  };
  positiveInt('steps');
  positiveInt('batchSize');
  for (const k of ['lr', 'lambda', 'initLogit', 'threshold', 'suppressBias'] as const)
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new TypeError(`wrong argument type: optimizeSaliency() ${k} must be a finite number`);
  if (!(o.lr > 0)) throw new RangeError(`invalid values: optimizeSaliency() lr must be positive, got ${o.lr}`);
  if (!(o.threshold > 0 && o.threshold < 1)) throw new RangeError(`invalid values: optimizeSaliency() threshold must be in (0, 1), got ${o.threshold}`);
  if (o.onStep !== undefined && typeof o.onStep !== 'function') throw new TypeError('wrong argument type: optimizeSaliency() onStep must be a function');
  return o;
}

/** log(sigmoid(θ)) without overflow: min(θ, 0) − log(1 + exp(−|θ|)). */
function logSigmoid(theta: Tensor): Tensor {
  return theta.minimum(0).sub(theta.abs().neg().exp().add(1).log());
}

/**
 * The part of a batch that the mask can change: positions from P = the earliest CoT start on. Everything before P
 * (the prompts) is unaffected by the mask, so its keys and values are computed once per batch, not at every step.
 */
interface Suffix {
  P: number;
  ids: Tensor;         // [B, T - P]
  targetStart: Tensor; // answerStart - P
  answerMask: Tensor;  // [B, T - P]
  past?: PastKeyValues;
}

function suffixOf(model: LlamaModel, b: SaliencyBatch, examples: SaliencyExample[], answerMask: Tensor): Suffix {
  const P = Math.min(...examples.map((e, i) => b.pad[i] + e.cotStart));
  const n = b.T - P;
  const past = P > 0 ? noGrad(() => model.prefix(b.ids.narrow(1, 0, P), { keyStart: b.keyStart })) : undefined;
  return { P, ids: b.ids.narrow(1, P, n), targetStart: b.answerStart.sub(P), answerMask: answerMask.narrow(1, P, n), past };
}

function disposeSuffix(s: Suffix): void {
  for (const t of [s.ids, s.targetStart, s.answerMask, s.past?.keys, s.past?.values]) t?.dispose();
}

/** Sum of the answer tokens' log-probs per row, [B], under an optional key bias [B, T] or [L, B, T]. */
function answerLogprob(model: LlamaModel, b: SaliencyBatch, s: Suffix, keyBias?: Tensor): Tensor {
  const lp = model.tokenLogprobs(s.ids, {
    keyBias, biasQueryStart: b.biasQueryStart, keyStart: b.keyStart, targetStart: s.targetStart, past: s.past,
  });
  return lp.mul(s.answerMask).sum(-1);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function optimizeBatch(model: LlamaModel, examples: SaliencyExample[], o: Resolved, progress: () => void): Promise<SaliencyResult[]> {
  const { device, dtype, numHiddenLayers } = model.config;
  // The bias is float32 (float64 for a float64 model) whatever the weights' dtype: attention adds it in fp32.
  const biasDtype: Dtype = dtype === 'float64' ? 'float64' : 'float32';
  const batch = collate(examples, o.padTokenId);
  const B = examples.length, T = batch.T;
  const cotMask = batch.cotMask.to({ device, dtype: biasDtype });
  const answerMask = batch.answerMask.to({ device, dtype: biasDtype });
  const lengths = cotMask.sum(-1);
  const shape = o.perLayer ? [numHiddenLayers, B, T] : [B, T];
  const theta = full(shape, o.initLogit, { device, dtype: biasDtype, requiresGrad: true });
  const adam = new AdamW([theta], { lr: o.lr, weightDecay: 0 });
  const losses: Tensor[] = [];
  let suffix: Suffix | null = null;
  try {
    suffix = suffixOf(model, batch, examples, answerMask);
    const s = suffix;
    for (let step = 0; step < o.steps; step++) {
      adam.zeroGrad();
      const loss = tidy(() => {
        const bias = logSigmoid(theta).mul(cotMask); // log s on CoT keys, 0 elsewhere
        const meanS = theta.sigmoid().mul(cotMask).sum(-1).div(lengths); // [B] or [L, B]
        const sparsity = o.perLayer ? meanS.mean(0) : meanS;
        const perRow = answerLogprob(model, batch, s, bias).neg().add(sparsity.mul(o.lambda));
        // Rows are independent: the sum gives each completion's θ exactly its own gradient.
        perRow.sum().backward();
        return perRow.detach();
      });
      losses.push(keep(loss));
      adam.step();
      progress();
      await yieldToEventLoop();
    }
    return noGrad(() => tidy(() => evaluate(model, batch, s, theta, cotMask, losses, examples, o)));
  } finally {
    if (suffix) disposeSuffix(suffix);
    for (const t of [...losses, theta, cotMask, answerMask, lengths]) t.dispose();
    disposeBatch(batch);
  }
}

function evaluate(
  model: LlamaModel, batch: SaliencyBatch, suffix: Suffix, theta: Tensor, cotMask: Tensor, losses: Tensor[],
  examples: SaliencyExample[], o: Resolved,
): SaliencyResult[] {
  const sAll = theta.sigmoid().mul(cotMask);
  const s = o.perLayer ? sAll.mean(0) : sAll; // [B, T]
  const crucialMask = s.gt(o.threshold).float().mul(cotMask);
  const logpFull = answerLogprob(model, batch, suffix);
  const logpCrucial = answerLogprob(model, batch, suffix, crucialMask.mul(o.suppressBias));
  const logpAll = answerLogprob(model, batch, suffix, cotMask.mul(o.suppressBias));
  const sRows = s.toArray() as number[][];
  const layerRows = o.perLayer ? (sAll.toArray() as number[][][]) : null;
  const curve = losses.map((l) => l.toArray() as number[]);
  const [full_, crucial_, all_] = [logpFull, logpCrucial, logpAll].map((t) => t.toArray() as number[]);
  return examples.map((e, b) => {
    const from = batch.pad[b] + e.cotStart, to = batch.pad[b] + e.cotEnd;
    const sCot = sRows[b].slice(from, to);
    const result: SaliencyResult = {
      s: sCot,
      crucial: sCot.flatMap((v, j) => (v > o.threshold ? [j] : [])),
      threshold: o.threshold,
      logpFull: full_[b],
      logpSuppressCrucial: crucial_[b],
      logpSuppressAll: all_[b],
      lossCurve: curve.map((row) => row[b]),
    };
    if (layerRows) result.sPerLayer = layerRows.map((layer) => layer[b].slice(from, to));
    return result;
  });
}

/**
 * Optimizes one saliency mask per completion, in mini-batches of `batchSize` completions (similar lengths together),
 * each mini-batch in one batched forward/backward per Adam step. The model's weights get no gradients during it
 * (their requiresGrad is switched off and restored). Yields to the event loop between steps.
 */
export async function optimizeSaliency(model: LlamaModel, batch: SaliencyExample[], opts?: SaliencyOptions): Promise<SaliencyResult[]> {
  if (!(model instanceof LlamaModel)) throw new TypeError('wrong argument type: optimizeSaliency() model must be a LlamaModel');
  if (!Array.isArray(batch)) throw new TypeError('wrong argument type: optimizeSaliency() batch must be an array of {ids, cotStart, cotEnd, answerStart, answerEnd}');
  batch.forEach(checkExample);
  const o = resolveOptions(opts);
  if (batch.length === 0) return [];
  const order = batch.map((_, i) => i).sort((a, b) => batch[b].ids.length - batch[a].ids.length);
  const chunks: number[][] = [];
  for (let i = 0; i < order.length; i += o.batchSize) chunks.push(order.slice(i, i + o.batchSize));
  const total = chunks.length * o.steps;
  let done = 0;
  const progress = () => o.onStep?.(++done, total);

  const params = model.parameters();
  const trainable = params.map((p) => p.requiresGrad);
  model.requiresGrad_(false); // frozen weights: backward computes activation gradients only, no dW GEMMs
  try {
    const results = new Array<SaliencyResult>(batch.length);
    for (const chunk of chunks) {
      const out = await optimizeBatch(model, chunk.map((i) => batch[i]), o, progress);
      chunk.forEach((i, k) => (results[i] = out[k]));
    }
    return results;
  } finally {
    if (!model.isDisposed) params.forEach((p, i) => p.requiresGrad_(trainable[i]));
    for (const p of params) p.dispose();
  }
}
