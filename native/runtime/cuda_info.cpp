#include "native/runtime/cuda_info.h"

#include <torch/cuda.h>

#include "native/core/value.h"

#ifdef ATMAN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace atman {

bool builtWithCuda() {
#ifdef ATMAN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool cudaAvailable() { return torch::cuda::is_available(); }

int cudaDeviceCount() { return cudaAvailable() ? static_cast<int>(torch::cuda::device_count()) : 0; }

namespace {
void requireCuda(const char* what) {
  if (!cudaAvailable())
    throw TypeError(std::string("CUDA is not available: ") + what +
                    " needs a CUDA libtorch and a visible GPU (atman-native doctor shows what was found)");
}
[[maybe_unused]] int resolveDevice(int device) {
#ifdef ATMAN_WITH_CUDA
  if (device < 0) return c10::cuda::current_device();
  if (device >= cudaDeviceCount()) throw RangeError("device out of range: cuda:" + std::to_string(device));
#endif
  return device;
}
}  // namespace

std::vector<CudaDevice> cudaDevices() {
  std::vector<CudaDevice> out;
#ifdef ATMAN_WITH_CUDA
  for (int i = 0; i < cudaDeviceCount(); ++i) {
    auto* p = at::cuda::getDeviceProperties(i);
    out.push_back({i, p->name, static_cast<int64_t>(p->totalGlobalMem), p->major, p->minor});
  }
#endif
  return out;
}

void cudaSynchronize(int device) {
  requireCuda("synchronize()");
#ifdef ATMAN_WITH_CUDA
  c10::cuda::device_synchronize();
  (void)resolveDevice(device);
#endif
}

CudaMemoryStats cudaMemoryStats(int device) {
  CudaMemoryStats s;
  if (!cudaAvailable()) return s;
#ifdef ATMAN_WITH_CUDA
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(resolveDevice(device)));
  constexpr size_t kAggregate = 0;  // StatType::AGGREGATE, whose namespace moved between libtorch versions
  s.allocatedBytes = stats.allocated_bytes[kAggregate].current;
  s.reservedBytes = stats.reserved_bytes[kAggregate].current;
  s.peakAllocatedBytes = stats.allocated_bytes[kAggregate].peak;
#endif
  return s;
}

void cudaResetPeak(int device) {
  requireCuda("resetPeakMemory()");
#ifdef ATMAN_WITH_CUDA
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(resolveDevice(device)));
#endif
}

int64_t cudaAllocatedBytes() {
  int64_t total = 0;
  for (int i = 0; i < cudaDeviceCount(); ++i) {
    try {
      total += cudaMemoryStats(i).allocatedBytes;
    } catch (const c10::Error&) {
      // The caching allocator is created with the first CUDA allocation; before that nothing is allocated.
    }
  }
  return total;
}

void cudaEmptyCache() {
#ifdef ATMAN_WITH_CUDA
  if (cudaAvailable()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

}  // namespace atman
