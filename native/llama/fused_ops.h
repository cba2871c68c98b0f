// The fused CUDA kernels of native/llama/fused/ as ATen ops, for the inference path (no autograd): RMSNorm and the
// rotary embedding in one kernel each instead of ~8 and ~5 small ones (what dominates batch-1 decoding once the step
// is a CUDA graph). Compiled to stubs in a CPU-only build.
#pragma once
#include <ATen/ATen.h>

namespace atman::llama {

// Whether the fused kernels take x: a CUDA build, x on CUDA in float/half/bfloat16, autograd off, and the
// environment variable ATMAN_FUSED is not "0" (a switch for comparisons).
bool fusedKernelsApply(const at::Tensor& x);
// The same for fusedRmsNorm, which also has a backward (fused kernel for dx, ATen ops for dw): autograd may be on.
bool fusedRmsNormApplies(const at::Tensor& x);

// w * dtype(x / sqrt(mean(x^2, -1) + eps)), x [..., H]. Differentiable in x and w.
at::Tensor fusedRmsNorm(const at::Tensor& x, const at::Tensor& w, double eps);

// x * cos + rotate_half(x) * sin for x [B, H, T, D] (any strides) and cos, sin [B, 1, T, D]; contiguous result.
at::Tensor fusedRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// silu(gate) * up (the MLP activation), same shapes.
at::Tensor fusedSiluMul(const at::Tensor& gate, const at::Tensor& up);

}  // namespace atman::llama
