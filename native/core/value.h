// Values that cross between JS and native ops: the binding converts JS values into these and back.
#pragma once
#include <ATen/ATen.h>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace atman {

struct None {};
using IntList = std::vector<int64_t>;
using FloatList = std::vector<double>;
using TensorList = std::vector<at::Tensor>;

// An undefined at::Tensor inside a TensorList means "no tensor" (e.g. a missing gradient) and maps to null.
using Value = std::variant<None, at::Tensor, double, int64_t, bool, std::string, IntList, FloatList, TensorList>;

// Thrown with a message that already states the cause in plain words (files, formats); becomes a JS Error as is.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Thrown for misuse that is the caller's fault in type or shape; becomes a JS TypeError.
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Thrown for an out-of-range argument (dimension, index, count); becomes a JS RangeError.
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Positional arguments of one op call, with typed accessors that fail with a message naming the op and position.
class Args {
 public:
  Args(const char* op, std::vector<Value> values) : op_(op), values_(std::move(values)) {}

  size_t size() const { return values_.size(); }
  bool has(size_t i) const;  // present and not None
  const Value& at(size_t i) const;

  at::Tensor tensor(size_t i) const;
  at::Tensor optTensor(size_t i) const;  // undefined when absent
  TensorList tensors(size_t i) const;
  at::Scalar scalar(size_t i) const;
  // A tensor, or a number as a "wrapped number": a 0-dim tensor that takes part in type promotion the way a
  // Python scalar does in PyTorch (float32 tensor + 2 stays float32, int64 tensor + 0.5 becomes float32).
  at::Tensor tensorOrScalar(size_t i) const;
  double number(size_t i) const;
  double numberOr(size_t i, double fallback) const;
  int64_t integer(size_t i) const;
  int64_t integerOr(size_t i, int64_t fallback) const;
  bool flagOr(size_t i, bool fallback) const;
  std::string string(size_t i) const;
  IntList ints(size_t i) const;  // a list of integers, or one integer as a list of one
  IntList shape(size_t i) const; // like ints(), entries must be >= 0
  std::optional<IntList> optDims(size_t i) const;

  [[noreturn]] void fail(size_t i, const std::string& expected) const;
  const char* op() const { return op_; }

 private:
  const char* op_;
  std::vector<Value> values_;
};

std::string describe(const Value& v);

}  // namespace atman
