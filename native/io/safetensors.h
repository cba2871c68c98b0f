// Reading and writing tensors in the safetensors format (https://github.com/huggingface/safetensors).
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace atman {

struct SafetensorsFile {
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // in header order
  std::map<std::string, std::string> metadata;
};

// Maps the file and checks it completely before making any tensor. CPU tensors view the mapping without
// copying (copy-on-write: in-place ops never reach the file); the mapping lives until the last of them dies.
// Entries misaligned for their dtype are copied. With a non-CPU device every tensor is copied there.
// Caveat of mapping: if another process truncates the file while such tensors live, reading them raises SIGBUS.
SafetensorsFile loadSafetensors(const std::string& path, std::optional<at::Device> device);

// Writes tensors (any device, any layout) and string metadata; the file is replaced atomically, so a failed
// save leaves an existing file untouched. Data is laid out by element size, largest first (keeping the given
// order otherwise) so every tensor is aligned, as the reference implementation does.
void saveSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata);

}  // namespace atman
