#include "native/core/value.h"
#include "native/io/safetensors_header.h"

#include <algorithm>
#include <stdexcept>

#include "native/io/json_lite.h"

namespace atman {

namespace {

struct DtypeCode {
  const char* code;
  at::ScalarType type;
};
constexpr DtypeCode kCodes[] = {
    {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"F64", at::kDouble},
    {"I64", at::kLong},  {"I32", at::kInt},  {"BOOL", at::kBool},     {"U8", at::kByte},
};

Error invalid(const std::string& path, const std::string& cause) {
  return Error("invalid safetensors file '" + path + "': " + cause);
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string rangeText(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// The array `key` of entry `name` as non-negative integers; throws naming the tensor otherwise.
std::vector<int64_t> naturals(const json::Value& entry, const char* key, const std::string& name, const std::string& path) {
  const json::Value* v = entry.find(key);
  std::string where = "tensor " + json::quote(name) + ": '" + key + "'";
  if (v == nullptr) throw invalid(path, where + " is missing");
  if (v->kind != json::Value::Kind::Array) throw invalid(path, where + " must be an array, got " + json::kindName(v->kind));
  std::vector<int64_t> out;
  for (const auto& item : v->array) {
    if (item.kind != json::Value::Kind::Number || !item.isInteger || item.integer < 0)
      throw invalid(path, where + " must hold non-negative integers");
    out.push_back(item.integer);
  }
  return out;
}

SafetensorsEntry parseEntry(const std::string& name, const json::Value& v, uint64_t dataBytes, const std::string& path) {
  std::string tensor = "tensor " + json::quote(name);
  if (v.kind != json::Value::Kind::Object) throw invalid(path, tensor + " must be described by an object, got " + json::kindName(v.kind));
  // Other keys are ignored, as the reference implementation does.
  const json::Value* dtype = v.find("dtype");
  if (dtype == nullptr) throw invalid(path, tensor + ": 'dtype' is missing");
  if (dtype->kind != json::Value::Kind::String) throw invalid(path, tensor + ": 'dtype' must be a string");
  auto type = safetensorsDtypeFromCode(dtype->string);
  if (!type)
    throw Error("unsupported dtype in safetensors file '" + path + "': " + tensor + " has dtype " +
                             json::quote(dtype->string) + "; atman-native reads " + kSafetensorsDtypeList);

  SafetensorsEntry e;
  e.name = name;
  e.dtype = *type;
  e.shape = naturals(v, "shape", name, path);
  std::vector<int64_t> offsets = naturals(v, "data_offsets", name, path);
  if (offsets.size() != 2) throw invalid(path, tensor + ": 'data_offsets' must be [begin, end]");
  e.begin = static_cast<uint64_t>(offsets[0]);
  e.end = static_cast<uint64_t>(offsets[1]);
  if (e.begin > e.end) throw invalid(path, tensor + ": data_offsets " + rangeText(e.begin, e.end) + " end before they begin");
  if (e.end > dataBytes)
    throw invalid(path, tensor + ": data_offsets " + rangeText(e.begin, e.end) + " reach beyond the data section of " +
                            std::to_string(dataBytes) + " bytes");

  uint64_t bytes = c10::elementSize(e.dtype);
  for (int64_t d : e.shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
      throw invalid(path, tensor + ": shape " + shapeText(e.shape) + " is too large");
  if (e.end - e.begin != bytes)
    throw invalid(path, tensor + ": data_offsets " + rangeText(e.begin, e.end) + " span " + std::to_string(e.end - e.begin) +
                            " bytes but shape " + shapeText(e.shape) + " of " + dtype->string + " needs " + std::to_string(bytes));
  return e;
}

std::map<std::string, std::string> parseMetadata(const json::Value& v, const std::string& path) {
  if (v.kind != json::Value::Kind::Object)
    throw invalid(path, "'__metadata__' must be an object mapping strings to strings, got " + std::string(json::kindName(v.kind)));
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.object) {
    if (value.kind != json::Value::Kind::String)
      throw invalid(path, "'__metadata__' must map strings to strings, but key " + json::quote(key) + " holds " +
                              json::kindName(value.kind));
    out[key] = value.string;
  }
  return out;
}

void checkNoOverlap(const std::vector<SafetensorsEntry>& entries, const std::string& path) {
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& e : entries)
    if (e.end > e.begin) sorted.push_back(&e);  // empty tensors occupy no bytes
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); i++) {
    const auto *a = sorted[i - 1], *b = sorted[i];
    if (b->begin < a->end)
      throw invalid(path, "tensors " + json::quote(a->name) + " and " + json::quote(b->name) + " overlap in the data section (" +
                              rangeText(a->begin, a->end) + " and " + rangeText(b->begin, b->end) + ")");
  }
}

}  // namespace

const char* const kSafetensorsDtypeList = "F32, F16, BF16, F64, I64, I32, BOOL, U8";

const char* safetensorsDtypeCode(at::ScalarType t) {
  for (const auto& c : kCodes)
    if (c.type == t) return c.code;
  return nullptr;
}

std::optional<at::ScalarType> safetensorsDtypeFromCode(std::string_view code) {
  for (const auto& c : kCodes)
    if (code == c.code) return c.type;
  return std::nullopt;
}

SafetensorsHeader parseSafetensorsHeader(std::string_view text, uint64_t dataBytes, const std::string& path) {
  json::Value root;
  try {
    json::Limits limits;
    limits.maxBytes = kMaxSafetensorsHeaderBytes;
    root = json::parse(text, limits);
  } catch (const json::ParseError& e) {
    throw invalid(path, std::string("header is not valid JSON: ") + e.what() + " of the header");
  }
  if (root.kind != json::Value::Kind::Object) throw invalid(path, "header must be a JSON object, got " + std::string(json::kindName(root.kind)));

  SafetensorsHeader header;
  for (const auto& [name, value] : root.object) {
    if (name == "__metadata__") header.metadata = parseMetadata(value, path);
    else header.entries.push_back(parseEntry(name, value, dataBytes, path));
  }
  checkNoOverlap(header.entries, path);
  return header;
}

std::string formatSafetensorsHeader(const SafetensorsHeader& header) {
  std::string s = "{";
  if (!header.metadata.empty()) {
    s += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : header.metadata) {
      s += (first ? "" : ",") + json::quote(k) + ":" + json::quote(v);
      first = false;
    }
    s += "}";
  }
  for (const auto& e : header.entries) {
    if (s.size() > 1) s += ",";
    std::string shape;
    for (size_t i = 0; i < e.shape.size(); i++) shape += (i ? "," : "") + std::to_string(e.shape[i]);
    s += json::quote(e.name) + ":{\"dtype\":\"" + safetensorsDtypeCode(e.dtype) + "\",\"shape\":[" + shape +
         "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]}";
  }
  s += "}";
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

}  // namespace atman
