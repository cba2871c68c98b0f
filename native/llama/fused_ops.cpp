#include "native/llama/fused_ops.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef ATMAN_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/custom_function.h>

#include "native/llama/fused/aten_glue.h"
#include "native/llama/fused/fused.h"
#endif

namespace atman::llama {

#ifndef ATMAN_WITH_CUDA

bool fusedKernelsApply(const at::Tensor&) { return false; }
bool fusedOpsApply(const at::Tensor&) { return false; }
at::Tensor fusedRmsNorm(const at::Tensor&, const at::Tensor&, double) {
  throw std::runtime_error("the fused CUDA kernels are not part of this CPU-only build");
}
at::Tensor fusedRotary(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  throw std::runtime_error("the fused CUDA kernels are not part of this CPU-only build");
}
at::Tensor fusedSiluMul(const at::Tensor&, const at::Tensor&) {
  throw std::runtime_error("the fused CUDA kernels are not part of this CPU-only build");
}

#else

bool fusedOpsApply(const at::Tensor& x) {
  // Read on every call (cheap), so a process can compare fused and unfused results (the GPU tests do).
  const char* e = std::getenv("ATMAN_FUSED");
  const bool enabled = e == nullptr || std::strcmp(e, "0") != 0;
  const auto t = x.scalar_type();
  return enabled && x.is_cuda() && (t == at::kBFloat16 || t == at::kHalf || t == at::kFloat);
}

bool fusedKernelsApply(const at::Tensor& x) { return fusedOpsApply(x) && !at::GradMode::is_enabled(); }

namespace {

// y and, when wanted, the per-row rstd for the backward.
at::Tensor rmsNormForward(const at::Tensor& x, const at::Tensor& w, double eps, at::Tensor* rstd) {
  const int64_t H = x.size(-1), rows = x.numel() / H;
  at::Tensor y = at::empty_like(x);
  if (rstd != nullptr) *rstd = at::empty({rows}, x.options().dtype(at::kFloat));
  checkFused(fused::rmsNorm(fusedDType(x), x.data_ptr(), w.data_ptr(), y.data_ptr(), rstd ? rstd->data_ptr<float>() : nullptr,
                            rows, H, static_cast<float>(eps), c10::cuda::getCurrentCUDAStream().stream()),
             "RMSNorm");
  return y;
}

struct FusedRmsNormFn : public torch::autograd::Function<FusedRmsNormFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, double eps) {
    at::Tensor rstd;
    at::Tensor y = rmsNormForward(x, w, eps, &rstd);
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &rstd = saved[2];
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const at::Tensor dy = grads[0].contiguous();
    const c10::cuda::CUDAGuard guard(x.device());
    const int64_t H = x.size(-1), rows = x.numel() / H;
    at::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) {
      dx = at::empty_like(x);
      checkFused(fused::rmsNormBackward(fusedDType(x), x.data_ptr(), w.data_ptr(), dy.data_ptr(), rstd.data_ptr<float>(),
                                        dx.data_ptr(), rows, H, c10::cuda::getCurrentCUDAStream().stream()),
                 "RMSNorm backward");
    }
    if (ctx->needs_input_grad(1)) {
      // dw = sum over rows of dy * (the normalized x, rounded as the forward rounded it).
      std::vector<int64_t> rowShape = x.sizes().vec();
      rowShape.back() = 1;
      at::Tensor xh = x.to(at::kFloat).mul(rstd.view(rowShape)).to(x.scalar_type());
      dw = dy.to(at::kFloat).mul(xh.to(at::kFloat)).reshape({rows, H}).sum(0).to(w.scalar_type());
    }
    return {dx, dw, at::Tensor()};
  }
};

}  // namespace

at::Tensor fusedRmsNorm(const at::Tensor& xIn, const at::Tensor& w, double eps) {
  const c10::cuda::CUDAGuard guard(xIn.device());
  const at::Tensor x = xIn.contiguous();
  const at::Tensor wc = w.scalar_type() == x.scalar_type() ? w : w.to(x.scalar_type());
  if (at::GradMode::is_enabled() && (x.requires_grad() || wc.requires_grad())) return FusedRmsNormFn::apply(x, wc.contiguous(), eps);
  return rmsNormForward(x, wc.contiguous(), eps, nullptr);
}

namespace {

// out = x*cos + rotate_half(x)*sin, contiguous; x [B, H, T, D] with any strides, c and s contiguous [B, 1, T, D].
at::Tensor rotaryForward(const at::Tensor& x, const at::Tensor& c, const at::Tensor& s) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  at::Tensor out = at::empty({B, H, T, D}, x.options());
  const int64_t strides[4] = {x.stride(0), x.stride(1), x.stride(2), x.stride(3)};
  checkFused(fused::rotary(fusedDType(x), x.data_ptr(), strides, c.data_ptr(), s.data_ptr(), out.data_ptr(), B, H, T, D,
                           c10::cuda::getCurrentCUDAStream().stream()),
             "rotary");
  return out;
}

// Differentiable in x only (fusedRotary refuses a cos or sin that requires grad). Saves just cos and sin.
struct FusedRotaryFn : public torch::autograd::Function<FusedRotaryFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& c,
                            const at::Tensor& s) {
    ctx->save_for_backward({c, s});
    // dx gets x's layout when that is a dense one: q and k are transposed views of the projection output, and a
    // gradient in that layout spares the projection's backward a copy. Otherwise contiguous.
    const int64_t H = x.size(1), T = x.size(2), D = x.size(3);
    const std::vector<int64_t> contiguous{H * T * D, T * D, D, 1};
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["strides"] = x.is_non_overlapping_and_dense() ? x.strides().vec() : contiguous;
    return rotaryForward(x, c, s);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &c = saved[0], &s = saved[1];
    if (!grads[0].defined() || !ctx->needs_input_grad(0)) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const at::Tensor dy = grads[0].scalar_type() == c.scalar_type() ? grads[0] : grads[0].to(c.scalar_type());
    const c10::cuda::CUDAGuard guard(c.device());
    const std::vector<int64_t> sizes = ctx->saved_data["sizes"].toIntVector();
    const std::vector<int64_t> strides = ctx->saved_data["strides"].toIntVector();
    at::Tensor dx = at::empty_strided(sizes, strides, dy.options());
    const int64_t dys[4] = {dy.stride(0), dy.stride(1), dy.stride(2), dy.stride(3)};
    const int64_t dxs[4] = {dx.stride(0), dx.stride(1), dx.stride(2), dx.stride(3)};
    checkFused(fused::rotaryBackward(fusedDType(dy), dy.data_ptr(), dys, c.data_ptr(), s.data_ptr(), dx.data_ptr(), dxs,
                                     sizes[0], sizes[1], sizes[2], sizes[3], c10::cuda::getCurrentCUDAStream().stream()),
               "rotary backward");
    return {dx, at::Tensor(), at::Tensor()};
  }
};

// silu(gate) * up for contiguous gate and up of the same shape; contiguous result.
at::Tensor siluMulForward(const at::Tensor& gate, const at::Tensor& up) {
  at::Tensor out = at::empty_like(gate, at::MemoryFormat::Contiguous);
  const int64_t I = gate.size(-1);
  checkFused(fused::siluMul(fusedDType(gate), gate.data_ptr(), up.data_ptr(), out.data_ptr(), gate.numel() / I, I, I, I,
                            c10::cuda::getCurrentCUDAStream().stream()),
             "SiLU-mul");
  return out;
}

// Saves gate and up (the ATen ops also keep silu(gate)); backward recomputes the activation inside its one kernel.
struct FusedSiluMulFn : public torch::autograd::Function<FusedSiluMulFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    ctx->save_for_backward({gate, up});
    return siluMulForward(gate, up);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &gate = saved[0], &up = saved[1];
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor()};
    const at::Tensor dy = grads[0].to(gate.scalar_type()).contiguous();
    const c10::cuda::CUDAGuard guard(gate.device());
    at::Tensor dGate = at::empty_like(gate, at::MemoryFormat::Contiguous);
    at::Tensor dUp = at::empty_like(up, at::MemoryFormat::Contiguous);
    checkFused(fused::siluMulBackward(fusedDType(gate), gate.data_ptr(), up.data_ptr(), dy.data_ptr(), dGate.data_ptr(),
                                      dUp.data_ptr(), gate.numel(), c10::cuda::getCurrentCUDAStream().stream()),
               "SiLU-mul backward");
    return {ctx->needs_input_grad(0) ? dGate : at::Tensor(), ctx->needs_input_grad(1) ? dUp : at::Tensor()};
  }
};

}  // namespace

at::Tensor fusedRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const bool grad = at::GradMode::is_enabled();
  if (grad && (cos.requires_grad() || sin.requires_grad()))
    throw std::runtime_error(
        "the fused rotary embedding differentiates x only, but cos or sin requires grad; set ATMAN_FUSED=0 to run the "
        "ATen ops, which differentiate them");
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t B = x.size(0), T = x.size(2), D = x.size(3);
  const at::ScalarType dt = x.scalar_type();
  const at::Tensor c = cos.to(dt).expand({B, 1, T, D}).contiguous(), s = sin.to(dt).expand({B, 1, T, D}).contiguous();
  if (grad && x.requires_grad()) return FusedRotaryFn::apply(x, c, s);
  return rotaryForward(x, c, s);
}

at::Tensor fusedSiluMul(const at::Tensor& gateIn, const at::Tensor& upIn) {
  if (!gateIn.sizes().equals(upIn.sizes()) || gateIn.scalar_type() != upIn.scalar_type())
    throw std::runtime_error("the fused SiLU-mul needs gate and up of one shape and dtype");
  const c10::cuda::CUDAGuard guard(gateIn.device());
  const at::Tensor gate = gateIn.contiguous(), up = upIn.contiguous();
  if (at::GradMode::is_enabled() && (gate.requires_grad() || up.requires_grad())) return FusedSiluMulFn::apply(gate, up);
  return siluMulForward(gate, up);
}

#endif

}  // namespace atman::llama
