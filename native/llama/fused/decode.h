// Fused CUDA kernels of one decoding step (one new token per sequence), plain C++ interface as fused.h. Together
// with the packed q/k/v and gate/up projections they cut a decoder layer from ~22 kernels to 9, which is what
// limits batch-1 decoding once the step is a CUDA graph.
#pragma once
#include <cstdint>

#include "native/llama/fused/fused.h"

namespace atman {
namespace fused {

// The rotary embedding of the new token's queries and keys, and the cache write. qkv: contiguous [B, (Hq + 2 Hkv) D]
// (the packed projection: Hq query heads, then Hkv key heads, then Hkv value heads). The token of row b sits at
// cache slot *length (a device int64) and at rotary position max(0, *length - keyStart[b]) (keyStart null: *length);
// cos and sin are computed as LlamaModel::rotary does (fp32 angle = position * invFreq[d % (D/2)], rounded to the
// dtype). Writes q [B, Hq, D] (rotated), and the rotated keys and the values into kCache, vCache [B, Hkv, C, D] at
// that slot. Rounding as fused.h's rotary.
const char* rotaryCacheWrite(DType dtype, const void* qkv, const float* invFreq, const int64_t* keyStart, void* q,
                             void* kCache, void* vCache, const int64_t* length, int64_t B, int64_t Hq, int64_t Hkv,
                             int64_t D, int64_t C, void* stream);

// Qwen3's q/k norm on the packed projection, in place: for each row b of qkv [B, (Hq + 2 Hkv) D] (contiguous), each
// of the first Hq heads becomes qNorm * dtype(x / sqrt(mean(x^2) + eps)) and each of the next Hkv heads the same with
// kNorm (qNorm, kNorm [D]); the value heads are left alone. Rounding as fused.h's rmsNorm. One warp per head.
const char* headRmsNorm(DType dtype, void* qkv, const void* qNorm, const void* kNorm, int64_t B, int64_t Hq,
                        int64_t Hkv, int64_t D, float eps, void* stream);

// Limits of decodeAttention: D in {16, 64, 128} (Llama's 64 and 128, and 16 for the tests' tiny models: each head dim
// is a set of unrolled kernels, ~1 MB of the CUDA binary), at most kDecodeMaxGroup query heads per kv head.
constexpr int64_t kDecodeMaxGroup = 8;
bool decodeAttentionSupports(int64_t D, int64_t Hq, int64_t Hkv);

// Attention of one query per (sequence, head) over the cache: out[b, h*D:(h+1)*D] = softmax(scale q·k_j) v over the
// keys j in [keyStart[b], *length] (keyStart null: from 0). q [B, Hq, D], caches [B, Hkv, C, D], out [B, Hq D], all
// contiguous; query head h reads kv head h / (Hq / Hkv). fp32 scores, softmax and sums; the output rounded once.
// The keys are cut into `splits` ranges of splitLen (blocks run in parallel); with splits > 1, `partial` must hold
// B * Hq * splits * (D + 2) floats and a second kernel combines the ranges.
const char* decodeAttention(DType dtype, const void* q, const void* kCache, const void* vCache, const int64_t* length,
                            const int64_t* keyStart, void* out, float* partial, int64_t B, int64_t Hq, int64_t Hkv,
                            int64_t D, int64_t C, int64_t splits, int64_t splitLen, float scale, void* stream);

// sum = dtype(x + y) and out = w * dtype(sum / sqrt(mean(sum^2) + eps)) per row of H (the residual add before an
// RMSNorm), all contiguous [rows, H], w [H]. sum must not alias x or y.
const char* addRmsNorm(DType dtype, const void* x, const void* y, const void* w, void* sum, void* out, int64_t rows,
                       int64_t H, float eps, void* stream);

// y [N] = W [N, K] x [K] (one row of a linear layer's input: batch-1 decoding), fp32 sums, rounded once. K % 8 == 0,
// x and W 32-byte aligned. cuBLAS picks split-K kernels plus a reduction kernel for these shapes; one pass here.
const char* gemv(DType dtype, const void* x, const void* W, void* y, int64_t N, int64_t K, void* stream);

}  // namespace fused
}  // namespace atman
