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

// c10d: in 1.13 a backend (ProcessGroupGloo, ProcessGroupNCCL) is a c10d::ProcessGroup; 2.0 moved the collectives to
// c10d::Backend, which the backends derive from (ProcessGroup became a dispatcher over backends). Both bases offer the
// same allreduce/broadcast/barrier(std::vector<at::Tensor>&, Options) -> intrusive_ptr<c10d::Work> calls we use.
#if ATMAN_TORCH_AT_LEAST(2, 0)
#define ATMAN_C10D_BACKEND c10d::Backend
#define ATMAN_C10D_BACKEND_HEADER <torch/csrc/distributed/c10d/Backend.hpp>
#else
#define ATMAN_C10D_BACKEND c10d::ProcessGroup
#define ATMAN_C10D_BACKEND_HEADER <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
