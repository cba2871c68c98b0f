// Views, shape changes, indexing, joining and conversion.
#include <algorithm>

#include "native/core/dtype.h"
#include "native/core/registry.h"

namespace atman {

namespace {

Value squeeze(const Args& a) {
  at::Tensor t = a.tensor(0);
  return a.has(1) ? at::squeeze(t, a.integer(1)) : at::squeeze(t);
}

Value flatten(const Args& a) { return at::flatten(a.tensor(0), a.integerOr(1, 0), a.integerOr(2, -1)); }

Value narrow(const Args& a) {
  at::Tensor t = a.tensor(0);
  int64_t dim = a.integer(1), start = a.integer(2), length = a.integer(3);
  if (length < 0) throw RangeError("index or dimension out of range: narrow() length must be >= 0, got " + std::to_string(length));
  if (t.dim() == 0) throw RangeError("index or dimension out of range: narrow() needs a tensor with at least one dim");
  if (dim < -t.dim() || dim >= t.dim())
    throw RangeError("index or dimension out of range: narrow() dim " + std::to_string(dim) + " of a tensor with " +
                     std::to_string(t.dim()) + " dims");
  int64_t size = t.size(dim);
  int64_t first = start < 0 ? start + size : start;
  if (first < 0 || first + length > size)
    throw RangeError("index or dimension out of range: narrow() start " + std::to_string(start) + " and length " +
                     std::to_string(length) + " exceed dim " + std::to_string(dim) + " of size " + std::to_string(size));
  return at::narrow(t, dim, first, length);
}

void requireIndex(const at::Tensor& index, const char* op) {
  if (index.scalar_type() != at::kLong && index.scalar_type() != at::kInt)
    throw TypeError(std::string("dtype mismatch: ") + op + "() needs an int64 or int32 index tensor, got " + dtypeName(index.scalar_type()));
}

Value indexSelect(const Args& a) {
  at::Tensor index = a.tensor(2);
  requireIndex(index, "indexSelect");
  at::Tensor t = a.tensor(0);
  const int64_t dim = a.integer(1);
  const int64_t rank = std::max<int64_t>(t.dim(), 1);
  if (dim < -rank || dim >= rank)
    throw RangeError("index or dimension out of range: indexSelect() dim " + std::to_string(dim) + " of a tensor with " +
                     std::to_string(t.dim()) + " dims");
  const int64_t size = t.dim() == 0 ? 1 : t.size(dim);
  if (index.numel() > 0) {
    const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
    if (lo < 0 || hi >= size)
      throw RangeError("index or dimension out of range: indexSelect() index " + std::to_string(lo < 0 ? lo : hi) +
                       " is outside dim " + std::to_string(dim) + " of size " + std::to_string(size) + " (valid: 0 to " +
                       std::to_string(size - 1) + ")");
  }
  return at::index_select(t, dim, index);
}

Value gather(const Args& a) {
  at::Tensor index = a.tensor(2);
  if (index.scalar_type() != at::kLong) throw TypeError("dtype mismatch: gather() needs an int64 index tensor, got " + dtypeName(index.scalar_type()));
  return at::gather(a.tensor(0), a.integer(1), index);
}

// scatter(t, dim, index, src tensor | value): out-of-place.
Value scatter(const Args& a) {
  at::Tensor t = a.tensor(0), index = a.tensor(2);
  if (index.scalar_type() != at::kLong) throw TypeError("dtype mismatch: scatter() needs an int64 index tensor, got " + dtypeName(index.scalar_type()));
  if (std::holds_alternative<at::Tensor>(a.at(3))) return at::scatter(t, a.integer(1), index, a.tensor(3));
  return at::scatter(t, a.integer(1), index, a.scalar(3));
}

Value maskedFill(const Args& a) {
  at::Tensor t = a.tensor(0), mask = a.tensor(1);
  if (mask.scalar_type() != at::kBool) throw TypeError("dtype mismatch: maskedFill() needs a bool mask, got " + dtypeName(mask.scalar_type()));
  if (std::holds_alternative<at::Tensor>(a.at(2))) return at::masked_fill(t, mask, a.tensor(2));
  return at::masked_fill(t, mask, a.scalar(2));
}

// topk(t, k, dim = -1, largest = true, sorted = true) -> [values, indices]
Value topk(const Args& a) {
  at::Tensor t = a.tensor(0);
  const int64_t k = a.integer(1), dim = a.integerOr(2, -1);
  const int64_t rank = std::max<int64_t>(t.dim(), 1);
  if (dim < -rank || dim >= rank)
    throw RangeError("index or dimension out of range: topk() dim " + std::to_string(dim) + " of a tensor with " +
                     std::to_string(t.dim()) + " dims");
  const int64_t size = t.dim() == 0 ? 1 : t.size(dim);
  if (k < 0 || k > size)
    throw RangeError("index or dimension out of range: topk() k = " + std::to_string(k) + " but dim " + std::to_string(dim) +
                     " has " + std::to_string(size) + " elements (k must be in [0, " + std::to_string(size) + "])");
  auto r = at::topk(t, k, dim, a.flagOr(3, true), a.flagOr(4, true));
  return TensorList{std::get<0>(r), std::get<1>(r)};
}

// sort(t, dim = -1, descending = false) -> [values, indices]
Value sort(const Args& a) {
  auto r = at::sort(a.tensor(0), a.integerOr(1, -1), a.flagOr(2, false));
  return TensorList{std::get<0>(r), std::get<1>(r)};
}

// multinomial(weights [C] or [B, C], numSamples, replacement = false)
Value multinomial(const Args& a) {
  at::Tensor w = a.tensor(0);
  int64_t n = a.integer(1);
  bool replacement = a.flagOr(2, false);
  if (n <= 0) throw RangeError("out of range: multinomial() numSamples must be > 0");
  if (w.dim() != 1 && w.dim() != 2)
    throw TypeError("shape mismatch: multinomial() needs weights of shape [C] or [B, C], got " + std::to_string(w.dim()) + " dims");
  if (!at::isFloatingType(w.scalar_type()))
    throw TypeError("dtype mismatch: multinomial() needs floating-point weights, got " + dtypeName(w.scalar_type()));
  if (!replacement && w.numel() > 0) {
    if (n > w.size(-1))
      throw RangeError("out of range: multinomial() without replacement cannot draw " + std::to_string(n) +
                       " samples from " + std::to_string(w.size(-1)) + " categories");
    // libtorch would return zero-weight categories once the non-zero ones run out.
    int64_t fewest = at::count_nonzero(w.detach(), at::IntArrayRef{-1}).min().template item<int64_t>();
    if (fewest < n)
      throw RangeError("invalid values: multinomial() without replacement needs at least " + std::to_string(n) +
                       " non-zero weights in each row, a row has " + std::to_string(fewest));
  }
  return at::multinomial(w, n, replacement);
}

// split(t, size | sizes, dim = 0)
Value split(const Args& a) {
  at::Tensor t = a.tensor(0);
  int64_t dim = a.integerOr(2, 0);
  if (std::holds_alternative<int64_t>(a.at(1))) {
    int64_t size = a.integer(1);
    if (size <= 0) throw RangeError("out of range: split() size must be > 0");
    return at::split(t, size, dim);
  }
  return at::split_with_sizes(t, a.ints(1), dim);
}

Value chunk(const Args& a) {
  int64_t n = a.integer(1);
  if (n <= 0) throw RangeError("out of range: chunk() count must be > 0");
  return at::chunk(a.tensor(0), n, a.integerOr(2, 0));
}

Value cat(const Args& a) {
  TensorList list = a.tensors(0);
  if (list.empty()) throw TypeError("wrong argument type: cat() needs at least one tensor");
  return at::cat(list, a.integerOr(1, 0));
}

Value stack(const Args& a) {
  TensorList list = a.tensors(0);
  if (list.empty()) throw TypeError("wrong argument type: stack() needs at least one tensor");
  return at::stack(list, a.integerOr(1, 0));
}

// to(t, dtype?, device?)
Value to(const Args& a) {
  at::Tensor t = a.tensor(0);
  at::ScalarType dtype = a.has(1) ? parseDtype(a.string(1)) : t.scalar_type();
  at::Device device = a.has(2) ? parseDevice(a.string(2)) : t.device();
  checkIntegerCast(t, dtype, "to('" + dtypeName(dtype) + "')");
  return t.to(device, dtype);
}

}  // namespace

void registerShapeOps(OpTable& t) {
  t.add("matmul", [](const Args& a) -> Value { return at::matmul(a.tensor(0), a.tensor(1)); });
  t.add("reshape", [](const Args& a) -> Value { return at::reshape(a.tensor(0), a.ints(1)); });
  t.add("view", [](const Args& a) -> Value { return a.tensor(0).view(a.ints(1)); });
  t.add("transpose", [](const Args& a) -> Value { return at::transpose(a.tensor(0), a.integer(1), a.integer(2)); });
  t.add("permute", [](const Args& a) -> Value { return at::permute(a.tensor(0), a.ints(1)); });
  t.add("unsqueeze", [](const Args& a) -> Value { return at::unsqueeze(a.tensor(0), a.integer(1)); });
  t.add("squeeze", squeeze);
  t.add("expand", [](const Args& a) -> Value { return a.tensor(0).expand(a.ints(1)); });
  t.add("contiguous", [](const Args& a) -> Value { return a.tensor(0).contiguous(); });
  t.add("flatten", flatten);
  t.add("narrow", narrow);
  t.add("indexSelect", indexSelect);
  t.add("gather", gather);
  t.add("scatter", scatter);
  t.add("maskedFill", maskedFill);
  t.add("topk", topk);
  t.add("sort", sort);
  t.add("multinomial", multinomial);
  t.add("clone", [](const Args& a) -> Value { return a.tensor(0).clone(); });
  t.add("detach", [](const Args& a) -> Value { return a.tensor(0).detach(); });
  t.add("split", split);
  t.add("chunk", chunk);
  t.add("cat", cat);
  t.add("stack", stack);
  t.add("to", to);
}

}  // namespace atman
