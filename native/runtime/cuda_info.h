// CUDA queries that work in every build: a CPU-only libtorch answers "none" instead of failing to link.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace atman {

struct CudaDevice {
  int index;
  std::string name;
  int64_t totalBytes;
  int major, minor;
};

struct CudaMemoryStats {
  int64_t allocatedBytes = 0;
  int64_t reservedBytes = 0;
  int64_t peakAllocatedBytes = 0;
};

bool cudaAvailable();
int cudaDeviceCount();
std::vector<CudaDevice> cudaDevices();
void cudaSynchronize(int device);  // -1: the current device
CudaMemoryStats cudaMemoryStats(int device);
void cudaResetPeak(int device);
int64_t cudaAllocatedBytes();  // all devices; 0 without CUDA
void cudaEmptyCache();
bool builtWithCuda();  // this addon was compiled against a CUDA libtorch

}  // namespace atman
