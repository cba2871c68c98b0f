// LlamaModel: a Hugging Face-format Llama checkpoint held and run in native code (native/llama).
import { native, NativeLlama, NativeLlamaConfig, NativeTensor } from '../native';
import { Dtype } from '../tensor/dtype';
import { Tensor, toNative } from '../tensor/tensor';
import { AdapterInfo, LoraOptions, LoraTarget, resolveLoraOptions } from './lora';

export type LlamaConfig = NativeLlamaConfig;

export interface LlamaLoadOptions {
  /** 'cpu' (default), 'cuda', 'cuda:N'. */
  device?: string;
  /** Weights' dtype in memory: float32, float64, bfloat16 or float16 (default: as on disk). */
  dtype?: Dtype;
  /**
   * Map the safetensors files instead of reading them (default false): on the CPU, weights of the on-disk dtype are
   * then zero-copy views of the files. Risk: a file truncated or overwritten in place (`cp` over model.safetensors)
   * while the model lives kills the process with SIGBUS at its next forward. By default the weights own their memory.
   */
  mmap?: boolean;
}

export interface LlamaForwardOptions {
  /**
   * [B, T] float32 additive bias on each key's attention logit, in every layer and head (AtMan); or [L, B, T] with
   * one bias per layer (L = numLayers).
   */
  keyBias?: Tensor;
  /** The bias applies to queries at positions >= this: a number or an int64 [B] tensor (default 0). */
  biasQueryStart?: number | Tensor;
  /** int64 [B]: keys before this index are masked out (left padding). */
  keyStart?: Tensor;
  /**
   * int64 [B, T] rotary positions. Default: the index j, or max(0, j - keyStart[b]) when keyStart is given, so the
   * first real token of a left-padded row sits at position 0 (as HF generate's position_ids do).
   */
  positions?: Tensor;
  /**
   * The keys and values of a prefix of length P, from `prefix()`. Then `ids` holds positions [P, P + T) and the other
   * options index the whole sequence: keyBias [B, P + T], biasQueryStart and keyStart absolute, positions [B, T]
   * (default j + P, minus keyStart). The prefix takes no gradient, so a bias must not act on its queries. Used by the
   * mask optimization, which runs the same prompt many times.
   */
  past?: PastKeyValues;
}

/** Keys and values of every layer for a prefix: [numLayers, B, numKeyValueHeads, P, headDim] each, model dtype. */
export interface PastKeyValues {
  keys: Tensor;
  values: Tensor;
}

export interface TokenLogprobsOptions extends LlamaForwardOptions {
  /** First position whose token is scored: a number or an int64 [B] tensor (default 1; values below 1 act as 1). */
  targetStart?: number | Tensor;
  /** Logits are divided by this before the log-softmax (default 1). */
  temperature?: number;
  /** Positions per lm_head chunk (default: about 2^26 logits per chunk). */
  chunkSize?: number;
}

export interface GenerateOptions {
  /** New tokens per sequence at most (default 128). */
  maxNewTokens?: number;
  /** 0: greedy (argmax, deterministic); otherwise sampling at this temperature (default 1). */
  temperature?: number;
  /** Nucleus sampling: keep the most likely tokens until their probability reaches topP (default 1: off). */
  topP?: number;
  /** Keep only the topK most likely tokens (default 0: off). */
  topK?: number;
  /** Generation of a sequence stops after one of these (it is included in the output). */
  stopTokenIds?: number[];
  /** Sequences per prompt (default 1); they share the prompt's prefill. */
  numReturnSequences?: number;
  /** Reseeds libtorch's default generators (all devices) before sampling, for reproducible samples. */
  seed?: number;
  /** Fills left padding of shorter prompts (default 0; any id works: padding is masked out). */
  padTokenId?: number;
  /**
   * On CUDA, capture the decoding step once as a CUDA graph and replay it per token (default true): the same tokens
   * as eager decoding when greedy; with sampling, reproducible per seed but a different random stream than eager.
   */
  cudaGraph?: boolean;
}

export interface GenerateResult {
  /** New tokens per sequence (prompt p's sequences are rows p*G .. p*G+G-1), a stop token included. */
  tokens: number[][];
  lengths: number[];
  /** 'stop' (a stop token ended it) or 'length' (maxNewTokens reached). */
  finishReasons: ('stop' | 'length')[];
}

const GENERATE_KEYS = ['maxNewTokens', 'temperature', 'topP', 'topK', 'stopTokenIds', 'numReturnSequences', 'seed', 'padTokenId', 'cudaGraph'];

const FORWARD_KEYS = ['keyBias', 'biasQueryStart', 'keyStart', 'positions', 'past'];
const LOGPROB_KEYS = [...FORWARD_KEYS, 'targetStart', 'temperature', 'chunkSize'];

function checkOptions(opts: unknown, fn: string, keys: string[]): Record<string, unknown> {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts) || opts instanceof Tensor)
    throw new TypeError(`wrong argument type: ${fn}() options must be an object with ${keys.join(', ')}`);
  const o = opts as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!keys.includes(key)) throw new TypeError(`unknown option '${key}': ${fn}() takes ${keys.join(', ')}`);
  for (const key of ['keyBias', 'keyStart', 'positions'])
    if (o[key] !== undefined && !(o[key] instanceof Tensor)) throw new TypeError(`wrong argument type: ${fn}() ${key} must be a Tensor`);
  for (const key of ['biasQueryStart', 'targetStart'])
    if (o[key] !== undefined && !(o[key] instanceof Tensor) && !(typeof o[key] === 'number' && Number.isSafeInteger(o[key])))
      throw new TypeError(`wrong argument type: ${fn}() ${key} must be an integer or an int64 Tensor [B]`);
  if (o.temperature !== undefined && typeof o.temperature !== 'number')
    throw new TypeError(`wrong argument type: ${fn}() temperature must be a number`);
  if (o.chunkSize !== undefined && !(typeof o.chunkSize === 'number' && Number.isSafeInteger(o.chunkSize) && o.chunkSize > 0))
    throw new TypeError(`wrong argument type: ${fn}() chunkSize must be a positive integer`);
  return o;
}

function forwardArgs(o: Record<string, unknown>): unknown[] {
  const past = o.past as PastKeyValues | undefined;
  if (past !== undefined && (past === null || !(past.keys instanceof Tensor) || !(past.values instanceof Tensor)))
    throw new TypeError('wrong argument type: the past option must be {keys, values} Tensors from LlamaModel.prefix()');
  return [o.keyBias ?? null, o.biasQueryStart ?? null, o.keyStart ?? null, o.positions ?? null, past?.keys ?? null, past?.values ?? null];
}

/**
 * A decoder-only causal LM in native code: transformers' LlamaForCausalLM, and with the options of its family
 * (config.modelType) Qwen2ForCausalLM, Qwen3ForCausalLM and MistralForCausalLM (see loadModel in families.ts).
 */
export class LlamaModel {
  private impl: NativeLlama | null;
  /** The model's configuration (camelCase fields of config.json), with its dtype and device. */
  readonly config: LlamaConfig;

  private constructor(impl: NativeLlama) {
    this.impl = impl;
    this.config = native.llamaConfig(impl);
  }

  /**
   * Loads a Hugging Face-format directory: config.json and model.safetensors, or model.safetensors.index.json with
   * its shards, of any supported model_type (llama, qwen2, qwen3, mistral; as loadModel). Runs off the JS thread.
   * Parameters start with requiresGrad false (see requiresGrad_).
   */
  static async load(dir: string, opts: LlamaLoadOptions = {}): Promise<LlamaModel> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('wrong argument type: LlamaModel.load() dir must be a non-empty string');
    if (opts === null || typeof opts !== 'object') throw new TypeError('wrong argument type: LlamaModel.load() options must be an object {device, dtype, mmap}');
    if (opts.mmap !== undefined && typeof opts.mmap !== 'boolean') throw new TypeError('wrong argument type: LlamaModel.load() mmap must be a boolean');
    return new LlamaModel(await native.llamaLoad(dir, opts.device, opts.dtype, opts.mmap ?? false));
  }

  private get h(): NativeLlama {
    if (this.impl === null) throw new TypeError('disposed model: this LlamaModel was disposed and can no longer be used');
    return this.impl;
  }

  /** ids int64 [B, T] -> logits [B, T, vocab] in the model dtype, attached to autograd. */
  forward(ids: Tensor, opts?: LlamaForwardOptions): Tensor {
    if (!(ids instanceof Tensor)) throw new TypeError('wrong argument type: forward() ids must be an int64 Tensor [B, T]');
    const o = checkOptions(opts, 'forward', FORWARD_KEYS);
    return new Tensor(native.llamaForward(this.h, ids.handle, ...forwardArgs(o).map(toNative)));
  }

  /**
   * Log-probs of the given tokens: [B, T] float32 (float64 for a float64 model) where entry t is
   * log p(ids[b, t] | ids[b, <t]) for t >= max(1, targetStart[b]) and 0 before. lm_head and the log-softmax run over
   * chunks of positions, so [B, T, vocab] logits are never all materialized at once. Attached to autograd.
   */
  tokenLogprobs(ids: Tensor, opts?: TokenLogprobsOptions): Tensor {
    if (!(ids instanceof Tensor)) throw new TypeError('wrong argument type: tokenLogprobs() ids must be an int64 Tensor [B, T]');
    const o = checkOptions(opts, 'tokenLogprobs', LOGPROB_KEYS);
    const args = [o.targetStart ?? 1, o.temperature ?? 1, o.chunkSize ?? null, ...forwardArgs(o)];
    return new Tensor(native.llamaTokenLogprobs(this.h, ids.handle, ...args.map(toNative)));
  }

  /**
   * The keys and values of every layer for the prefix `ids` [B, P] (left padding before keyStart[b]), without
   * autograd: pass them as the `past` option to run only the rest of the sequence (positions from P on).
   */
  prefix(ids: Tensor, opts: { keyStart?: Tensor } = {}): PastKeyValues {
    if (!(ids instanceof Tensor)) throw new TypeError('wrong argument type: prefix() ids must be an int64 Tensor [B, P]');
    const o = checkOptions(opts, 'prefix', ['keyStart']);
    const [keys, values] = native.llamaPrefix(this.h, ids.handle, toNative(o.keyStart ?? null) as NativeTensor | null);
    return { keys: new Tensor(keys), values: new Tensor(values) };
  }

  /**
   * tokenLogprobs() plus the entropy [B, T] (nats) of each scored position's distribution (after the temperature),
   * 0 where not scored. The entropy is a metric: it does not take part in autograd. Same cost as tokenLogprobs()
   * plus one pass over each chunk's logits.
   */
  tokenLogprobsWithEntropy(ids: Tensor, opts?: TokenLogprobsOptions): { logprobs: Tensor; entropy: Tensor } {
    if (!(ids instanceof Tensor)) throw new TypeError('wrong argument type: tokenLogprobsWithEntropy() ids must be an int64 Tensor [B, T]');
    const o = checkOptions(opts, 'tokenLogprobsWithEntropy', LOGPROB_KEYS);
    const args = [o.targetStart ?? 1, o.temperature ?? 1, o.chunkSize ?? null, ...forwardArgs(o)];
    const [lp, h] = native.llamaTokenLogprobsEntropy(this.h, ids.handle, ...args.map(toNative));
    return { logprobs: new Tensor(lp), entropy: new Tensor(h) };
  }

  /**
   * Batched generation off the JS thread with a KV cache: ragged prompts are left-padded and prefilled once each,
   * then all sequences decode together in native code (no per-token JS). Greedy when temperature is 0.
   */
  async generate(prompts: number[][], opts: GenerateOptions = {}): Promise<GenerateResult> {
    if (!Array.isArray(prompts) || !prompts.every((p) => Array.isArray(p)))
      throw new TypeError('wrong argument type: generate() prompts must be an array of token id arrays');
    if (opts === null || typeof opts !== 'object') throw new TypeError('wrong argument type: generate() options must be an object');
    for (const key of Object.keys(opts))
      if (!GENERATE_KEYS.includes(key)) throw new TypeError(`unknown option '${key}': generate() takes ${GENERATE_KEYS.join(', ')}`);
    const r = await native.llamaGenerate(this.h, prompts, opts);
    return { tokens: r.tokens, lengths: r.tokens.map((t) => t.length), finishReasons: r.finishReasons as ('stop' | 'length')[] };
  }

  /**
   * [name, parameter] pairs with Hugging Face names; a tied lm_head is not listed separately. With a LoRA adapter its
   * A and B follow, under PEFT's names (adapterParameters()).
   */
  namedParameters(): [string, Tensor][] {
    const [names, handles] = native.llamaNamedParameters(this.h);
    return [...names.map((n, i): [string, Tensor] => [n, new Tensor(handles[i])]), ...this.adapterParameters()];
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** What training optimizes: the adapter's A and B when there is an adapter (the base stays frozen), else every parameter. */
  trainableParameters(): Tensor[] {
    if (!this.hasAdapter) return this.parameters();
    return this.adapterParameters().map(([, t]) => t);
  }

  /**
   * Adds a LoRA adapter (PEFT's LoRA) to the linear layers of attention and MLP (default all of q/k/v/o/gate/up/down):
   * y = W x + (alpha / r) · B A dropout(x) with W frozen in the model dtype and A [r, in], B [out, r] in float32;
   * A starts kaiming-uniform and B zero (as PEFT), so the model computes what it did. Replaces an adapter there is.
   * Defaults: r 16, alpha 2·r, dropout 0 (applied only while training the adapter). Returns this.
   */
  addLora(opts: LoraOptions = {}): this {
    const o = resolveLoraOptions(opts);
    native.llamaAddLora(this.h, o.r, o.alpha, o.dropout, o.targetModules, o.baseModel);
    return this;
  }

  /**
   * Loads a PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) onto this model; rejects with
   * an Error naming the cause for a missing file, an unsupported option (DoRA, rsLoRA, ...) or target, an unknown tensor
   * or one whose shape does not fit the model.
   */
  async loadAdapter(dir: string): Promise<this> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('wrong argument type: loadAdapter() dir must be a non-empty string');
    await native.llamaLoadAdapter(this.h, dir);
    return this;
  }

  /** Writes the adapter in PEFT's format (adapter_config.json, adapter_model.safetensors) into dir, created if missing. */
  saveAdapter(dir: string): void {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('wrong argument type: saveAdapter() dir must be a non-empty string');
    native.llamaSaveAdapter(this.h, dir);
  }

  /** Folds (alpha / r) · B A into the base weights (PEFT's merge_and_unload) and removes the adapter. Returns this. */
  mergeAdapter(): this {
    native.llamaMergeAdapter(this.h);
    return this;
  }

  get hasAdapter(): boolean {
    return native.llamaAdapterInfo(this.h) !== null;
  }

  /** The adapter's options (null without one). */
  get adapter(): AdapterInfo | null {
    const a = native.llamaAdapterInfo(this.h);
    return a === null ? null : { ...a, targetModules: a.targetModules as LoraTarget[] };
  }

  /** The adapter's A and B under PEFT's names (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight, ...). */
  adapterParameters(): [string, Tensor][] {
    const [names, handles] = native.llamaAdapterParameters(this.h);
    return names.map((n, i) => [n, new Tensor(handles[i])]);
  }

  /**
   * Runs fn with the adapter switched off, so the model computes its base alone (GRPO's KL reference without a
   * second copy of the weights); a promise keeps it off until it settles. Without an adapter fn just runs.
   */
  withAdapterDisabled<T>(fn: () => T): T {
    if (!this.hasAdapter) return fn();
    const h = this.h;
    native.llamaSetAdapterEnabled(h, false);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      native.llamaSetAdapterEnabled(h, true);
      throw e;
    }
    if (result instanceof Promise) return result.finally(() => this.impl !== null && native.llamaSetAdapterEnabled(h, true)) as T;
    native.llamaSetAdapterEnabled(h, true);
    return result;
  }

  /** Sets requiresGrad on every parameter (with an adapter: on its A and B only, the base stays frozen); returns this. */
  requiresGrad_(flag = true): this {
    native.llamaRequiresGrad(this.h, flag);
    return this;
  }

  /**
   * Activation checkpointing per layer while autograd records: each layer keeps only its input for backward and is
   * run again during backward (same results and gradients; less memory for about one more forward). Returns this.
   */
  setGradientCheckpointing(flag = true): this {
    native.llamaSetCheckpointing(this.h, flag);
    return this;
  }

  /**
   * Writes config.json and model.safetensors into dir (created if missing), a format transformers loads: the
   * family's model_type, architectures and tensor names (q/k/v biases for qwen2, q_norm/k_norm for qwen3). A model
   * with a LoRA adapter is refused: saveAdapter() writes the adapter, or mergeAdapter() first.
   */
  save(dir: string): void {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('wrong argument type: LlamaModel.save() dir must be a non-empty string');
    native.llamaSave(this.h, dir);
  }

  /** Frees the model's weights (tensors obtained from parameters() keep theirs alive until disposed). */
  dispose(): void {
    if (this.impl === null) return;
    native.llamaDispose(this.impl);
    this.impl = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this.impl === null;
  }
}
