#include "native/core/dtype.h"

#include <torch/cuda.h>

#include <regex>

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
