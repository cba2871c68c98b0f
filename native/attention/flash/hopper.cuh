// Hopper (sm_90a) building blocks for the warp-specialized forward: mbarriers, TMA tile copies, warpgroup MMA
// fences, shared-memory matrix descriptors and register reallocation. Thin inline-PTX wrappers, one instruction each;
// they compile to nothing outside the sm_90a pass (callers guard with __CUDA_ARCH_FEAT_SM90_ALL).
#pragma once
#include <cuda.h>
#include <cstdint>

#include "native/attention/flash/common.cuh"

namespace atman {
namespace flash {
namespace sm90 {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ void barrierInit(uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smemAddr(bar)), "r"(count));
}
// Makes the initialised barriers visible to the async proxy (TMA) before first use.
__device__ __forceinline__ void barrierInitFence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::); }

// One arrival that also announces `bytes` of TMA traffic the current phase must wait for.
__device__ __forceinline__ void barrierExpectBytes(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smemAddr(bar)), "r"(bytes));
}
__device__ __forceinline__ void barrierArrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smemAddr(bar)));
}
// Blocks until the barrier's phase with this parity has completed.
__device__ __forceinline__ void barrierWait(uint64_t* bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n}\n" ::"r"(smemAddr(bar)),
      "r"(parity));
}

// TMA: a box of the 3-D tensor map at (c0 innermost, c1, c2) into shared memory; completion counted on `bar`.
// Elements outside the tensor read as zero.
__device__ __forceinline__ void tmaLoad(void* dst, const CUtensorMap* map, uint64_t* bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::
          "r"(smemAddr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smemAddr(bar)), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}
// TMA store of a shared-memory box; elements outside the tensor are not written.
__device__ __forceinline__ void tmaStore(const CUtensorMap* map, const void* src, int c0, int c1, int c2) {
  asm volatile("cp.async.bulk.tensor.3d.global.shared::cta.bulk_group [%0, {%2, %3, %4}], [%1];\n" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(smemAddr(src)), "r"(c0), "r"(c1), "r"(c2)
               : "memory");
}
__device__ __forceinline__ void tmaStoreCommitAndDrain() {
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
  asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
}
// Orders this thread's ordinary shared-memory writes before later async-proxy (TMA, wgmma) reads.
__device__ __forceinline__ void fenceAsyncShared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void prefetchTensorMap(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// Barrier over `threads` threads (a multiple of 32) with a named id (1..15; 0 is __syncthreads).
__device__ __forceinline__ void namedBarrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Arrives at a named barrier without waiting (the other `threads - 32·k` threads sync on it).
__device__ __forceinline__ void namedArrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

__device__ __forceinline__ void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads/writes of an accumulator across an asynchronous wgmma.
__device__ __forceinline__ void pinRegister(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// Register reallocation between warpgroups (every warp of the warpgroup executes it): the producer gives registers
// back so the consumers can hold both accumulators of a 64 x 128 tile without spilling.
template <int REGS>
__device__ __forceinline__ void registersIncrease() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
template <int REGS>
__device__ __forceinline__ void registersDecrease() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(REGS));
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// Shared-memory matrix descriptor for a tile written by TMA with 128-byte swizzle: rows of 64 16-bit elements
// (128 bytes), 8-row groups 1024 bytes apart (the stride byte offset). `leadingBytes` is the distance between
// 64-element column chunks; wgmma reads it only for MN-major operands (V), K-major ones stay inside one chunk.
__host__ __device__ constexpr uint64_t swizzle128Descriptor(uint32_t smemAddress, uint32_t leadingBytes) {
  return uint64_t((smemAddress & 0x3FFFF) >> 4) | (uint64_t((leadingBytes & 0x3FFFF) >> 4) << 16) |
         (uint64_t(1024 >> 4) << 32) | (uint64_t(1) << 62);
}

}  // namespace sm90
}  // namespace flash
}  // namespace atman
