// Llama model configuration, read from a Hugging Face config.json (transformers 4.x and 5.x layouts).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace atman::llama {

struct RopeConfig {
  std::string type = "default";  // "default", "linear" or "llama3"
  double theta = 10000.0;
  double factor = 1.0;                          // linear, llama3
  double lowFreqFactor = 1.0;                   // llama3
  double highFreqFactor = 4.0;                  // llama3
  int64_t originalMaxPositionEmbeddings = 8192; // llama3
};

struct LlamaConfig {
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;  // hidden_size / num_attention_heads unless config.json says otherwise
  int64_t vocabSize = 0;
  int64_t maxPositionEmbeddings = 2048;
  double rmsNormEps = 1e-6;
  bool tieWordEmbeddings = false;
  RopeConfig rope;
  int64_t bosTokenId = -1, padTokenId = -1;  // -1: absent
  std::vector<int64_t> eosTokenIds;           // eos_token_id: one id or a list (Llama 3.x instruct has three)
};

// Parses config.json text; `where` names the file in messages. Throws atman::Error for unsupported models
// (model_type other than "llama", architectures without LlamaForCausalLM, attention_bias/mlp_bias true,
// hidden_act other than silu, unknown rope types) and for missing or mistyped fields.
LlamaConfig parseConfig(const std::string& text, const std::string& where);
LlamaConfig readConfig(const std::string& dir);  // dir/config.json

// config.json text as transformers 4.x writes it (rope_theta and rope_scaling at the top level), loadable by 4.x and 5.x.
std::string configToJson(const LlamaConfig& c, const std::string& dtypeName);

}  // namespace atman::llama
