#include "native/core/value.h"

#include <ATen/ScalarOps.h>

#include <cmath>
#include <sstream>

namespace atman {

namespace {
const Value kNone{None{}};
}

std::string describe(const Value& v) {
  switch (v.index()) {
    case 0: return "nothing";
    case 1: return "a Tensor";
    case 2: return "a number";
    case 3: return "an integer";
    case 4: return "a boolean";
    case 5: return "a string";
    case 6: return "a list of integers";
    case 7: return "a list of numbers";
    case 8: return "a list of Tensors";
  }
  return "an unknown value";
}

bool Args::has(size_t i) const { return i < values_.size() && !std::holds_alternative<None>(values_[i]); }

const Value& Args::at(size_t i) const { return i < values_.size() ? values_[i] : kNone; }

void Args::fail(size_t i, const std::string& expected) const {
  std::ostringstream msg;
  msg << "wrong argument type: " << op_ << "() argument " << (i + 1) << " must be " << expected << ", got "
      << describe(at(i));
  throw TypeError(msg.str());
}

at::Tensor Args::tensor(size_t i) const {
  if (auto* t = std::get_if<at::Tensor>(&at(i))) return *t;
  fail(i, "a Tensor");
}

at::Tensor Args::optTensor(size_t i) const {
  if (!has(i)) return at::Tensor();
  return tensor(i);
}

TensorList Args::tensors(size_t i) const {
  if (auto* l = std::get_if<TensorList>(&at(i))) {
    for (const auto& t : *l)
      if (!t.defined()) fail(i, "a list of Tensors (no nulls)");
    return *l;
  }
  // An empty JS array converts to an empty integer list.
  if (auto* l = std::get_if<IntList>(&at(i)); l && l->empty()) return {};
  fail(i, "a list of Tensors");
}

at::Scalar Args::scalar(size_t i) const {
  const Value& v = at(i);
  if (auto* d = std::get_if<double>(&v)) return at::Scalar(*d);
  if (auto* n = std::get_if<int64_t>(&v)) return at::Scalar(*n);
  if (auto* b = std::get_if<bool>(&v)) return at::Scalar(*b);
  fail(i, "a number");
}

at::Tensor Args::tensorOrScalar(size_t i) const {
  if (auto* t = std::get_if<at::Tensor>(&at(i))) return *t;
  at::Tensor wrapped = c10::scalar_to_tensor(scalar(i));
  wrapped.unsafeGetTensorImpl()->set_wrapped_number(true);
  return wrapped;
}

double Args::number(size_t i) const {
  const Value& v = at(i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* n = std::get_if<int64_t>(&v)) return static_cast<double>(*n);
  fail(i, "a number");
}

double Args::numberOr(size_t i, double fallback) const { return has(i) ? number(i) : fallback; }

int64_t Args::integer(size_t i) const {
  if (auto* n = std::get_if<int64_t>(&at(i))) return *n;
  fail(i, "an integer");
}

int64_t Args::integerOr(size_t i, int64_t fallback) const { return has(i) ? integer(i) : fallback; }

bool Args::flagOr(size_t i, bool fallback) const {
  if (!has(i)) return fallback;
  if (auto* b = std::get_if<bool>(&at(i))) return *b;
  fail(i, "a boolean");
}

std::string Args::string(size_t i) const {
  if (auto* s = std::get_if<std::string>(&at(i))) return *s;
  fail(i, "a string");
}

IntList Args::ints(size_t i) const {
  const Value& v = at(i);
  if (auto* l = std::get_if<IntList>(&v)) return *l;
  if (auto* n = std::get_if<int64_t>(&v)) return {*n};
  fail(i, "an integer or a list of integers");
}

IntList Args::shape(size_t i) const {
  // JS sizes past 2^53 arrive as a list of (whole) doubles: say that the size is too large, not that it is no integer.
  if (auto* l = std::get_if<FloatList>(&at(i)))
    for (double d : *l)
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) > 9007199254740991.0) {
        std::ostringstream msg;
        msg.precision(17);
        msg << "invalid shape: " << op_ << "() got the size " << d << " in argument " << (i + 1)
            << ", too large: a size must be at most 2^53 - 1 and the element count must fit in int64";
        throw RangeError(msg.str());
      }
  IntList s = ints(i);
  for (int64_t d : s)
    if (d < 0) {
      std::ostringstream msg;
      msg << "invalid shape: " << op_ << "() got a negative size " << d << " in argument " << (i + 1);
      throw RangeError(msg.str());
    }
  return s;
}

std::optional<IntList> Args::optDims(size_t i) const {
  if (!has(i)) return std::nullopt;
  return ints(i);
}

}  // namespace atman
