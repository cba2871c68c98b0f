// Shared by the ATen wrappers of the fused kernels (fused_ops.cpp, fused_decode.cpp; CUDA builds only): the kernel
// dtype of a tensor, and a failed launch as a C++ exception (which the binding turns into a JS Error).
#pragma once
#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "native/llama/fused/fused.h"

namespace atman::llama {

inline fused::DType fusedDType(const at::Tensor& x) {
  switch (x.scalar_type()) {
    case at::kBFloat16: return fused::DType::BFloat16;
    case at::kHalf: return fused::DType::Half;
    default: return fused::DType::Float;
  }
}

inline void checkFused(const char* err, const char* what) {
  if (err != nullptr) throw std::runtime_error(std::string("the fused CUDA ") + what + " kernel failed: " + err);
}

}  // namespace atman::llama
