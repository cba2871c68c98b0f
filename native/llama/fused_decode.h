// The decoding step (LlamaModel::decodeStep) on the fused CUDA kernels of native/llama/fused/decode.h and the packed
// projections: per layer one q/k/v product (+ the packed q/k/v bias: Qwen2; + one q/k head RMSNorm kernel: Qwen3),
// rotary + cache write, attention, o product, add + RMSNorm, one gate/up product, SiLU·up, down product,
// add + RMSNorm; with a LoRA adapter, scale · B A x added to each adapted projection. Every family of family.h runs here (the sliding window never acts: longer sequences are refused).
// Stubs in a CPU-only build (fusedDecodeApplies is false).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "native/llama/model.h"

namespace atman::llama {

// Whether fusedDecodeStep can run this model: the fused kernels apply to `weights` (CUDA, 16/32-bit float, no
// autograd, ATMAN_FUSED not "0"), the head dim is 16, 64 or 128, at most 8 query heads share a kv head,
// and every layer's projections (and q/k/v biases) are still packed.
bool fusedDecodeApplies(const LlamaConfig& c, const std::vector<Layer>& layers, const at::Tensor& weights);

struct DecodeWeights {
  const std::vector<Layer>& layers;
  const at::Tensor& embed;
  const at::Tensor& norm;
  const at::Tensor& lmHead;
  const at::Tensor& invFreq;  // float32 [D / 2] on the device
  // The LoRA adapter's scale (0: none or disabled). Its low-rank products are added to each adapted projection's
  // output inside the step (no merged copy of the weights; the step stays capturable as a CUDA graph).
  double loraScale = 0;
};

// As LlamaModel::decodeStep: ids [B, 1], length int64 [1] on the device (the slot written now; keys
// [keyStart[b], length] are attended; rotary position length - keyStart[b]), keyStart int64 [B] or undefined.
// Returns logits [B, vocab]. Batch 1 runs its products on a GEMV kernel, larger batches on cuBLAS.
at::Tensor fusedDecodeStep(const LlamaConfig& c, const DecodeWeights& w, const at::Tensor& ids, const at::Tensor& length,
                           const at::Tensor& keyStart, KVCache& cache);

}  // namespace atman::llama
