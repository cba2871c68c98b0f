// Forward kernel: one CTA = 64 query rows of one (batch, query head), 4 warps of 16 rows each; loops over 64-key
// tiles of the matching key/value head (GQA without copies), online softmax in registers, writes O and the row LSE.
#include "native/attention/flash/common.cuh"

namespace atman {
namespace flash {

namespace {

constexpr int kFwdBM = 64, kFwdBN = 64, kFwdThreads = 128;

template <int D>
constexpr size_t fwdSmemBytes(size_t elem) {
  return size_t(kFwdBM + 2 * kFwdBN) * (D + 8) * elem + kFwdBN * sizeof(float);
}

template <typename T, int D>
__global__ void __launch_bounds__(kFwdThreads) fwdKernel(const Params p) {
  constexpr int BM = kFwdBM, BN = kFwdBN, NT = kFwdThreads, SD = D + 8, KT = D / 16;
  extern __shared__ __align__(16) unsigned char smem[];
  T* Qs = reinterpret_cast<T*>(smem);
  T* Ks = Qs + BM * SD;
  T* Vs = Ks + BN * SD;
  float* biasS = reinterpret_cast<float*>(Vs + BN * SD);

  const int h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (p.Hq / p.Hkv);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const Masking mk(p, b);
  const int m0 = blockIdx.x * BM;
  const T* qg = static_cast<const T*>(p.q) + (int64_t(b) * p.Hq + h) * p.Tq * D;
  const T* kg = static_cast<const T*>(p.k) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const T* vg = static_cast<const T*>(p.v) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;

  loadTile<T, BM, D, SD, NT>(Qs, qg, m0, p.Tq);
  cpAsyncCommit();

  const float sl2 = p.scale * kLog2e;
  int kEnd = p.Tk;
  if (mk.causal) kEnd = min(kEnd, m0 + BM + mk.offset);  // the last row's position + 1
  const int nBegin = (mk.keyStart / BN) * BN;

  const int rowA = m0 + warp * 16 + g, rowB = rowA + 8;
  const bool hasBias = p.keyBias != nullptr;
  const bool biasA = hasBias && mk.biased(rowA), biasB = hasBias && mk.biased(rowB);

  float acc[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
  uint32_t qf[KT][4];
  bool first = true;

  // Pipeline: K(n+1) loads while the softmax of tile n runs and V(n+1) while the next S = QKᵀ runs; one buffer
  // each, so a barrier separates the last read of a buffer from its refill.
  auto loadBias = [&](int n0) {
    if (threadIdx.x < BN) {
      const int j = n0 + threadIdx.x;
      biasS[threadIdx.x] = (hasBias && j < p.Tk) ? p.keyBias[int64_t(b) * p.Tk + j] * kLog2e : 0.f;
    }
  };
  if (nBegin < kEnd) {
    loadTile<T, BN, D, SD, NT>(Ks, kg, nBegin, p.Tk);
    cpAsyncCommit();
    loadTile<T, BN, D, SD, NT>(Vs, vg, nBegin, p.Tk);
    cpAsyncCommit();
    loadBias(nBegin);
  }
  // Rows of this CTA sit at positions m0 + offset .. m0 + BM - 1 + offset.
  const int minPos = m0 + mk.offset;
  for (int n0 = nBegin; n0 < kEnd; n0 += BN) {
    const bool more = n0 + BN < kEnd;
    cpAsyncWait<1>();  // Q and K(n) have landed (V(n) may still be in flight)
    __syncthreads();
    if (first) {
#pragma unroll
      for (int kk = 0; kk < KT; ++kk)
        ldmatrix4(qf[kk], Qs + (warp * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + kk * 16 + (lane / 16) * 8);
      first = false;
    }

    float s[BN / 8][4];
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KT; ++kk) {
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t kb[4];
        ldmatrix4(kb, Ks + (np * 16 + (lane % 8) + (lane / 16) * 8) * SD + kk * 16 + ((lane / 8) % 2) * 8);
        mma16816<T>(s[2 * np], qf[kk], kb);
        mma16816<T>(s[2 * np + 1], qf[kk], kb + 2);
      }
    }

    // Logits in the log2 domain, masked to -inf only where this tile needs a mask (edges, keyStart, the diagonal).
    const bool needMask = n0 < mk.keyStart || n0 + BN > p.Tk || (mk.causal && n0 + BN - 1 > minPos);
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int jl = nt * 8 + 2 * t + (e & 1), j = n0 + jl;
        const int i = e < 2 ? rowA : rowB;
        float x = s[nt][e] * sl2;
        if (e < 2 ? biasA : biasB) x += biasS[jl];
        s[nt][e] = (!needMask || mk.visible(i, j)) ? x : -INFINITY;
      }
    }
    __syncthreads();  // every warp is done with K(n) and the bias of tile n
    if (more) {
      loadTile<T, BN, D, SD, NT>(Ks, kg, n0 + BN, p.Tk);
      loadBias(n0 + BN);
    }
    cpAsyncCommit();

    // Online softmax (each thread holds rows g and g + 8 of its warp's 16; a row lives in one quad).
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
      mx = quadMax(mx);
      const float mNew = fmaxf(mrow[r], mx);
      const float mUse = mNew == -INFINITY ? 0.f : mNew;
      const float alpha = fastExp2(mrow[r] - mUse);
      mrow[r] = mNew;
      float ls = 0.f;
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) {
        s[nt][2 * r] = fastExp2(s[nt][2 * r] - mUse);
        s[nt][2 * r + 1] = fastExp2(s[nt][2 * r + 1] - mUse);
        ls += s[nt][2 * r] + s[nt][2 * r + 1];
      }
      lrow[r] = lrow[r] * alpha + ls;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        acc[dt][2 * r] *= alpha;
        acc[dt][2 * r + 1] *= alpha;
      }
    }

    cpAsyncWait<1>();  // V(n) (K(n+1) may still be in flight)
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                        pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vb[4];
        ldmatrix4T(vb, Vs + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + dp * 16 + (lane / 16) * 8);
        mma16816<T>(acc[2 * dp], pa, vb);
        mma16816<T>(acc[2 * dp + 1], pa, vb + 2);
      }
    }
    __syncthreads();  // every warp is done with V(n)
    if (more) loadTile<T, BN, D, SD, NT>(Vs, vg, n0 + BN, p.Tk);
    cpAsyncCommit();
  }
  cpAsyncWait<0>();

  T* og = static_cast<T*>(p.o) + (int64_t(b) * p.Hq + h) * p.Tq * D;
  float* lseg = p.lse + (int64_t(b) * p.Hq + h) * p.Tq;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float l = quadSum(lrow[r]);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int row = r ? rowB : rowA;
    if (row < p.Tq) {
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt)
        *reinterpret_cast<uint32_t*>(og + int64_t(row) * D + dt * 8 + 2 * t) =
            pack2<T>(acc[dt][2 * r] * inv, acc[dt][2 * r + 1] * inv);
      if (t == 0) lseg[row] = l > 0.f ? mrow[r] + log2f(l) : INFINITY;
    }
  }
}

template <typename T, int D>
const char* launchFwd(const Params& p, cudaStream_t stream) {
  constexpr size_t smem = fwdSmemBytes<D>(sizeof(T));
  auto kernel = fwdKernel<T, D>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  dim3 grid((p.Tq + kFwdBM - 1) / kFwdBM, p.Hq, p.B);
  kernel<<<grid, kFwdThreads, smem, stream>>>(p);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace

bool supportsHeadDim(int D) { return D == 64 || D == 128; }

const char* forward(const Params& p, void* stream) {
  if (p.B == 0 || p.Hq == 0 || p.Tq == 0) return nullptr;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (p.dtype == DType::BFloat16) {
    if (p.D == 64) return launchFwd<__nv_bfloat16, 64>(p, s);
    if (p.D == 128) return launchFwd<__nv_bfloat16, 128>(p, s);
  } else {
    if (p.D == 64) return launchFwd<__half, 64>(p, s);
    if (p.D == 128) return launchFwd<__half, 128>(p, s);
  }
  return "atman flash attention: unsupported head dim";
}

}  // namespace flash
}  // namespace atman
