// Names of dtypes and devices as the JS API spells them.
#pragma once
#include <ATen/ATen.h>
#include <string>

namespace atman {

at::ScalarType parseDtype(const std::string& name);  // throws TypeError naming the valid dtypes
std::string dtypeName(at::ScalarType t);
bool isDtypeName(const std::string& name);

// 'cpu', 'cuda', 'cuda:N'. Throws when CUDA is asked for but absent, or the index is out of range.
at::Device parseDevice(const std::string& name);
std::string deviceName(const at::Device& d);

}  // namespace atman
