// The AtMan attention op: softmax attention with causal masking, grouped-query heads and an additive per-key bias.
import { op } from '../native';
import { Tensor, asTensor, callOp } from '../tensor/tensor';

const OP = { attention: op('attention') };

export interface AttentionOptions {
  /** A query sees only keys at its own position and before (default true). */
  causal?: boolean;
  /** Multiplies q·k (default 1/√D). */
  scale?: number;
  /**
   * [B, Tk] float32 tensor added to the logit of key j for every head (the AtMan hook: b = log s scales the
   * attention weight of token j by s; -Infinity removes it). float64 is accepted when q is float64.
   */
  keyBias?: Tensor;
  /** The bias applies only to queries at positions >= this: a number, or an int64 [B] tensor (default 0). */
  biasQueryStart?: number | Tensor;
  /** int64 [B]: keys at positions before this are masked out (left padding of batched prompts). */
  keyStart?: Tensor;
}

const OPTION_NAMES = ['causal', 'scale', 'keyBias', 'biasQueryStart', 'keyStart'];

function checkOptions(opts: unknown): AttentionOptions {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts) || opts instanceof Tensor)
    throw new TypeError(`wrong argument type: attention() options must be an object with ${OPTION_NAMES.join(', ')}`);
  const o = opts as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!OPTION_NAMES.includes(key))
      throw new TypeError(`unknown option '${key}': attention() takes ${OPTION_NAMES.join(', ')}`);
  if (o.causal !== undefined && typeof o.causal !== 'boolean')
    throw new TypeError(`wrong argument type: attention() causal must be a boolean, got ${typeof o.causal}`);
  if (o.scale !== undefined && typeof o.scale !== 'number')
    throw new TypeError(`wrong argument type: attention() scale must be a number, got ${typeof o.scale}`);
  if (typeof o.scale === 'number' && !Number.isFinite(o.scale))
    throw new RangeError(`invalid values: attention() scale must be a finite number, got ${o.scale}`);
  if (o.keyBias !== undefined && !(o.keyBias instanceof Tensor))
    throw new TypeError('wrong argument type: attention() keyBias must be a Tensor [B, Tk]');
  if (
    o.biasQueryStart !== undefined &&
    !(o.biasQueryStart instanceof Tensor) &&
    !(typeof o.biasQueryStart === 'number' && Number.isSafeInteger(o.biasQueryStart))
  )
    throw new TypeError(
      'wrong argument type: attention() biasQueryStart must be an integer or an int64 Tensor [B], ' +
        `got ${String(o.biasQueryStart)}`,
    );
  if (o.keyStart !== undefined && !(o.keyStart instanceof Tensor))
    throw new TypeError('wrong argument type: attention() keyStart must be an int64 Tensor [B]');
  return o as AttentionOptions;
}

/**
 * Attention of q [B, Hq, Tq, D] over k, v [B, Hkv, Tk, D] (Hq a multiple of Hkv: grouped-query attention) ->
 * [B, Hq, Tq, D] in q's dtype. Key j sits at position j, query row i at i + (Tk - Tq). A query with no visible key
 * outputs zeros and passes no gradient. Differentiable in q, k, v and keyBias.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Tensor {
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const)
    if (!(t instanceof Tensor)) throw new TypeError(`wrong argument type: attention() ${name} must be a Tensor`);
  const o = checkOptions(opts);
  const { causal = true, scale = null, keyBias = null, biasQueryStart = null, keyStart = null } = o;
  return asTensor(callOp(OP.attention, q, k, v, causal, scale, keyBias, biasQueryStart, keyStart));
}
