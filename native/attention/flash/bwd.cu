// Backward: Δ = rowsum(dO∘O); then one CTA per (64-key tile, batch, kv head), 4 warps of 16 keys each, looping over
// the query heads of the kv group and over query tiles: recompute Pᵀ from the LSE, dV += Pᵀ dO, dPᵀ = V dOᵀ,
// dSᵀ = Pᵀ∘(dPᵀ − Δ), dK += dSᵀ Q, dQ += dS K (fp32 atomics), and the keyBias gradient Σ dS over biased rows kept in
// registers per key and added once per CTA. Nothing of size Tq×Tk leaves shared memory.
#include "native/attention/flash/common.cuh"

namespace atman {
namespace flash {

namespace {

constexpr int kBwdBN = 64, kBwdThreads = 128;

template <typename T, int D>
__global__ void deltaKernel(const Params p) {
  const int64_t rows = int64_t(p.B) * p.Hq * p.Tq;
  const int64_t row = int64_t(blockIdx.x) * 8 + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const uint32_t* o = reinterpret_cast<const uint32_t*>(static_cast<const T*>(p.o) + row * D);
  const uint32_t* d = reinterpret_cast<const uint32_t*>(static_cast<const T*>(p.dO) + row * D);
  float sum = 0.f;
#pragma unroll
  for (int c = lane; c < D / 2; c += 32) {
    const float2 a = unpack2<T>(o[c]), b = unpack2<T>(d[c]);
    sum += a.x * b.x + a.y * b.y;
  }
#pragma unroll
  for (int m = 16; m > 0; m /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, m);
  if (lane == 0) p.delta[row] = sum;
}

template <typename T>
__global__ void castKernel(const float* src, T* dst, int64_t n2) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n2; i += int64_t(gridDim.x) * blockDim.x) {
    const float2 x = reinterpret_cast<const float2*>(src)[i];
    reinterpret_cast<uint32_t*>(dst)[i] = pack2<T>(x.x, x.y);
  }
}

template <int D, int BM>
constexpr size_t bwdSmemBytes(size_t elem) {
  return (size_t(2 * kBwdBN + 2 * BM) * (D + 8) + size_t(kBwdBN) * (BM + 8)) * elem +
         (2 * BM + kBwdBN) * sizeof(float);
}

template <typename T, int D, int BM>
__global__ void __launch_bounds__(kBwdThreads) bwdKernel(const Params p) {
  constexpr int BN = kBwdBN, NT = kBwdThreads, SD = D + 8, SDS = BM + 8, KT = D / 16;
  constexpr int MT = BM / 16, WPM = 4 / MT, DQ = D / WPM, DQT = DQ / 8;  // dQ tile split over the 4 warps
  extern __shared__ __align__(16) unsigned char smem[];
  T* Ks = reinterpret_cast<T*>(smem);
  T* Vs = Ks + BN * SD;
  T* Qs = Vs + BN * SD;
  T* dOs = Qs + BM * SD;
  T* dSs = dOs + BM * SD;  // dSᵀ: [key][query]
  float* lseS = reinterpret_cast<float*>(dSs + BN * SDS);
  float* deltaS = lseS + BM;
  float* biasS = deltaS + BM;

  const int hk = blockIdx.y, b = blockIdx.z, G = p.Hq / p.Hkv;
  const int n0 = blockIdx.x * BN;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const Masking mk(p, b);
  const T* kg = static_cast<const T*>(p.k) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const T* vg = static_cast<const T*>(p.v) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const bool hasBias = p.keyBias != nullptr;
  const float sl2 = p.scale * kLog2e;

  loadTile<T, BN, D, SD, NT>(Ks, kg, n0, p.Tk);
  loadTile<T, BN, D, SD, NT>(Vs, vg, n0, p.Tk);
  cpAsyncCommit();
  if (threadIdx.x < BN) {
    const int j = n0 + threadIdx.x;
    biasS[threadIdx.x] = (hasBias && j < p.Tk) ? p.keyBias[int64_t(b) * p.Tk + j] * kLog2e : 0.f;
  }

  const int keyA = n0 + warp * 16 + g, keyB = keyA + 8;
  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;
  float dbias[2] = {0.f, 0.f};

  const bool active = n0 + BN > mk.keyStart;
  const int mBegin = mk.causal ? (max(0, n0 - mk.offset) / BM) * BM : 0;
  const int qmt = warp % MT, qd0 = (warp / MT) * DQ;

  for (int hq = hk * G; active && hq < hk * G + G; ++hq) {
    const int64_t headRow = (int64_t(b) * p.Hq + hq) * p.Tq;
    const T* qg = static_cast<const T*>(p.q) + headRow * D;
    const T* dog = static_cast<const T*>(p.dO) + headRow * D;
    float* dqg = p.dqAccum + headRow * D;
    for (int m0 = mBegin; m0 < p.Tq; m0 += BM) {
      __syncthreads();  // the previous tile's Q, dO, dS are consumed
      loadTile<T, BM, D, SD, NT>(Qs, qg, m0, p.Tq);
      loadTile<T, BM, D, SD, NT>(dOs, dog, m0, p.Tq);
      cpAsyncCommit();
      if (threadIdx.x < BM) {
        const int i = m0 + threadIdx.x;
        lseS[threadIdx.x] = i < p.Tq ? p.lse[headRow + i] : INFINITY;
        deltaS[threadIdx.x] = i < p.Tq ? p.delta[headRow + i] : 0.f;
      }
      cpAsyncWait<0>();
      __syncthreads();

      // Sᵀ = K Qᵀ: this warp's 16 keys × BM queries.
      float s[BM / 8][4];
#pragma unroll
      for (int i = 0; i < BM / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < KT; ++kk) {
        uint32_t ka[4];
        ldmatrix4(ka, Ks + (warp * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + kk * 16 + (lane / 16) * 8);
#pragma unroll
        for (int np = 0; np < BM / 16; ++np) {
          uint32_t qb[4];
          ldmatrix4(qb, Qs + (np * 16 + (lane % 8) + (lane / 16) * 8) * SD + kk * 16 + ((lane / 8) % 2) * 8);
          mma16816<T>(s[2 * np], ka, qb);
          mma16816<T>(s[2 * np + 1], ka, qb + 2);
        }
      }
      // Pᵀ from the saved LSE (log2 domain); masked entries are exactly 0 (checked only on tiles that need it).
      const bool needMask = n0 < mk.keyStart || n0 + BN > p.Tk || m0 + BM > p.Tq ||
                            (mk.causal && n0 + BN - 1 > m0 + mk.offset);
#pragma unroll
      for (int nt = 0; nt < BM / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int il = nt * 8 + 2 * t + (e & 1), i = m0 + il;
          const int key = e < 2 ? keyA : keyB;
          float x = s[nt][e] * sl2;
          if (hasBias && mk.biased(i)) x += biasS[key - n0];
          s[nt][e] = (!needMask || mk.visible(i, key)) ? fastExp2(x - lseS[il]) : 0.f;
        }
      }
      // dV += Pᵀ dO
#pragma unroll
      for (int kk = 0; kk < BM / 16; ++kk) {
        uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                          pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t bb[4];
          ldmatrix4T(bb, dOs + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + dp * 16 + (lane / 16) * 8);
          mma16816<T>(dv[2 * dp], pa, bb);
          mma16816<T>(dv[2 * dp + 1], pa, bb + 2);
        }
      }
      // dPᵀ = V dOᵀ
      float ds[BM / 8][4];
#pragma unroll
      for (int i = 0; i < BM / 8; ++i) ds[i][0] = ds[i][1] = ds[i][2] = ds[i][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < KT; ++kk) {
        uint32_t va[4];
        ldmatrix4(va, Vs + (warp * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + kk * 16 + (lane / 16) * 8);
#pragma unroll
        for (int np = 0; np < BM / 16; ++np) {
          uint32_t ob[4];
          ldmatrix4(ob, dOs + (np * 16 + (lane % 8) + (lane / 16) * 8) * SD + kk * 16 + ((lane / 8) % 2) * 8);
          mma16816<T>(ds[2 * np], va, ob);
          mma16816<T>(ds[2 * np + 1], va, ob + 2);
        }
      }
      // dSᵀ = Pᵀ∘(dPᵀ − Δ); the bias gradient sums it over the rows the bias applies to.
#pragma unroll
      for (int nt = 0; nt < BM / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int il = nt * 8 + 2 * t + (e & 1);
          const float v = s[nt][e] * (ds[nt][e] - deltaS[il]);
          ds[nt][e] = v;
          if (hasBias && mk.biased(m0 + il)) dbias[e / 2] += v;
        }
      }
      // dK += dSᵀ Q (scaled at the end)
#pragma unroll
      for (int kk = 0; kk < BM / 16; ++kk) {
        uint32_t da[4] = {pack2<T>(ds[2 * kk][0], ds[2 * kk][1]), pack2<T>(ds[2 * kk][2], ds[2 * kk][3]),
                          pack2<T>(ds[2 * kk + 1][0], ds[2 * kk + 1][1]),
                          pack2<T>(ds[2 * kk + 1][2], ds[2 * kk + 1][3])};
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t bb[4];
          ldmatrix4T(bb, Qs + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + dp * 16 + (lane / 16) * 8);
          mma16816<T>(dk[2 * dp], da, bb);
          mma16816<T>(dk[2 * dp + 1], da, bb + 2);
        }
      }
      // dSᵀ to shared memory for dQ.
#pragma unroll
      for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
        for (int r = 0; r < 2; ++r)
          *reinterpret_cast<uint32_t*>(dSs + (warp * 16 + g + 8 * r) * SDS + nt * 8 + 2 * t) =
              pack2<T>(ds[nt][2 * r], ds[nt][2 * r + 1]);
      __syncthreads();
      // dQ[qmt rows, qd0 .. qd0 + DQ) += dS K over this CTA's 64 keys.
      float dq[DQT][4];
#pragma unroll
      for (int i = 0; i < DQT; ++i) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        uint32_t a[4];
        ldmatrix4T(a, dSs + (kk * 16 + (lane % 8) + (lane / 16) * 8) * SDS + qmt * 16 + ((lane / 8) % 2) * 8);
#pragma unroll
        for (int dp = 0; dp < DQ / 16; ++dp) {
          uint32_t bb[4];
          ldmatrix4T(bb, Ks + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + qd0 + dp * 16 + (lane / 16) * 8);
          mma16816<T>(dq[2 * dp], a, bb);
          mma16816<T>(dq[2 * dp + 1], a, bb + 2);
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int i = m0 + qmt * 16 + g + 8 * r;
        if (i < p.Tq) {
#pragma unroll
          for (int dt = 0; dt < DQT; ++dt) {
            float* dst = dqg + int64_t(i) * D + qd0 + dt * 8 + 2 * t;
            atomicAdd(dst, dq[dt][2 * r] * p.scale);
            atomicAdd(dst + 1, dq[dt][2 * r + 1] * p.scale);
          }
        }
      }
    }
  }
  cpAsyncWait<0>();

  T* dkg = static_cast<T*>(p.dk) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  T* dvg = static_cast<T*>(p.dv) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int key = r ? keyB : keyA;
    if (key < p.Tk) {
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        const int64_t off = int64_t(key) * D + dt * 8 + 2 * t;
        *reinterpret_cast<uint32_t*>(dkg + off) = pack2<T>(dk[dt][2 * r] * p.scale, dk[dt][2 * r + 1] * p.scale);
        *reinterpret_cast<uint32_t*>(dvg + off) = pack2<T>(dv[dt][2 * r], dv[dt][2 * r + 1]);
      }
    }
  }
  if (p.dBias != nullptr) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float v = quadSum(dbias[r]);
      const int key = r ? keyB : keyA;
      if (t == 0 && key < p.Tk && active) atomicAdd(p.dBias + int64_t(b) * p.Tk + key, v);
    }
  }
}

const char* lastError() {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

template <typename T, int D, int BM>
const char* launchBwd(const Params& p, cudaStream_t stream) {
  const int64_t rows = int64_t(p.B) * p.Hq * p.Tq;
  if (rows > 0) deltaKernel<T, D><<<unsigned((rows + 7) / 8), 256, 0, stream>>>(p);
  if (const char* e = lastError()) return e;
  if (p.Tk > 0) {
    constexpr size_t smem = bwdSmemBytes<D, BM>(sizeof(T));
    auto kernel = bwdKernel<T, D, BM>;
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    dim3 grid((p.Tk + kBwdBN - 1) / kBwdBN, p.Hkv, p.B);
    kernel<<<grid, kBwdThreads, smem, stream>>>(p);
    if (const char* e = lastError()) return e;
  }
  const int64_t n2 = rows * D / 2;
  if (n2 > 0) {
    const int64_t blocks = std::min<int64_t>((n2 + 255) / 256, 65536);
    castKernel<T><<<unsigned(blocks), 256, 0, stream>>>(p.dqAccum, static_cast<T*>(p.dq), n2);
  }
  return lastError();
}

}  // namespace

const char* backward(const Params& p, void* stream) {
  if (p.B == 0 || p.Hq == 0) return nullptr;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (p.dtype == DType::BFloat16) {
    if (p.D == 64) return launchBwd<__nv_bfloat16, 64, 64>(p, s);
    if (p.D == 128) return launchBwd<__nv_bfloat16, 128, 32>(p, s);
  } else {
    if (p.D == 64) return launchBwd<__half, 64, 64>(p, s);
    if (p.D == 128) return launchBwd<__half, 128, 32>(p, s);
  }
  return "atman flash attention: unsupported head dim";
}

}  // namespace flash
}  // namespace atman
