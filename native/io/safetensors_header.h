// The JSON header of a safetensors file: parsed and checked on load, formatted on save.
// Format: 8-byte little-endian header length N, N bytes of JSON, then the data section.
#pragma once
#include "native/core/value.h"
#include <ATen/ATen.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atman {

struct SafetensorsEntry {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section, [begin, end)
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in header order
  std::map<std::string, std::string> metadata;
};

// The safetensors reference implementation's limit; larger headers are rejected on load and on save.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// "F32" etc., or nullptr for a dtype atman-native does not store; and back.
const char* safetensorsDtypeCode(at::ScalarType t);
std::optional<at::ScalarType> safetensorsDtypeFromCode(std::string_view code);
extern const char* const kSafetensorsDtypeList;  // "F32, F16, ..." for messages

// Parses the header JSON and checks every entry against a data section of dataBytes bytes: known dtype,
// non-negative shape, offsets inside the data section, byte count matching the shape, no overlaps.
// Throws Error whose message names `path` and the offending tensor.
SafetensorsHeader parseSafetensorsHeader(std::string_view json, uint64_t dataBytes, const std::string& path);

// The header JSON for entries whose offsets are already set, padded with spaces to a multiple of 8 bytes
// so that the data section starts 8-byte aligned.
std::string formatSafetensorsHeader(const SafetensorsHeader& header);

}  // namespace atman
