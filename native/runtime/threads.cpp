#include "native/runtime/threads.h"

#include <ATen/Parallel.h>

#include <cstdlib>

namespace atman {

void initCpuThreads() {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;  // libgomp already follows it
  int n = at::intraop_default_num_threads();
  if (n > 0) at::set_num_threads(n);
}

}  // namespace atman
