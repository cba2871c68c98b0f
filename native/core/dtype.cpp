#include "native/core/dtype.h"

#include <torch/cuda.h>

#include <cmath>
#include <regex>
#include <sstream>

#include "native/core/value.h"

namespace atman {

namespace {
struct DtypeEntry {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"float32", at::kFloat}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16}, {"float64", at::kDouble},
    {"int64", at::kLong},    {"int32", at::kInt},    {"bool", at::kBool},         {"uint8", at::kByte},
};
}  // namespace

bool isDtypeName(const std::string& name) {
  for (const auto& e : kDtypes)
    if (name == e.name) return true;
  return false;
}

at::ScalarType parseDtype(const std::string& name) {
  for (const auto& e : kDtypes)
    if (name == e.name) return e.type;
  throw TypeError("unknown dtype '" + name +
                  "': use one of float32, float16, bfloat16, float64, int64, int32, bool, uint8");
}

std::string dtypeName(at::ScalarType t) {
  for (const auto& e : kDtypes)
    if (t == e.type) return e.name;
  return std::string(c10::toString(t));
}

namespace {

// [lo, hi] of an integer dtype as doubles; int64's top (2^63 - 1) is no double, so hiExclusive marks it.
struct IntRange {
  double lo, hi;
  bool hiExclusive;
  const char* text;
};

bool intRange(at::ScalarType t, IntRange& r) {
  switch (t) {
    case at::kLong: r = {-9223372036854775808.0, 9223372036854775808.0, true, "[-2^63, 2^63 - 1]"}; return true;
    case at::kInt: r = {-2147483648.0, 2147483647.0, false, "[-2147483648, 2147483647]"}; return true;
    case at::kShort: r = {-32768.0, 32767.0, false, "[-32768, 32767]"}; return true;
    case at::kChar: r = {-128.0, 127.0, false, "[-128, 127]"}; return true;
    case at::kByte: r = {0.0, 255.0, false, "[0, 255]"}; return true;
    default: return false;
  }
}

const char* kIntegerRule = "numbers become integers by truncation toward zero (as torch does), never by wrapping around";

std::string shownValue(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

void checkRange(double mn, double mx, bool finite, at::ScalarType target, const std::string& fn) {
  IntRange r;
  if (!intRange(target, r)) return;
  if (!finite)
    throw RangeError("invalid values: " + fn + " cannot store NaN or Infinity in a " + dtypeName(target) + " tensor; " +
                     kIntegerRule);
  // Truncation toward zero decides: -0.5 fits in uint8 (it becomes 0), 255.9 too (255), 256 does not.
  const double tmn = std::trunc(mn), tmx = std::trunc(mx);
  const bool over = r.hiExclusive ? tmx >= r.hi : tmx > r.hi;
  if (tmn < r.lo || over)
    throw RangeError("invalid values: " + fn + " got " + shownValue(tmn < r.lo ? mn : mx) + ", which does not fit in a " +
                     dtypeName(target) + " tensor " + r.text + "; " + kIntegerRule);
}

}  // namespace

void checkIntegerCast(const at::Tensor& source, at::ScalarType target, const std::string& fn) {
  const at::ScalarType st = source.scalar_type();
  IntRange r, from;
  if (source.numel() == 0 || st == target || !intRange(target, r)) return;
  if (at::isFloatingType(st)) {
    at::Tensor d = source.detach().to(at::kDouble);
    const bool finite = at::isfinite(d).all().item<bool>();
    checkRange(finite ? d.min().item<double>() : 0, finite ? d.max().item<double>() : 0, finite, target, fn);
  } else if (intRange(st, from) && (from.lo < r.lo || from.hi > r.hi)) {
    // A narrower integer dtype: int64 -> int32, int32 -> uint8, ... (exact: these fit in a double's 53 bits or clamp).
    const at::Tensor d = source.detach();
    const int64_t mn = d.min().item<int64_t>(), mx = d.max().item<int64_t>();
    checkRange(static_cast<double>(mn), static_cast<double>(mx), true, target, fn);
  }
}

void checkIntegerValue(double value, at::ScalarType target, const std::string& fn) {
  checkRange(value, value, std::isfinite(value), target, fn);
}

at::Device parseDevice(const std::string& name) {
  static const std::regex pattern("^(cpu|cuda)(?::([0-9]+))?$");
  std::smatch m;
  if (!std::regex_match(name, m, pattern))
    throw TypeError("unknown device '" + name + "': use 'cpu', 'cuda' or 'cuda:N'");
  if (m[1] == "cpu") {
    if (m[2].matched && m[2] != "0") throw TypeError("unknown device '" + name + "': the CPU device has no index");
    return at::Device(at::kCPU);
  }
  if (!torch::cuda::is_available())
    throw TypeError("device '" + name +
                    "' is not available: this libtorch has no CUDA or no GPU is visible; use 'cpu' "
                    "(atman-native doctor shows what was found)");
  int64_t index = m[2].matched ? std::stoll(m[2]) : 0;
  int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (index >= count)
    throw RangeError("device '" + name + "' does not exist: " + std::to_string(count) + " CUDA device(s) visible");
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string deviceName(const at::Device& d) {
  if (d.is_cpu()) return "cpu";
  if (d.is_cuda()) return "cuda:" + std::to_string(d.has_index() ? d.index() : 0);
  return d.str();
}

}  // namespace atman
