// The one place where libtorch 1.13 (Debian, CPU) and 2.x (pip, CUDA) differ for atman-native.
#pragma once
#include <torch/csrc/api/include/torch/version.h>

#define ATMAN_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// c10::OutOfMemoryError appeared in 2.0; earlier versions signal OOM with a plain c10::Error.
#if ATMAN_TORCH_AT_LEAST(2, 0)
#define ATMAN_HAS_OOM_ERROR 1
#else
#define ATMAN_HAS_OOM_ERROR 0
#endif
