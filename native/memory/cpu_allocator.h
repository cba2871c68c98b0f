// libtorch's CPU allocator replaced by one that keeps large tensors out of the malloc heap.
//
// Why: with glibc malloc, a loop that makes and disposes tensors of 16 KB and more grew RSS by gigabytes with no
// tensor alive (1 MB tensors: +5 GB in 20k iterations). Each freed tensor block left a hole that the next tensor of the
// same size could not use (posix_memalign asks for a little more than the hole), because small blocks allocated in
// between (tensor handles and Node's references to them, freed only when garbage collection finalizes them) stopped
// holes from merging. Here blocks from 16 KB on are mapped memory in size classes (at most 1/8 unused), and freed ones
// are kept per class for reuse up to a cap (1 GiB; ATMAN_CPU_CACHE_MB) instead of going back to the kernel, so a loop
// reuses the same blocks without system calls or page faults. Blocks above 32 MiB are unmapped when freed.
#pragma once
#include <cstdint>

namespace atman {

// Installs the allocator as libtorch's CPU allocator, once. ATMAN_CPU_ALLOCATOR=libtorch keeps libtorch's own.
void installCpuAllocator();
// Bytes of freed blocks held for reuse (0 when the allocator is not installed).
int64_t cpuCachedBytes();

}  // namespace atman
