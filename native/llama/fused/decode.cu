// Kernels of decode.h. The attention kernel gives each block one (kv head, sequence, key range): its warps take
// 32 keys at a time, one key per lane for the scores (q·k over D, the group's G queries from shared memory), an
// online softmax per query, then D / 8 lanes per key for p·v; warps and then key ranges are merged by their
// log-sum-exp weights. D is a template parameter so the loops over D unroll and each lane issues its loads together
// (at batch 1 the kernel is latency-bound: a loop of dependent loads cost 22 us per layer).
#include <cmath>

#include "native/llama/fused/decode.h"
#include "native/llama/fused/device_math.cuh"

namespace atman {
namespace fused {

namespace {

constexpr int kAttnWarps = 8;
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ float warpMax(float v) {
  for (int m = 16; m > 0; m /= 2) v = fmaxf(v, __shfl_xor_sync(kFull, v, m));
  return v;
}
__device__ __forceinline__ float warpSum(float v) {
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(kFull, v, m);
  return v;
}

template <typename T>
__global__ void rotaryCacheKernel(const T* __restrict__ qkv, const float* __restrict__ invFreq, const int64_t* keyStart,
                                  T* __restrict__ q, T* __restrict__ kc, T* __restrict__ vc, const int64_t* length,
                                  int Hq, int Hkv, int D, int64_t C) {
  const int64_t b = blockIdx.y;
  const int width = (Hq + 2 * Hkv) * D;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= width) return;
  const int head = i / D, d = i % D, half = D / 2;
  const T* row = qkv + b * width + int64_t(head) * D;
  const int64_t slot = *length;
  if (head >= Hq + Hkv) {
    vc[((b * Hkv + head - Hq - Hkv) * C + slot) * D + d] = row[d];
    return;
  }
  // As LlamaModel::rotary: fp32 angle = position * inv_freq, cos/sin in fp32, rounded to the dtype.
  const int64_t pos = keyStart != nullptr ? max(int64_t(0), slot - keyStart[b]) : slot;
  const float angle = static_cast<float>(pos) * invFreq[d % half];
  const float c = round<T>(cosf(angle)), sn = round<T>(sinf(angle));
  const float v = toF<T>(row[d]);
  const float r = d < half ? -toF<T>(row[d + half]) : toF<T>(row[d - half]);
  const T y = fromF<T>(round<T>(v * c) + round<T>(r * sn));
  if (head < Hq)
    q[(b * Hq + head) * D + d] = y;
  else
    kc[((b * Hkv + head - Hq) * C + slot) * D + d] = y;
}

constexpr int kHeadNormWarps = 4;

// One warp per (sequence, head) of the first Hq + Hkv heads: the sum of squares over D in fp32 (each lane its
// elements, then a warp reduction), then each lane rewrites its own elements. Heads go in blocks of kHeadNormWarps.
template <typename T>
__global__ void headRmsNormKernel(T* __restrict__ qkv, const T* __restrict__ qNorm, const T* __restrict__ kNorm,
                                  int Hq, int Hkv, int D, float eps) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int head = blockIdx.x * kHeadNormWarps + warp;
  if (head >= Hq + Hkv) return;
  const int64_t b = blockIdx.y;
  T* x = qkv + (b * (Hq + 2 * Hkv) + head) * int64_t(D);
  const T* w = head < Hq ? qNorm : kNorm;
  float squares = 0.f;
  for (int d = lane; d < D; d += 32) {
    const float v = toF<T>(x[d]);
    squares += v * v;
  }
  const float inv = rsqrtf(warpSum(squares) / float(D) + eps);
  for (int d = lane; d < D; d += 32) x[d] = fromF<T>(toF<T>(w[d]) * round<T>(toF<T>(x[d]) * inv));
}

template <typename T, int D, int MaxG>
__global__ void __launch_bounds__(kAttnWarps * 32, MaxG <= 4 ? 2 : 1)
    decodeAttentionKernel(const T* __restrict__ q, const T* __restrict__ kc, const T* __restrict__ vc,
                          const int64_t* length, const int64_t* keyStart, T* __restrict__ out, float* __restrict__ partial,
                          int Hq, int Hkv, int64_t C, int64_t splitLen, float scale) {
  constexpr int lanesPerKey = D / 8, keysPerPass = 32 / lanesPerKey, kPasses = 32 / keysPerPass, kLoads = 8;
  const int hk = blockIdx.x, split = blockIdx.z, splits = gridDim.z;
  const int64_t b = blockIdx.y;
  const int G = Hq / Hkv;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t last = *length;
  const int64_t first = keyStart != nullptr ? keyStart[b] : 0;
  const int64_t lo = max(first, split * splitLen), hi = min(last + 1, (split + 1) * splitLen);

  // Shared: the group's queries [G][D] (scaled, fp32), then per warp its running max, sum and output [G][D].
  extern __shared__ float smem[];
  float* qs = smem;
  float* wm = qs + G * D;
  float* wl = wm + kAttnWarps * G;
  float* wacc = wl + kAttnWarps * G;
  const T* qb = q + (b * Hq + int64_t(hk) * G) * D;
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) qs[i] = toF<T>(qb[i]) * scale;
  __syncthreads();

  const T* kb = kc + (b * Hkv + hk) * C * D;
  const T* vb = vc + (b * Hkv + hk) * C * D;
  const int grp = lane / lanesPerKey, sub = lane % lanesPerKey;
  float m[MaxG], l[MaxG], acc[MaxG][8];
#pragma unroll
  for (int g = 0; g < MaxG; g++) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < 8; e++) acc[g][e] = 0.f;
  }

  for (int64_t t0 = lo + int64_t(warp) * 32; t0 < hi; t0 += kAttnWarps * 32) {
    const int64_t j = t0 + lane;
    const bool valid = j < hi;  // lane 0 always is: each tile's max is finite
    float s[MaxG];
#pragma unroll
    for (int g = 0; g < MaxG; g++) s[g] = 0.f;
    if (valid) {
      const T* kr = kb + j * D;
      // kLoads 16-byte loads in flight per lane (raw, 4 registers each for 2-byte types), then their products; the
      // loop over chunks is not unrolled (registers).
#pragma unroll 1
      for (int d0 = 0; d0 < D; d0 += 8 * kLoads) {
        Vec8<T> kr8[kLoads];
#pragma unroll
        for (int i = 0; i < kLoads; i++)
          if (d0 + 8 * i < D) kr8[i] = loadVec8(kr + d0 + 8 * i);
#pragma unroll
        for (int i = 0; i < kLoads; i++)
          if (d0 + 8 * i < D) {
            float kf[8];
            unpack8(kr8[i], kf);
#pragma unroll
            for (int g = 0; g < MaxG; g++)
              if (g < G) {
#pragma unroll
                for (int e = 0; e < 8; e++) s[g] += qs[g * D + d0 + 8 * i + e] * kf[e];
              }
          }
      }
    }
#pragma unroll
    for (int g = 0; g < MaxG; g++)
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
    // p·v: lane group `grp` takes key k0 + grp of the tile (kLoads passes' loads in flight); its lanes hold 8 dims.
#pragma unroll 1
    for (int n0 = 0; n0 < kPasses; n0 += kLoads) {
      Vec8<T> vr8[kLoads];
#pragma unroll
      for (int n = 0; n < kLoads; n++) {
        const int64_t jj = t0 + (n0 + n) * keysPerPass + grp;
        if (n0 + n < kPasses && jj < hi) vr8[n] = loadVec8(vb + jj * D + sub * 8);
      }
#pragma unroll
      for (int n = 0; n < kLoads; n++)
        if (n0 + n < kPasses) {
          const int kl = (n0 + n) * keysPerPass + grp;
          const bool in = t0 + kl < hi;
          float vf[8];
          unpack8(vr8[n], vf);
#pragma unroll
          for (int g = 0; g < MaxG; g++) {
            const float pv = __shfl_sync(kFull, s[g], kl);
            if (g < G && in)
#pragma unroll
              for (int e = 0; e < 8; e++) acc[g][e] += pv * vf[e];
          }
        }
    }
  }
  // Lanes with the same `sub` hold partial sums of the same dims: add them up.
#pragma unroll
  for (int off = lanesPerKey; off < 32; off *= 2)
#pragma unroll
    for (int g = 0; g < MaxG; g++)
#pragma unroll
      for (int e = 0; e < 8; e++) acc[g][e] += __shfl_xor_sync(kFull, acc[g][e], off);
  if (grp == 0)
#pragma unroll
    for (int g = 0; g < MaxG; g++)
      if (g < G)
#pragma unroll
        for (int e = 0; e < 8; e++) wacc[(warp * G + g) * D + sub * 8 + e] = acc[g][e];
  if (lane == 0)
#pragma unroll
    for (int g = 0; g < MaxG; g++)
      if (g < G) wm[warp * G + g] = m[g], wl[warp * G + g] = l[g];
  __syncthreads();

  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float M = -INFINITY;
    for (int w = 0; w < kAttnWarps; w++) M = fmaxf(M, wm[w * G + g]);
    float L = 0.f, A = 0.f;
    if (M != -INFINITY)
      for (int w = 0; w < kAttnWarps; w++) {
        const float f = __expf(wm[w * G + g] - M);
        L += wl[w * G + g] * f;
        A += wacc[(w * G + g) * D + d] * f;
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
__global__ void decodeCombineKernel(const float* __restrict__ partial, T* __restrict__ out, int D, int splits) {
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

// Vectorized (8 elements per access) when `vec`: H % 8 == 0 and every pointer 16-byte aligned.
template <typename T, bool vec>
__global__ void addRmsNormKernel(const T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ w,
                                 T* __restrict__ sum, T* __restrict__ out, int64_t H, float eps) {
  const int64_t base = int64_t(blockIdx.x) * H;
  constexpr int step = vec ? 8 : 1;
  float squares = 0.f;
#pragma unroll 4
  for (int64_t i = threadIdx.x * step; i < H; i += kNormThreads * step) {
    float a[step], c[step];
    if constexpr (vec) {
      load8(x + base + i, a);
      load8(y + base + i, c);
    } else {
      a[0] = toF<T>(x[base + i]), c[0] = toF<T>(y[base + i]);
    }
#pragma unroll
    for (int e = 0; e < step; e++) {
      a[e] = round<T>(a[e] + c[e]);
      squares += a[e] * a[e];
    }
    if constexpr (vec) store8(sum + base + i, a);
    else sum[base + i] = fromF<T>(a[0]);
  }
  const float inv = rsqrtf(blockSum<kNormThreads>(squares) / float(H) + eps);
#pragma unroll 4
  for (int64_t i = threadIdx.x * step; i < H; i += kNormThreads * step) {  // each thread rereads only what it wrote
    float a[step], c[step];
    if constexpr (vec) {
      load8(sum + base + i, a);
      load8(w + i, c);
    } else {
      a[0] = toF<T>(sum[base + i]), c[0] = toF<T>(w[i]);
    }
#pragma unroll
    for (int e = 0; e < step; e++) a[e] = c[e] * round<T>(a[e] * inv);
    if constexpr (vec) store8(out + base + i, a);
    else out[base + i] = fromF<T>(a[0]);
  }
}

constexpr int kGemvWarps = 4, kGemvLoads = 8;

// y[n] = sum_k W[n, k] x[k] for one input row: one row of W per warp (small blocks: N = 3072 still gives ~6 blocks
// per multiprocessor, no tail wave), read in rounds of kGemvLoads 16-byte loads per lane issued together; fp32 sums,
// a warp reduction, one rounding.
template <typename T>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemvKernel(const T* __restrict__ x, const T* __restrict__ W, T* __restrict__ y, int64_t N, int64_t K) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * kGemvWarps + warp;
  if (row >= N) return;
  const T* w = W + row * K;
  float acc = 0.f;
  for (int64_t k0 = lane * 8; k0 < K; k0 += 256 * kGemvLoads) {
    Vec8<T> wr[kGemvLoads], xr[kGemvLoads];
#pragma unroll
    for (int u = 0; u < kGemvLoads; u++)
      if (k0 + 256 * u < K) {
        wr[u] = loadVec8(w + k0 + 256 * u);
        xr[u] = loadVec8(x + k0 + 256 * u);
      }
#pragma unroll
    for (int u = 0; u < kGemvLoads; u++)
      if (k0 + 256 * u < K) {
        float wf[8], xf[8];
        unpack8(wr[u], wf);
        unpack8(xr[u], xf);
#pragma unroll
        for (int e = 0; e < 8; e++) acc += wf[e] * xf[e];
      }
  }
  acc = warpSum(acc);
  if (lane == 0) y[row] = fromF<T>(acc);
}

template <typename T>
const char* rotaryCacheWriteT(const void* qkv, const float* invFreq, const int64_t* keyStart, void* q, void* kc,
                              void* vc, const int64_t* length, int64_t B, int64_t Hq, int64_t Hkv, int64_t D, int64_t C,
                              cudaStream_t s) {
  const int64_t width = (Hq + 2 * Hkv) * D;
  if (B > 0 && width > 0)
    rotaryCacheKernel<T><<<dim3((width + 255) / 256, B), 256, 0, s>>>(
        static_cast<const T*>(qkv), invFreq, keyStart, static_cast<T*>(q), static_cast<T*>(kc), static_cast<T*>(vc),
        length, int(Hq), int(Hkv), int(D), C);
  return lastError();
}

template <typename T>
const char* headRmsNormT(void* qkv, const void* qNorm, const void* kNorm, int64_t B, int64_t Hq, int64_t Hkv, int64_t D,
                         float eps, cudaStream_t s) {
  if (B > 0 && Hq + Hkv > 0)
    headRmsNormKernel<T><<<dim3((Hq + Hkv + kHeadNormWarps - 1) / kHeadNormWarps, B), kHeadNormWarps * 32, 0, s>>>(
        static_cast<T*>(qkv), static_cast<const T*>(qNorm), static_cast<const T*>(kNorm), int(Hq), int(Hkv), int(D), eps);
  return lastError();
}

template <typename T, int D, int MaxG>
const char* decodeAttentionLaunch(const void* q, const void* kc, const void* vc, const int64_t* length,
                                  const int64_t* keyStart, void* out, float* partial, int64_t B, int64_t Hq,
                                  int64_t Hkv, int64_t C, int64_t splits, int64_t splitLen, float scale,
                                  cudaStream_t s) {
  const int64_t G = Hq / Hkv;
  const size_t smem = sizeof(float) * (G * D + 2 * kAttnWarps * G + kAttnWarps * G * D);
  // Within the default dynamic shared memory limit for every supported shape: no opt-in attribute needed.
  static_assert(sizeof(float) * (MaxG * D + 2 * kAttnWarps * MaxG + kAttnWarps * MaxG * D) <= 48 * 1024,
                "decode attention: shared memory over 48 KiB");
  decodeAttentionKernel<T, D, MaxG><<<dim3(Hkv, B, splits), kAttnWarps * 32, smem, s>>>(
      static_cast<const T*>(q), static_cast<const T*>(kc), static_cast<const T*>(vc), length, keyStart,
      static_cast<T*>(out), partial, int(Hq), int(Hkv), C, splitLen, scale);
  if (splits > 1) decodeCombineKernel<T><<<B * Hq, D, 0, s>>>(partial, static_cast<T*>(out), D, int(splits));
  return lastError();
}

template <typename T, int D>
const char* decodeAttentionG(const void* q, const void* kc, const void* vc, const int64_t* length,
                             const int64_t* keyStart, void* out, float* partial, int64_t B, int64_t Hq, int64_t Hkv,
                             int64_t C, int64_t splits, int64_t splitLen, float scale, cudaStream_t s) {
  if (Hq / Hkv <= 4)
    return decodeAttentionLaunch<T, D, 4>(q, kc, vc, length, keyStart, out, partial, B, Hq, Hkv, C, splits, splitLen, scale, s);
  return decodeAttentionLaunch<T, D, 8>(q, kc, vc, length, keyStart, out, partial, B, Hq, Hkv, C, splits, splitLen, scale, s);
}

template <typename T>
const char* decodeAttentionT(const void* q, const void* kc, const void* vc, const int64_t* length,
                             const int64_t* keyStart, void* out, float* partial, int64_t B, int64_t Hq, int64_t Hkv,
                             int64_t D, int64_t C, int64_t splits, int64_t splitLen, float scale, cudaStream_t s) {
  if (B == 0) return nullptr;
  switch (D) {
    case 16: return decodeAttentionG<T, 16>(q, kc, vc, length, keyStart, out, partial, B, Hq, Hkv, C, splits, splitLen, scale, s);
    case 64: return decodeAttentionG<T, 64>(q, kc, vc, length, keyStart, out, partial, B, Hq, Hkv, C, splits, splitLen, scale, s);
    default: return decodeAttentionG<T, 128>(q, kc, vc, length, keyStart, out, partial, B, Hq, Hkv, C, splits, splitLen, scale, s);
  }
}

template <typename T>
const char* addRmsNormT(const void* x, const void* y, const void* w, void* sum, void* out, int64_t rows, int64_t H,
                        float eps, cudaStream_t s) {
  if (rows == 0) return nullptr;
  const bool aligned = ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y) | reinterpret_cast<uintptr_t>(w) |
                         reinterpret_cast<uintptr_t>(sum) | reinterpret_cast<uintptr_t>(out)) % 32) == 0;
  auto args = [&](auto kernel) {
    kernel<<<rows, kNormThreads, 0, s>>>(static_cast<const T*>(x), static_cast<const T*>(y), static_cast<const T*>(w),
                                         static_cast<T*>(sum), static_cast<T*>(out), H, eps);
  };
  if (aligned && H % 8 == 0) args(addRmsNormKernel<T, true>);
  else args(addRmsNormKernel<T, false>);
  return lastError();
}

template <typename T>
const char* gemvT(const void* x, const void* W, void* y, int64_t N, int64_t K, cudaStream_t s) {
  if (N > 0) {
    gemvKernel<T><<<(N + kGemvWarps - 1) / kGemvWarps, kGemvWarps * 32, 0, s>>>(
        static_cast<const T*>(x), static_cast<const T*>(W), static_cast<T*>(y), N, K);
  }
  return lastError();
}

}  // namespace

const char* rotaryCacheWrite(DType dtype, const void* qkv, const float* invFreq, const int64_t* keyStart, void* q,
                             void* kCache, void* vCache, const int64_t* length, int64_t B, int64_t Hq, int64_t Hkv,
                             int64_t D, int64_t C, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) {
    return rotaryCacheWriteT<decltype(t)>(qkv, invFreq, keyStart, q, kCache, vCache, length, B, Hq, Hkv, D, C, s);
  });
}

const char* headRmsNorm(DType dtype, void* qkv, const void* qNorm, const void* kNorm, int64_t B, int64_t Hq,
                        int64_t Hkv, int64_t D, float eps, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return headRmsNormT<decltype(t)>(qkv, qNorm, kNorm, B, Hq, Hkv, D, eps, s); });
}

const char* decodeAttention(DType dtype, const void* q, const void* kCache, const void* vCache, const int64_t* length,
                            const int64_t* keyStart, void* out, float* partial, int64_t B, int64_t Hq, int64_t Hkv,
                            int64_t D, int64_t C, int64_t splits, int64_t splitLen, float scale, void* stream) {
  if (!decodeAttentionSupports(D, Hq, Hkv)) return "unsupported shape for the decode attention kernel";
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) {
    return decodeAttentionT<decltype(t)>(q, kCache, vCache, length, keyStart, out, partial, B, Hq, Hkv, D, C, splits,
                                         splitLen, scale, s);
  });
}

const char* addRmsNorm(DType dtype, const void* x, const void* y, const void* w, void* sum, void* out, int64_t rows,
                       int64_t H, float eps, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return addRmsNormT<decltype(t)>(x, y, w, sum, out, rows, H, eps, s); });
}

const char* gemv(DType dtype, const void* x, const void* W, void* y, int64_t N, int64_t K, void* stream) {
  if (K % 8 != 0 || ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(W)) % 32) != 0)
    return "gemv needs K % 8 == 0 and 32-byte aligned x and W";
  auto s = static_cast<cudaStream_t>(stream);
  return byDType(dtype, [&](auto t) { return gemvT<decltype(t)>(x, W, y, N, K, s); });
}

bool decodeAttentionSupports(int64_t D, int64_t Hq, int64_t Hkv) {
  return (D == 16 || D == 64 || D == 128) && Hkv > 0 && Hq % Hkv == 0 &&
         Hq / Hkv <= kDecodeMaxGroup;
}

}  // namespace fused
}  // namespace atman
