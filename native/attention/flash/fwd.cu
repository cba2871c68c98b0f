// Forward kernel: one CTA = BM query rows of one (batch, query head), NW warps of 16·MT rows each; loops over
// BN-key tiles of the matching key/value head (GQA without copies), online softmax in registers, P kept in registers
// as the A operand of P·V, writes O (staged through shared memory, 16-byte stores) and the row LSE. The tiling is a
// template (FwdCfg); launchFwd picks the one that measured fastest on the H100.
#include "native/attention/flash/common.cuh"
#include "native/attention/flash/fwd_sm90.h"

namespace atman {
namespace flash {

namespace {

template <int D_, int MT_, int NW_, int BN_, bool QREG_, int MINB_ = 1>
struct FwdCfg {
  static constexpr int D = D_, MT = MT_, NW = NW_, BN = BN_, MINB = MINB_;  // MINB: CTAs per SM to fit (registers)
  static constexpr bool QREG = QREG_;  // Q fragments held in registers for the whole loop (else re-read from smem)
  static constexpr int BM = NW * 16 * MT, NT = NW * 32, SD = D + 8;
  static constexpr size_t smemBytes(size_t elem) {
    return size_t(BM + 2 * BN) * SD * elem + BN * sizeof(float);
  }
};

template <typename T, typename C>
__global__ void __launch_bounds__(C::NT, C::MINB) fwdKernel(const Params p) {
  constexpr int D = C::D, MT = C::MT, BM = C::BM, BN = C::BN, NT = C::NT, SD = C::SD, KT = D / 16;
  extern __shared__ __align__(16) unsigned char smem[];
  T* Qs = reinterpret_cast<T*>(smem);
  T* Ks = Qs + BM * SD;
  T* Vs = Ks + BN * SD;
  float* biasS = reinterpret_cast<float*>(Vs + BN * SD);

  // Query blocks in reverse order on the slowest grid axis: the longest (last, causal) blocks of every head start
  // first and the short ones fill the tail.
  const int h = blockIdx.x, b = blockIdx.y;
  const int mBlk = gridDim.z - 1 - blockIdx.z;
  const int hk = h / (p.Hq / p.Hkv);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const Masking mk(p, b);
  const int m0 = mBlk * BM;
  const T* qg = static_cast<const T*>(p.q) + (int64_t(b) * p.Hq + h) * p.Tq * D;
  const T* kg = static_cast<const T*>(p.k) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;
  const T* vg = static_cast<const T*>(p.v) + (int64_t(b) * p.Hkv + hk) * p.Tk * D;

  loadTile<T, BM, D, SD, NT>(Qs, qg, m0, p.Tq);
  cpAsyncCommit();

  const float sl2 = p.scale * kLog2e;
  int kEnd = p.Tk;
  if (mk.causal) kEnd = min(kEnd, m0 + BM + mk.offset);  // the CTA's last row's position + 1
  const int nBegin = (mk.keyStart / BN) * BN;

  const int wRow0 = m0 + warp * 16 * MT;        // this warp's first row
  const int wMinPos = wRow0 + mk.offset;        // positions of this warp's rows: wMinPos .. wMaxPos
  const int wMaxPos = wMinPos + 16 * MT - 1;
  const bool hasBias = p.keyBias != nullptr;
  bool biasR[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    biasR[mt][0] = hasBias && mk.biased(wRow0 + mt * 16 + g);
    biasR[mt][1] = hasBias && mk.biased(wRow0 + mt * 16 + g + 8);
  }

  float acc[MT][D / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < D / 8; ++i) acc[mt][i][0] = acc[mt][i][1] = acc[mt][i][2] = acc[mt][i][3] = 0.f;
  float mrow[MT][2], lrow[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) mrow[mt][0] = mrow[mt][1] = -INFINITY, lrow[mt][0] = lrow[mt][1] = 0.f;
  uint32_t qf[C::QREG ? KT : 1][4];
  bool first = true;

  auto loadBias = [&](int n0) {
    if (threadIdx.x < BN) {
      const int j = n0 + threadIdx.x;
      biasS[threadIdx.x] = (hasBias && j < p.Tk) ? p.keyBias[int64_t(b) * p.Tk + j] * kLog2e : 0.f;
    }
  };
  auto qAddr = [&](int mt, int kk) {
    return Qs + (warp * 16 * MT + mt * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + kk * 16 + (lane / 16) * 8;
  };
  if (nBegin < kEnd) {
    loadTile<T, BN, D, SD, NT>(Ks, kg, nBegin, p.Tk);
    cpAsyncCommit();
    loadBias(nBegin);
  }
  // Pipeline (FA2): one K and one V buffer, two barriers per tile. V(n) loads while S = Q·K(n)ᵀ runs; K(n+1) (and
  // the bias of tile n+1) while the softmax and P·V(n) run.
  for (int n0 = nBegin; n0 < kEnd; n0 += BN) {
    const bool more = n0 + BN < kEnd;
    cpAsyncWait<0>();  // Q and K(n) have landed
    __syncthreads();   // ... for every thread; every warp is done with V(n-1); bias(n) is visible
    loadTile<T, BN, D, SD, NT>(Vs, vg, n0, p.Tk);
    cpAsyncCommit();
    if constexpr (C::QREG) {
      if (first) {
#pragma unroll
        for (int kk = 0; kk < KT; ++kk) ldmatrix4(qf[kk], qAddr(0, kk));
        first = false;
      }
    }
    // A warp whose rows all precede the tile's first key (causal) sees none of it: its state would not change.
    const bool active = !mk.causal || n0 <= wMaxPos;

    float s[MT][BN / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int i = 0; i < BN / 8; ++i) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.f;
    if (active) {
#pragma unroll
      for (int kk = 0; kk < KT; ++kk) {
        uint32_t qa[MT][4];
        if constexpr (C::QREG) {
#pragma unroll
          for (int i = 0; i < 4; ++i) qa[0][i] = qf[kk][i];
        } else {
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) ldmatrix4(qa[mt], qAddr(mt, kk));
        }
#pragma unroll
        for (int np = 0; np < BN / 16; ++np) {
          uint32_t kb[4];
          ldmatrix4(kb, Ks + (np * 16 + (lane % 8) + (lane / 16) * 8) * SD + kk * 16 + ((lane / 8) % 2) * 8);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            mma16816<T>(s[mt][2 * np], qa[mt], kb);
            mma16816<T>(s[mt][2 * np + 1], qa[mt], kb + 2);
          }
        }
      }

      // Logits in the log2 domain, masked to -inf only where this warp's rows need a mask in this tile (edges,
      // keyStart, the causal diagonal).
      const bool needMask = n0 < mk.keyStart || n0 + BN > p.Tk || (mk.causal && n0 + BN - 1 > wMinPos);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int jl = nt * 8 + 2 * t + (e & 1), j = n0 + jl;
            const int i = wRow0 + mt * 16 + g + (e < 2 ? 0 : 8);
            float x = s[mt][nt][e] * sl2;
            if (biasR[mt][e >> 1]) x += biasS[jl];
            s[mt][nt][e] = (!needMask || mk.visible(i, j)) ? x : -INFINITY;
          }
        }
      }
    }
    cpAsyncWait<0>();  // V(n) has landed
    __syncthreads();   // ... for every thread; every warp is done with K(n) and bias(n)
    if (more) {
      loadTile<T, BN, D, SD, NT>(Ks, kg, n0 + BN, p.Tk);
      cpAsyncCommit();
      loadBias(n0 + BN);
    }
    if (!active) continue;

    // Online softmax (each thread holds rows g and g + 8 of each 16-row tile; a row lives in one quad).
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
        mx = quadMax(mx);
        const float mNew = fmaxf(mrow[mt][r], mx);
        const float mUse = mNew == -INFINITY ? 0.f : mNew;
        const float alpha = fastExp2(mrow[mt][r] - mUse);
        mrow[mt][r] = mNew;
        float ls = 0.f;
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) {
          s[mt][nt][2 * r] = fastExp2(s[mt][nt][2 * r] - mUse);
          s[mt][nt][2 * r + 1] = fastExp2(s[mt][nt][2 * r + 1] - mUse);
          ls += s[mt][nt][2 * r] + s[mt][nt][2 * r + 1];
        }
        lrow[mt][r] = lrow[mt][r] * alpha + ls;
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
          acc[mt][dt][2 * r] *= alpha;
          acc[mt][dt][2 * r + 1] *= alpha;
        }
      }
    }

    // O += P·V with P straight from the score registers: the m16n8 accumulator layout of two adjacent n-tiles is
    // the m16k16 A-operand layout.
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t pa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        pa[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        pa[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        pa[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        pa[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vb[4];
        ldmatrix4T(vb, Vs + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * SD + dp * 16 + (lane / 16) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma16816<T>(acc[mt][2 * dp], pa[mt], vb);
          mma16816<T>(acc[mt][2 * dp + 1], pa[mt], vb + 2);
        }
      }
    }
  }
  cpAsyncWait<0>();
  __syncthreads();  // every thread's copies of the Q tile have landed (with no key tile, nothing waited for them yet)

  // Epilogue: each warp stages its normalized O rows in its own rows of the Q tile (no other warp reads them), then
  // writes them out with 16-byte stores.
  T* og = static_cast<T*>(p.o) + (int64_t(b) * p.Hq + h) * p.Tq * D;
  float* lseg = p.lse + (int64_t(b) * p.Hq + h) * p.Tq;
  T* Ow = Qs + warp * 16 * MT * SD;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float l = quadSum(lrow[mt][r]);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int lr = mt * 16 + g + 8 * r, row = wRow0 + lr;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt)
        *reinterpret_cast<uint32_t*>(Ow + lr * SD + dt * 8 + 2 * t) =
            pack2<T>(acc[mt][dt][2 * r] * inv, acc[mt][dt][2 * r + 1] * inv);
      if (t == 0 && row < p.Tq) lseg[row] = l > 0.f ? mrow[mt][r] + log2f(l) : INFINITY;
    }
  }
  __syncwarp();
  constexpr int CPR = D / 8;  // 16-byte chunks per row
#pragma unroll
  for (int c = lane; c < 16 * MT * CPR; c += 32) {
    const int lr = c / CPR, col = (c % CPR) * 8, row = wRow0 + lr;
    if (row < p.Tq) *reinterpret_cast<uint4*>(og + int64_t(row) * D + col) = *reinterpret_cast<const uint4*>(Ow + lr * SD + col);
  }
}

template <typename T, typename C>
const char* launchFwdCfg(const Params& p, cudaStream_t stream) {
  constexpr size_t smem = C::smemBytes(sizeof(T));
  auto kernel = fwdKernel<T, C>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  dim3 grid(p.Hq, p.B, (p.Tq + C::BM - 1) / C::BM);
  kernel<<<grid, C::NT, smem, stream>>>(p);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

template <typename T, int D>
const char* launchFwd(const Params& p, cudaStream_t stream) {
  // 64 rows, 4 warps x 16 rows, 64-key tiles, Q fragments re-read from shared memory per tile, 3 CTAs per SM
  // (<= 168 registers). Measured against the alternatives on the H100 (bench/attention-fwd-notes.md).
  return launchFwdCfg<T, FwdCfg<D, 1, 4, 64, false, 3>>(p, stream);
}

}  // namespace

bool supportsHeadDim(int D) { return D == 64 || D == 128; }

const char* forward(const Params& p, void* stream) {
  if (p.B == 0 || p.Hq == 0 || p.Tq == 0) return nullptr;
  if (sm90ForwardApplies(p)) return forwardSm90(p, stream);
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
