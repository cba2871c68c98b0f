// Kernels of fused.h. One block per row for RMSNorm (fp32 sum of squares, warp-shuffle reduction); one thread per
// output element for the rotary embedding and SiLU-mul, one per (d, d + D/2) pair for the rotary backward. Products
// whose rounding must match ATen's separate mul kernels use __fmul_rn (never contracted into an FMA with the add).
#include "native/llama/fused/fused.h"

#include "native/llama/fused/device_math.cuh"

namespace atman {
namespace fused {

namespace {

constexpr int kNormThreads = 256;

template <typename T>
__global__ void rmsNormKernel(const T* x, const T* w, T* y, float* rstd, int64_t H, float eps) {
  const T* row = x + int64_t(blockIdx.x) * H;
  T* out = y + int64_t(blockIdx.x) * H;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < H; i += kNormThreads) {
    const float v = toF<T>(row[i]);
    sum += v * v;
  }
  const float inv = rsqrtf(blockSum<kNormThreads>(sum) / float(H) + eps);
  if (rstd != nullptr && threadIdx.x == 0) rstd[blockIdx.x] = inv;
  for (int64_t i = threadIdx.x; i < H; i += kNormThreads)
    out[i] = fromF<T>(toF<T>(w[i]) * round<T>(toF<T>(row[i]) * inv));
}

template <typename T>
__global__ void rmsNormBackwardKernel(const T* x, const T* w, const T* dy, const float* rstd, T* dx, int64_t H) {
  const int64_t base = int64_t(blockIdx.x) * H;
  const float inv = rstd[blockIdx.x];
  float dot = 0.f;
  for (int64_t i = threadIdx.x; i < H; i += kNormThreads)
    dot += toF<T>(dy[base + i]) * toF<T>(w[i]) * toF<T>(x[base + i]) * inv;
  const float meanDot = blockSum<kNormThreads>(dot) / float(H);
  for (int64_t i = threadIdx.x; i < H; i += kNormThreads) {
    const float g = toF<T>(dy[base + i]) * toF<T>(w[i]), xh = toF<T>(x[base + i]) * inv;
    dx[base + i] = fromF<T>(inv * (g - xh * meanDot));
  }
}

template <typename T>
__global__ void rotaryKernel(const T* x, int64_t s0, int64_t s1, int64_t s2, int64_t s3, const T* cos, const T* sin,
                             T* out, int64_t B, int64_t H, int64_t T_, int64_t D) {
  const int64_t n = B * H * T_ * D;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t d = i % D, t = (i / D) % T_, h = (i / (D * T_)) % H, b = i / (D * T_ * H);
  const int64_t half = D / 2;
  const T* base = x + b * s0 + h * s1 + t * s2;
  const float v = toF<T>(base[d * s3]);
  const float r = d < half ? -toF<T>(base[(d + half) * s3]) : toF<T>(base[(d - half) * s3]);
  const int64_t c = (b * T_ + t) * D + d;
  out[i] = fromF<T>(round<T>(__fmul_rn(v, toF<T>(cos[c]))) + round<T>(__fmul_rn(r, toF<T>(sin[c]))));
}

// One thread per pair (d, d + D/2) of a row: with z = dy*sin, dx[d] = dy[d]*cos[d] + z[d + D/2] and
// dx[d + D/2] = dy[d + D/2]*cos[d + D/2] - z[d], every product rounded to T, then the sum (autograd through
// x*cos + cat(-x2, x1)*sin rounds each mul's gradient, and accumulates the two paths into x's gradient in T).
template <typename T>
__global__ void rotaryBackwardKernel(const T* dy, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const T* cos,
                                     const T* sin, T* dx, int64_t x0, int64_t x1, int64_t x2, int64_t x3, int64_t B,
                                     int64_t H, int64_t T_, int64_t D) {
  const int64_t half = D / 2;
  const int64_t n = B * H * T_ * half;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t j = i % half, t = (i / half) % T_, h = (i / (half * T_)) % H, b = i / (half * T_ * H);
  const T* g = dy + b * d0 + h * d1 + t * d2;
  T* out = dx + b * x0 + h * x1 + t * x2;
  const int64_t c = (b * T_ + t) * D + j;
  const float lo = toF<T>(g[j * d3]), hi = toF<T>(g[(j + half) * d3]);
  out[j * x3] = fromF<T>(round<T>(__fmul_rn(lo, toF<T>(cos[c]))) + round<T>(__fmul_rn(hi, toF<T>(sin[c + half]))));
  out[(j + half) * x3] = fromF<T>(round<T>(__fmul_rn(hi, toF<T>(cos[c + half]))) - round<T>(__fmul_rn(lo, toF<T>(sin[c]))));
}

template <typename T>
__global__ void siluMulKernel(const T* gate, const T* up, T* out, int64_t rows, int64_t I, int64_t gateStride,
                              int64_t upStride) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * I) return;
  const int64_t r = i / I, c = i % I;
  const float g = toF<T>(gate[r * gateStride + c]);
  // silu as ATen computes it (x / (1 + exp(-x)) in fp32, full-precision expf), so the backward's recomputation and
  // the unfused ops see the same activation.
  out[i] = fromF<T>(round<T>(g / (1.f + expf(-g))) * toF<T>(up[r * upStride + c]));
}

template <typename T>
__global__ void siluMulBackwardKernel(const T* gate, const T* up, const T* dy, T* dGate, T* dUp, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = toF<T>(gate[i]), u = toF<T>(up[i]), d = toF<T>(dy[i]);
  const float den = 1.f + expf(-g);
  const float act = round<T>(g / den);  // the forward's activation
  const float s = 1.f / den;            // silu_backward's sigmoid
  dUp[i] = fromF<T>(__fmul_rn(d, act));
  const float dAct = round<T>(__fmul_rn(d, u));
  dGate[i] = fromF<T>(dAct * s * (1.f + g * (1.f - s)));  // ATen's silu_backward expression, same association
}

template <typename T>
const char* rmsNormT(const void* x, const void* w, void* y, float* rstd, int64_t rows, int64_t H, float eps, cudaStream_t s) {
  if (rows > 0)
    rmsNormKernel<T><<<rows, kNormThreads, 0, s>>>(static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), rstd, H, eps);
  return lastError();
}

template <typename T>
const char* rmsNormBackwardT(const void* x, const void* w, const void* dy, const float* rstd, void* dx, int64_t rows,
                             int64_t H, cudaStream_t s) {
  if (rows > 0)
    rmsNormBackwardKernel<T><<<rows, kNormThreads, 0, s>>>(static_cast<const T*>(x), static_cast<const T*>(w),
                                                           static_cast<const T*>(dy), rstd, static_cast<T*>(dx), H);
  return lastError();
}

template <typename T>
const char* rotaryT(const void* x, const int64_t xs[4], const void* cos, const void* sin, void* out, int64_t B,
                    int64_t H, int64_t T_, int64_t D, cudaStream_t s) {
  const int64_t n = B * H * T_ * D;
  if (n > 0)
    rotaryKernel<T><<<(n + 255) / 256, 256, 0, s>>>(static_cast<const T*>(x), xs[0], xs[1], xs[2], xs[3], static_cast<const T*>(cos),
                                                    static_cast<const T*>(sin), static_cast<T*>(out), B, H, T_, D);
  return lastError();
}

template <typename T>
const char* rotaryBackwardT(const void* dy, const int64_t dys[4], const void* cos, const void* sin, void* dx,
                            const int64_t dxs[4], int64_t B, int64_t H, int64_t T_, int64_t D, cudaStream_t s) {
  const int64_t n = B * H * T_ * (D / 2);
  if (n > 0)
    rotaryBackwardKernel<T><<<(n + 255) / 256, 256, 0, s>>>(static_cast<const T*>(dy), dys[0], dys[1], dys[2], dys[3],
                                                            static_cast<const T*>(cos), static_cast<const T*>(sin),
                                                            static_cast<T*>(dx), dxs[0], dxs[1], dxs[2], dxs[3], B, H, T_, D);
  return lastError();
}

template <typename T>
const char* siluMulBackwardT(const void* gate, const void* up, const void* dy, void* dGate, void* dUp, int64_t n,
                             cudaStream_t s) {
  if (n > 0)
    siluMulBackwardKernel<T><<<(n + 255) / 256, 256, 0, s>>>(static_cast<const T*>(gate), static_cast<const T*>(up),
                                                             static_cast<const T*>(dy), static_cast<T*>(dGate),
                                                             static_cast<T*>(dUp), n);
  return lastError();
}

template <typename T>
const char* siluMulT(const void* gate, const void* up, void* out, int64_t rows, int64_t I, int64_t gateStride,
                     int64_t upStride, cudaStream_t s) {
  const int64_t n = rows * I;
  if (n > 0)
    siluMulKernel<T><<<(n + 255) / 256, 256, 0, s>>>(static_cast<const T*>(gate), static_cast<const T*>(up),
                                                     static_cast<T*>(out), rows, I, gateStride, upStride);
  return lastError();
}

}  // namespace

const char* siluMul(DType dtype, const void* gate, const void* up, void* out, int64_t rows, int64_t I,
                    int64_t gateStride, int64_t upStride, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return siluMulT<decltype(t)>(gate, up, out, rows, I, gateStride, upStride, s); });
}

const char* siluMulBackward(DType dtype, const void* gate, const void* up, const void* dy, void* dGate, void* dUp,
                            int64_t n, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return siluMulBackwardT<decltype(t)>(gate, up, dy, dGate, dUp, n, s); });
}

const char* rmsNorm(DType dtype, const void* x, const void* w, void* y, float* rstd, int64_t rows, int64_t H, float eps,
                    void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return rmsNormT<decltype(t)>(x, w, y, rstd, rows, H, eps, s); });
}

const char* rmsNormBackward(DType dtype, const void* x, const void* w, const void* dy, const float* rstd, void* dx,
                            int64_t rows, int64_t H, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return rmsNormBackwardT<decltype(t)>(x, w, dy, rstd, dx, rows, H, s); });
}

const char* rotary(DType dtype, const void* x, const int64_t xs[4], const void* cos, const void* sin, void* out,
                   int64_t B, int64_t H, int64_t T, int64_t D, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return rotaryT<decltype(t)>(x, xs, cos, sin, out, B, H, T, D, s); });
}

const char* rotaryBackward(DType dtype, const void* dy, const int64_t dys[4], const void* cos, const void* sin, void* dx,
                           const int64_t dxs[4], int64_t B, int64_t H, int64_t T, int64_t D, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) {
    return rotaryBackwardT<decltype(t)>(dy, dys, cos, sin, dx, dxs, B, H, T, D, s);
  });
}

}  // namespace fused
}  // namespace atman
