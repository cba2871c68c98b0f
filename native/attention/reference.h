// The AtMan attention op written with plain ATen ops: the specification, the CPU path, and what kernels are tested
// against. Autograd differentiates it (q, k, v and keyBias).
#pragma once
#include <ATen/ATen.h>

#include "native/attention/options.h"

namespace atman {

// q [B, Hq, Tq, D], k and v [B, Hkv, Tk, D] with Hq a multiple of Hkv -> [B, Hq, Tq, D] in q's dtype.
at::Tensor attentionReference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const AttentionOptions& o);

}  // namespace atman
