// Backward: Δ = rowsum(dO∘O); then one CTA per (64-key tile, batch, kv head), 4 warps of 16 keys each, looping over
// the query heads of the kv group and over query tiles: recompute Pᵀ from the LSE, dV += Pᵀ dO, dPᵀ = V dOᵀ,
// dSᵀ = Pᵀ∘(dPᵀ − Δ), dK += dSᵀ Q, dQ += dS K (fp32 atomics), and the keyBias gradient Σ dS over biased rows kept in
// registers per key and added once per CTA. Nothing of size Tq×Tk leaves shared memory.
#include "native/attention/flash/common.cuh"

namespace atman {
namespace flash {

namespace {

constexpr int kBwdBN = 64, kBwdBM = 64, kBwdThreads = 256;

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

// Shared memory of one CTA: K, V (BN rows), two stages of Q and dO (BM rows each, double-buffered so the next tile
// loads while this one computes), Pᵀ and dSᵀ ([key][query]), and per stage the tile's LSE and Δ, plus the bias.
template <int D>
constexpr size_t bwdSmemBytes(size_t elem) {
  return (size_t(2 * kBwdBN + 4 * kBwdBM) * (D + 8) + size_t(2 * kBwdBN) * (kBwdBM + 8)) * elem +
         (4 * kBwdBM + kBwdBN) * sizeof(float);
}

// dQ fragment add. A quad's thread t holds columns 2t, 2t+1 of rows g and g+8; on sm_90 neighbouring threads swap
// half of that (one shuffle of a float2) so the even one holds 4 consecutive columns of row g and the odd one those of
// row g+8, and each adds them with one 16-byte vector atomic: a quarter of the scalar L2 atomic operations.
// rowA/rowB: this thread's row g / g+8 base pointer at column 2t (null when the row is out of range).
__device__ __forceinline__ void addDq(float* rowA, float* rowB, float a0, float a1, float b0, float b1, int t) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const bool odd = t & 1;
  const float s0 = odd ? a0 : b0, s1 = odd ? a1 : b1;  // the half the neighbour needs
  const float r0 = __shfl_xor_sync(0xffffffffu, s0, 1), r1 = __shfl_xor_sync(0xffffffffu, s1, 1);
  const float4 v = odd ? make_float4(r0, r1, b0, b1) : make_float4(a0, a1, r0, r1);
  if (odd ? rowB != nullptr : rowA != nullptr)  // odd: columns 2t-2 .. 2t+1 of row g+8
    atomicAdd(reinterpret_cast<float4*>(odd ? rowB - 2 : rowA), v);
#else
  if (rowA) { atomicAdd(rowA, a0); atomicAdd(rowA + 1, a1); }
  if (rowB) { atomicAdd(rowB, b0); atomicAdd(rowB + 1, b1); }
#endif
}

// 8 warps over a 64-key × 64-query tile. Warp w: key strip wk = w % 4 (16 keys), half wh = w / 4.
// - Sᵀ, dPᵀ: the warp's 16 keys × query half wh (32 queries); Pᵀ and dSᵀ go to shared memory.
// - dV, dK accumulators: the warp's 16 keys × head-dim half wh (D/2 columns), so each thread keeps D/2 fp32 values
//   for both instead of 2·D: no register pressure (the 4-warp version held 16 keys × D of each).
// - dQ: query strip wk (16 queries) × head-dim half wh, added to the fp32 dQ accumulator once per tile.
template <typename T, int D>
__global__ void __launch_bounds__(kBwdThreads, 1) bwdKernel(const Params p) {
  constexpr int BN = kBwdBN, BM = kBwdBM, NT = kBwdThreads, SD = D + 8, SDS = BM + 8, KT = D / 16, DH = D / 2;
  extern __shared__ __align__(16) unsigned char smem[];
  T* Ks = reinterpret_cast<T*>(smem);
  T* Vs = Ks + BN * SD;
  T* Qs0 = Vs + BN * SD;         // stage s: Qs0 + s * 2 * BM * SD; its dO right after its Q
  T* Ps = Qs0 + 4 * BM * SD;     // Pᵀ: [key][query]
  T* dSs = Ps + BN * SDS;        // dSᵀ: [key][query]
  float* lseS0 = reinterpret_cast<float*>(dSs + BN * SDS);  // stage s: lseS0 + s * 2 * BM; its Δ right after
  float* biasS = lseS0 + 4 * BM;

  // Grid (Hkv, B, key blocks): the block index runs over heads and batch first, so with a causal mask the key blocks
  // with the most query tiles (the first ones) of every head start first and the short ones fill the tail (longest
  // first: 13-15% faster fwd+bwd than key blocks first, bench/attention.md).
  const int hk = blockIdx.x, b = blockIdx.y, G = p.Hq / p.Hkv;
  const int n0 = blockIdx.z * BN;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int wk = warp % 4, wh = warp / 4;
  const Masking mk(p, b);
  const T* kg = static_cast<const T*>(p.k) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const T* vg = static_cast<const T*>(p.v) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const bool hasBias = p.keyBias != nullptr;
  const float sl2 = p.scale * kLog2e;

  if (threadIdx.x < BN) {
    const int j = n0 + threadIdx.x;
    biasS[threadIdx.x] = (hasBias && j < p.Tk) ? p.keyBias[int64_t(b) * p.Tk + j] * kLog2e : 0.f;
  }

  const int keyA = n0 + wk * 16 + g, keyB = keyA + 8;
  float dk[DH / 8][4], dv[DH / 8][4];
#pragma unroll
  for (int i = 0; i < DH / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;
  float dbias[2] = {0.f, 0.f};

  const bool active = n0 + BN > mk.keyStart;
  const int mBegin = mk.causal ? (max(0, n0 - mk.offset) / BM) * BM : 0;
  // One flat loop over (query head of the group, query tile), so the prefetch crosses head boundaries.
  const int nM = mBegin < p.Tq ? (p.Tq - mBegin + BM - 1) / BM : 0;
  const int nIt = active ? G * nM : 0;

  // Issues the cp.async copies of iteration it's Q and dO tile into stage st, and loads its LSE and Δ.
  auto prefetch = [&](int it, int st) {
    const int hq = hk * G + it / nM, m0 = mBegin + (it % nM) * BM;
    const int64_t headRow = (int64_t(b) * p.Hq + hq) * p.Tq;
    T* Qs = Qs0 + st * 2 * BM * SD;
    loadTile<T, BM, D, SD, NT>(Qs, static_cast<const T*>(p.q) + headRow * D, m0, p.Tq);
    loadTile<T, BM, D, SD, NT>(Qs + BM * SD, static_cast<const T*>(p.dO) + headRow * D, m0, p.Tq);
    if (threadIdx.x < BM) {
      const int i = m0 + threadIdx.x;
      float* lseS = lseS0 + st * 2 * BM;
      lseS[threadIdx.x] = i < p.Tq ? p.lse[headRow + i] : INFINITY;
      lseS[BM + threadIdx.x] = i < p.Tq ? p.delta[headRow + i] : 0.f;
    }
  };

  loadTile<T, BN, D, SD, NT>(Ks, kg, n0, p.Tk);
  loadTile<T, BN, D, SD, NT>(Vs, vg, n0, p.Tk);
  if (nIt > 0) prefetch(0, 0);
  cpAsyncCommit();

  // This warp's K and V rows never change: their A fragments stay in registers for the whole loop.
  uint32_t kf[KT][4], vf[KT][4];
  if (nIt > 0) {
    cpAsyncWait<0>();
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < KT; ++kk) {
      ldmatrix4(kf[kk], Ks + (wk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + kk * 16 + (lane / 16) * 8);
      ldmatrix4(vf[kk], Vs + (wk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + kk * 16 + (lane / 16) * 8);
    }
  }

  for (int it = 0; it < nIt; ++it) {
    const int st = it & 1;
    const int hq = hk * G + it / nM, m0 = mBegin + (it % nM) * BM;
    const int64_t headRow = (int64_t(b) * p.Hq + hq) * p.Tq;
    const T* Qs = Qs0 + st * 2 * BM * SD;
    const T* dOs = Qs + BM * SD;
    const float* lseS = lseS0 + st * 2 * BM;
    const float* deltaS = lseS + BM;

    cpAsyncWait<0>();
    // Barrier 1: this stage's tile (and LSE, Δ) is visible, and every warp is done with the previous iteration, so
    // the other stage and Pᵀ/dSᵀ may be overwritten.
    __syncthreads();
    if (it + 1 < nIt) prefetch(it + 1, st ^ 1);
    cpAsyncCommit();

    // Sᵀ = K Qᵀ and dPᵀ = V dOᵀ: this warp's 16 keys × 32 queries (query half wh).
    float s[4][4], ds[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[i][e] = ds[i][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KT; ++kk) {
      const uint32_t* ka = kf[kk];
      const uint32_t* va = vf[kk];
#pragma unroll
      for (int np = 0; np < 2; ++np) {
        const int row = wh * 32 + np * 16 + (lane % 8) + (lane / 16) * 8;
        uint32_t qb[4], ob[4];
        ldmatrix4(qb, Qs + row * SD + kk * 16 + ((lane / 8) % 2) * 8);
        ldmatrix4(ob, dOs + row * SD + kk * 16 + ((lane / 8) % 2) * 8);
        mma16816<T>(s[2 * np], ka, qb);
        mma16816<T>(s[2 * np + 1], ka, qb + 2);
        mma16816<T>(ds[2 * np], va, ob);
        mma16816<T>(ds[2 * np + 1], va, ob + 2);
      }
    }
    // Pᵀ from the saved LSE (log2 domain; masked entries exactly 0, checked only on tiles that need it), then
    // dSᵀ = Pᵀ∘(dPᵀ − Δ); the bias gradient sums dS over the rows the bias applies to.
    const bool needMask = n0 < mk.keyStart || n0 + BN > p.Tk || m0 + BM > p.Tq ||
                          (mk.causal && n0 + BN - 1 > m0 + mk.offset);
#pragma unroll
    for (int nt = 0; nt < 4; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int il = wh * 32 + nt * 8 + 2 * t + (e & 1), i = m0 + il;
        const int key = e < 2 ? keyA : keyB;
        const bool biased = hasBias && mk.biased(i);
        float x = s[nt][e] * sl2;
        if (biased) x += biasS[key - n0];
        const float pv = (!needMask || mk.visible(i, key)) ? fastExp2(x - lseS[il]) : 0.f;
        const float dsv = pv * (ds[nt][e] - deltaS[il]);
        s[nt][e] = pv;
        ds[nt][e] = dsv;
        if (biased) dbias[e / 2] += dsv;
      }
    }
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int off = (wk * 16 + g + 8 * r) * SDS + wh * 32 + nt * 8 + 2 * t;
        *reinterpret_cast<uint32_t*>(Ps + off) = pack2<T>(s[nt][2 * r], s[nt][2 * r + 1]);
        *reinterpret_cast<uint32_t*>(dSs + off) = pack2<T>(ds[nt][2 * r], ds[nt][2 * r + 1]);
      }
    // Barrier 2: Pᵀ and dSᵀ of all warps are visible.
    __syncthreads();

    // dV += Pᵀ dO and dK += dSᵀ Q (dK scaled at the end): 16 keys × head-dim half wh, over the 64 queries.
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      uint32_t pa[4], da[4];
      ldmatrix4(pa, Ps + (wk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SDS + kk * 16 + (lane / 16) * 8);
      ldmatrix4(da, dSs + (wk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SDS + kk * 16 + (lane / 16) * 8);
#pragma unroll
      for (int dp = 0; dp < DH / 16; ++dp) {
        const int off = (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + wh * DH + dp * 16 + (lane / 16) * 8;
        uint32_t ob[4], qb[4];
        ldmatrix4T(ob, dOs + off);
        ldmatrix4T(qb, Qs + off);
        mma16816<T>(dv[2 * dp], pa, ob);
        mma16816<T>(dv[2 * dp + 1], pa, ob + 2);
        mma16816<T>(dk[2 * dp], da, qb);
        mma16816<T>(dk[2 * dp + 1], da, qb + 2);
      }
    }
    // dQ[16 queries of strip wk, head-dim half wh] += dS K over this CTA's 64 keys.
    float dq[DH / 8][4];
#pragma unroll
    for (int i = 0; i < DH / 8; ++i) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[4];
      ldmatrix4T(a, dSs + (kk * 16 + (lane % 8) + (lane / 16) * 8) * SDS + wk * 16 + ((lane / 8) % 2) * 8);
#pragma unroll
      for (int dp = 0; dp < DH / 16; ++dp) {
        uint32_t bb[4];
        ldmatrix4T(bb, Ks + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + wh * DH + dp * 16 + (lane / 16) * 8);
        mma16816<T>(dq[2 * dp], a, bb);
        mma16816<T>(dq[2 * dp + 1], a, bb + 2);
      }
    }
    float* dqg = p.dqAccum + headRow * D;
    const int iA = m0 + wk * 16 + g;
    float* rowA = iA < p.Tq ? dqg + int64_t(iA) * D + wh * DH + 2 * t : nullptr;
    float* rowB = iA + 8 < p.Tq ? dqg + int64_t(iA + 8) * D + wh * DH + 2 * t : nullptr;
#pragma unroll
    for (int dt = 0; dt < DH / 8; ++dt)
      addDq(rowA ? rowA + dt * 8 : nullptr, rowB ? rowB + dt * 8 : nullptr, dq[dt][0] * p.scale, dq[dt][1] * p.scale,
            dq[dt][2] * p.scale, dq[dt][3] * p.scale, t);
  }
  cpAsyncWait<0>();

  T* dkg = static_cast<T*>(p.dk) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  T* dvg = static_cast<T*>(p.dv) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int key = r ? keyB : keyA;
    if (key < p.Tk) {
#pragma unroll
      for (int dt = 0; dt < DH / 8; ++dt) {
        const int64_t off = int64_t(key) * D + wh * DH + dt * 8 + 2 * t;
        *reinterpret_cast<uint32_t*>(dkg + off) = pack2<T>(dk[dt][2 * r] * p.scale, dk[dt][2 * r + 1] * p.scale);
        *reinterpret_cast<uint32_t*>(dvg + off) = pack2<T>(dv[dt][2 * r], dv[dt][2 * r + 1]);
      }
    }
  }
  // Bias gradient: each thread holds partial sums for keys keyA, keyB over its query columns; the quad sums them and
  // the two query-half warps of a key strip each add theirs.
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

template <typename T, int D>
const char* launchBwd(const Params& p, cudaStream_t stream) {
  const int64_t rows = int64_t(p.B) * p.Hq * p.Tq;
  if (rows > 0) deltaKernel<T, D><<<unsigned((rows + 7) / 8), 256, 0, stream>>>(p);
  if (const char* e = lastError()) return e;
  if (p.Tk > 0) {
    constexpr size_t smem = bwdSmemBytes<D>(sizeof(T));
    auto kernel = bwdKernel<T, D>;
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    dim3 grid(p.Hkv, p.B, unsigned((p.Tk + kBwdBN - 1) / kBwdBN));
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
    if (p.D == 64) return launchBwd<__nv_bfloat16, 64>(p, s);
    if (p.D == 128) return launchBwd<__nv_bfloat16, 128>(p, s);
  } else {
    if (p.D == 64) return launchBwd<__half, 64>(p, s);
    if (p.D == 128) return launchBwd<__half, 128>(p, s);
  }
  return "atman flash attention: unsupported head dim";
}

}  // namespace flash
}  // namespace atman
