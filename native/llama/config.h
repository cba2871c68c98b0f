// Decoder configuration, read from a Hugging Face config.json (transformers 4.x and 5.x layouts), for every model
// family of native/llama/family.h (Llama, Qwen2, Qwen3, Mistral): the family's differences are options here.
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

// sliding_window and its switches as config.json gives them (written back by configToJson), and the window that
// results. atman-native does not implement sliding-window attention: it refuses sequences longer than `effective`
// (up to that length the window masks nothing, so the results are exact).
struct WindowConfig {
  int64_t size = 0;                     // sliding_window; 0: null or absent
  bool useSlidingWindow = false;        // use_sliding_window (Qwen2, Qwen3)
  int64_t maxWindowLayers = -1;         // max_window_layers (Qwen2, Qwen3); -1: absent
  std::vector<std::string> layerTypes;  // layer_types ("full_attention" / "sliding_attention"); empty: absent
  int64_t effective = 0;                // the window some layer attends within; 0: none
};

struct LlamaConfig {
  std::string modelType = "llama";  // a model_type of native/llama/family.h
  bool qkvBias = false;  // q_proj, k_proj and v_proj have biases (Qwen2)
  bool qkNorm = false;   // q_norm and k_norm: RMSNorm over each head of q and k before rotary (Qwen3)
  WindowConfig window;
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
// (a model_type not in family.h, architectures without the family's CausalLM class, attention_bias/mlp_bias true
// where the family reads them, hidden_act other than silu, unknown rope types) and for missing or mistyped fields.
LlamaConfig parseConfig(const std::string& text, const std::string& where);
LlamaConfig readConfig(const std::string& dir);  // dir/config.json

// config.json text as transformers 4.x writes it for c's family (model_type, architectures and the family's own
// fields; rope_theta and rope_scaling at the top level), loadable by 4.x and 5.x.
std::string configToJson(const LlamaConfig& c, const std::string& dtypeName);

}  // namespace atman::llama
