// Host-side copies for reading tensor data from JS.
#pragma once
#include <ATen/ATen.h>

namespace atman {

// A contiguous CPU tensor with the values of t, in a dtype JS has a TypedArray for
// (float16/bfloat16 -> float32, bool stays bool and is read as bytes). Always a copy, never a view of t.
at::Tensor hostReadable(const at::Tensor& t);

}  // namespace atman
