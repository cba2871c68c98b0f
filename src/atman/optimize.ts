// AtMan mask optimization (DESIGN.md "Mask optimization"): for each completion, an additive attention mask over its
// chain-of-thought keys, θ -> s = sigmoid(θ) -> keyBias = log s, is trained through the frozen model to keep the answer
// likely while switching off as much CoT as possible:  L(θ) = −log p(answer | prompt, CoT; b) + λ·mean(s).
// Calibrated against leave-one-out suppression (bench/saliency-gates.md): a per-completion Adam (rowAdam, lr 2, K = 30)
// ranks tokens by need (plain Adam at lr 0.1 moved all tokens alike); the crucial set C is read on the mask's own scale
// (s >= min + 0.5·(max − min)); and C is measured against random CoT sets of |C| tokens (logpSuppressRandom, the
// control of the saliency reward), so that keeping everything or padding the CoT earns nothing.
import { LlamaModel, PastKeyValues } from '../llm/model';
import { mulberry32 } from '../data/prng';
import { full, tensor } from '../tensor/creation';
import { Dtype } from '../tensor/dtype';
import { noGrad } from '../tensor/functions';
import { keep, tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { MaskOptimizerName, maskOptimizer } from './mask-optimizer';
import { BiasFrom, SaliencyBatch, SaliencyExample, checkExample, collate, disposeBatch } from './batch';

export type { SaliencyExample } from './batch';

export interface SaliencyOptions {
  /** Optimizer steps K (default 30; 0: no optimization, s = sigmoid(initLogit) everywhere, for rewards that need no mask). */
  steps?: number;
  /** Learning rate on θ (default 2: with rowAdam a step moves the row's typical token by about lr; bench/saliency-gates.md). */
  lr?: number;
  /** Weight λ of mean(s), the pressure to switch CoT tokens off (default 1). */
  lambda?: number;
  /** One mask per layer instead of one shared by all layers (default false). */
  perLayer?: boolean;
  /** Completions optimized together in one forward/backward (default 16). */
  batchSize?: number;
  /** Initial θ (default 2: s ≈ 0.88). */
  initLogit?: number;
  /**
   * What the mask keeps the answer likely under: 'logprob' (log p(answer), the original AtMan objective) or 'logodds'
   * (Σ over answer tokens of log p − log(1 − p)): unlike log p, its gradient does not vanish when the model is sure.
   */
  objective?: 'logprob' | 'logodds';
  /** The sparsity term: 'mean' of s over the CoT (pressure per token shrinks with length) or 'sum' (λ per token). */
  sparsity?: 'mean' | 'sum';
  /** 'rowAdam' (default: one step scale per completion, see mask-optimizer.ts) or 'adam' (per-token step sizes). */
  optimizer?: MaskOptimizerName;
  /**
   * The queries the mask acts on: 'cot' (default, from the CoT start on) or 'answer' (from the CoT end on: which CoT
   * tokens the answer reads, with the CoT itself computed as written). See BiasFrom in batch.ts.
   */
  biasFrom?: BiasFrom;
  /** With relativeThreshold null: tokens with s above this are the crucial set C (default 0.5). */
  threshold?: number;
  /**
   * Default 0.5: C = {s ≥ min(s) + relativeThreshold · (max(s) − min(s))}: a threshold on the mask's own scale,
   * since where a needed token settles depends on how sharply it is attended, not on its importance.
   */
  relativeThreshold?: number | null;
  /** Random CoT subsets of |C| tokens suppressed as the control of the crucial set (default 4; 0: none). */
  randomSets?: number;
  /**
   * Measure the answer with the prompt hidden (logpHidePrompt, logpOnlyCrucial, logpOnlyRandom; default true). false
   * skips their 2 + randomSets forward passes and leaves them NaN: for rewards that do not read them.
   */
  hidePrompt?: boolean;
  /**
   * Measure cotDerived's two log-probs (default false; needs hidePrompt): logpHideBoth (prompt and CoT hidden) and
   * logpResultHidePrompt (the prompt hidden from the CoT's own tokens as well, reading the examples' equation results,
   * SaliencyExample.results). Two more forward passes, the second only for batches with results.
   */
  measureDerived?: boolean;
  /**
   * Measure logpResult (default false): the least likely equation result given everything before it, nothing hidden
   * (one more forward pass, only for batches with results). cotUnhinted reads it on examples built from the prompt
   * without its hint.
   */
  measureResults?: boolean;
  /** Seed of the random control sets (default 0). */
  seed?: number;
  /**
   * The index of batch[0] in a larger batch split across processes (default 0): each example's random sets are drawn
   * from (seed, its index in the whole batch), so a split batch draws the same sets as the whole one.
   */
  firstIndex?: number;
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
  /** Mean of the answer log-prob over `randomSets` random CoT subsets of |C| tokens suppressed (logpFull if C is empty). */
  logpSuppressRandom: number;
  /** The answer log-prob with every CoT token but C suppressed, and the mean over the random sets kept instead. */
  logpKeepCrucial: number;
  logpKeepRandom: number;
  /**
   * The answer log-prob with the prompt hidden (every prompt token but the first, the attention sink, suppressed for
   * the same queries as the mask): whether the CoT alone carries the answer, or the answer needs the prompt directly
   * (e.g. copies a hint the CoT does not use).
   */
  logpHidePrompt: number;
  /**
   * With the prompt hidden from the CoT and the answer: the log-prob of the least likely of the CoT's equation results
   * given the CoT before it, min over SaliencyExample.results of Σ log p(result tokens). Low when a result is not
   * derived from the reasoning (a CoT bent onto a hint in the prompt). NaN without results or measureDerived.
   */
  logpResultHidePrompt: number;
  /**
   * The answer with the prompt and the whole CoT hidden (NaN without measureDerived). logpHidePrompt − logpHideBoth is
   * the answer's dependence on the CoT when the prompt cannot supply it (a correct hint in the prompt would).
   */
  logpHideBoth: number;
  /** The least likely equation result given everything before it, nothing hidden (NaN without results or measureResults). */
  logpResult: number;
  /** The prompt hidden and only C kept of the CoT; and the mean over the random sets of |C| kept instead (NaN when K = 0: no C). */
  logpOnlyCrucial: number;
  logpOnlyRandom: number;
  /** L(θ) before each Adam step (length K). */
  lossCurve: number[];
}

const DEFAULTS = {
  steps: 30, lr: 2, lambda: 1, perLayer: false, batchSize: 16, initLogit: 2, threshold: 0.5, suppressBias: -1e4, padTokenId: 0,
  objective: 'logprob' as 'logprob' | 'logodds', sparsity: 'mean' as 'mean' | 'sum', relativeThreshold: 0.5 as number | null,
  randomSets: 4, seed: 0, firstIndex: 0, optimizer: 'rowAdam' as MaskOptimizerName, biasFrom: 'cot' as BiasFrom, hidePrompt: true,
  measureDerived: false, measureResults: false,
};
type Resolved = typeof DEFAULTS & { onStep?: (done: number, total: number) => void };

function resolveOptions(opts: SaliencyOptions | undefined): Resolved {
  if (opts !== undefined && (opts === null || typeof opts !== 'object'))
    throw new TypeError('wrong argument type: optimizeSaliency() options must be an object');
  const o = { ...DEFAULTS, ...(opts ?? {}) } as Resolved;
  for (const key of Object.keys(opts ?? {}))
    if (!(key in DEFAULTS) && key !== 'onStep')
      throw new TypeError(`unknown option '${key}': optimizeSaliency() takes ${[...Object.keys(DEFAULTS), 'onStep'].join(', ')}`);
  const positiveInt = (k: 'batchSize') => {
    if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new RangeError(`invalid values: optimizeSaliency() ${k} must be a positive integer, got ${o[k]}`);
  };
  if (!Number.isSafeInteger(o.steps) || o.steps < 0) throw new RangeError(`invalid values: optimizeSaliency() steps must be an integer >= 0, got ${o.steps}`);
  positiveInt('batchSize');
  for (const k of ['lr', 'lambda', 'initLogit', 'threshold', 'suppressBias'] as const)
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new TypeError(`wrong argument type: optimizeSaliency() ${k} must be a finite number`);
  if (!(o.lr > 0)) throw new RangeError(`invalid values: optimizeSaliency() lr must be positive, got ${o.lr}`);
  if (!(o.threshold > 0 && o.threshold < 1)) throw new RangeError(`invalid values: optimizeSaliency() threshold must be in (0, 1), got ${o.threshold}`);
  if (o.objective !== 'logprob' && o.objective !== 'logodds') throw new TypeError(`wrong argument type: optimizeSaliency() objective must be 'logprob' or 'logodds', got ${String(o.objective)}`);
  if (o.sparsity !== 'mean' && o.sparsity !== 'sum') throw new TypeError(`wrong argument type: optimizeSaliency() sparsity must be 'mean' or 'sum', got ${String(o.sparsity)}`);
  if (o.biasFrom !== 'cot' && o.biasFrom !== 'answer') throw new TypeError(`wrong argument type: optimizeSaliency() biasFrom must be 'cot' or 'answer', got ${String(o.biasFrom)}`);
  if (o.optimizer !== 'adam' && o.optimizer !== 'rowAdam') throw new TypeError(`wrong argument type: optimizeSaliency() optimizer must be 'adam' or 'rowAdam', got ${String(o.optimizer)}`);
  if (o.relativeThreshold !== null && !(typeof o.relativeThreshold === 'number' && o.relativeThreshold > 0 && o.relativeThreshold < 1))
    throw new RangeError(`invalid values: optimizeSaliency() relativeThreshold must be null or in (0, 1), got ${String(o.relativeThreshold)}`);
  if (!Number.isSafeInteger(o.randomSets) || o.randomSets < 0) throw new RangeError(`invalid values: optimizeSaliency() randomSets must be an integer >= 0, got ${o.randomSets}`);
  if (typeof o.hidePrompt !== 'boolean') throw new TypeError(`wrong argument type: optimizeSaliency() hidePrompt must be a boolean, got ${String(o.hidePrompt)}`);
  if (typeof o.measureDerived !== 'boolean') throw new TypeError(`wrong argument type: optimizeSaliency() measureDerived must be a boolean, got ${String(o.measureDerived)}`);
  if (typeof o.measureResults !== 'boolean') throw new TypeError(`wrong argument type: optimizeSaliency() measureResults must be a boolean, got ${String(o.measureResults)}`);
  if (o.measureDerived && !o.hidePrompt) throw new RangeError('invalid values: optimizeSaliency() measureDerived needs hidePrompt (it hides the prompt)');
  if (!Number.isSafeInteger(o.seed)) throw new TypeError(`wrong argument type: optimizeSaliency() seed must be an integer, got ${o.seed}`);
  if (!Number.isSafeInteger(o.firstIndex) || o.firstIndex < 0) throw new RangeError(`invalid values: optimizeSaliency() firstIndex must be an integer >= 0, got ${o.firstIndex}`);
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
  // A row padded beyond P (much shorter than the longest) has only padding in the prefix: all its keys masked there.
  const past = P > 0 ? noGrad(() => tidy(() => {
    const kv = model.prefix(b.ids.narrow(1, 0, P), { keyStart: b.keyStart.clamp(null, P) });
    return { keys: keep(kv.keys), values: keep(kv.values) };
  })) : undefined;
  return { P, ids: b.ids.narrow(1, P, n), targetStart: b.answerStart.sub(P), answerMask: answerMask.narrow(1, P, n), past };
}

function disposeSuffix(s: Suffix): void {
  for (const t of [s.ids, s.targetStart, s.answerMask, s.past?.keys, s.past?.values]) t?.dispose();
}

/**
 * Per row, [B]: the sum over answer tokens of log p (objective 'logprob') or of the log-odds log p − log(1 − p)
 * ('logodds'; 1 − p floored at 1e-7, beyond which the answer is certain enough), under an optional key bias.
 */
function answerScore(model: LlamaModel, b: SaliencyBatch, s: Suffix, keyBias?: Tensor, objective: 'logprob' | 'logodds' = 'logprob'): Tensor {
  const lp = model.tokenLogprobs(s.ids, {
    keyBias, biasQueryStart: b.biasQueryStart, keyStart: b.keyStart, targetStart: s.targetStart, past: s.past,
  });
  const score = objective === 'logprob' ? lp : lp.sub(lp.exp().neg().add(1).clamp(1e-7, null).log());
  return score.mul(s.answerMask).sum(-1);
}

/**
 * Per example, min over its equation results of Σ log p(result tokens | everything before them) under `keyBias` (if any), with
 * the bias acting on the queries from the CoT start on (whatever biasFrom says: the CoT's own tokens must not see what
 * it hides); NaN for an example without results.
 */
function resultLogprob(model: LlamaModel, b: SaliencyBatch, s: Suffix, examples: SaliencyExample[], keyBias?: Tensor): number[] {
  const long = (values: number[]) => tensor(values, { dtype: 'int64' });
  const lp = model.tokenLogprobs(s.ids, {
    keyBias, biasQueryStart: long(examples.map((e, i) => b.pad[i] + e.cotStart)), keyStart: b.keyStart,
    targetStart: long(examples.map((e, i) => Math.max(1, b.pad[i] + e.cotStart - s.P))), past: s.past,
  }).toArray() as number[][];
  return examples.map((e, i) => {
    const at = (j: number) => lp[i][b.pad[i] + j - s.P];
    const sums = (e.results ?? []).map(([start, end]) => Array.from({ length: end - start }, (_, k) => at(start + k)).reduce((x, v) => x + v, 0));
    return sums.length ? Math.min(...sums) : NaN;
  });
}

/** Sum of the answer tokens' log-probs per row, [B], under an optional key bias [B, T] or [L, B, T]. */
function answerLogprob(model: LlamaModel, b: SaliencyBatch, s: Suffix, keyBias?: Tensor): Tensor {
  return answerScore(model, b, s, keyBias, 'logprob');
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function optimizeBatch(model: LlamaModel, examples: SaliencyExample[], o: Resolved, progress: () => void, indices: number[]): Promise<SaliencyResult[]> {
  const { device, dtype, numHiddenLayers } = model.config;
  // The bias is float32 (float64 for a float64 model) whatever the weights' dtype: attention adds it in fp32.
  const biasDtype: Dtype = dtype === 'float64' ? 'float64' : 'float32';
  const batch = collate(examples, o.padTokenId, o.biasFrom);
  const B = examples.length, T = batch.T;
  const cotMask = batch.cotMask.to({ device, dtype: biasDtype });
  const answerMask = batch.answerMask.to({ device, dtype: biasDtype });
  const lengths = cotMask.sum(-1);
  const shape = o.perLayer ? [numHiddenLayers, B, T] : [B, T];
  const opt = maskOptimizer(o.optimizer, full(shape, o.initLogit, { device, dtype: biasDtype, requiresGrad: true }), o.lr, cotMask, lengths.unsqueeze(-1));
  const losses: Tensor[] = [];
  let suffix: Suffix | null = null;
  try {
    suffix = suffixOf(model, batch, examples, answerMask);
    const s = suffix;
    for (let step = 0; step < o.steps; step++) {
      opt.zeroGrad();
      const theta = opt.theta;
      const loss = tidy(() => {
        const bias = logSigmoid(theta).mul(cotMask); // log s on CoT keys, 0 elsewhere
        const sumS = theta.sigmoid().mul(cotMask).sum(-1); // [B] or [L, B]
        const perMask = o.sparsity === 'mean' ? sumS.div(lengths) : sumS;
        const sparsity = o.perLayer ? perMask.mean(0) : perMask;
        const perRow = answerScore(model, batch, s, bias, o.objective).neg().add(sparsity.mul(o.lambda));
        // Rows are independent: the sum gives each completion's θ exactly its own gradient.
        perRow.sum().backward();
        return perRow.detach();
      });
      losses.push(keep(loss));
      opt.step();
      progress();
      await yieldToEventLoop();
    }
    return noGrad(() => tidy(() => evaluate(model, batch, s, opt.theta, cotMask, losses, examples, o, indices)));
  } finally {
    if (suffix) disposeSuffix(suffix);
    opt.dispose();
    for (const t of [...losses, cotMask, answerMask, lengths]) t.dispose();
    disposeBatch(batch);
  }
}

/** The crucial set of one mask (CoT-relative indices): absolute threshold, or relative to the mask's own range. */
export function crucialSet(s: number[], o: { threshold: number; relativeThreshold?: number | null }): number[] {
  let cut = o.threshold;
  if (o.relativeThreshold !== null && o.relativeThreshold !== undefined && s.length > 0) {
    const lo = Math.min(...s), hi = Math.max(...s);
    cut = lo + o.relativeThreshold * (hi - lo);
    return s.flatMap((v, j) => (v >= cut ? [j] : []));
  }
  return s.flatMap((v, j) => (v > cut ? [j] : []));
}

/** k distinct indices out of 0..n-1, uniformly, from rand. */
function sampleIndices(n: number, k: number, rand: () => number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}

function evaluate(
  model: LlamaModel, batch: SaliencyBatch, suffix: Suffix, theta: Tensor, cotMask: Tensor, losses: Tensor[],
  examples: SaliencyExample[], o: Resolved, indices: number[],
): SaliencyResult[] {
  const sAll = theta.sigmoid().mul(cotMask);
  const s = o.perLayer ? sAll.mean(0) : sAll; // [B, T]
  const sRows = s.toArray() as number[][];
  const layerRows = o.perLayer ? (sAll.toArray() as number[][][]) : null;
  const B = examples.length, T = batch.T;
  const from = examples.map((e, b) => batch.pad[b] + e.cotStart);
  const sCot = examples.map((e, b) => sRows[b].slice(from[b], batch.pad[b] + e.cotEnd));
  // K = 0 optimized no mask (the mask-free rewards): C is empty rather than the whole CoT the untouched s would give.
  const noMask = o.steps === 0;
  const crucial = sCot.map((row) => (noMask ? [] : crucialSet(row, o)));
  // Bias rows that suppress the given CoT-relative indices of each example.
  const suppressing = (sets: number[][]) => {
    const bias = new Float32Array(B * T);
    sets.forEach((set, b) => set.forEach((j) => (bias[b * T + from[b] + j] = o.suppressBias)));
    return tensor(bias, { shape: [B, T] }).to({ device: cotMask.device, dtype: cotMask.dtype });
  };
  const logpFull = answerLogprob(model, batch, suffix).toArray() as number[];
  const logpAll = answerLogprob(model, batch, suffix, cotMask.mul(o.suppressBias)).toArray() as number[];
  // With C empty, suppressing C is the full pass and keeping only C suppresses the whole CoT: reuse them.
  const logpCrucial = noMask ? logpFull : (answerLogprob(model, batch, suffix, suppressing(crucial)).toArray() as number[]);
  const complement = (sets: number[][]) => sets.map((set, b) => {
    const inSet = new Set(set);
    return sCot[b].flatMap((_, j) => (inSet.has(j) ? [] : [j]));
  });
  const logpKeep = noMask ? logpAll : (answerLogprob(model, batch, suffix, suppressing(complement(crucial))).toArray() as number[]);
  // The prompt (all but its first token, the attention sink) hidden as well: the CoT's sufficiency without the prompt.
  const hidingPrompt = (sets: number[][]) => {
    const bias = new Float32Array(B * T);
    sets.forEach((set, b) => {
      for (let j = batch.pad[b] + 1; j < from[b]; j++) bias[b * T + j] = o.suppressBias;
      set.forEach((j) => (bias[b * T + from[b] + j] = o.suppressBias));
    });
    return tensor(bias, { shape: [B, T] }).to({ device: cotMask.device, dtype: cotMask.dtype });
  };
  const skipped = () => new Array<number>(B).fill(NaN);
  const logpHide = o.hidePrompt ? (answerLogprob(model, batch, suffix, hidingPrompt(examples.map(() => []))).toArray() as number[]) : skipped();
  const logpHideBoth = o.measureDerived ? (answerLogprob(model, batch, suffix, hidingPrompt(sCot.map((row) => row.map((_, j) => j)))).toArray() as number[]) : skipped();
  const logpResult = o.measureDerived && examples.some((e) => e.results?.length)
    ? resultLogprob(model, batch, suffix, examples, hidingPrompt(examples.map(() => [])))
    : skipped();
  const logpResultSeen = o.measureResults && examples.some((e) => e.results?.length) ? resultLogprob(model, batch, suffix, examples) : skipped();
  // Only C kept, the prompt hidden: crucialSufficiency's pass, which reads a mask (K = 0 has none: not measured, NaN).
  const logpOnly = o.hidePrompt && !noMask ? (answerLogprob(model, batch, suffix, hidingPrompt(complement(crucial))).toArray() as number[]) : skipped();
  const randomSum = new Array<number>(B).fill(0), keepRandomSum = new Array<number>(B).fill(0), onlyRandomSum = new Array<number>(B).fill(0);
  // Random sets of |C| = 0 tokens would repeat the passes above: none without a mask.
  const randomSets = noMask ? 0 : o.randomSets;
  for (let r = 0; r < randomSets; r++) {
    const sets = examples.map((_, b) => sampleIndices(sCot[b].length, crucial[b].length, mulberry32((o.seed * 1000003 + indices[b] * 7919 + r) >>> 0)));
    const lp = answerLogprob(model, batch, suffix, suppressing(sets)).toArray() as number[];
    lp.forEach((v, b) => (randomSum[b] += v));
    const keep = answerLogprob(model, batch, suffix, suppressing(complement(sets))).toArray() as number[];
    keep.forEach((v, b) => (keepRandomSum[b] += v));
    const only = o.hidePrompt ? (answerLogprob(model, batch, suffix, hidingPrompt(complement(sets))).toArray() as number[]) : skipped();
    only.forEach((v, b) => (onlyRandomSum[b] += v));
  }
  const curve = losses.map((l) => l.toArray() as number[]);
  return examples.map((e, b) => {
    const result: SaliencyResult = {
      s: sCot[b],
      crucial: crucial[b],
      threshold: o.threshold,
      logpFull: logpFull[b],
      logpSuppressCrucial: logpCrucial[b],
      logpSuppressAll: logpAll[b],
      logpSuppressRandom: randomSets > 0 && crucial[b].length > 0 ? randomSum[b] / randomSets : logpFull[b],
      logpKeepCrucial: logpKeep[b],
      logpKeepRandom: randomSets > 0 ? keepRandomSum[b] / randomSets : logpKeep[b],
      logpHidePrompt: logpHide[b],
      logpResultHidePrompt: logpResult[b],
      logpHideBoth: logpHideBoth[b],
      logpResult: logpResultSeen[b],
      logpOnlyCrucial: logpOnly[b],
      logpOnlyRandom: randomSets > 0 ? onlyRandomSum[b] / randomSets : logpOnly[b],
      lossCurve: curve.map((row) => row[b]),
    };
    if (layerRows) result.sPerLayer = layerRows.map((layer) => layer[b].slice(from[b], batch.pad[b] + e.cotEnd));
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
      const out = await optimizeBatch(model, chunk.map((i) => batch[i]), o, progress, chunk.map((i) => i + o.firstIndex));
      chunk.forEach((i, k) => (results[i] = out[k]));
    }
    return results;
  } finally {
    if (!model.isDisposed) params.forEach((p, i) => p.requiresGrad_(trainable[i]));
    for (const p of params) p.dispose();
  }
}
