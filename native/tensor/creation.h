// Tensor creation from host data and the options shared by creation ops.
#pragma once
#include <ATen/ATen.h>

#include "native/core/value.h"

namespace atman {

// Reads (dtype?, device?) at positions i, i+1 of an op call; dtype defaults to `fallback`.
at::TensorOptions creationOptions(const Args& a, size_t i, at::ScalarType fallback);
// Applies requiresGrad (position i) to a fresh tensor.
at::Tensor finishCreation(at::Tensor t, const Args& a, size_t i);

// Copies `numel` host elements of type `source` into a new tensor of `shape` with `options`.
at::Tensor tensorFromHost(const void* data, at::ScalarType source, int64_t numel, const IntList& shape,
                          const at::TensorOptions& options, bool requiresGrad);

void manualSeed(uint64_t seed);

}  // namespace atman
