// Reductions over all elements or over dims, plus softmax-family ops.
#include "native/core/registry.h"

namespace atman {

namespace {

// Dims at position i (absent: all dims), keepdim at i+1.
IntList dimsOrAll(const Args& a, size_t i, const at::Tensor& t) {
  if (a.has(i)) return a.ints(i);
  IntList all(t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) all[d] = d;
  return all;
}

Value sum(const Args& a) {
  at::Tensor t = a.tensor(0);
  if (!a.has(1)) return at::sum(t);
  return at::sum(t, a.ints(1), a.flagOr(2, false));
}

Value mean(const Args& a) {
  at::Tensor t = a.tensor(0);
  if (!a.has(1)) return at::mean(t);
  return at::mean(t, a.ints(1), a.flagOr(2, false));
}

// max/min: with a dim, the values only (argmax/argmin give the indices).
Value max(const Args& a) {
  at::Tensor t = a.tensor(0);
  if (!a.has(1)) return at::max(t);
  return std::get<0>(at::max(t, a.integer(1), a.flagOr(2, false)));
}

Value min(const Args& a) {
  at::Tensor t = a.tensor(0);
  if (!a.has(1)) return at::min(t);
  return std::get<0>(at::min(t, a.integer(1), a.flagOr(2, false)));
}

Value argmax(const Args& a) {
  c10::optional<int64_t> dim;
  if (a.has(1)) dim = a.integer(1);
  return at::argmax(a.tensor(0), dim, a.flagOr(2, false));
}

Value argmin(const Args& a) {
  c10::optional<int64_t> dim;
  if (a.has(1)) dim = a.integer(1);
  return at::argmin(a.tensor(0), dim, a.flagOr(2, false));
}

Value logsumexp(const Args& a) {
  at::Tensor t = a.tensor(0);
  return at::logsumexp(t, dimsOrAll(a, 1, t), a.flagOr(2, false));
}

// norm(t, dims?, keepdim?, p = 2)
Value norm(const Args& a) {
  at::Tensor t = a.tensor(0);
  at::OptionalIntArrayRef dims = c10::nullopt;
  IntList d;
  if (a.has(1)) {
    d = a.ints(1);
    dims = d;
  }
  return at::linalg_vector_norm(t, a.has(3) ? a.scalar(3) : at::Scalar(2.0), dims, a.flagOr(2, false), c10::nullopt);
}

// std/var(t, dims?, keepdim?, unbiased = true)
Value stdev(const Args& a) {
  at::Tensor t = a.tensor(0);
  return at::std(t, dimsOrAll(a, 1, t), a.flagOr(3, true), a.flagOr(2, false));
}

Value var(const Args& a) {
  at::Tensor t = a.tensor(0);
  return at::var(t, dimsOrAll(a, 1, t), a.flagOr(3, true), a.flagOr(2, false));
}

Value cumsum(const Args& a) { return at::cumsum(a.tensor(0), a.integer(1)); }
Value softmax(const Args& a) { return at::softmax(a.tensor(0), a.integerOr(1, -1)); }
Value logSoftmax(const Args& a) { return at::log_softmax(a.tensor(0), a.integerOr(1, -1)); }

}  // namespace

void registerReductionOps(OpTable& t) {
  t.add("sum", sum);
  t.add("mean", mean);
  t.add("max", max);
  t.add("min", min);
  t.add("argmax", argmax);
  t.add("argmin", argmin);
  t.add("logsumexp", logsumexp);
  t.add("norm", norm);
  t.add("std", stdev);
  t.add("var", var);
  t.add("cumsum", cumsum);
  t.add("softmax", softmax);
  t.add("logSoftmax", logSoftmax);
}

}  // namespace atman
