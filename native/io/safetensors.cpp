#include "native/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <set>
#include <stdexcept>

#include "native/core/dtype.h"
#include "native/core/value.h"
#include "native/io/atomic_file.h"
#include "native/io/json_lite.h"
#include "native/io/mapped_file.h"
#include "native/io/read_file.h"
#include "native/io/safetensors_header.h"

// safetensors data is little-endian and is used in place.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "atman-native's safetensors support needs a little-endian host"
#endif

namespace atman {

namespace {

Error invalid(const std::string& path, const std::string& cause) {
  return Error("invalid safetensors file '" + path + "': " + cause);
}

// The C file API would silently stop at an embedded NUL and open another file.
void checkPath(const std::string& path) {
  if (path.empty()) throw TypeError("invalid path: it is empty");
  if (path.find('\0') != std::string::npos) throw TypeError("invalid path: it contains a NUL character");
}

// torch assumes bool bytes are 0 or 1; anything else would give undefined results.
void checkBools(const uint8_t* p, const SafetensorsEntry& e, const std::string& path) {
  for (uint64_t i = 0; i < e.end - e.begin; i++)
    if (p[i] > 1)
      throw invalid(path, "tensor " + json::quote(e.name) + " of dtype BOOL holds the byte " + std::to_string(p[i]) +
                              " at element " + std::to_string(i) + "; only 0 and 1 are valid");
}

// A CPU tensor viewing the entry's bytes in the mapping, or a copy of them when they are misaligned.
at::Tensor mappedTensor(const std::shared_ptr<MappedFile>& file, uint64_t dataStart, const SafetensorsEntry& e) {
  auto options = at::TensorOptions().dtype(e.dtype);
  uint64_t bytes = e.end - e.begin;
  if (bytes == 0) return at::empty(e.shape, options);
  uint8_t* p = file->data() + dataStart + e.begin;
  if (reinterpret_cast<uintptr_t>(p) % c10::elementSize(e.dtype) != 0) {
    at::Tensor t = at::empty(e.shape, options);
    std::memcpy(t.data_ptr(), p, bytes);
    return t;
  }
  // The deleter owns a reference to the mapping: it is unmapped when the last viewing tensor dies.
  return at::from_blob(p, e.shape, [file](void*) {}, options);
}

// Checks the 8-byte header length against the file size and parses the header; read(offset, dst, n) reads bytes.
template <class Read>
SafetensorsHeader readHeader(const std::string& path, uint64_t size, Read&& read, uint64_t& dataStart) {
  if (size == 0) throw invalid(path, "the file is empty");
  if (size < 8) throw invalid(path, "the file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  uint64_t headerBytes;
  read(0, &headerBytes, 8);
  if (headerBytes > size - 8)
    throw invalid(path, "header length " + std::to_string(headerBytes) + " exceeds file size " + std::to_string(size));
  if (headerBytes > kMaxSafetensorsHeaderBytes)
    throw invalid(path, "header length " + std::to_string(headerBytes) + " exceeds the limit of " +
                            std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  dataStart = 8 + headerBytes;
  std::string headerText(static_cast<size_t>(headerBytes), '\0');
  if (headerBytes > 0) read(8, headerText.data(), headerText.size());
  return parseSafetensorsHeader(headerText, size - dataStart, path);
}

SafetensorsFile loadMapped(const std::string& path, std::optional<at::Device> device) {
  auto file = std::make_shared<MappedFile>(path);
  uint64_t dataStart = 0;
  SafetensorsHeader header = readHeader(path, file->size(), [&](uint64_t off, void* dst, size_t n) {
    std::memcpy(dst, file->data() + off, n);
  }, dataStart);
  for (const auto& e : header.entries)
    if (e.dtype == at::kBool) checkBools(file->data() + dataStart + e.begin, e, path);
  SafetensorsFile out;
  out.metadata = std::move(header.metadata);
  bool toDevice = device.has_value() && !device->is_cpu();
  for (const auto& e : header.entries) {
    at::Tensor t = mappedTensor(file, dataStart, e);
    out.tensors.emplace_back(e.name, toDevice ? t.to(*device) : t);
  }
  return out;
}

// Each tensor read into its own memory, one at a time (a tensor bound for a GPU leaves host memory at once).
SafetensorsFile loadOwned(const std::string& path, std::optional<at::Device> device) {
  ReadOnlyFile file(path);
  uint64_t dataStart = 0;
  SafetensorsHeader header = readHeader(path, file.size(), [&](uint64_t off, void* dst, size_t n) {
    file.readAt(off, dst, n);
  }, dataStart);
  SafetensorsFile out;
  out.metadata = std::move(header.metadata);
  bool toDevice = device.has_value() && !device->is_cpu();
  for (const auto& e : header.entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    const uint64_t bytes = e.end - e.begin;
    if (bytes > 0) file.readAt(dataStart + e.begin, t.data_ptr(), static_cast<size_t>(bytes));
    if (e.dtype == at::kBool) checkBools(static_cast<const uint8_t*>(t.data_ptr()), e, path);
    out.tensors.emplace_back(e.name, toDevice ? t.to(*device) : t);
  }
  return out;
}

}  // namespace

SafetensorsFile loadSafetensors(const std::string& path, std::optional<at::Device> device, bool mapped) {
  checkPath(path);
  return mapped ? loadMapped(path, device) : loadOwned(path, device);
}

void saveSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  checkPath(path);
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) throw TypeError("invalid tensor name: safetensors tensor names must be non-empty");
    if (name == "__metadata__") throw TypeError("invalid tensor name \"__metadata__\": safetensors reserves it for the metadata");
    if (!seen.insert(name).second) throw TypeError("duplicate tensor name " + json::quote(name) + ": names must be unique");
    if (!t.defined()) throw TypeError("invalid tensor " + json::quote(name) + ": it is undefined");
    if (safetensorsDtypeCode(t.scalar_type()) == nullptr)
      throw TypeError("unsupported dtype: tensor " + json::quote(name) + " is " + dtypeName(t.scalar_type()) +
                      "; safetensors files hold float32, float16, bfloat16, float64, int64, int32, bool, uint8");
  }

  // Largest elements first keeps every tensor aligned after the 8-byte aligned header.
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors[a].second.element_size() > tensors[b].second.element_size();
  });

  SafetensorsHeader header;
  header.metadata = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const at::Tensor& t = tensors[i].second;
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header.entries.push_back({tensors[i].first, t.scalar_type(), t.sizes().vec(), offset, offset + bytes});
    offset += bytes;
  }
  std::string headerText = formatSafetensorsHeader(header);
  if (headerText.size() > kMaxSafetensorsHeaderBytes)
    throw RangeError("safetensors header too large: " + std::to_string(headerText.size()) + " bytes of names and metadata exceed the limit of " +
                     std::to_string(kMaxSafetensorsHeaderBytes));

  AtomicFile out(path);
  uint64_t headerBytes = headerText.size();
  out.write(&headerBytes, 8);
  out.write(headerText.data(), headerText.size());
  for (size_t i : order) {
    // One tensor at a time on the host: a model on the GPU needs no second full copy in host memory.
    at::Tensor host = tensors[i].second.detach().to(at::kCPU).contiguous();
    if (host.numel() > 0) out.write(host.data_ptr(), static_cast<size_t>(host.numel()) * host.element_size());
  }
  out.commit();
}

}  // namespace atman
