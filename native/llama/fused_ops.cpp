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

#include "native/llama/fused/fused.h"
#endif

namespace atman::llama {

#ifndef ATMAN_WITH_CUDA

bool fusedKernelsApply(const at::Tensor&) { return false; }
bool fusedRmsNormApplies(const at::Tensor&) { return false; }
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

namespace {

fused::DType dtypeOf(const at::Tensor& x) {
  switch (x.scalar_type()) {
    case at::kBFloat16: return fused::DType::BFloat16;
    case at::kHalf: return fused::DType::Half;
    default: return fused::DType::Float;
  }
}

void check(const char* err, const char* what) {
  if (err != nullptr) throw std::runtime_error(std::string("the fused CUDA ") + what + " kernel failed: " + err);
}

}  // namespace

bool fusedRmsNormApplies(const at::Tensor& x) {
  // Read on every call (cheap), so a process can compare fused and unfused results (the GPU tests do).
  const char* e = std::getenv("ATMAN_FUSED");
  const bool enabled = e == nullptr || std::strcmp(e, "0") != 0;
  const auto t = x.scalar_type();
  return enabled && x.is_cuda() && (t == at::kBFloat16 || t == at::kHalf || t == at::kFloat);
}

bool fusedKernelsApply(const at::Tensor& x) { return fusedRmsNormApplies(x) && !at::GradMode::is_enabled(); }

namespace {

// y and, when wanted, the per-row rstd for the backward.
at::Tensor rmsNormForward(const at::Tensor& x, const at::Tensor& w, double eps, at::Tensor* rstd) {
  const int64_t H = x.size(-1), rows = x.numel() / H;
  at::Tensor y = at::empty_like(x);
  if (rstd != nullptr) *rstd = at::empty({rows}, x.options().dtype(at::kFloat));
  check(fused::rmsNorm(dtypeOf(x), x.data_ptr(), w.data_ptr(), y.data_ptr(), rstd ? rstd->data_ptr<float>() : nullptr,
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
      check(fused::rmsNormBackward(dtypeOf(x), x.data_ptr(), w.data_ptr(), dy.data_ptr(), rstd.data_ptr<float>(),
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

at::Tensor fusedRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  const at::Tensor c = cos.expand({B, 1, T, D}).contiguous(), s = sin.expand({B, 1, T, D}).contiguous();
  at::Tensor out = at::empty({B, H, T, D}, x.options());
  const int64_t strides[4] = {x.stride(0), x.stride(1), x.stride(2), x.stride(3)};
  check(fused::rotary(dtypeOf(x), x.data_ptr(), strides, c.data_ptr(), s.data_ptr(), out.data_ptr(), B, H, T, D,
                      c10::cuda::getCurrentCUDAStream().stream()),
        "rotary");
  return out;
}

at::Tensor fusedSiluMul(const at::Tensor& gateIn, const at::Tensor& upIn) {
  const c10::cuda::CUDAGuard guard(gateIn.device());
  const at::Tensor gate = gateIn.contiguous(), up = upIn.contiguous();
  at::Tensor out = at::empty_like(gate);
  const int64_t I = gate.size(-1);
  check(fused::siluMul(dtypeOf(gate), gate.data_ptr(), up.data_ptr(), out.data_ptr(), gate.numel() / I, I, I, I,
                       c10::cuda::getCurrentCUDAStream().stream()),
        "SiLU-mul");
  return out;
}

#endif

}  // namespace atman::llama
