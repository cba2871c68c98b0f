// The fused CUDA kernels of native/llama/fused/ as ATen ops: RMSNorm, the rotary embedding and the MLP's SiLU*up in
// one kernel each instead of ~8, ~5 and 2 small ones (what dominates batch-1 decoding once the step is a CUDA graph,
// and a share of a training step). With autograd recording they add one node whose backward is again a fused kernel;
// otherwise they run the plain kernel. Compiled to stubs in a CPU-only build.
#pragma once
#include <ATen/ATen.h>

namespace atman::llama {

// Whether fusedRmsNorm, fusedRotary and fusedSiluMul take x: a CUDA build, x on CUDA in float/half/bfloat16, and the
// environment variable ATMAN_FUSED is not "0" (a switch for comparisons, read on every call). Autograd may be on.
bool fusedOpsApply(const at::Tensor& x);
// fusedOpsApply and autograd off: for kernels without a backward (the fused decoding step).
bool fusedKernelsApply(const at::Tensor& x);

// w * dtype(x / sqrt(mean(x^2, -1) + eps)), x [..., H]. Differentiable in x and w (fused kernel for dx, ATen ops for
// dw).
at::Tensor fusedRmsNorm(const at::Tensor& x, const at::Tensor& w, double eps);

// x * cos + rotate_half(x) * sin for x [B, H, T, D] (any strides) and cos, sin [B, 1, T, D]; contiguous result.
// Differentiable in x (one fused kernel; the gradient takes x's strides when x is dense); cos and sin must not
// require grad (an error says so).
at::Tensor fusedRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// silu(gate) * up (the MLP activation), same shapes and dtype. Differentiable in both (one fused kernel for both
// gradients; saves gate and up, not the activation).
at::Tensor fusedSiluMul(const at::Tensor& gate, const at::Tensor& up);

}  // namespace atman::llama
