// Intra-op CPU threads. PyTorch's Python module sizes libtorch's pool at import; a C++ host must do it itself,
// else OpenMP may run everything on one thread.
#pragma once

namespace atman {

// Uses OMP_NUM_THREADS when set, else libtorch's default (the physical cores).
void initCpuThreads();

}  // namespace atman
