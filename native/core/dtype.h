// Names of dtypes and devices as the JS API spells them.
#pragma once
#include <ATen/ATen.h>
#include <string>

namespace atman {

at::ScalarType parseDtype(const std::string& name);  // throws TypeError naming the valid dtypes
std::string dtypeName(at::ScalarType t);
bool isDtypeName(const std::string& name);

// The one rule for numbers going into an integer dtype (tensor(), full(), casts with to()): fractions are truncated
// toward zero, as torch does; NaN, Infinity and values outside the dtype's range throw RangeError (never wrap).
// checkIntegerCast checks a floating tensor about to become `target` (one host sync); it does nothing for other pairs.
void checkIntegerCast(const at::Tensor& source, at::ScalarType target, const std::string& fn);
void checkIntegerValue(double value, at::ScalarType target, const std::string& fn);

// 'cpu', 'cuda', 'cuda:N'. Throws when CUDA is asked for but absent, or the index is out of range.
at::Device parseDevice(const std::string& name);
std::string deviceName(const at::Device& d);

}  // namespace atman
