#include "native/distributed/gradients.h"

#include <torch/csrc/autograd/variable.h>

#include "native/core/value.h"

namespace atman::dist {

namespace {

struct Bucket {
  std::vector<at::Tensor> params;
  int64_t bytes = 0;
};

// Consecutive parameters of one dtype and device share a bucket until it is full.
std::vector<Bucket> bucketsOf(const std::vector<at::Tensor>& params, int64_t bucketBytes) {
  std::vector<Bucket> out;
  for (const auto& p : params) {
    if (!p.defined()) throw TypeError("distributed.allReduceGradients(): a parameter is undefined");
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    bool fits = !out.empty() && out.back().params.front().scalar_type() == p.scalar_type() &&
                out.back().params.front().device() == p.device() && out.back().bytes + bytes <= bucketBytes;
    if (!fits) out.emplace_back();
    out.back().params.push_back(p);
    out.back().bytes += bytes;
  }
  return out;
}

}  // namespace

Pending startGradientAllReduce(const std::vector<at::Tensor>& params, ReduceOp op, int64_t bucketBytes) {
  if (bucketBytes <= 0) throw RangeError("distributed.allReduceGradients(): bucketBytes must be positive");
  at::NoGradGuard noGrad;
  std::vector<Bucket> buckets = bucketsOf(params, bucketBytes);
  std::vector<at::Tensor> flats;
  for (const auto& b : buckets) {
    std::vector<at::Tensor> pieces;
    for (const auto& p : b.params) {
      const at::Tensor& g = p.grad();
      pieces.push_back(g.defined() ? g.detach().reshape({-1}).to(p.scalar_type()) : at::zeros({p.numel()}, p.options()));
    }
    flats.push_back(at::cat(pieces));
  }
  Pending reduce = startAllReduce(flats, op);
  return Pending([reduce, buckets = std::move(buckets), flats]() mutable {
    reduce.wait();
    at::NoGradGuard noGrad;
    for (size_t k = 0; k < buckets.size(); k++) {
      int64_t offset = 0;
      for (auto& p : buckets[k].params) {
        at::Tensor slice = flats[k].narrow(0, offset, p.numel()).view(p.sizes());
        offset += p.numel();
        at::Tensor& g = p.mutable_grad();
        if (g.defined()) g.copy_(slice);
        else g = slice.clone();
      }
    }
  });
}

}  // namespace atman::dist
