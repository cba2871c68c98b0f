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

// Reads the file and checks it completely before making any tensor. By default every tensor owns its memory (read
// from the file, one tensor at a time), so nothing that happens to the file later can affect it. With `mapped`, the
// file is mapped instead and CPU tensors view the mapping without copying (copy-on-write: in-place ops never reach the
// file; entries misaligned for their dtype are copied); the mapping lives until the last of them dies. Risk of
// mapping: if the file is truncated or overwritten in place (`cp` over it) while such tensors live, reading them
// raises SIGBUS and kills the process. With a non-CPU device every tensor is copied there.
SafetensorsFile loadSafetensors(const std::string& path, std::optional<at::Device> device, bool mapped = false);

// Writes tensors (any device, any layout) and string metadata; the file is replaced atomically, so a failed
// save leaves an existing file untouched. Data is laid out by element size, largest first (keeping the given
// order otherwise) so every tensor is aligned, as the reference implementation does.
void saveSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata);

}  // namespace atman
