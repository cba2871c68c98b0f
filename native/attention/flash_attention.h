// The fused CUDA path of the AtMan attention op (native/attention/flash/): an autograd function over our own
// FlashAttention-2 style kernels. Compiled only against a CUDA libtorch (ATMAN_WITH_CUDA).
#pragma once
#include <ATen/ATen.h>

#include "native/attention/options.h"

namespace atman {

// Whether the fused kernels take these (already checked) inputs: CUDA, bf16/fp16, head dim 64 or 128, and the
// environment variable ATMAN_ATTENTION_IMPL is not "reference". Always false in a CPU-only build.
bool flashAttentionApplies(const at::Tensor& q, const AttentionOptions& o);

// The fused op (forward kernel; its backward kernel through autograd). Inputs as checked by checkAttentionInputs.
at::Tensor flashAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& o);

}  // namespace atman
