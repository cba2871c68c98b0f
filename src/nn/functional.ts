// Functional ops for language models.
import { op } from '../native';
import { Tensor, asTensor, callOp } from '../tensor/tensor';

const OP = { crossEntropy: op('crossEntropy'), linear: op('linear'), embedding: op('embedding') };

export interface CrossEntropyOptions {
  /** Target value whose positions contribute nothing (default -100, as torch). */
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/** Cross-entropy of logits [..., C] (classes on the last dim) against int64 targets [...]. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return asTensor(callOp(OP.crossEntropy, logits, targets, opts.ignoreIndex ?? -100, opts.reduction ?? 'mean'));
}

/** x Wᵀ + b with W [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return asTensor(callOp(OP.linear, x, weight, bias ?? null));
}

/** Rows of weight [vocab, dim] picked by integer ids [...] -> [..., dim]. */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  return asTensor(callOp(OP.embedding, ids, weight));
}
