// Device helpers shared by the fused Llama kernels (fused.cu, decode.cu): conversions between the storage dtype and
// fp32, rounding through the dtype, and a block-wide sum.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

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

inline const char* lastError() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace fused
}  // namespace atman
