#include "native/llama/fused_decode.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "native/llama/fused_ops.h"

#ifdef ATMAN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "native/llama/fused/aten_glue.h"
#include "native/llama/fused/decode.h"
#endif

namespace atman::llama {

#ifndef ATMAN_WITH_CUDA

bool fusedDecodeApplies(const LlamaConfig&, const std::vector<Layer>&, const at::Tensor&) { return false; }
at::Tensor fusedDecodeStep(const LlamaConfig&, const DecodeWeights&, const at::Tensor&, const at::Tensor&,
                           const at::Tensor&, KVCache&) {
  throw std::runtime_error("the fused CUDA kernels are not part of this CPU-only build");
}

#else

namespace {

// The residual stream after adding y to x (a new tensor), and w * norm(it).
std::pair<at::Tensor, at::Tensor> addRmsNorm(const at::Tensor& x, const at::Tensor& y, const at::Tensor& w, double eps,
                                             cudaStream_t s) {
  at::Tensor sum = at::empty_like(x), out = at::empty_like(x);
  const int64_t H = x.size(-1);
  checkFused(fused::addRmsNorm(fusedDType(x), x.data_ptr(), y.data_ptr(), w.data_ptr(), sum.data_ptr(), out.data_ptr(),
                               x.numel() / H, H, static_cast<float>(eps), s),
             "add + RMSNorm");
  return {sum, out};
}

// x [B, K] times W [N, K] transposed: the GEMV kernel for one row (when K and the pointers allow it), else cuBLAS.
at::Tensor linearRows(const at::Tensor& x, const at::Tensor& W, cudaStream_t s) {
  const int64_t K = x.size(1);
  const bool aligned = ((reinterpret_cast<uintptr_t>(x.data_ptr()) | reinterpret_cast<uintptr_t>(W.data_ptr())) % 32) == 0;
  if (x.size(0) != 1 || K % 8 != 0 || !aligned) return at::mm(x, W.t());
  at::Tensor y = at::empty({1, W.size(0)}, x.options());
  checkFused(fused::gemv(fusedDType(x), x.data_ptr(), W.data_ptr(), y.data_ptr(), W.size(0), K, s), "GEMV");
  return y;
}

// Adds layer l's adapter update of target t (x its input) into y, a [B, n] slice of a projection's output: the
// float32 update rounded once into the model dtype, as LlamaModel's unfused layers do.
void addLora(const at::Tensor& y, const at::Tensor& x, const Layer& l, int t, double scale) {
  const LoraPair& p = l.lora[t];
  if (scale == 0 || !p.A.defined()) return;
  LoraRun run;
  run.scale = scale;
  y.add_(loraDelta(x, p, run, t));
}

}  // namespace

bool fusedDecodeApplies(const LlamaConfig& c, const std::vector<Layer>& layers, const at::Tensor& weights) {
  if (!fusedKernelsApply(weights) || !fused::decodeAttentionSupports(c.headDim, c.numHeads, c.numKvHeads)) return false;
  return std::all_of(layers.begin(), layers.end(), [](const Layer& l) { return projectionsPacked(l); });
}

at::Tensor fusedDecodeStep(const LlamaConfig& c, const DecodeWeights& w, const at::Tensor& ids, const at::Tensor& length,
                           const at::Tensor& keyStart, KVCache& cache) {
  const c10::cuda::CUDAGuard guard(w.embed.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  const int64_t B = ids.size(0), D = c.headDim, Hq = c.numHeads, Hkv = c.numKvHeads;
  const int64_t I = c.intermediateSize, C = cache.capacity;
  const fused::DType dt = fusedDType(w.embed);
  const at::Tensor ks = keyStart.defined() ? keyStart.contiguous() : at::Tensor();
  const int64_t* lengthPtr = length.data_ptr<int64_t>();
  const int64_t* keyStartPtr = ks.defined() ? ks.data_ptr<int64_t>() : nullptr;
  const float* invFreq = w.invFreq.data_ptr<float>();

  // Key ranges per (kv head, sequence): enough blocks for ~2 per multiprocessor, ranges of at least 256 keys (one
  // pass of the kernel's 8 warps).
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t splits = std::clamp<int64_t>((2 * sms + B * Hkv - 1) / (B * Hkv), 1, std::max<int64_t>(1, (C + 255) / 256));
  const int64_t splitLen = (C + splits - 1) / splits;
  const at::Tensor partial =
      splits > 1 ? at::empty({B * Hq * splits * (D + 2)}, w.embed.options().dtype(at::kFloat)) : at::Tensor();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));

  at::Tensor x = at::embedding(w.embed, ids.reshape({B})).contiguous();  // [B, H], the residual stream
  at::Tensor h = fusedRmsNorm(x, w.layers.front().inputNorm, c.rmsNormEps);
  at::Tensor q = at::empty({B, Hq, D}, x.options()), a = at::empty({B, Hq * D}, x.options());
  for (size_t i = 0; i < w.layers.size(); i++) {
    const Layer& l = w.layers[i];
    const at::Tensor qkv = linearRows(h, l.qkv, stream);  // [B, (Hq + 2 Hkv) D]
    if (l.qkvBias.defined()) qkv.add_(l.qkvBias);          // Qwen2: q/k/v biases (packed like the weights)
    const int64_t nq = Hq * D, nkv = Hkv * D;
    addLora(qkv.narrow(1, 0, nq), h, l, kQ, w.loraScale);
    addLora(qkv.narrow(1, nq, nkv), h, l, kK, w.loraScale);
    addLora(qkv.narrow(1, nq + nkv, nkv), h, l, kV, w.loraScale);
    if (l.qNorm.defined())                                  // Qwen3: RMSNorm over each q and k head, before rotary
      checkFused(fused::headRmsNorm(dt, qkv.data_ptr(), l.qNorm.data_ptr(), l.kNorm.data_ptr(), B, Hq, Hkv, D,
                                    static_cast<float>(c.rmsNormEps), stream),
                 "q/k head RMSNorm");
    checkFused(fused::rotaryCacheWrite(dt, qkv.data_ptr(), invFreq, keyStartPtr, q.data_ptr(), cache.k[i].data_ptr(),
                                       cache.v[i].data_ptr(), lengthPtr, B, Hq, Hkv, D, C, stream),
               "rotary + cache write");
    checkFused(fused::decodeAttention(dt, q.data_ptr(), cache.k[i].data_ptr(), cache.v[i].data_ptr(), lengthPtr,
                                      keyStartPtr, a.data_ptr(), splits > 1 ? partial.data_ptr<float>() : nullptr, B, Hq,
                                      Hkv, D, C, splits, splitLen, scale, stream),
               "decode attention");
    const at::Tensor attnOut = linearRows(a, l.o, stream);
    addLora(attnOut, a, l, kO, w.loraScale);
    std::tie(x, h) = addRmsNorm(x, attnOut, l.postNorm, c.rmsNormEps, stream);
    const at::Tensor gateUp = linearRows(h, l.gateUp, stream);  // [B, 2I]: gate, then up
    addLora(gateUp.narrow(1, 0, I), h, l, kGate, w.loraScale);
    addLora(gateUp.narrow(1, I, I), h, l, kUp, w.loraScale);
    at::Tensor act = at::empty({B, I}, x.options());
    checkFused(fused::siluMul(dt, gateUp.data_ptr(), static_cast<const char*>(gateUp.data_ptr()) + I * gateUp.element_size(),
                              act.data_ptr(), B, I, 2 * I, 2 * I, stream),
               "SiLU-mul");
    const at::Tensor& nextNorm = i + 1 < w.layers.size() ? w.layers[i + 1].inputNorm : w.norm;
    const at::Tensor mlpOut = linearRows(act, l.down, stream);
    addLora(mlpOut, act, l, kDown, w.loraScale);
    std::tie(x, h) = addRmsNorm(x, mlpOut, nextNorm, c.rmsNormEps, stream);
  }
  return linearRows(h, w.lmHead, stream);
}

#endif

}  // namespace atman::llama
