// Device helpers shared by the fused Llama kernels (fused.cu, decode.cu): conversions between the storage dtype and
// fp32, rounding through the dtype, and a block-wide sum.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "native/llama/fused/fused.h"

namespace atman {
namespace fused {

template <typename T>
__device__ __forceinline__ float toF(T x) { return static_cast<float>(x); }
template <>
__device__ __forceinline__ float toF<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }
template <>
__device__ __forceinline__ float toF<__half>(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T fromF(float x) { return static_cast<T>(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 fromF<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <>
__device__ __forceinline__ __half fromF<__half>(float x) { return __float2half_rn(x); }

// Rounds through the dtype, as an op that outputs T would.
template <typename T>
__device__ __forceinline__ float round(float x) { return toF<T>(fromF<T>(x)); }

// Eight consecutive elements, loaded raw (16-byte aligned for 2-byte types, 32 for float) so that several loads can
// be in flight in few registers, then unpacked to floats.
template <typename T>
struct Vec8 {
  uint4 v;
};
template <>
struct Vec8<float> {
  float4 lo, hi;
};
template <typename T>
__device__ __forceinline__ Vec8<T> loadVec8(const T* p) {
  return Vec8<T>{*reinterpret_cast<const uint4*>(p)};
}
template <>
__device__ __forceinline__ Vec8<float> loadVec8<float>(const float* p) {
  return Vec8<float>{reinterpret_cast<const float4*>(p)[0], reinterpret_cast<const float4*>(p)[1]};
}
__device__ __forceinline__ void unpack8(const Vec8<__nv_bfloat16>& r, float* f) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&r.v);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __bfloat1622float2(h[i]);
    f[2 * i] = v.x, f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void unpack8(const Vec8<__half>& r, float* f) {
  const __half2* h = reinterpret_cast<const __half2*>(&r.v);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __half22float2(h[i]);
    f[2 * i] = v.x, f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void unpack8(const Vec8<float>& r, float* f) {
  f[0] = r.lo.x, f[1] = r.lo.y, f[2] = r.lo.z, f[3] = r.lo.w, f[4] = r.hi.x, f[5] = r.hi.y, f[6] = r.hi.z, f[7] = r.hi.w;
}
template <typename T>
__device__ __forceinline__ void load8(const T* p, float* f) {
  unpack8(loadVec8(p), f);
}
__device__ __forceinline__ void store8(__nv_bfloat16* p, const float* f) {
  uint4 raw;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
  *reinterpret_cast<uint4*>(p) = raw;
}
__device__ __forceinline__ void store8(__half* p, const float* f) {
  uint4 raw;
  __half2* h = reinterpret_cast<__half2*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __floats2half2_rn(f[2 * i], f[2 * i + 1]);
  *reinterpret_cast<uint4*>(p) = raw;
}
__device__ __forceinline__ void store8(float* p, const float* f) {
  reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
}

// The sum of `v` over a block of kThreads threads (a multiple of 32, at most 1024), returned to every thread.
template <int kThreads>
__device__ __forceinline__ float blockSum(float v) {
  __shared__ float warpSums[kThreads / 32];
  __shared__ float total;
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
  if (threadIdx.x % 32 == 0) warpSums[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < kThreads / 32 ? warpSums[threadIdx.x] : 0.f;
    for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
    if (threadIdx.x == 0) total = v;
  }
  __syncthreads();
  return total;
}

// Calls f with a value of the element type that dtype names (float, __half, __nv_bfloat16): the one dispatch of
// every public launcher, `return byDType(dtype, [&](auto t) { return launchT<decltype(t)>(...); });`.
template <typename F>
const char* byDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::BFloat16: return f(__nv_bfloat16{});
    case DType::Half: return f(__half{});
    default: return f(float{});
  }
}

inline const char* lastError() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace fused
}  // namespace atman
