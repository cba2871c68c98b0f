// Backward: Δ = rowsum(dO∘O); then one CTA per (kv head, batch, key block of 128 keys, or of 64 with ATMAN_BWD_BN=64),
// 8 warps, looping over the query heads of the kv group and over 64-query tiles: recompute Pᵀ from the LSE,
// dV += Pᵀ dO, dPᵀ = V dOᵀ, dSᵀ = Pᵀ∘(dPᵀ − Δ), dK += dSᵀ Q, dQ += dS K (fp32 atomics), and the keyBias gradient Σ dS
// over biased rows kept in registers per key and added once per CTA. Nothing of size Tq×Tk leaves shared memory.
#include <cstdlib>
#include <cstring>

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

// ---- 128-key variant (FlashAttention-2's tile for head dim 128) ----------------------------------------------------
//
// One CTA per (kv head, batch, 128-key block), 8 warps, 64-query tiles: the Q/dO tile loaded once serves twice the keys
// of the 64-key kernel, and dQ's atomics per FLOP halve. Warp w owns keys [16w, 16w + 16) of the block for Sᵀ, dPᵀ, dV
// and dK; the dQ GEMM is split over all 8 warps. Work per warp and 64-query tile:
// - Sᵀ = K Qᵀ, dPᵀ = V dOᵀ: 16 keys × QC queries per pass (BM / QC passes), K/V A fragments re-read from shared memory
//   by ldmatrix per use (keeping the warp's 16 keys × D of both would take D / 2 more registers per thread, 64 for
//   D = 128, on top of dK/dV's D).
// - Pᵀ, dSᵀ: computed in the Sᵀ/dPᵀ accumulators and repacked in registers as the A operand of the next GEMM: the C
//   fragment of two neighbouring 16×8 tiles is exactly the A fragment of one 16×16 tile (see packA), so Pᵀ never
//   touches shared memory; dSᵀ also goes to shared memory, for dQ.
// - dV += Pᵀ dO, dK += dSᵀ Q: the warp's 16 keys × all D columns, accumulated in registers over the whole loop (for
//   D = 128 that is 2 × 64 fp32 per thread).
// - dQ += dS K: warp w takes query half w / 4 (32 queries) × head-dim quarter w % 4 (D / 4 columns) over the 128 keys.
//
// ldmatrix.x4: lanes 8j..8j+7 give the row addresses of 8×8 matrix j, and register r[j] gets matrix j's fragment: lane
// (g = lane / 4, t = lane % 4) holds row g, columns 2t and 2t+1; with .trans, stored rows 2t and 2t+1 of column g.
// mma.m16n8k16 fragments (per lane g, t): A 16×16 a0 = (row g, k 2t..2t+1), a1 = (row g+8, k 2t..), a2 = (row g,
// k 2t+8..), a3 = (row g+8, k 2t+8..); B 16×8 b0 = (k 2t..2t+1, column g), b1 = (k 2t+8..2t+9, column g); C 16×8
// c0, c1 = (row g, columns 2t, 2t+1), c2, c3 = (row g+8, columns 2t, 2t+1).

constexpr int kBwd128BN = 128;

// Queries per Sᵀ/dPᵀ pass: the pass's accumulators (QC / 2 fp32 per thread for each of Sᵀ, dPᵀ) live next to dK/dV's
// (D / 2 each). D = 128 with QC = 64 uses all 255 registers and spills 8 bytes on sm_90a (ptxas of CUDA 13.0); two
// passes of 32 queries fit in 244 registers at the price of loading the K/V fragments twice per tile.
template <int D>
constexpr int kBwd128QueryChunk = D >= 128 ? 32 : 64;

// K, V (128 rows), two stages of Q and dO (64 rows each), dSᵀ [128 keys][64 queries], per stage the tile's LSE and Δ.
template <int D>
constexpr size_t bwd128SmemBytes(size_t elem) {
  return (size_t(2 * kBwd128BN + 4 * kBwdBM) * (D + 8) + size_t(kBwd128BN) * (kBwdBM + 8)) * elem +
         4 * kBwdBM * sizeof(float);
}

// The A fragment of one 16×16 tile (rows = the warp's 16 keys, k = 16 queries) from the C fragments of its two 16×8
// halves: c0/c1 of the left half are (row g, k 2t..2t+1) = a0, its c2/c3 (row g+8) = a1; the right half's (k + 8) give
// a2, a3. Rounded to T once, so dK and dQ use the same dSᵀ values.
template <typename T>
__device__ __forceinline__ void packA(uint32_t* a, const float* left, const float* right) {
  a[0] = pack2<T>(left[0], left[1]);
  a[1] = pack2<T>(left[2], left[3]);
  a[2] = pack2<T>(right[0], right[1]);
  a[3] = pack2<T>(right[2], right[3]);
}

template <typename T, int D>
__global__ void __launch_bounds__(kBwdThreads, 1) bwdKernel128(const Params p) {
  constexpr int BN = kBwd128BN, BM = kBwdBM, NT = kBwdThreads, SD = D + 8, SDS = BM + 8, KT = D / 16;
  constexpr int QC = kBwd128QueryChunk<D>, DQ = D / 4;
  static_assert(BN == 16 * (NT / 32), "one 16-key strip per warp");
  static_assert(BM % QC == 0 && QC % 16 == 0, "query chunks of whole 16-query MMA tiles");
  static_assert(BM == 2 * 32 && DQ % 16 == 0, "dQ: 2 query halves × 4 head-dim quarters of whole 16-column blocks");
  // Row strides SD = D + 8 and SDS = BM + 8 elements: consecutive rows start 16 bytes apart modulo 128, so the 8 row
  // addresses of one ldmatrix matrix (and the 8 rows g of a dSᵀ store) hit distinct banks.
  extern __shared__ __align__(16) unsigned char smem[];
  T* Ks = reinterpret_cast<T*>(smem);
  T* Vs = Ks + BN * SD;
  T* Qs0 = Vs + BN * SD;        // stage s: Qs0 + s * 2 * BM * SD; its dO right after its Q
  T* dSs = Qs0 + 4 * BM * SD;   // dSᵀ: [key][query]
  float* lseS0 = reinterpret_cast<float*>(dSs + BN * SDS);  // stage s: lseS0 + s * 2 * BM; its Δ right after

  // Grid (Hkv, B, key blocks): heads and batch vary fastest, so with a causal mask the key blocks with the most query
  // tiles start first (longest first, as the 64-key kernel).
  const int hk = blockIdx.x, b = blockIdx.y, G = p.Hq / p.Hkv;
  const int n0 = blockIdx.z * BN;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  // ldmatrix row/column offsets inside a 16×16 block, by how the four 8×8 matrices must land in r[0..3]:
  // - X: matrices (rows 0-7, cols 0-7), (rows 8-15, cols 0-7), (rows 0-7, cols 8-15), (rows 8-15, cols 8-15). Without
  //   .trans on a row-major [m][k] block these are a0..a3; with .trans on a [k][n] block they are b0, b1 of n-tile 0
  //   then b0, b1 of n-tile 1.
  // - Y: matrices (rows 0-7, cols 0-7), (rows 0-7, cols 8-15), (rows 8-15, cols 0-7), (rows 8-15, cols 8-15). Without
  //   .trans on an [n][k] block these are b0, b1 of n-tile 0 then of n-tile 1; with .trans on a [k][m] block they are
  //   a0..a3 (stored (k 0-7, m 8-15) transposed is A's rows 8-15, k 0-7 = a1).
  const int rowX = (lane % 8) + ((lane / 8) % 2) * 8, colX = (lane / 16) * 8;
  const int rowY = (lane % 8) + (lane / 16) * 8, colY = ((lane / 8) % 2) * 8;
  const Masking mk(p, b);
  const T* kg = static_cast<const T*>(p.k) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const T* vg = static_cast<const T*>(p.v) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const bool hasBias = p.keyBias != nullptr;
  const float sl2 = p.scale * kLog2e;

  // This lane's C-fragment rows in the warp's key strip: keys keyA (c0, c1) and keyB (c2, c3), for Sᵀ, dPᵀ, dV, dK.
  const int keyA = n0 + warp * 16 + g, keyB = keyA + 8;
  const float biasA = hasBias && keyA < p.Tk ? p.keyBias[int64_t(b) * p.Tk + keyA] * kLog2e : 0.f;
  const float biasB = hasBias && keyB < p.Tk ? p.keyBias[int64_t(b) * p.Tk + keyB] * kLog2e : 0.f;
  // dv[j], dk[j]: C fragment of head-dim columns [8j, 8j + 8).
  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.f;
  float dbias[2] = {0.f, 0.f};  // Σ dS of keyA, keyB over this lane's biased query columns

  // Masking's rules in tile-local query rows q (query i = m0 + q), with what does not depend on the tile hoisted here:
  // - biased(i) ⟺ i + offset ≥ biasFrom ⟺ q ≥ biasRow − m0, biasRow = biasFrom − offset clamped to [−1, Tq + BM] (the
  //   clamped q-bound below then stays the same, as m0 ∈ [0, Tq)); Tq + BM when there is no bias: no row biased.
  // - visible(i, key) ⟺ key < Tk ∧ key ≥ keyStart ∧ i < Tq ∧ (¬causal ∨ key ≤ i + offset)
  //   ⟺ keyLo − m0 ≤ q < Tq − m0, keyLo = key − offset when causal, −2³⁰ (any q) when not, 2³⁰ (no q) for a key out of
  //   range or in the left padding (m0 < 2³⁰ − BM, so keyLo − m0 neither overflows nor reaches a valid q).
  // - a tile needs the per-element mask iff the block has keys out of range or padded (blockMasked), the tile has rows
  //   past Tq, or, causal, its first query position m0 + offset is before the block's last key n0 + BN − 1.
  const int biasRow = hasBias ? int(max(int64_t(-1), min(int64_t(p.Tq) + BM, mk.biasFrom - mk.offset))) : p.Tq + BM;
  auto keyLo = [&](int key) {
    return (key >= p.Tk || key < mk.keyStart) ? (1 << 30) : mk.causal ? key - mk.offset : -(1 << 30);
  };
  const int keyLoA = keyLo(keyA), keyLoB = keyLo(keyB);
  const bool blockMasked = n0 < mk.keyStart || n0 + BN > p.Tk;
  const int causalEdge = mk.causal ? n0 + BN - 1 - mk.offset : -(1 << 30);  // tiles with m0 < causalEdge need masks

  const bool active = n0 + BN > mk.keyStart;
  const int mBegin = mk.causal ? (max(0, n0 - mk.offset) / BM) * BM : 0;
  // One flat loop over (query head of the group, query tile), so the prefetch crosses head boundaries.
  const int nM = mBegin < p.Tq ? (p.Tq - mBegin + BM - 1) / BM : 0;
  const int nIt = active ? G * nM : 0;

  // Issues the cp.async copies of iteration it's Q and dO tile into stage st, and stores its LSE and Δ.
  auto prefetch = [&](int it, int st) {
    const int hq = hk * G + it / nM, m0 = mBegin + (it % nM) * BM;
    const int64_t headRow = (int64_t(b) * p.Hq + hq) * p.Tq;
    T* Qs = Qs0 + st * 2 * BM * SD;
    loadTile<T, BM, D, SD, NT>(Qs, static_cast<const T*>(p.q) + headRow * D, m0, p.Tq);
    loadTile<T, BM, D, SD, NT>(Qs + BM * SD, static_cast<const T*>(p.dO) + headRow * D, m0, p.Tq);
    if (threadIdx.x < BM) {
      const int i = m0 + threadIdx.x;
      float* lseS = lseS0 + st * 2 * BM;
      lseS[threadIdx.x] = i < p.Tq ? p.lse[headRow + i] : INFINITY;  // +inf: P = 0 for rows past Tq
      lseS[BM + threadIdx.x] = i < p.Tq ? p.delta[headRow + i] : 0.f;
    }
  };

  loadTile<T, BN, D, SD, NT>(Ks, kg, n0, p.Tk);
  loadTile<T, BN, D, SD, NT>(Vs, vg, n0, p.Tk);
  if (nIt > 0) prefetch(0, 0);
  cpAsyncCommit();

  for (int it = 0; it < nIt; ++it) {
    const int st = it & 1;
    const int hq = hk * G + it / nM, m0 = mBegin + (it % nM) * BM;
    const int64_t headRow = (int64_t(b) * p.Hq + hq) * p.Tq;
    const T* Qs = Qs0 + st * 2 * BM * SD;
    const T* dOs = Qs + BM * SD;
    const float* lseS = lseS0 + st * 2 * BM;
    const float* deltaS = lseS + BM;

    cpAsyncWait<0>();
    // Barrier 1: this stage's Q/dO (cp.async of all threads, and at it = 0 also K, V) and its LSE/Δ (plain stores of
    // threads < BM) are visible; and every warp is done with iteration it - 1, which read the other stage (Q/dO, LSE/Δ
    // in its Sᵀ..dK part) and dSᵀ (in its dQ part), so the prefetch below and this iteration's dSᵀ stores may
    // overwrite them.
    __syncthreads();
    if (it + 1 < nIt) prefetch(it + 1, st ^ 1);
    cpAsyncCommit();

    // This tile's mask bounds (see keyLo above): rows q ≥ qBias are biased; key A (B) is visible to qLoA (qLoB) ≤ q <
    // qEnd, checked only when needMask.
    const bool needMask = blockMasked || m0 + BM > p.Tq || m0 < causalEdge;
    const int qBias = min(max(biasRow - m0, 0), BM), qEnd = p.Tq - m0;
    const int qLoA = keyLoA - m0, qLoB = keyLoB - m0;

#pragma unroll
    for (int h = 0; h < BM / QC; ++h) {
      // Sᵀ = K Qᵀ and dPᵀ = V dOᵀ for the warp's 16 keys × queries [h·QC, h·QC + QC): s[j], dp[j] is the C fragment
      // of query columns h·QC + 8j .. + 7 (rows keyA, keyB).
      float s[QC / 8][4], dp[QC / 8][4];
#pragma unroll
      for (int i = 0; i < QC / 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[i][e] = dp[i][e] = 0.f;
#pragma unroll
      for (int kk = 0; kk < KT; ++kk) {
        // A = K, V rows [16w, 16w + 16) × head-dim [16kk, 16kk + 16), row-major in shared memory: X without .trans.
        uint32_t ka[4], va[4];
        ldmatrix4(ka, Ks + (warp * 16 + rowX) * SD + kk * 16 + colX);
        ldmatrix4(va, Vs + (warp * 16 + rowX) * SD + kk * 16 + colX);
#pragma unroll
        for (int np = 0; np < QC / 16; ++np) {
          // B = Qᵀ, dOᵀ (k = head dim, n = 16 queries): Q stored [query][dim] is B's [n][k]: Y without .trans gives
          // b0, b1 of the query columns h·QC + 16np .. + 7 in qb[0..1], of the next 8 in qb[2..3].
          const int off = (h * QC + np * 16 + rowY) * SD + kk * 16 + colY;
          uint32_t qb[4], ob[4];
          ldmatrix4(qb, Qs + off);
          ldmatrix4(ob, dOs + off);
          mma16816<T>(s[2 * np], ka, qb);
          mma16816<T>(s[2 * np + 1], ka, qb + 2);
          mma16816<T>(dp[2 * np], va, ob);
          mma16816<T>(dp[2 * np + 1], va, ob + 2);
        }
      }
      // Pᵀ from the saved LSE (log2 domain; masked entries exactly 0, checked only on tiles that need it), then
      // dSᵀ = Pᵀ∘(dPᵀ − Δ); the bias gradient sums dS over the query rows the bias applies to.
#pragma unroll
      for (int nt = 0; nt < QC / 8; ++nt) {
        const int q0 = h * QC + nt * 8 + 2 * t;  // tile query of c0/c2; c1/c3 are q0 + 1 (q0 even: float2-aligned)
        const float2 lse2 = *reinterpret_cast<const float2*>(lseS + q0);
        const float2 delta2 = *reinterpret_cast<const float2*>(deltaS + q0);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int q = q0 + (e & 1);
          const bool biased = q >= qBias;
          float x = s[nt][e] * sl2;
          if (biased) x += e < 2 ? biasA : biasB;
          const bool visible = !needMask || (q >= (e < 2 ? qLoA : qLoB) && q < qEnd);
          const float pv = visible ? fastExp2(x - ((e & 1) ? lse2.y : lse2.x)) : 0.f;
          const float dsv = pv * (dp[nt][e] - ((e & 1) ? delta2.y : delta2.x));
          s[nt][e] = pv;
          dp[nt][e] = dsv;
          if (biased) dbias[e / 2] += dsv;
        }
      }
      // pa[kk], da[kk]: A fragments of Pᵀ, dSᵀ for the keys × queries h·QC + 16kk .. + 15 (C tiles 2kk, 2kk + 1).
      uint32_t pa[QC / 16][4], da[QC / 16][4];
#pragma unroll
      for (int kk = 0; kk < QC / 16; ++kk) {
        packA<T>(pa[kk], s[2 * kk], s[2 * kk + 1]);
        packA<T>(da[kk], dp[2 * kk], dp[2 * kk + 1]);
      }
      // dSᵀ to shared memory for dQ: C tile nt's rows g (r = 0) and g + 8 (r = 1) at query columns q0, q0 + 1 are
      // da[nt / 2][2 · (nt % 2) + r] (packA's order: left half a0 = row g, a1 = row g+8; right half a2, a3).
#pragma unroll
      for (int nt = 0; nt < QC / 8; ++nt)
#pragma unroll
        for (int r = 0; r < 2; ++r)
          *reinterpret_cast<uint32_t*>(dSs + (warp * 16 + g + 8 * r) * SDS + h * QC + nt * 8 + 2 * t) =
              da[nt / 2][2 * (nt % 2) + r];

      // dV += Pᵀ dO and dK += dSᵀ Q (dK scaled at the end) over this chunk's queries. Only this warp's own Pᵀ/dSᵀ
      // (registers) and the stage's Q/dO (visible since barrier 1) are read: no barrier needed before.
#pragma unroll
      for (int kk = 0; kk < QC / 16; ++kk) {
#pragma unroll
        for (int dt = 0; dt < D / 16; ++dt) {
          // B = dO, Q rows (k = queries h·QC + 16kk ..) × head-dim columns 16dt .. + 15, stored [k][n]: X with
          // .trans gives b0, b1 of columns 16dt .. + 7 in ob[0..1], of 16dt + 8 .. + 15 in ob[2..3].
          const int off = (h * QC + kk * 16 + rowX) * SD + dt * 16 + colX;
          uint32_t ob[4], qb[4];
          ldmatrix4T(ob, dOs + off);
          ldmatrix4T(qb, Qs + off);
          mma16816<T>(dv[2 * dt], pa[kk], ob);
          mma16816<T>(dv[2 * dt + 1], pa[kk], ob + 2);
          mma16816<T>(dk[2 * dt], da[kk], qb);
          mma16816<T>(dk[2 * dt + 1], da[kk], qb + 2);
        }
      }
    }
    // Barrier 2: the dSᵀ rows of all warps are visible to the dQ GEMM.
    __syncthreads();

    // dQ[query half qh (32 queries), head-dim quarter dq4 (DQ columns)] += dS K over the 128 keys. dq[mt][j]: C
    // fragment of queries 32qh + 16mt + (g, g + 8), columns DQ·dq4 + 8j + (2t, 2t + 1).
    const int qh = warp / 4, dq4 = warp % 4;
    float dq[2][DQ / 8][4];
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
      for (int i = 0; i < DQ / 8; ++i) dq[mt][i][0] = dq[mt][i][1] = dq[mt][i][2] = dq[mt][i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      // A = dS (m = 16 queries, k = keys 16kk ..), stored as dSᵀ [k][m]: Y with .trans.
      uint32_t a[2][4];
#pragma unroll
      for (int mt = 0; mt < 2; ++mt) ldmatrix4T(a[mt], dSs + (kk * 16 + rowY) * SDS + qh * 32 + mt * 16 + colY);
#pragma unroll
      for (int dt = 0; dt < DQ / 16; ++dt) {
        // B = K (k = keys 16kk .., n = head-dim columns DQ·dq4 + 16dt ..), stored [k][n]: X with .trans.
        uint32_t bb[4];
        ldmatrix4T(bb, Ks + (kk * 16 + rowX) * SD + dq4 * DQ + dt * 16 + colX);
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) {
          mma16816<T>(dq[mt][2 * dt], a[mt], bb);
          mma16816<T>(dq[mt][2 * dt + 1], a[mt], bb + 2);
        }
      }
    }
    float* dqg = p.dqAccum + headRow * D;
#pragma unroll
    for (int mt = 0; mt < 2; ++mt) {
      const int iA = m0 + qh * 32 + mt * 16 + g;  // rows of c0/c1; c2/c3 are iA + 8
      float* rowA = iA < p.Tq ? dqg + int64_t(iA) * D + dq4 * DQ + 2 * t : nullptr;
      float* rowB = iA + 8 < p.Tq ? dqg + int64_t(iA + 8) * D + dq4 * DQ + 2 * t : nullptr;
#pragma unroll
      for (int j = 0; j < DQ / 8; ++j)
        addDq(rowA ? rowA + j * 8 : nullptr, rowB ? rowB + j * 8 : nullptr, dq[mt][j][0] * p.scale,
              dq[mt][j][1] * p.scale, dq[mt][j][2] * p.scale, dq[mt][j][3] * p.scale, t);
    }
  }
  cpAsyncWait<0>();  // nothing may be in flight into shared memory when the CTA exits (nIt = 0: the K/V copies)

  // dK (scaled), dV: rows keyA (c0, c1) and keyB (c2, c3), columns 8j + 2t, 2t + 1. Written once, also as zeros for
  // a block no query sees.
  T* dkg = static_cast<T*>(p.dk) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  T* dvg = static_cast<T*>(p.dv) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int key = r ? keyB : keyA;
    if (key < p.Tk) {
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        const int64_t off = int64_t(key) * D + j * 8 + 2 * t;
        *reinterpret_cast<uint32_t*>(dkg + off) = pack2<T>(dk[j][2 * r] * p.scale, dk[j][2 * r + 1] * p.scale);
        *reinterpret_cast<uint32_t*>(dvg + off) = pack2<T>(dv[j][2 * r], dv[j][2 * r + 1]);
      }
    }
  }
  // Bias gradient: the quad's 4 lanes hold partial sums of the same keys over disjoint query columns; one add per key
  // and CTA (the other kv heads' CTAs add to the same [b, key]).
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

// Which backward kernel runs: the 128-key one unless this binary's build of it for the current device spills
// registers to local memory (checked once per (dtype, D)), or ATMAN_BWD_BN asks for one (A/B switch, read at every
// launch: 64 = the 64-key kernel, 128 = the 128-key kernel even if it spills). Sets *error on a bad value.
template <typename T, int D>
bool use128KeyKernel(const char** error) {
  const char* env = std::getenv("ATMAN_BWD_BN");
  if (env != nullptr && *env != '\0') {
    if (std::strcmp(env, "64") == 0) return false;
    if (std::strcmp(env, "128") == 0) return true;
    *error = "atman flash attention: ATMAN_BWD_BN must be 64 or 128 (or unset for the default); unset it or fix it";
    return false;
  }
  static const bool noSpills = [] {
    cudaFuncAttributes a{};
    if (cudaFuncGetAttributes(&a, bwdKernel128<T, D>) != cudaSuccess) {
      cudaGetLastError();  // not sticky: clear it so the launch path reports its own errors
      return false;
    }
    return a.localSizeBytes == 0;
  }();
  return noSpills;
}

template <typename T, int D>
const char* launchBwd(const Params& p, cudaStream_t stream) {
  const char* envError = nullptr;
  const bool bn128 = use128KeyKernel<T, D>(&envError);
  if (envError != nullptr) return envError;
  const int64_t rows = int64_t(p.B) * p.Hq * p.Tq;
  if (rows > 0) deltaKernel<T, D><<<unsigned((rows + 7) / 8), 256, 0, stream>>>(p);
  if (const char* e = lastError()) return e;
  if (p.Tk > 0) {
    const size_t smem = bn128 ? bwd128SmemBytes<D>(sizeof(T)) : bwdSmemBytes<D>(sizeof(T));
    const int bn = bn128 ? kBwd128BN : kBwdBN;
    auto kernel = bn128 ? bwdKernel128<T, D> : bwdKernel<T, D>;
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    dim3 grid(p.Hkv, p.B, unsigned((p.Tk + bn - 1) / bn));
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
