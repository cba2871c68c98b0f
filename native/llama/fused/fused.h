// Fused kernels of the Llama layer (RMSNorm, rotary embedding, SiLU*up, and their backwards), plain C++ interface: raw pointers and
// sizes, no ATen and no CUDA headers (as native/attention/flash/flash.h). Each replays, in one kernel, the rounding
// steps of the op sequence it replaces (transformers' arithmetic), so results match the unfused ops up to the order
// of the fp32 sum in RMSNorm.
#pragma once
#include <cstdint>

namespace atman {
namespace fused {

enum class DType { Float = 0, Half = 1, BFloat16 = 2 };

// y[r, :] = w * dtype(x[r, :] / sqrt(mean(x[r, :]^2) + eps)) for rows r < rows, x and y contiguous [rows, H], w [H];
// the normalization in fp32, rounded to the dtype, then multiplied by w and rounded again.
// rstd (or null): [rows] fp32, 1 / sqrt(mean(x^2) + eps) of each row, for the backward.
const char* rmsNorm(DType dtype, const void* x, const void* w, void* y, float* rstd, int64_t rows, int64_t H, float eps,
                    void* stream);

// The input gradient of rmsNorm: with g = dy * w and xh = x * rstd (fp32), dx = rstd * (g - xh * mean(g * xh)).
const char* rmsNormBackward(DType dtype, const void* x, const void* w, const void* dy, const float* rstd, void* dx,
                            int64_t rows, int64_t H, void* stream);

// out[b, h, t, :] = x*cos + rotate_half(x)*sin, each product and the sum rounded to the dtype. x is [B, H, T, D] with
// element strides xs (any layout); cos, sin contiguous [B, T, D]; out contiguous [B, H, T, D].
const char* rotary(DType dtype, const void* x, const int64_t xs[4], const void* cos, const void* sin, void* out,
                   int64_t B, int64_t H, int64_t T, int64_t D, void* stream);

// The input gradient of rotary: dx = dy*cos + rotate_half^T(dy*sin), rotate_half^T(z) = cat(z2, -z1); each product
// and the sum rounded to the dtype (as autograd through the ATen ops rounds). dy and dx are [B, H, T, D] with element
// strides dys and dxs (any layout; dx must not overlap itself); cos, sin as for rotary.
const char* rotaryBackward(DType dtype, const void* dy, const int64_t dys[4], const void* cos, const void* sin, void* dx,
                           const int64_t dxs[4], int64_t B, int64_t H, int64_t T, int64_t D, void* stream);

// out[r, c] = dtype(silu(gate[r, c])) * up[r, c], rounded to the dtype (the MLP's activation), for r < rows, c < I;
// gate and up rows start gateStride and upStride elements apart (the two halves of a packed [rows, 2I] tensor, or
// two contiguous [rows, I] ones); out is contiguous [rows, I].
const char* siluMul(DType dtype, const void* gate, const void* up, void* out, int64_t rows, int64_t I,
                    int64_t gateStride, int64_t upStride, void* stream);

// The gradients of siluMul for n contiguous elements, in one pass, with ATen's rounding: act = dtype(silu(g)),
// dUp = dtype(dy * act), dAct = dtype(dy * up), dGate = dtype(dAct * s * (1 + g * (1 - s))) with s = sigmoid(g) in
// fp32 (as ATen's silu_backward). gate, up, dy, dGate, dUp contiguous [n].
const char* siluMulBackward(DType dtype, const void* gate, const void* up, const void* dy, void* dGate, void* dUp,
                            int64_t n, void* stream);

}  // namespace fused
}  // namespace atman
