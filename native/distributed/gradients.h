// Data-parallel gradient reduction: the gradients of a parameter list, reduced across the ranks in flat buckets (as
// DDP's reducer buckets them), after backward. Every rank must pass the same parameters in the same order.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "native/distributed/process_group.h"

namespace atman::dist {

// Packs the gradients into buckets of at most bucketBytes (one parameter larger than that gets its own), enqueues
// one all-reduce per bucket, and returns the Pending that waits for all and copies the results back. A parameter
// without a gradient contributes zeros and receives the reduced gradient, so every rank reduces the same layout.
Pending startGradientAllReduce(const std::vector<at::Tensor>& params, ReduceOp op, int64_t bucketBytes);

}  // namespace atman::dist
