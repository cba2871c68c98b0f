// Device helpers shared by the forward and backward kernels: tensor-core MMA (m16n8k16, fp32 accumulators),
// ldmatrix fragment loads, cp.async tile copies with zero fill, and the masking rules of the op.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cstdint>
#include <type_traits>

#include "native/attention/flash/flash.h"

namespace atman {
namespace flash {

constexpr float kLog2e = 1.4426950408889634f;

template <typename T>
__device__ __forceinline__ uint32_t pack2(float a, float b);
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&h);
}

template <typename T>
__device__ __forceinline__ float2 unpack2(uint32_t x);
template <>
__device__ __forceinline__ float2 unpack2<__nv_bfloat16>(uint32_t x) {
  return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&x));
}
template <>
__device__ __forceinline__ float2 unpack2<__half>(uint32_t x) {
  return __half22float2(*reinterpret_cast<__half2*>(&x));
}

// c += a·b for one 16x8 (m x n) tile over k = 16: a row-major 16x16, b "col" 16x8.
template <typename T>
__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, const uint32_t* b) {
  if constexpr (std::is_same<T, __nv_bfloat16>::value) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}

__device__ __forceinline__ uint32_t smemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix4(uint32_t* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddr(p)));
}

__device__ __forceinline__ void ldmatrix4T(uint32_t* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddr(p)));
}

// 16 bytes global -> shared; zero-filled (nothing read) when !valid.
__device__ __forceinline__ void cpAsync16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smemAddr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Copies rows [r0, r0 + R) of a [rows, D] matrix into shared memory (row stride SD elements); rows >= rows read as 0.
template <typename T, int R, int D, int SD, int NT>
__device__ __forceinline__ void loadTile(T* s, const T* g, int r0, int rows) {
  constexpr int CPR = D / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < R * CPR; c += NT) {
    const int r = c / CPR, col = (c % CPR) * 8;
    const bool valid = r0 + r < rows;
    const T* src = valid ? g + static_cast<int64_t>(r0 + r) * D + col : g;
    cpAsync16(s + r * SD + col, src, valid);
  }
}

__device__ __forceinline__ float quadMax(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float quadSum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Per-batch masking facts (positions: key j at j, query row i at i + offset, offset = Tk - Tq).
struct Masking {
  int offset;     // Tk - Tq
  int keyStart;   // keys < keyStart are masked
  int64_t biasFrom;  // the bias applies to query positions >= biasFrom
  bool causal;
  int Tq, Tk;

  __device__ __forceinline__ Masking(const Params& p, int b) {
    offset = p.Tk - p.Tq;
    keyStart = p.keyStart ? static_cast<int>(max(static_cast<int64_t>(0), min(p.keyStart[b], static_cast<int64_t>(p.Tk))))
                          : 0;
    biasFrom = p.biasQueryStart ? p.biasQueryStart[b] : p.biasQueryStartScalar;
    causal = p.causal;
    Tq = p.Tq;
    Tk = p.Tk;
  }
  __device__ __forceinline__ bool visible(int i, int j) const {
    return i < Tq && j < Tk && j >= keyStart && (!causal || j <= i + offset);
  }
  __device__ __forceinline__ bool biased(int i) const { return static_cast<int64_t>(i) + offset >= biasFrom; }
};

}  // namespace flash
}  // namespace atman

namespace atman {
namespace flash {

// 2^x; 2^-inf = +0. ex2.approx is accurate to ~2 ulp, far inside bf16/fp16 rounding.
__device__ __forceinline__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

}  // namespace flash
}  // namespace atman
