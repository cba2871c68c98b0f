#include "native/attention/flash_attention.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#ifdef ATMAN_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include "native/attention/flash/flash.h"
#endif

namespace atman {

#ifndef ATMAN_WITH_CUDA

bool flashAttentionApplies(const at::Tensor&, const AttentionOptions&) { return false; }
at::Tensor flashAttention(const at::Tensor&, const at::Tensor&, const at::Tensor&, const AttentionOptions&) {
  throw std::runtime_error("attention(): the fused CUDA kernels are not part of this CPU-only build");
}

#else

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool poisonOutputs() {
  const char* e = std::getenv("ATMAN_ATTENTION_POISON");
  return e != nullptr && std::strcmp(e, "1") == 0;
}

// Outputs the kernels must write in full: NaN-filled under ATMAN_ATTENTION_POISON=1 so that unwritten elements show.
at::Tensor outputLike(at::IntArrayRef sizes, const at::TensorOptions& opts) {
  at::Tensor t = at::empty(sizes, opts);
  if (poisonOutputs()) t.fill_(std::numeric_limits<double>::quiet_NaN());
  return t;
}

void check(const char* err, const char* what) {
  if (err != nullptr) throw std::runtime_error(std::string("attention(): the fused CUDA ") + what + " failed: " + err);
}

flash::Params baseParams(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& keyBias,
                         const at::Tensor& biasQueryStart, const at::Tensor& keyStart, bool causal, double scale,
                         int64_t biasQueryStartScalar) {
  flash::Params p;
  p.dtype = q.scalar_type() == at::kBFloat16 ? flash::DType::BFloat16 : flash::DType::Half;
  p.B = static_cast<int>(q.size(0));
  p.Hq = static_cast<int>(q.size(1));
  p.Tq = static_cast<int>(q.size(2));
  p.D = static_cast<int>(q.size(3));
  p.Hkv = static_cast<int>(k.size(1));
  p.Tk = static_cast<int>(k.size(2));
  p.scale = static_cast<float>(scale);
  p.causal = causal;
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.keyBias = keyBias.defined() ? keyBias.data_ptr<float>() : nullptr;
  p.biasQueryStart = biasQueryStart.defined() ? biasQueryStart.data_ptr<int64_t>() : nullptr;
  p.biasQueryStartScalar = biasQueryStartScalar;
  p.keyStart = keyStart.defined() ? keyStart.data_ptr<int64_t>() : nullptr;
  return p;
}

// Contiguous with a 16-byte aligned start: the kernels copy 16-byte vectors (cp.async, TMA). A contiguous view that
// starts mid-vector (e.g. narrowed from a larger buffer) gets a fresh, aligned copy instead of a misaligned-address
// fault that would poison the CUDA context.
at::Tensor contiguousAligned(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return reinterpret_cast<uintptr_t>(c.data_ptr()) % 16 == 0 ? c : c.clone(at::MemoryFormat::Contiguous);
}

// Optional inputs travel as c10::optional: autograd's custom functions reject undefined tensors among their inputs.
at::Tensor contiguousOrUndefined(const c10::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? t->contiguous() : at::Tensor();
}
c10::optional<at::Tensor> optionalOf(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

struct FlashAttentionFunction : public torch::autograd::Function<FlashAttentionFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& qIn, const at::Tensor& kIn, const at::Tensor& vIn,
                            const c10::optional<at::Tensor>& keyBiasIn, const c10::optional<at::Tensor>& bqsIn,
                            const c10::optional<at::Tensor>& keyStartIn,
                            bool causal, double scale, int64_t bqsScalar) {
    const c10::cuda::CUDAGuard guard(qIn.device());
    at::Tensor q = contiguousAligned(qIn), k = contiguousAligned(kIn), v = contiguousAligned(vIn);
    at::Tensor keyBias = contiguousOrUndefined(keyBiasIn), bqs = contiguousOrUndefined(bqsIn),
               keyStart = contiguousOrUndefined(keyStartIn);
    at::Tensor o = outputLike(q.sizes(), q.options());
    at::Tensor lse = outputLike({q.size(0), q.size(1), q.size(2)}, q.options().dtype(at::kFloat));
    flash::Params p = baseParams(q, k, v, keyBias, bqs, keyStart, causal, scale, bqsScalar);
    p.o = o.data_ptr();
    p.lse = lse.data_ptr<float>();
    check(flash::forward(p, c10::cuda::getCurrentCUDAStream().stream()), "forward kernel");
    ctx->save_for_backward({q, k, v, o, lse, keyBias, bqs, keyStart});
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["bqsScalar"] = bqsScalar;
    return o;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &o = saved[3], &lse = saved[4],
                     &keyBias = saved[5], &bqs = saved[6], &keyStart = saved[7];
    const c10::cuda::CUDAGuard guard(q.device());
    at::Tensor dO = grads[0].defined() ? contiguousAligned(grads[0].to(q.scalar_type())) : at::zeros_like(q);
    flash::Params p = baseParams(q, k, v, keyBias, bqs, keyStart, ctx->saved_data["causal"].toBool(),
                                 ctx->saved_data["scale"].toDouble(), ctx->saved_data["bqsScalar"].toInt());
    const bool wantBias = keyBias.defined() && ctx->needs_input_grad(3);
    at::Tensor dq = outputLike(q.sizes(), q.options());
    at::Tensor dk = outputLike(k.sizes(), k.options());
    at::Tensor dv = outputLike(v.sizes(), v.options());
    at::Tensor delta = outputLike({q.size(0), q.size(1), q.size(2)}, q.options().dtype(at::kFloat));
    at::Tensor dqAccum = at::zeros(q.sizes(), q.options().dtype(at::kFloat));  // accumulated by atomics
    at::Tensor dBias = wantBias ? at::zeros(keyBias.sizes(), keyBias.options()) : at::Tensor();
    p.o = o.data_ptr();
    p.lse = lse.data_ptr<float>();
    p.dO = dO.data_ptr();
    p.delta = delta.data_ptr<float>();
    p.dqAccum = dqAccum.data_ptr<float>();
    p.dq = dq.data_ptr();
    p.dk = dk.data_ptr();
    p.dv = dv.data_ptr();
    p.dBias = wantBias ? dBias.data_ptr<float>() : nullptr;
    check(flash::backward(p, c10::cuda::getCurrentCUDAStream().stream()), "backward kernel");
    return {dq, dk, dv, dBias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool flashAttentionApplies(const at::Tensor& q, const AttentionOptions& o) {
  const char* impl = std::getenv("ATMAN_ATTENTION_IMPL");
  if (impl != nullptr && std::strcmp(impl, "reference") == 0) return false;
  if (!q.is_cuda()) return false;
  if (q.scalar_type() != at::kBFloat16 && q.scalar_type() != at::kHalf) return false;
  if (!flash::supportsHeadDim(static_cast<int>(q.size(3)))) return false;
  // int32 sizes inside the kernels
  const int64_t lim = std::numeric_limits<int>::max();
  return q.size(0) <= 65535 && q.size(1) <= 65535 && q.size(2) < lim / 256 && q.size(3) > 0;
}

at::Tensor flashAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionOptions& o) {
  return FlashAttentionFunction::apply(q, k, v, optionalOf(o.keyBias), optionalOf(o.biasQueryStart),
                                       optionalOf(o.keyStart), o.causal,
                                       attentionScale(o, q.size(3)), o.biasQueryStartScalar);
}

#endif

}  // namespace atman
