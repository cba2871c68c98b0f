#include "native/memory/live_tensors.h"

#include <unordered_map>
#include <unordered_set>

#include "native/memory/cpu_allocator.h"
#include "native/runtime/cuda_info.h"

namespace atman {

namespace {
// Only touched from the JS thread: handles are created and released there.
std::unordered_map<const c10::TensorImpl*, int64_t>& live() {
  static std::unordered_map<const c10::TensorImpl*, int64_t> m;
  return m;
}
int64_t liveCount = 0;
}  // namespace

void trackTensor(const at::Tensor& t) {
  ++live()[t.unsafeGetTensorImpl()];
  ++liveCount;
}

void untrackTensor(const at::Tensor& t) {
  auto it = live().find(t.unsafeGetTensorImpl());
  if (it == live().end()) return;
  if (--it->second == 0) live().erase(it);
  --liveCount;
}

MemoryReport memoryReport() {
  MemoryReport r;
  r.liveTensors = liveCount;
  std::unordered_set<const void*> seen;
  for (const auto& [impl, count] : live()) {
    if (!impl->has_storage() || impl->device().type() != at::kCPU) continue;
    const auto& storage = impl->storage();
    if (seen.insert(storage.unsafeGetStorageImpl()).second) r.cpuBytes += static_cast<int64_t>(storage.nbytes());
  }
  r.cudaBytes = cudaAllocatedBytes();
  r.cpuCachedBytes = cpuCachedBytes();
  return r;
}

}  // namespace atman
