#include "native/runtime/build_info.h"

#include <ATen/Parallel.h>

#include "native/runtime/cuda_info.h"

namespace atman {

BuildInfo buildInfo() {
  BuildInfo b;
  b.torchVersion = ATMAN_TORCH_VERSION;
  b.torchSource = ATMAN_TORCH_SOURCE;
  b.torchLibDir = ATMAN_TORCH_LIBDIR;
  b.variant = builtWithCuda() ? "cuda" : "cpu";
  b.cxx11Abi = _GLIBCXX_USE_CXX11_ABI != 0;
  b.parallelThreads = at::get_num_threads();
  return b;
}

}  // namespace atman
