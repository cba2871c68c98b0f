// Hopper forward (sm_90a): the same op as fwd.cu, built on warpgroup MMAs (wgmma) and TMA copies (FlashAttention-3's
// structure: warp specialization, intra-warpgroup overlap, ping-pong between the two consumer warpgroups).
//
// One CTA = 128 query rows of one (batch, query head), three warpgroups:
//   - warpgroup 0, warp 0: the producer. Lane 0 TMA-loads the Q tile once, then K and V tiles of BN keys into a ring
//     of STAGES buffers (128-byte swizzle, the layout wgmma reads); every lane stages BN/32 key-bias values (log2
//     domain) next to the K tile. Completions are counted on mbarriers ("full"); K and V buffers are refilled
//     separately once both consumers have released them ("empty").
//   - warpgroups 1 and 2: consumers of 64 rows each. Per key tile: S = Q·Kᵀ (wgmma, both operands in shared memory),
//     scale + bias + masks (edge tiles only) + online softmax in registers, P converted in registers and used as the
//     A operand of O += P·V (wgmma, V read MN-major). P·V of tile it-1 runs while the softmax of tile it does, and the
//     two consumers take turns issuing their MMAs, so one's softmax overlaps the other's MMAs.
//   - Epilogue: normalized O staged in the consumer's rows of the Q buffer in the swizzled layout and written by a
//     TMA store (rows past Tq are clipped); the row LSE (log2 domain) as in fwd.cu.
// Registers are rebalanced with setmaxnreg: 24 for the producer warpgroup, 240 for each consumer.
// Masking, bias and LSE conventions are fwd.cu's (common.cuh), so the backward kernels use either forward.
// Tuning on the H100 (bench/attention-fwd-notes.md): ping-pong +12 % at T = 4096; 3 stages instead of 2: no gain.
#include <cudaTypedefs.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "native/attention/flash/fwd_sm90.h"
#include "native/attention/flash/hopper.cuh"
#include "native/attention/flash/wgmma.cuh"

namespace atman {
namespace flash {

namespace {

template <int D_, int STAGES_>
struct Sm90Cfg {
  static constexpr int D = D_, BM = 128, BN = 128, STAGES = STAGES_, THREADS = 384;
  static constexpr int ROWS_PER_WG = 64;
  static constexpr int QBYTES = BM * D * 2, KVBYTES = BN * D * 2;
  // Q | K stages | V stages | bias stages | barriers; +1024 to align the tiles to the 1024-byte swizzle atom.
  static constexpr size_t smemBytes() {
    return 1024 + QBYTES + 2 * STAGES * KVBYTES + STAGES * BN * 4 + 8 * (1 + 4 * STAGES);
  }
};

// Scale, key bias and masks for one tile of logits in the wgmma accumulator layout, then the online-softmax update
// of this thread's two rows: sc becomes the tile's probabilities (unnormalized, fp32), alpha the factor by which the
// rows' earlier O and l shrink. MASK: the tile crosses keyStart, Tk or this row's causal limit (lo..hi[r] visible).
template <int BN, bool MASK>
__device__ __forceinline__ void softmaxTile(float* sc, const float* biasTile, bool biasRows, const bool biasR[2],
                                            float sl2, int n0, int t, int lo, const int hi[2], float mrow[2],
                                            float lrow[2], float alpha[2]) {
#pragma unroll
  for (int i = 0; i < BN / 8; ++i) {
    float2 bb = make_float2(0.f, 0.f);
    if (biasRows) bb = *reinterpret_cast<const float2*>(biasTile + i * 8 + 2 * t);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float x = sc[4 * i + e] * sl2;
      if (biasR[e >> 1]) x += (e & 1) ? bb.y : bb.x;
      if constexpr (MASK) {
        const int j = n0 + i * 8 + 2 * t + (e & 1);
        x = (j >= lo && j < hi[e >> 1]) ? x : -INFINITY;
      }
      sc[4 * i + e] = x;
    }
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = -INFINITY;
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) mx = fmaxf(mx, fmaxf(sc[4 * i + 2 * r], sc[4 * i + 2 * r + 1]));
    mx = quadMax(mx);
    const float mNew = fmaxf(mrow[r], mx);
    const float mUse = mNew == -INFINITY ? 0.f : mNew;  // a row with nothing visible yet stays at zero
    alpha[r] = fastExp2(mrow[r] - mUse);
    mrow[r] = mNew;
    float ls = 0.f;
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) {
      sc[4 * i + 2 * r] = fastExp2(sc[4 * i + 2 * r] - mUse);
      sc[4 * i + 2 * r + 1] = fastExp2(sc[4 * i + 2 * r + 1] - mUse);
      ls += sc[4 * i + 2 * r] + sc[4 * i + 2 * r + 1];
    }
    lrow[r] = lrow[r] * alpha[r] + ls;
  }
}

template <typename T, typename C>
__global__ void __launch_bounds__(C::THREADS, 1)
    fwdSm90Kernel(const Params p, const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK,
                  const __grid_constant__ CUtensorMap tmV, const __grid_constant__ CUtensorMap tmO) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using namespace sm90;
  constexpr int D = C::D, BM = C::BM, BN = C::BN, STAGES = C::STAGES, RW = C::ROWS_PER_WG;
  constexpr int CHUNK = 64;  // columns per 128-byte swizzled row
  constexpr int KSTEPS_QK = D / 16, KSTEPS_PV = BN / 16;
  extern __shared__ unsigned char smemRaw[];
  unsigned char* base = smemRaw + ((1024 - (smemAddr(smemRaw) & 1023)) & 1023);
  unsigned char* Qs = base;                                   // [D/64 chunks][BM rows][128 bytes]
  unsigned char* Ks = Qs + C::QBYTES;                         // [STAGES][D/64][BN][128 bytes]
  unsigned char* Vs = Ks + STAGES * C::KVBYTES;               // same
  float* biasS = reinterpret_cast<float*>(Vs + STAGES * C::KVBYTES);  // [STAGES][BN], log2 domain
  uint64_t* fullQ = reinterpret_cast<uint64_t*>(biasS + STAGES * BN);
  uint64_t* fullK = fullQ + 1;       // K tile landed and its bias written
  uint64_t* fullV = fullK + STAGES;  // V tile landed
  uint64_t* emptyK = fullV + STAGES;  // both consumers are done with the K tile and its bias
  uint64_t* emptyV = emptyK + STAGES;  // ... with the V tile

  const int h = blockIdx.x, b = blockIdx.y;
  const int mBlk = gridDim.z - 1 - blockIdx.z;  // longest (last, causal) query blocks first, as in fwd.cu
  const int hk = h / (p.Hq / p.Hkv);
  const int m0 = mBlk * BM;
  const Masking mk(p, b);
  int kEnd = p.Tk;
  if (mk.causal) kEnd = min(kEnd, m0 + BM + mk.offset);
  const int nBegin = (mk.keyStart / BN) * BN;
  const int nTiles = kEnd > nBegin ? (kEnd - nBegin + BN - 1) / BN : 0;
  const bool hasBias = p.keyBias != nullptr;

  if (threadIdx.x == 0) {
    barrierInit(fullQ, 1);
    for (int s = 0; s < STAGES; ++s) {
      barrierInit(fullK + s, 1 + 32);  // the TMA arrival + one per producer lane (bias)
      barrierInit(fullV + s, 1);
      barrierInit(emptyK + s, 8);  // one arrival per consumer warp
      barrierInit(emptyV + s, 8);
    }
    barrierInitFence();
  }
  __syncthreads();

  const int wg = threadIdx.x / 128;
  if (wg == 0) {
    // Producer: warp 0 (lane 0 issues the copies, every lane stages BN/32 bias values per tile).
    registersDecrease<24>();
    if (threadIdx.x >= 32) return;
    const int lane = threadIdx.x;
    const int qHead = b * p.Hq + h, kvHead = b * p.Hkv + hk;
    if (lane == 0) {
      prefetchTensorMap(&tmQ);
      prefetchTensorMap(&tmK);
      prefetchTensorMap(&tmV);
      barrierExpectBytes(fullQ, C::QBYTES);
      for (int w = 0; w < BM / RW; ++w)
        for (int c = 0; c < D / CHUNK; ++c)
          tmaLoad(Qs + (c * BM + w * RW) * 128, &tmQ, fullQ, c * CHUNK, m0 + w * RW, qHead);
    }
    const float* biasRow = hasBias ? p.keyBias + int64_t(b) * p.Tk : nullptr;
    for (int it = 0; it < nTiles; ++it) {
      const int s = it % STAGES, n0 = nBegin + it * BN;
      const uint32_t reuse = ((it / STAGES) - 1) & 1;  // parity of the consumers' release of this stage's last use
      if (it >= STAGES) barrierWait(emptyK + s, reuse);
      if (lane == 0) {
        barrierExpectBytes(fullK + s, C::KVBYTES);
        for (int c = 0; c < D / CHUNK; ++c)
          tmaLoad(Ks + s * C::KVBYTES + c * BN * 128, &tmK, fullK + s, c * CHUNK, n0, kvHead);
      }
      if (hasBias) {
#pragma unroll
        for (int q = 0; q < BN / 32; ++q) {
          const int jl = q * 32 + lane, j = n0 + jl;
          biasS[s * BN + jl] = j < p.Tk ? __ldg(biasRow + j) * kLog2e : 0.f;
        }
      }
      barrierArrive(fullK + s);
      if (it >= STAGES) barrierWait(emptyV + s, reuse);
      if (lane == 0) {
        barrierExpectBytes(fullV + s, C::KVBYTES);
        for (int c = 0; c < D / CHUNK; ++c)
          tmaLoad(Vs + s * C::KVBYTES + c * BN * 128, &tmV, fullV + s, c * CHUNK, n0, kvHead);
      }
    }
    return;
  }

  // Consumers. Per tile `it`, with the MMAs of neighbouring tiles overlapping the softmax (FA3's intra-warpgroup
  // pipelining): issue S(it) = Q·K(it)ᵀ and O += P(it-1)·V(it-1); wait for S(it); softmax(it) while P·V runs; wait
  // for P·V; rescale O and pack P(it).
  registersIncrease<240>();
  const int cw = wg - 1;  // consumer index: rows m0 + 64·cw ...
  const int tid = threadIdx.x % 128, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int rowBase = m0 + cw * RW;
  const int r0 = rowBase + warp * 16 + g;  // this thread's rows: r0 and r0 + 8
  const int wMinPos = rowBase + mk.offset;
  const bool biasR[2] = {hasBias && mk.biased(r0), hasBias && mk.biased(r0 + 8)};
  const bool biasRows = biasR[0] || biasR[1];
  // Visible keys of each row: [keyStart, hi).
  const int lo = mk.keyStart;
  const int hi[2] = {mk.causal ? min(p.Tk, r0 + mk.offset + 1) : p.Tk, mk.causal ? min(p.Tk, r0 + 8 + mk.offset + 1) : p.Tk};
  const float sl2 = p.scale * kLog2e;
  const uint32_t qAddr = smemAddr(Qs) + cw * RW * 128;

  float o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f}, alpha[2];
  float sc[BN / 2];
  uint32_t pa[KSTEPS_PV][4];

  auto issueQK = [&](int s) {
    const uint32_t kAddr = smemAddr(Ks + s * C::KVBYTES);
#pragma unroll
    for (int kk = 0; kk < KSTEPS_QK; ++kk) {
      // Column chunk kk/4 (64 columns), then the kk%4-th 16-column step inside its 128-byte swizzled rows.
      const uint32_t step = (kk % 4) * 32;
      wgmmaSS<T, BN>(sc, swizzle128Descriptor(qAddr + (kk / 4) * BM * 128 + step, 0),
                     swizzle128Descriptor(kAddr + (kk / 4) * BN * 128 + step, 0), kk > 0);
    }
    wgmmaCommit();
  };
  auto issuePV = [&](int s) {
    const uint32_t vAddr = smemAddr(Vs + s * C::KVBYTES);
#pragma unroll
    for (int kk = 0; kk < KSTEPS_PV; ++kk)
      wgmmaRS<T, D>(o, pa[kk], swizzle128Descriptor(vAddr + kk * 16 * 128, BN * 128), 1);
    wgmmaCommit();
  };
  auto softmax = [&](int it) {
    const int s = it % STAGES, n0 = nBegin + it * BN;
    const bool needMask = n0 < mk.keyStart || n0 + BN > p.Tk || (mk.causal && n0 + BN - 1 > wMinPos);
    if (needMask)
      softmaxTile<BN, true>(sc, biasS + s * BN, biasRows, biasR, sl2, n0, t, lo, hi, mrow, lrow, alpha);
    else
      softmaxTile<BN, false>(sc, biasS + s * BN, biasRows, biasR, sl2, n0, t, lo, hi, mrow, lrow, alpha);
  };
  auto packP = [&] {
    // P as the A fragment of each 16-key step (the accumulator layout of two adjacent 8-column blocks).
#pragma unroll
    for (int kk = 0; kk < KSTEPS_PV; ++kk) {
      pa[kk][0] = pack2<T>(sc[8 * kk + 0], sc[8 * kk + 1]);
      pa[kk][1] = pack2<T>(sc[8 * kk + 2], sc[8 * kk + 3]);
      pa[kk][2] = pack2<T>(sc[8 * kk + 4], sc[8 * kk + 5]);
      pa[kk][3] = pack2<T>(sc[8 * kk + 6], sc[8 * kk + 7]);
    }
  };
  auto pinS = [&] {
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) pinRegister(sc[i]);
  };
  auto pinOP = [&] {  // O written and P read by the finished P·V: order later accesses after the wait
#pragma unroll
    for (int i = 0; i < D / 2; ++i) pinRegister(o[i]);
#pragma unroll
    for (int kk = 0; kk < KSTEPS_PV; ++kk)
#pragma unroll
      for (int e = 0; e < 4; ++e) asm volatile("" : "+r"(pa[kk][e])::"memory");
  };
  auto release = [&](uint64_t* bar) {
    __syncwarp();
    if (lane == 0) barrierArrive(bar);
  };

  // Ping-pong (FA3): the two consumers take turns to issue their MMAs (named barriers 3 and 4), so one's softmax runs
  // while the other's MMAs occupy the tensor cores. Each consumer issues at nTiles + 1 points; consumer 0 goes first.
  auto takeTurn = [&] {
    namedBarrier(3 + cw, 256);
  };
  auto passTurn = [&](bool lastIssue) {
    if (!(cw == 1 && lastIssue)) namedArrive(4 - cw, 256);
  };
  if (cw == 1 && nTiles > 0) namedArrive(3, 256);

  barrierWait(fullQ, 0);
  if (nTiles > 0) {
    barrierWait(fullK, 0);
    takeTurn();
    wgmmaFence();
    issueQK(0);
    passTurn(false);
    wgmmaWait<0>();
    pinS();
    softmax(0);
    release(emptyK);
    packP();
  }
  for (int it = 1; it < nTiles; ++it) {
    const int s = it % STAGES, sp = (it - 1) % STAGES;
    barrierWait(fullK + s, (it / STAGES) & 1);
    takeTurn();
    wgmmaFence();
    issueQK(s);
    barrierWait(fullV + sp, ((it - 1) / STAGES) & 1);
    issuePV(sp);
    passTurn(false);
    wgmmaWait<1>();  // S(it) is done; P·V(it-1) may still run
    pinS();
    softmax(it);
    release(emptyK + s);
    wgmmaWait<0>();
    pinOP();
    release(emptyV + sp);
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      o[4 * i + 0] *= alpha[0];
      o[4 * i + 1] *= alpha[0];
      o[4 * i + 2] *= alpha[1];
      o[4 * i + 3] *= alpha[1];
    }
    packP();
  }
  if (nTiles > 0) {
    const int sp = (nTiles - 1) % STAGES;
    barrierWait(fullV + sp, ((nTiles - 1) / STAGES) & 1);
    takeTurn();
    wgmmaFence();
    issuePV(sp);
    passTurn(true);
    wgmmaWait<0>();
    pinOP();
    release(emptyV + sp);
  }

  // Epilogue: normalize, stage in this warpgroup's rows of the Q buffer in the swizzled layout TMA expects, store.
  float* lseg = p.lse + (int64_t(b) * p.Hq + h) * p.Tq;
  unsigned char* stage = Qs + cw * RW * 128;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float l = quadSum(lrow[r]);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int lr = warp * 16 + g + 8 * r, row = rowBase + lr;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      const int col = i * 8 + 2 * t, cb = (col % 64) * 2;
      unsigned char* dst = stage + (col / 64) * BM * 128 + lr * 128 + ((((cb >> 4) ^ (lr & 7)) << 4) | (cb & 15));
      *reinterpret_cast<uint32_t*>(dst) = pack2<T>(o[4 * i + 2 * r] * inv, o[4 * i + 2 * r + 1] * inv);
    }
    if (t == 0 && row < p.Tq) lseg[row] = l > 0.f ? mrow[r] + log2f(l) : INFINITY;
  }
  fenceAsyncShared();
  namedBarrier(1 + cw, 128);
  if (tid == 0) {
    for (int c = 0; c < D / CHUNK; ++c) tmaStore(&tmO, stage + c * BM * 128, c * CHUNK, rowBase, b * p.Hq + h);
    tmaStoreCommitAndDrain();
  }
#endif
}

// cuTensorMapEncodeTiled through the runtime's driver entry point (no link-time dependency on libcuda).
PFN_cuTensorMapEncodeTiled_v12000 encodeTiledFn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult status;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &status) !=
            cudaSuccess ||
        status != cudaDriverEntryPointSuccess)
      f = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// [heads, T, D] view of a contiguous [B, H, T, D] tensor, boxes of 64 columns × `rows`, 128-byte swizzle.
bool encodeHeadsRowsCols(CUtensorMap* map, const void* ptr, bool bf16, int heads, int T, int D, int rows) {
  const cuuint64_t dims[3] = {cuuint64_t(D), cuuint64_t(T), cuuint64_t(heads)};
  const cuuint64_t strides[2] = {cuuint64_t(D) * 2, cuuint64_t(T) * D * 2};
  const cuuint32_t box[3] = {64, cuuint32_t(rows), 1};
  const cuuint32_t elemStrides[3] = {1, 1, 1};
  return encodeTiledFn()(map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3,
                         const_cast<void*>(ptr), dims, strides, box, elemStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                         CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                         CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <typename T, typename C>
const char* launchSm90(const Params& p, cudaStream_t stream) {
  const bool bf16 = p.dtype == DType::BFloat16;
  CUtensorMap tq, tk, tv, to;
  if (!encodeHeadsRowsCols(&tq, p.q, bf16, p.B * p.Hq, p.Tq, C::D, C::ROWS_PER_WG) ||
      !encodeHeadsRowsCols(&tk, p.k, bf16, p.B * p.Hkv, p.Tk, C::D, C::BN) ||
      !encodeHeadsRowsCols(&tv, p.v, bf16, p.B * p.Hkv, p.Tk, C::D, C::BN) ||
      !encodeHeadsRowsCols(&to, p.o, bf16, p.B * p.Hq, p.Tq, C::D, C::ROWS_PER_WG))
    return "atman flash attention (sm_90a forward): cuTensorMapEncodeTiled failed";
  auto kernel = fwdSm90Kernel<T, C>;
  constexpr size_t smem = C::smemBytes();
  // Per launch, not cached: the attribute belongs to the current device's context.
  const cudaError_t attrSet = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  if (attrSet != cudaSuccess) return cudaGetErrorString(attrSet);
  dim3 grid(p.Hq, p.B, (p.Tq + C::BM - 1) / C::BM);
  kernel<<<grid, C::THREADS, smem, stream>>>(p, tq, tk, tv, to);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

// Whether this build carries sm_90a code that the current device runs (a build for sm_80 only runs its sm_80 code on
// an H100, where these kernels are empty). Cached per device: 1 yes, 2 no, 0 not asked yet.
bool sm90CodeRuns() {
  static std::atomic<int> known[64];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return false;
  int state = known[dev].load(std::memory_order_relaxed);
  if (state == 0) {
    int major = 0;
    cudaFuncAttributes attr;
    const bool runs = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
                      major == 9 &&
                      cudaFuncGetAttributes(&attr, fwdSm90Kernel<__nv_bfloat16, Sm90Cfg<128, 2>>) == cudaSuccess &&
                      attr.binaryVersion >= 90 && encodeTiledFn() != nullptr;
    state = runs ? 1 : 2;
    known[dev].store(state, std::memory_order_relaxed);
  }
  return state == 1;
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

}  // namespace

bool sm90ForwardApplies(const Params& p) {
  const char* env = std::getenv("ATMAN_FWD_SM90");  // read per call: tests compare both forwards in one process
  if (env && std::strcmp(env, "0") == 0) return false;
  if (p.D != 64 && p.D != 128) return false;
  if (p.Tk == 0) return false;  // a tensor map needs a non-empty tensor; the sm_80 kernel writes the zeros
  if (!aligned16(p.q) || !aligned16(p.k) || !aligned16(p.v) || !aligned16(p.o)) return false;
  return sm90CodeRuns();
}

const char* forwardSm90(const Params& p, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (p.dtype == DType::BFloat16) {
    if (p.D == 64) return launchSm90<__nv_bfloat16, Sm90Cfg<64, 2>>(p, s);
    if (p.D == 128) return launchSm90<__nv_bfloat16, Sm90Cfg<128, 2>>(p, s);
  } else {
    if (p.D == 64) return launchSm90<__half, Sm90Cfg<64, 2>>(p, s);
    if (p.D == 128) return launchSm90<__half, Sm90Cfg<128, 2>>(p, s);
  }
  return "atman flash attention (sm_90a forward): unsupported head dim";
}

}  // namespace flash
}  // namespace atman
