// Functional building blocks of language models.
#include "native/core/dtype.h"
#include "native/core/registry.h"

namespace atman {

namespace {

at::Reduction::Reduction parseReduction(const std::string& name) {
  if (name == "mean") return at::Reduction::Mean;
  if (name == "sum") return at::Reduction::Sum;
  if (name == "none") return at::Reduction::None;
  throw TypeError("unknown reduction '" + name + "': use 'mean', 'sum' or 'none'");
}

// crossEntropy(logits [..., C], targets [...], ignoreIndex = -100, reduction = 'mean').
// Classes are on the last dim (the language-model layout), unlike torch's dim 1.
Value crossEntropy(const Args& a) {
  at::Tensor logits = a.tensor(0), targets = a.tensor(1);
  if (targets.scalar_type() != at::kLong)
    throw TypeError("dtype mismatch: crossEntropy() targets must be int64 class indices, got " + dtypeName(targets.scalar_type()));
  if (logits.dim() < 1 || logits.dim() != targets.dim() + 1)
    throw TypeError("shape mismatch: crossEntropy() needs logits [..., C] and targets [...] (one dim less), got " +
                    std::to_string(logits.dim()) + " and " + std::to_string(targets.dim()) + " dims");
  for (int64_t d = 0; d < targets.dim(); ++d)
    if (logits.size(d) != targets.size(d))
      throw TypeError("shape mismatch: crossEntropy() logits and targets differ in dim " + std::to_string(d));
  auto reduction = parseReduction(a.has(3) ? a.string(3) : "mean");
  int64_t classes = logits.size(-1);
  at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, classes}), targets.reshape({-1}), {}, reduction,
                                           a.integerOr(2, -100), 0.0);
  if (reduction == at::Reduction::None) return loss.reshape(targets.sizes());
  return loss;
}

Value linear(const Args& a) { return at::linear(a.tensor(0), a.tensor(1), a.optTensor(2)); }

Value embedding(const Args& a) {
  at::Tensor ids = a.tensor(0), weight = a.tensor(1);
  if (ids.scalar_type() != at::kLong && ids.scalar_type() != at::kInt)
    throw TypeError("dtype mismatch: embedding() ids must be int64 or int32, got " + dtypeName(ids.scalar_type()));
  if (weight.dim() != 2)
    throw TypeError("shape mismatch: embedding() weight must be [vocab, dim], got " + std::to_string(weight.dim()) + " dims");
  const int64_t vocab = weight.size(0);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= vocab)
      throw RangeError("index or dimension out of range: embedding() id " + std::to_string(lo < 0 ? lo : hi) +
                       " is outside the vocabulary: weight has " + std::to_string(vocab) + " rows, so ids must be in [0, " +
                       std::to_string(vocab) + ")");
  }
  return at::embedding(weight, ids);
}

}  // namespace

void registerNnOps(OpTable& t) {
  t.add("crossEntropy", crossEntropy);
  t.add("linear", linear);
  t.add("embedding", embedding);
}

}  // namespace atman
