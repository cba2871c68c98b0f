// Kernels of fused.h. One block per row for RMSNorm (fp32 sum of squares, warp-shuffle reduction); one thread per
// output element for the rotary embedding.
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
  out[i] = fromF<T>(round<T>(v * toF<T>(cos[c])) + round<T>(r * toF<T>(sin[c])));
}

template <typename T>
__global__ void siluMulKernel(const T* gate, const T* up, T* out, int64_t rows, int64_t I, int64_t gateStride,
                              int64_t upStride) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * I) return;
  const int64_t r = i / I, c = i % I;
  const float g = toF<T>(gate[r * gateStride + c]);
  out[i] = fromF<T>(round<T>(g / (1.f + __expf(-g))) * toF<T>(up[r * upStride + c]));
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
  switch (dtype) {
    case DType::BFloat16: return siluMulT<__nv_bfloat16>(gate, up, out, rows, I, gateStride, upStride, s);
    case DType::Half: return siluMulT<__half>(gate, up, out, rows, I, gateStride, upStride, s);
    default: return siluMulT<float>(gate, up, out, rows, I, gateStride, upStride, s);
  }
}

const char* rmsNorm(DType dtype, const void* x, const void* w, void* y, float* rstd, int64_t rows, int64_t H, float eps,
                    void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::BFloat16: return rmsNormT<__nv_bfloat16>(x, w, y, rstd, rows, H, eps, s);
    case DType::Half: return rmsNormT<__half>(x, w, y, rstd, rows, H, eps, s);
    default: return rmsNormT<float>(x, w, y, rstd, rows, H, eps, s);
  }
}

const char* rmsNormBackward(DType dtype, const void* x, const void* w, const void* dy, const float* rstd, void* dx,
                            int64_t rows, int64_t H, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::BFloat16: return rmsNormBackwardT<__nv_bfloat16>(x, w, dy, rstd, dx, rows, H, s);
    case DType::Half: return rmsNormBackwardT<__half>(x, w, dy, rstd, dx, rows, H, s);
    default: return rmsNormBackwardT<float>(x, w, dy, rstd, dx, rows, H, s);
  }
}

const char* rotary(DType dtype, const void* x, const int64_t xs[4], const void* cos, const void* sin, void* out,
                   int64_t B, int64_t H, int64_t T, int64_t D, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::BFloat16: return rotaryT<__nv_bfloat16>(x, xs, cos, sin, out, B, H, T, D, s);
    case DType::Half: return rotaryT<__half>(x, xs, cos, sin, out, B, H, T, D, s);
    default: return rotaryT<float>(x, xs, cos, sin, out, B, H, T, D, s);
  }
}

}  // namespace fused
}  // namespace atman
