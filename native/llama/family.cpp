#include "native/llama/family.h"

namespace atman::llama {

namespace {

// Defaults as transformers' LlamaConfig, Qwen2Config, Qwen3Config and MistralConfig set them.
constexpr Family kFamilies[] = {
    {"llama", "LlamaForCausalLM", false, false, true, Family::Window::None, 0, 2048},
    {"qwen2", "Qwen2ForCausalLM", true, false, false, Family::Window::WhenFlagged, 0, 32768},
    {"qwen3", "Qwen3ForCausalLM", false, true, true, Family::Window::WhenFlagged, 128, 32768},
    {"mistral", "MistralForCausalLM", false, false, false, Family::Window::WhenSet, 0, 4096 * 32},
};

}  // namespace

const Family* findFamily(const std::string& modelType) {
  for (const Family& f : kFamilies)
    if (modelType == f.modelType) return &f;
  return nullptr;
}

std::string supportedModelTypes() {
  std::string out;
  for (const Family& f : kFamilies) out += (out.empty() ? "" : ", ") + std::string(f.modelType);
  return out;
}

}  // namespace atman::llama
