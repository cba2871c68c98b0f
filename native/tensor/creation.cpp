#include "native/tensor/creation.h"

#include <torch/csrc/api/include/torch/utils.h>

#include <cmath>

#include "native/core/dtype.h"
#include "native/core/registry.h"

namespace atman {

at::TensorOptions creationOptions(const Args& a, size_t i, at::ScalarType fallback) {
  at::ScalarType dtype = a.has(i) ? parseDtype(a.string(i)) : fallback;
  at::Device device = a.has(i + 1) ? parseDevice(a.string(i + 1)) : at::Device(at::kCPU);
  return at::TensorOptions().dtype(dtype).device(device);
}

at::Tensor finishCreation(at::Tensor t, const Args& a, size_t i) {
  if (a.flagOr(i, false)) t.set_requires_grad(true);
  return t;
}

at::Tensor tensorFromHost(const void* data, at::ScalarType source, int64_t numel, const IntList& shape,
                          const at::TensorOptions& options, bool requiresGrad) {
  int64_t expected = 1;
  for (int64_t d : shape) {
    if (d < 0) throw RangeError("invalid shape: sizes must be >= 0");
    expected *= d;
  }
  if (expected != numel)
    throw TypeError("shape mismatch: tensor() got " + std::to_string(numel) + " values but the shape holds " +
                    std::to_string(expected));
  // from_blob does not own the memory: copy before the JS buffer can go away.
  at::Tensor host = at::from_blob(const_cast<void*>(data), shape, at::TensorOptions().dtype(source));
  at::ScalarType target = options.dtype().toScalarType();
  checkIntegerCast(host, target, "tensor()");
  at::Tensor out = host.to(options, /*non_blocking=*/false, /*copy=*/true);
  if (requiresGrad) out.set_requires_grad(true);
  return out;
}

void manualSeed(uint64_t seed) { torch::manual_seed(seed); }

namespace {

void requireFinite(const Args& a, size_t i, const char* what) {
  if (!std::isfinite(a.number(i)))
    throw RangeError(std::string("invalid values: ") + a.op() + "() needs a finite " + what);
}

Value zeros(const Args& a) { return finishCreation(at::zeros(a.shape(0), creationOptions(a, 1, at::kFloat)), a, 3); }
Value ones(const Args& a) { return finishCreation(at::ones(a.shape(0), creationOptions(a, 1, at::kFloat)), a, 3); }
Value empty(const Args& a) { return finishCreation(at::empty(a.shape(0), creationOptions(a, 1, at::kFloat)), a, 3); }
Value rand(const Args& a) { return finishCreation(at::rand(a.shape(0), creationOptions(a, 1, at::kFloat)), a, 3); }
Value randn(const Args& a) { return finishCreation(at::randn(a.shape(0), creationOptions(a, 1, at::kFloat)), a, 3); }

// full(shape, value, dtype?, device?, requiresGrad?)
Value full(const Args& a) {
  at::Scalar v = a.scalar(1);
  at::ScalarType fallback = v.isBoolean() ? at::kBool : at::kFloat;
  at::TensorOptions opts = creationOptions(a, 2, fallback);
  const at::ScalarType target = opts.dtype().toScalarType();
  if (v.isFloatingPoint()) checkIntegerValue(v.toDouble(), target, "full()");
  else if (v.isIntegral(/*includeBool=*/false) && target != at::kLong) checkIntegerValue(static_cast<double>(v.toLong()), target, "full()");
  return finishCreation(at::full(a.shape(0), v, opts), a, 4);
}

// arange(start, end, step, dtype?, device?, requiresGrad?): integers give int64 as in torch, else float32.
Value arange(const Args& a) {
  for (size_t i = 0; i < 3; ++i) requireFinite(a, i, "start, end and step");
  if (a.number(2) == 0) throw RangeError("invalid values: arange() step must not be zero");
  bool integral = std::holds_alternative<int64_t>(a.at(0)) && std::holds_alternative<int64_t>(a.at(1)) &&
                  std::holds_alternative<int64_t>(a.at(2));
  auto opts = creationOptions(a, 3, integral ? at::kLong : at::kFloat);
  double span = (a.number(1) - a.number(0)) / a.number(2);
  if (span < 0)
    throw RangeError("invalid values: arange() step " + std::to_string(a.number(2)) + " goes away from end " +
                     std::to_string(a.number(1)) + " (start " + std::to_string(a.number(0)) + ")");
  if (span > 1e12) throw RangeError("out of range: arange() would create more than 1e12 elements");
  return finishCreation(at::arange(a.scalar(0), a.scalar(1), a.scalar(2), opts), a, 5);
}

// randint(low, high, shape, dtype?, device?, requiresGrad?)
Value randint(const Args& a) {
  int64_t low = a.integer(0), high = a.integer(1);
  if (high <= low) throw RangeError("out of range: randint() needs low < high, got " + std::to_string(low) + " and " + std::to_string(high));
  return finishCreation(at::randint(low, high, a.shape(2), creationOptions(a, 3, at::kLong)), a, 5);
}

Value seed(const Args& a) {
  int64_t s = a.integer(0);
  if (s < 0) throw RangeError("out of range: manualSeed() needs a non-negative integer");
  manualSeed(static_cast<uint64_t>(s));
  return None{};
}

}  // namespace

void registerCreationOps(OpTable& t) {
  t.add("zeros", zeros);
  t.add("ones", ones);
  t.add("empty", empty);
  t.add("full", full);
  t.add("arange", arange);
  t.add("rand", rand);
  t.add("randn", randn);
  t.add("randint", randint);
  t.add("manualSeed", seed);
}

}  // namespace atman
