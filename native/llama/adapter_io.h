// LoRA adapters on disk in PEFT's format, both ways: adapter_config.json (peft_type LORA, r, lora_alpha,
// lora_dropout, target_modules, ...) and adapter_model.safetensors with PEFT's tensor names
// (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight; no adapter name in the keys).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "native/llama/lora.h"
#include "native/llama/model.h"

namespace atman::llama {

// Writes dir/adapter_config.json and dir/adapter_model.safetensors (dir created if missing; each file replaced
// atomically). Throws when the model has no adapter.
void saveAdapter(const LlamaModel& m, const std::string& dir);

struct LoadedAdapter {
  LoraOptions options;
  std::vector<std::array<LoraPair, kLoraTargets>> pairs;  // per layer and target, on m's device in its adapter dtype
};

// Reads and checks an adapter for m: atman::Error naming the cause for a missing file, an option atman-native does not
// implement (use_dora, use_rslora, bias, fan_in_fan_out, modules_to_save, layers_to_transform, rank/alpha patterns,
// ...), a target it does not support, an unknown or missing tensor, or a shape that does not fit m.
LoadedAdapter readAdapter(const std::string& dir, const LlamaModel& m);

// adapter_config.json's text for o, as PEFT writes it (the fields every PEFT 0.x release reads).
std::string adapterConfigJson(const LoraOptions& o);
// Parses adapter_config.json; `where` names the file in messages.
LoraOptions parseAdapterConfig(const std::string& text, const std::string& where);

}  // namespace atman::llama
