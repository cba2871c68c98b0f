// The AtMan attention op: picks an implementation for the inputs (see attention.cpp).
#pragma once
#include <ATen/ATen.h>

#include "native/attention/options.h"

namespace atman {

// q [B, Hq, Tq, D], k and v [B, Hkv, Tk, D] (Hq a multiple of Hkv) -> [B, Hq, Tq, D]; see AttentionOptions.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& o);

}  // namespace atman
