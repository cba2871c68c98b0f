#include "native/attention/attention.h"

#include "native/attention/reference.h"

namespace atman {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& o) {
  checkAttentionInputs(q, k, v, o);  // once here, so kernels need not (the reference, callable directly, checks too)
  // The seam for the fused CUDA kernels (forward and backward, bf16/fp16 on CUDA, supported head dims): they will
  // be chosen here when they apply. Everything else (CPU, float32/float64, other head dims) takes the reference.
  return attentionReference(q, k, v, o);
}

}  // namespace atman
