#include "native/llama/fused_decode.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "native/llama/fused_ops.h"

#ifdef ATMAN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "native/llama/fused/decode.h"
#endif

namespace atman::llama {

#ifndef ATMAN_WITH_CUDA

bool fusedDecodeApplies(const LlamaConfig&, const std::vector<Layer>&, const at::Tensor&) { return false; }
at::Tensor fusedDecodeStep(const LlamaConfig&, const DecodeWeights&, const at::Tensor&, const at::Tensor&,
                           const at::Tensor&, const at::Tensor&, const at::Tensor&, KVCache&) {
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

// x += y; returns w * norm(x) (x updated in place, as the residual stream).
at::Tensor addRmsNormInPlace(at::Tensor& x, const at::Tensor& y, const at::Tensor& w, double eps, cudaStream_t s) {
  at::Tensor out = at::empty_like(x);
  const int64_t H = x.size(-1);
  check(fused::addRmsNorm(dtypeOf(x), x.data_ptr(), y.data_ptr(), w.data_ptr(), x.data_ptr(), out.data_ptr(),
                          x.numel() / H, H, static_cast<float>(eps), s),
        "add + RMSNorm");
  return out;
}

}  // namespace

bool fusedDecodeApplies(const LlamaConfig& c, const std::vector<Layer>& layers, const at::Tensor& weights) {
  const int64_t D = c.headDim;
  const bool headDimOk = D >= 8 && D <= fused::kDecodeMaxD && (D & (D - 1)) == 0;
  if (!fusedKernelsApply(weights) || !headDimOk || c.numHeads % c.numKvHeads != 0 ||
      c.numHeads / c.numKvHeads > fused::kDecodeMaxGroup)
    return false;
  return std::all_of(layers.begin(), layers.end(), [](const Layer& l) { return projectionsPacked(l); });
}

at::Tensor fusedDecodeStep(const LlamaConfig& c, const DecodeWeights& w, const at::Tensor& ids, const at::Tensor& cosIn,
                           const at::Tensor& sinIn, const at::Tensor& length, const at::Tensor& keyStart,
                           KVCache& cache) {
  const c10::cuda::CUDAGuard guard(w.embed.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  const int64_t B = ids.size(0), H = c.hiddenSize, D = c.headDim, Hq = c.numHeads, Hkv = c.numKvHeads;
  const int64_t I = c.intermediateSize, C = cache.capacity;
  const fused::DType dt = dtypeOf(w.embed);
  const at::Tensor cos = cosIn.reshape({B, D}).contiguous(), sin = sinIn.reshape({B, D}).contiguous();
  const at::Tensor ks = keyStart.defined() ? keyStart.contiguous() : at::Tensor();
  const int64_t* lengthPtr = length.data_ptr<int64_t>();
  const int64_t* keyStartPtr = ks.defined() ? ks.data_ptr<int64_t>() : nullptr;

  // Key ranges per (kv head, sequence): enough blocks for ~2 per multiprocessor, ranges of at least 128 keys.
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t splits = std::clamp<int64_t>((2 * sms + B * Hkv - 1) / (B * Hkv), 1, std::max<int64_t>(1, (C + 127) / 128));
  const int64_t splitLen = (C + splits - 1) / splits;
  const at::Tensor partial =
      splits > 1 ? at::empty({B * Hq * splits * (D + 2)}, w.embed.options().dtype(at::kFloat)) : at::Tensor();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));

  at::Tensor x = at::embedding(w.embed, ids.reshape({B})).contiguous();  // [B, H], the residual stream
  at::Tensor h = fusedRmsNorm(x, w.layers.front().inputNorm, c.rmsNormEps);
  at::Tensor q = at::empty({B, Hq, D}, x.options()), a = at::empty({B, Hq * D}, x.options());
  for (size_t i = 0; i < w.layers.size(); i++) {
    const Layer& l = w.layers[i];
    const at::Tensor qkv = at::mm(h, l.qkv.t());  // [B, (Hq + 2 Hkv) D]
    check(fused::rotaryCacheWrite(dt, qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), q.data_ptr(),
                                  cache.k[i].data_ptr(), cache.v[i].data_ptr(), lengthPtr, B, Hq, Hkv, D, C, stream),
          "rotary + cache write");
    check(fused::decodeAttention(dt, q.data_ptr(), cache.k[i].data_ptr(), cache.v[i].data_ptr(), lengthPtr,
                                 keyStartPtr, a.data_ptr(), splits > 1 ? partial.data_ptr<float>() : nullptr, B, Hq,
                                 Hkv, D, C, splits, splitLen, scale, stream),
          "decode attention");
    h = addRmsNormInPlace(x, at::mm(a, l.o.t()), l.postNorm, c.rmsNormEps, stream);
    const at::Tensor gateUp = at::mm(h, l.gateUp.t());  // [B, 2I]: gate, then up
    at::Tensor act = at::empty({B, I}, x.options());
    check(fused::siluMul(dt, gateUp.data_ptr(), static_cast<const char*>(gateUp.data_ptr()) + I * gateUp.element_size(),
                         act.data_ptr(), B, I, 2 * I, 2 * I, stream),
          "SiLU-mul");
    const at::Tensor& nextNorm = i + 1 < w.layers.size() ? w.layers[i + 1].inputNorm : w.norm;
    h = addRmsNormInPlace(x, at::mm(act, l.down.t()), nextNorm, c.rmsNormEps, stream);
  }
  return at::mm(h, w.lmHead.t());
}

#endif

}  // namespace atman::llama
