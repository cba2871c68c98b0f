// Fused AtMan attention kernels (FlashAttention-2 style), plain C++ interface: raw pointers and sizes, no ATen and no
// CUDA headers, so the ATen glue (flash_attention.cpp) and the kernels (*.cu) stay independent.
//
// Layouts (all contiguous, row-major): q, o, dO, dq [B, Hq, Tq, D]; k, v, dk, dv [B, Hkv, Tk, D] in fp16 or bf16;
// keyBias, dBias [B, Tk] fp32; biasQueryStart, keyStart [B] int64 (or null); lse, delta [B, Hq, Tq] fp32.
// lse is kept in the log2 domain (log2 of the row's sum of 2^(logit·log2 e)); +inf marks a row with no visible key.
#pragma once
#include <cstdint>

namespace atman {
namespace flash {

enum class DType { Half = 0, BFloat16 = 1 };

struct Params {
  DType dtype = DType::BFloat16;
  int B = 0, Hq = 0, Hkv = 0, Tq = 0, Tk = 0, D = 0;
  float scale = 1.f;
  bool causal = true;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const float* keyBias = nullptr;           // or null: no bias
  const int64_t* biasQueryStart = nullptr;  // or null: biasQueryStartScalar for every batch
  int64_t biasQueryStartScalar = 0;
  const int64_t* keyStart = nullptr;        // or null: no left padding
  // forward outputs
  void* o = nullptr;
  float* lse = nullptr;
  // backward
  const void* dO = nullptr;
  float* delta = nullptr;  // scratch [B, Hq, Tq]
  float* dqAccum = nullptr;  // scratch [B, Hq, Tq, D] fp32, zero-initialised by the caller
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
  float* dBias = nullptr;  // [B, Tk] fp32 zero-initialised by the caller, or null: no bias gradient
};

bool supportsHeadDim(int D);

// Both return null on success, else the CUDA error's text. stream is a cudaStream_t.
const char* forward(const Params& p, void* stream);
const char* backward(const Params& p, void* stream);

}  // namespace flash
}  // namespace atman
