// Kernels of decode.h. The attention kernel gives each block one (kv head, sequence, key range): its warps take
// 32 keys at a time, one key per lane for the scores (q·k over D, the group's G queries from shared memory), an
// online softmax per query, then D / 8 lanes per key for p·v; warps and then key ranges are merged by their
// log-sum-exp weights.
#include <cmath>

#include "native/llama/fused/decode.h"
#include "native/llama/fused/device_math.cuh"

namespace atman {
namespace fused {

namespace {

constexpr int kAttnWarps = 4;
constexpr int kMaxG = static_cast<int>(kDecodeMaxGroup);
constexpr int kMaxD = static_cast<int>(kDecodeMaxD);
constexpr unsigned kFull = 0xffffffffu;

// Eight consecutive elements (16-byte aligned for 2-byte types, 32 for float) as floats.
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float* f) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __bfloat1622float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void load8(const __half* p, float* f) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __half22float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void load8(const float* p, float* f) {
  const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
  f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
}

__device__ __forceinline__ float warpMax(float v) {
  for (int m = 16; m > 0; m /= 2) v = fmaxf(v, __shfl_xor_sync(kFull, v, m));
  return v;
}
__device__ __forceinline__ float warpSum(float v) {
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(kFull, v, m);
  return v;
}

template <typename T>
__global__ void rotaryCacheKernel(const T* qkv, const T* cos, const T* sin, T* q, T* kc, T* vc, const int64_t* length,
                                  int Hq, int Hkv, int D, int64_t C) {
  const int64_t b = blockIdx.y;
  const int width = (Hq + 2 * Hkv) * D;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= width) return;
  const int head = i / D, d = i % D, half = D / 2;
  const T* row = qkv + b * width + int64_t(head) * D;
  const int64_t pos = *length;
  if (head >= Hq + Hkv) {
    vc[((b * Hkv + head - Hq - Hkv) * C + pos) * D + d] = row[d];
    return;
  }
  const float v = toF<T>(row[d]);
  const float r = d < half ? -toF<T>(row[d + half]) : toF<T>(row[d - half]);
  const T y = fromF<T>(round<T>(v * toF<T>(cos[b * D + d])) + round<T>(r * toF<T>(sin[b * D + d])));
  if (head < Hq)
    q[(b * Hq + head) * D + d] = y;
  else
    kc[((b * Hkv + head - Hq) * C + pos) * D + d] = y;
}

template <typename T>
__global__ void __launch_bounds__(kAttnWarps * 32)
    decodeAttentionKernel(const T* q, const T* kc, const T* vc, const int64_t* length, const int64_t* keyStart, T* out,
                          float* partial, int Hq, int Hkv, int D, int64_t C, int64_t splitLen, float scale) {
  const int hk = blockIdx.x, split = blockIdx.z, splits = gridDim.z;
  const int64_t b = blockIdx.y;
  const int G = Hq / Hkv;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t last = *length;
  const int64_t first = keyStart != nullptr ? keyStart[b] : 0;
  const int64_t lo = max(first, split * splitLen), hi = min(last + 1, (split + 1) * splitLen);

  __shared__ float qs[kMaxG * kMaxD];
  __shared__ float wm[kAttnWarps][kMaxG], wl[kAttnWarps][kMaxG];
  __shared__ float wacc[kAttnWarps][kMaxG * kMaxD];
  const T* qb = q + (b * Hq + int64_t(hk) * G) * D;
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) qs[i] = toF<T>(qb[i]) * scale;
  __syncthreads();

  const T* kb = kc + (b * Hkv + hk) * C * D;
  const T* vb = vc + (b * Hkv + hk) * C * D;
  const int lanesPerKey = D / 8, keysPerPass = 32 / lanesPerKey;
  const int grp = lane / lanesPerKey, sub = lane % lanesPerKey;
  float m[kMaxG], l[kMaxG], acc[kMaxG][8];
#pragma unroll
  for (int g = 0; g < kMaxG; g++) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < 8; e++) acc[g][e] = 0.f;
  }

  for (int64_t t0 = lo + int64_t(warp) * 32; t0 < hi; t0 += kAttnWarps * 32) {
    const int64_t j = t0 + lane;
    const bool valid = j < hi;  // lane 0 always is: each tile's max is finite
    float s[kMaxG];
#pragma unroll
    for (int g = 0; g < kMaxG; g++) s[g] = 0.f;
    if (valid) {
      const T* kr = kb + j * D;
      for (int d = 0; d < D; d += 8) {
        float kf[8];
        load8(kr + d, kf);
#pragma unroll
        for (int g = 0; g < kMaxG; g++)
          if (g < G) {
#pragma unroll
            for (int e = 0; e < 8; e++) s[g] += qs[g * D + d + e] * kf[e];
          }
      }
    }
#pragma unroll
    for (int g = 0; g < kMaxG; g++)
      if (g < G) {
        const float sv = valid ? s[g] : -INFINITY;
        const float mNew = fmaxf(m[g], warpMax(sv));
        const float corr = __expf(m[g] - mNew);  // 0 on the first tile (m = -inf)
        const float p = valid ? __expf(sv - mNew) : 0.f;
        l[g] = l[g] * corr + warpSum(p);
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] *= corr;
        m[g] = mNew;
        s[g] = p;
      }
    for (int k0 = 0; k0 < 32; k0 += keysPerPass) {
      const int kl = k0 + grp;
      const int64_t jj = t0 + kl;
      float pv[kMaxG];
#pragma unroll
      for (int g = 0; g < kMaxG; g++) pv[g] = __shfl_sync(kFull, s[g], kl);
      if (jj < hi) {
        float vf[8];
        load8(vb + jj * D + sub * 8, vf);
#pragma unroll
        for (int g = 0; g < kMaxG; g++)
          if (g < G) {
#pragma unroll
            for (int e = 0; e < 8; e++) acc[g][e] += pv[g] * vf[e];
          }
      }
    }
  }
  // Lanes with the same `sub` hold partial sums of the same dims: add them up.
  for (int off = lanesPerKey; off < 32; off *= 2)
#pragma unroll
    for (int g = 0; g < kMaxG; g++)
#pragma unroll
      for (int e = 0; e < 8; e++) acc[g][e] += __shfl_xor_sync(kFull, acc[g][e], off);
  if (grp == 0)
#pragma unroll
    for (int g = 0; g < kMaxG; g++)
      if (g < G)
#pragma unroll
        for (int e = 0; e < 8; e++) wacc[warp][g * D + sub * 8 + e] = acc[g][e];
  if (lane == 0)
#pragma unroll
    for (int g = 0; g < kMaxG; g++) wm[warp][g] = m[g], wl[warp][g] = l[g];
  __syncthreads();

  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float M = -INFINITY;
    for (int w = 0; w < kAttnWarps; w++) M = fmaxf(M, wm[w][g]);
    float L = 0.f, A = 0.f;
    if (M != -INFINITY)
      for (int w = 0; w < kAttnWarps; w++) {
        const float f = __expf(wm[w][g] - M);
        L += wl[w][g] * f;
        A += wacc[w][i] * f;
      }
    const int64_t row = b * Hq + int64_t(hk) * G + g;
    if (splits == 1) {
      out[row * D + d] = fromF<T>(L > 0.f ? A / L : 0.f);
    } else {
      float* pr = partial + (row * splits + split) * (D + 2);
      pr[d] = A;
      if (d == 0) pr[D] = M, pr[D + 1] = L;
    }
  }
}

// One block per (sequence, head), one thread per dim: merges the key ranges of decodeAttentionKernel.
template <typename T>
__global__ void decodeCombineKernel(const float* partial, T* out, int D, int splits) {
  const float* pr = partial + int64_t(blockIdx.x) * splits * (D + 2);
  const int d = threadIdx.x;
  float M = -INFINITY;
  for (int s = 0; s < splits; s++) M = fmaxf(M, pr[s * (D + 2) + D]);
  float L = 0.f, A = 0.f;
  if (M != -INFINITY)
    for (int s = 0; s < splits; s++) {
      const float f = __expf(pr[s * (D + 2) + D] - M);
      L += pr[s * (D + 2) + D + 1] * f;
      A += pr[s * (D + 2) + d] * f;
    }
  out[int64_t(blockIdx.x) * D + d] = fromF<T>(L > 0.f ? A / L : 0.f);
}

constexpr int kNormThreads = 256;

template <typename T>
__global__ void addRmsNormKernel(const T* x, const T* y, const T* w, T* sum, T* out, int64_t H, float eps) {
  const int64_t base = int64_t(blockIdx.x) * H;
  float squares = 0.f;
  for (int64_t i = threadIdx.x; i < H; i += kNormThreads) {
    const float s = round<T>(toF<T>(x[base + i]) + toF<T>(y[base + i]));
    sum[base + i] = fromF<T>(s);
    squares += s * s;
  }
  const float inv = rsqrtf(blockSum<kNormThreads>(squares) / float(H) + eps);
  for (int64_t i = threadIdx.x; i < H; i += kNormThreads)  // each thread rereads only what it wrote
    out[base + i] = fromF<T>(toF<T>(w[i]) * round<T>(toF<T>(sum[base + i]) * inv));
}

template <typename T>
const char* rotaryCacheWriteT(const void* qkv, const void* cos, const void* sin, void* q, void* kc, void* vc,
                              const int64_t* length, int64_t B, int64_t Hq, int64_t Hkv, int64_t D, int64_t C,
                              cudaStream_t s) {
  const int64_t width = (Hq + 2 * Hkv) * D;
  if (B > 0 && width > 0)
    rotaryCacheKernel<T><<<dim3((width + 255) / 256, B), 256, 0, s>>>(
        static_cast<const T*>(qkv), static_cast<const T*>(cos), static_cast<const T*>(sin), static_cast<T*>(q),
        static_cast<T*>(kc), static_cast<T*>(vc), length, int(Hq), int(Hkv), int(D), C);
  return lastError();
}

template <typename T>
const char* decodeAttentionT(const void* q, const void* kc, const void* vc, const int64_t* length,
                             const int64_t* keyStart, void* out, float* partial, int64_t B, int64_t Hq, int64_t Hkv,
                             int64_t D, int64_t C, int64_t splits, int64_t splitLen, float scale, cudaStream_t s) {
  if (B == 0) return nullptr;
  decodeAttentionKernel<T><<<dim3(Hkv, B, splits), kAttnWarps * 32, 0, s>>>(
      static_cast<const T*>(q), static_cast<const T*>(kc), static_cast<const T*>(vc), length, keyStart,
      static_cast<T*>(out), partial, int(Hq), int(Hkv), int(D), C, splitLen, scale);
  if (splits > 1) decodeCombineKernel<T><<<B * Hq, D, 0, s>>>(partial, static_cast<T*>(out), int(D), int(splits));
  return lastError();
}

template <typename T>
const char* addRmsNormT(const void* x, const void* y, const void* w, void* sum, void* out, int64_t rows, int64_t H,
                        float eps, cudaStream_t s) {
  if (rows > 0)
    addRmsNormKernel<T><<<rows, kNormThreads, 0, s>>>(static_cast<const T*>(x), static_cast<const T*>(y),
                                                      static_cast<const T*>(w), static_cast<T*>(sum),
                                                      static_cast<T*>(out), H, eps);
  return lastError();
}

}  // namespace

const char* rotaryCacheWrite(DType dtype, const void* qkv, const void* cos, const void* sin, void* q, void* kCache,
                             void* vCache, const int64_t* length, int64_t B, int64_t Hq, int64_t Hkv, int64_t D,
                             int64_t C, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::BFloat16: return rotaryCacheWriteT<__nv_bfloat16>(qkv, cos, sin, q, kCache, vCache, length, B, Hq, Hkv, D, C, s);
    case DType::Half: return rotaryCacheWriteT<__half>(qkv, cos, sin, q, kCache, vCache, length, B, Hq, Hkv, D, C, s);
    default: return rotaryCacheWriteT<float>(qkv, cos, sin, q, kCache, vCache, length, B, Hq, Hkv, D, C, s);
  }
}

const char* decodeAttention(DType dtype, const void* q, const void* kCache, const void* vCache, const int64_t* length,
                            const int64_t* keyStart, void* out, float* partial, int64_t B, int64_t Hq, int64_t Hkv,
                            int64_t D, int64_t C, int64_t splits, int64_t splitLen, float scale, void* stream) {
  if (D % 8 != 0 || D > kDecodeMaxD || (32 % (D / 8)) != 0 || Hq % Hkv != 0 || Hq / Hkv > kDecodeMaxGroup)
    return "unsupported shape for the decode attention kernel";
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::BFloat16:
      return decodeAttentionT<__nv_bfloat16>(q, kCache, vCache, length, keyStart, out, partial, B, Hq, Hkv, D, C, splits, splitLen, scale, s);
    case DType::Half:
      return decodeAttentionT<__half>(q, kCache, vCache, length, keyStart, out, partial, B, Hq, Hkv, D, C, splits, splitLen, scale, s);
    default:
      return decodeAttentionT<float>(q, kCache, vCache, length, keyStart, out, partial, B, Hq, Hkv, D, C, splits, splitLen, scale, s);
  }
}

const char* addRmsNorm(DType dtype, const void* x, const void* y, const void* w, void* sum, void* out, int64_t rows,
                       int64_t H, float eps, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::BFloat16: return addRmsNormT<__nv_bfloat16>(x, y, w, sum, out, rows, H, eps, s);
    case DType::Half: return addRmsNormT<__half>(x, y, w, sum, out, rows, H, eps, s);
    default: return addRmsNormT<float>(x, y, w, sum, out, rows, H, eps, s);
  }
}

}  // namespace fused
}  // namespace atman
