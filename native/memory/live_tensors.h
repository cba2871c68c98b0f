// Bookkeeping of the tensors JS holds, for memory(): how many, and the bytes of their distinct storages.
#pragma once
#include <ATen/ATen.h>

namespace atman {

struct MemoryReport {
  int64_t liveTensors = 0;
  int64_t cpuBytes = 0;   // distinct CPU storages of live JS tensors
  int64_t cudaBytes = 0;  // the CUDA caching allocator's allocated bytes (all tensors, also internal ones)
  int64_t cpuCachedBytes = 0;  // freed CPU blocks kept for reuse (native/memory/cpu_allocator.h)
};

void trackTensor(const at::Tensor& t);    // a JS handle now holds t
void untrackTensor(const at::Tensor& t);  // that handle released t
MemoryReport memoryReport();

}  // namespace atman
