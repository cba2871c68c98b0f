#include "native/attention/attention.h"

#include "native/attention/flash_attention.h"
#include "native/attention/reference.h"

namespace atman {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& o) {
  checkAttentionInputs(q, k, v, o);  // once here, so kernels need not (the reference, callable directly, checks too)
  // The fused CUDA kernels (forward and backward) for bf16/fp16 on CUDA with head dim 64 or 128, unless
  // ATMAN_ATTENTION_IMPL=reference; everything else (CPU, float32/float64, other head dims) takes the reference.
  if (flashAttentionApplies(q, o)) return flashAttention(q, k, v, o);
  return attentionReference(q, k, v, o);
}

}  // namespace atman
