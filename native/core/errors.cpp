#include "native/core/errors.h"

#include <ATen/ATen.h>

#include "native/compat.h"
#include "native/core/value.h"

namespace atman {

namespace {

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

// libtorch messages end with source locations and C++ frames; users need the first lines only.
std::string firstLines(const std::string& s) {
  std::string out = s;
  for (const char* cut : {"\nException raised from", "\nFrame ", "\nCompile with `TORCH_USE_CUDA_DSA`"}) {
    auto p = out.find(cut);
    if (p != std::string::npos) out = out.substr(0, p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

ErrorReport classifyTorchMessage(const std::string& raw, ErrorKind hinted) {
  std::string m = firstLines(raw);
  if (contains(m, "out of memory") || contains(m, "can't allocate memory") || contains(m, "Tried to allocate"))
    return {ErrorKind::Range, "out of memory: " + m};
  if (contains(m, "Dimension out of range") || contains(m, "out of bounds") || contains(m, "out of range") ||
      (contains(m, "index") && contains(m, "is out of")) || contains(m, "exceeds dimension size"))
    return {ErrorKind::Range, "index or dimension out of range: " + m};
  // Values that no dtype can hold or that a sampler cannot use (checked before "type" and "dimension" below).
  if (contains(m, "cannot be converted to type") || contains(m, "invalid multinomial distribution") ||
      contains(m, "probability tensor") || contains(m, "inconsistent with step sign") ||
      contains(m, "negative integer powers"))
    return {ErrorKind::Range, "invalid values: " + m};
  if (contains(m, "overflowed") || contains(m, "duplicate dims") || contains(m, "cannot come after") ||
      contains(m, "can be any value and is ambiguous"))
    return {ErrorKind::Range, "invalid shape: " + m};
  if (contains(m, "Expected all tensors to be on the same device") || contains(m, "device type") ||
      contains(m, "on device") || contains(m, "same device"))
    return {ErrorKind::Type, "device mismatch: " + m};
  if (contains(m, "must match the size") || contains(m, "shape") || contains(m, "size mismatch") ||
      contains(m, "cannot be multiplied") || contains(m, "Sizes of tensors must match") || contains(m, "invalid for input of size") ||
      contains(m, "expand") || contains(m, "dimension") || contains(m, "number of dims") ||
      contains(m, "equal size") || contains(m, "need to be at least") || contains(m, "Expected reduction dim") ||
      contains(m, "must be 1 or 2 dim"))
    return {ErrorKind::Type, "shape mismatch: " + m};
  if (contains(m, "dtype") || contains(m, "scalar type") || contains(m, "ScalarType") || contains(m, "not implemented for") ||
      contains(m, "result type") || contains(m, "Expected object of scalar type") || contains(m, "only supported for") ||
      contains(m, "must be floating") || contains(m, "only Tensors of floating point") || contains(m, "bool tensor") ||
      contains(m, "floating-point dtypes"))
    return {ErrorKind::Type, "dtype mismatch: " + m};
  if (contains(m, "does not require grad") || contains(m, "grad can be implicitly created") ||
      contains(m, "backward through the graph a second time") || contains(m, "modified by an inplace operation") ||
      contains(m, "leaf Variable that requires grad"))
    return {ErrorKind::Generic, "autograd: " + m};
  if (contains(m, "nan") || contains(m, "NaN"))
    return {ErrorKind::Range, "invalid values: " + m};
  return {hinted, "libtorch error: " + m};
}

}  // namespace

ErrorReport describeException(const std::exception& e) {
  if (auto* t = dynamic_cast<const TypeError*>(&e)) return {ErrorKind::Type, t->what()};
  if (auto* r = dynamic_cast<const RangeError*>(&e)) return {ErrorKind::Range, r->what()};
  if (auto* p = dynamic_cast<const Error*>(&e)) return {ErrorKind::Generic, p->what()};
#if ATMAN_HAS_OOM_ERROR
  if (auto* o = dynamic_cast<const c10::OutOfMemoryError*>(&e))
    return {ErrorKind::Range, "out of memory: " + firstLines(o->what_without_backtrace())};
#endif
  if (auto* ie = dynamic_cast<const c10::IndexError*>(&e))
    return {ErrorKind::Range, "index or dimension out of range: " + firstLines(ie->what_without_backtrace())};
  if (auto* te = dynamic_cast<const c10::TypeError*>(&e))
    return classifyTorchMessage(te->what_without_backtrace(), ErrorKind::Type);
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) return classifyTorchMessage(ce->what_without_backtrace(), ErrorKind::Generic);
  if (dynamic_cast<const std::bad_alloc*>(&e)) return {ErrorKind::Range, "out of memory: host allocation failed"};
  if (dynamic_cast<const std::out_of_range*>(&e)) return {ErrorKind::Range, std::string("out of range: ") + e.what()};
  // A few libtorch paths (shape inference in ATen/InferSize.h, checked scalar conversion) throw a plain
  // std::runtime_error; classify those. Other plain exceptions (e.g. from native/io) already say their cause.
  std::string m = e.what();
  if (contains(m, "is invalid for input of size") || contains(m, "only one dimension can be inferred") ||
      contains(m, "cannot be converted to type"))
    return classifyTorchMessage(m, ErrorKind::Generic);
  return {ErrorKind::Generic, m};
}

ErrorReport describeCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return describeException(e);
  } catch (...) {
    return {ErrorKind::Generic, "unknown native error"};
  }
}

}  // namespace atman
