// Model families: the config.json model_type values atman-native loads and what sets each apart from Llama. One
// decoder (native/llama/model.cpp) runs them all; a family only fixes its options (LlamaConfig::qkvBias, qkNorm,
// the sliding window) and the defaults transformers uses when config.json leaves a field out.
#pragma once
#include <cstdint>
#include <string>

namespace atman::llama {

struct Family {
  const char* modelType;     // config.json "model_type"
  const char* architecture;  // the causal-LM class config.json "architectures" must name
  bool qkvBias;              // biases on the q, k and v projections (not on o): Qwen2
  bool qkNorm;               // RMSNorm (weights of size head_dim) over each head of q and k, before rotary: Qwen3
  bool readsBiasFlags;       // attention_bias / mlp_bias mean something (Llama, Qwen3), so true is refused
  // How sliding_window is switched on: never (Llama has none), by a non-null sliding_window (Mistral), or only
  // with use_sliding_window true and then on the layers that layer_types / max_window_layers name (Qwen2, Qwen3).
  enum class Window { None, WhenSet, WhenFlagged } window;
  int64_t defaultHeadDim;           // head_dim when config.json has none; 0: hidden_size / num_attention_heads
  int64_t defaultMaxPositions;      // max_position_embeddings when config.json has none
};

// The family of a model_type, or nullptr when atman-native does not support it.
const Family* findFamily(const std::string& modelType);
// "llama, qwen2, qwen3, mistral": for error messages.
std::string supportedModelTypes();

}  // namespace atman::llama
