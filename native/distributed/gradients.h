// Data-parallel gradient reduction: the gradients of a parameter list, reduced across the ranks in flat buckets (as
// DDP's reducer buckets them). Every rank must pass the same parameters in the same order.
#pragma once
#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>

#include <memory>
#include <vector>

#include "native/distributed/process_group.h"

namespace atman::dist {

// After backward: packs the gradients into buckets of at most bucketBytes (one parameter larger than that gets its
// own), enqueues one all-reduce per bucket, and returns the Pending that waits for all and copies the results back. A
// parameter without a gradient contributes zeros and receives the reduced gradient.
Pending startGradientAllReduce(const std::vector<at::Tensor>& params, ReduceOp op, int64_t bucketBytes);

// Overlapped with backward, as DDP's reducer does: hooks on the parameters' gradient accumulators copy each gradient
// into its bucket once it is final, and a full bucket's all-reduce starts at once (buckets in a fixed order, the last
// parameters first, so every rank issues the same sequence) while backward goes on. arm() before the backward whose
// gradients are the step's (the last micro-batch's); finish() after it starts what is left, and its Pending waits
// and writes the reduced gradients back. No other collective may be issued between arm() and finish().
class GradientReducer {
 public:
  GradientReducer(std::vector<at::Tensor> params, int64_t bucketBytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void arm(ReduceOp op);
  Pending finish();
  // Of the last finish(): buckets whose all-reduce had started during backward, and all buckets.
  size_t overlappedBuckets() const;
  size_t bucketCount() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // kept alive: the hooks live on them
};

}  // namespace atman::dist
