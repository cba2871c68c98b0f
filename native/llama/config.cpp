#include "native/llama/config.h"

#include <cmath>
#include <unistd.h>

#include <sstream>

#include "native/core/value.h"
#include "native/io/json_lite.h"
#include "native/io/read_file.h"
#include "native/llama/family.h"

namespace atman::llama {

namespace {

struct Reader {
  const json::Value& obj;
  std::string where;

  [[noreturn]] void fail(const std::string& cause) const { throw Error("invalid model config " + where + ": " + cause); }

  const json::Value* get(const char* key) const {
    const json::Value* v = obj.find(key);
    return v == nullptr || v->kind == json::Value::Kind::Null ? nullptr : v;
  }
  int64_t integer(const char* key) const {
    const json::Value* v = get(key);
    if (v == nullptr) fail(std::string("the field \"") + key + "\" is missing");
    return integerOf(key, *v);
  }
  int64_t integerOr(const char* key, int64_t fallback) const {
    const json::Value* v = get(key);
    return v == nullptr ? fallback : integerOf(key, *v);
  }
  int64_t integerOf(const char* key, const json::Value& v) const {
    if (v.kind != json::Value::Kind::Number || !v.isInteger)
      fail(std::string("\"") + key + "\" must be an integer, got " + json::kindName(v.kind));
    return v.integer;
  }
  double numberOr(const char* key, double fallback) const {
    const json::Value* v = get(key);
    if (v == nullptr) return fallback;
    if (v->kind != json::Value::Kind::Number)
      fail(std::string("\"") + key + "\" must be a number, got " + json::kindName(v->kind));
    return v->number;
  }
  bool flagOr(const char* key, bool fallback) const {
    const json::Value* v = get(key);
    if (v == nullptr) return fallback;
    if (v->kind != json::Value::Kind::Bool)
      fail(std::string("\"") + key + "\" must be true or false, got " + json::kindName(v->kind));
    return v->boolean;
  }
  std::string stringOr(const char* key, const std::string& fallback) const {
    const json::Value* v = get(key);
    if (v == nullptr) return fallback;
    if (v->kind != json::Value::Kind::String)
      fail(std::string("\"") + key + "\" must be a string, got " + json::kindName(v->kind));
    return v->string;
  }
};

// rope settings: {rope_type | type, factor, low_freq_factor, high_freq_factor, original_max_position_embeddings,
// rope_theta (5.x)}; absent or null means the default rope.
void readRope(const Reader& top, const json::Value* params, const char* name, RopeConfig& rope) {
  if (params == nullptr) return;
  if (params->kind != json::Value::Kind::Object)
    top.fail(std::string("\"") + name + "\" must be an object or null, got " + json::kindName(params->kind));
  Reader r{*params, top.where + " (" + name + ")"};
  rope.theta = r.numberOr("rope_theta", rope.theta);
  std::string type = r.stringOr("rope_type", r.stringOr("type", "default"));
  rope.type = type;
  if (type == "default") return;
  if (type == "linear") {
    rope.factor = r.numberOr("factor", 1.0);
    return;
  }
  if (type == "llama3") {
    const char* need[] = {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"};
    for (const char* k : need)
      if (r.get(k) == nullptr) r.fail(std::string("rope_type llama3 needs \"") + k + "\"");
    rope.factor = r.numberOr("factor", 1.0);
    rope.lowFreqFactor = r.numberOr("low_freq_factor", 1.0);
    rope.highFreqFactor = r.numberOr("high_freq_factor", 4.0);
    rope.originalMaxPositionEmbeddings = r.integer("original_max_position_embeddings");
    if (!(rope.highFreqFactor != rope.lowFreqFactor)) r.fail("rope_type llama3 needs high_freq_factor != low_freq_factor");
    return;
  }
  r.fail("rope_type \"" + type + "\" is not supported (supported: default, linear, llama3)");
}

constexpr int64_t kMaxSize = (int64_t(1) << 31) - 1;

std::string shown(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

// JSON numbers beyond double range (1e999) read as Infinity.
void requirePositiveFinite(const Reader& r, const std::string& name, double x, const std::string& hint) {
  if (!(std::isfinite(x) && x > 0))
    r.fail(name + " must be a positive finite number" + hint + ", got " + shown(x));
}

std::vector<int64_t> integers(const Reader& r, const char* key) {
  const json::Value* v = r.get(key);
  std::vector<int64_t> out;
  if (v == nullptr) return out;
  if (v->kind == json::Value::Kind::Array) {
    for (const auto& x : v->array) out.push_back(r.integerOf(key, x));
  } else {
    out.push_back(r.integerOf(key, *v));
  }
  return out;
}

int64_t firstInteger(const Reader& r, const char* key) {
  std::vector<int64_t> v = integers(r, key);
  return v.empty() ? -1 : v[0];
}


// sliding_window and its switches (see WindowConfig and Family::Window), as transformers reads them: Mistral windows
// every layer when sliding_window is set; Qwen2/Qwen3 only with use_sliding_window true, then the layers that
// layer_types calls "sliding_attention" (without layer_types: layers from max_window_layers on, default 28).
void readWindow(const Reader& r, const Family& family, LlamaConfig& c) {
  WindowConfig& w = c.window;
  if (family.window == Family::Window::None) return;
  w.size = r.integerOr("sliding_window", 0);
  if (r.get("sliding_window") != nullptr && w.size <= 0)
    r.fail("sliding_window must be a positive integer or null, got " + std::to_string(w.size));
  if (const json::Value* lt = r.get("layer_types")) {
    if (lt->kind != json::Value::Kind::Array) r.fail(std::string("\"layer_types\" must be a list, got ") + json::kindName(lt->kind));
    for (const auto& t : lt->array) {
      if (t.kind != json::Value::Kind::String || (t.string != "full_attention" && t.string != "sliding_attention"))
        r.fail("layer_types entries must be \"full_attention\" or \"sliding_attention\"");
      w.layerTypes.push_back(t.string);
    }
    if (static_cast<int64_t>(w.layerTypes.size()) != c.numLayers)
      r.fail("layer_types has " + std::to_string(w.layerTypes.size()) + " entries for " + std::to_string(c.numLayers) +
             " layers (num_hidden_layers)");
  }
  if (family.window == Family::Window::WhenSet) {
    w.effective = w.size;
    return;
  }
  w.useSlidingWindow = r.flagOr("use_sliding_window", false);
  w.maxWindowLayers = r.integerOr("max_window_layers", -1);
  if (!w.useSlidingWindow || w.size == 0) return;
  bool anySliding = false;
  for (int64_t i = 0; i < c.numLayers; i++) {
    const bool sliding = w.layerTypes.empty() ? i >= (w.maxWindowLayers < 0 ? 28 : w.maxWindowLayers)
                                              : w.layerTypes[static_cast<size_t>(i)] == "sliding_attention";
    anySliding = anySliding || sliding;
  }
  if (anySliding) w.effective = w.size;
}

}  // namespace

LlamaConfig parseConfig(const std::string& text, const std::string& where) {
  json::Value root;
  try {
    root = json::parse(text);
  } catch (const json::ParseError& e) {
    throw Error("invalid model config " + where + ": not valid JSON: " + e.what());
  }
  if (root.kind != json::Value::Kind::Object) throw Error("invalid model config " + where + ": expected a JSON object");
  Reader r{root, where};

  std::string modelType = r.stringOr("model_type", "");
  const Family* family = findFamily(modelType);
  if (family == nullptr)
    throw Error("unsupported model in " + where + ": model_type is " +
                (modelType.empty() ? std::string("missing") : "\"" + modelType + "\"") +
                "; atman-native supports the model_type values " + supportedModelTypes() +
                " (transformers' LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM)");
  if (const json::Value* arch = r.get("architectures")) {
    bool ok = false;
    std::string names;
    if (arch->kind == json::Value::Kind::Array)
      for (const auto& a : arch->array)
        if (a.kind == json::Value::Kind::String) {
          ok = ok || a.string == family->architecture;
          names += (names.empty() ? "" : ", ") + a.string;
        }
    if (!ok)
      throw Error("unsupported model in " + where + ": architectures [" + names + "] do not include " +
                  family->architecture + ", the causal LM of model_type \"" + modelType +
                  "\" that atman-native supports");
  }
  if (family->readsBiasFlags && r.flagOr("attention_bias", false))
    throw Error("unsupported " + modelType + " config " + where +
                ": attention_bias true (biases on q/k/v/o projections) is not supported");
  if (family->readsBiasFlags && r.flagOr("mlp_bias", false))
    throw Error("unsupported " + modelType + " config " + where +
                ": mlp_bias true (biases on the MLP projections) is not supported");
  std::string act = r.stringOr("hidden_act", "silu");
  if (act != "silu")
    throw Error("unsupported " + modelType + " config " + where + ": hidden_act \"" + act + "\" (only silu is supported)");

  LlamaConfig c;
  c.modelType = family->modelType;
  c.qkvBias = family->qkvBias;
  c.qkNorm = family->qkNorm;
  c.hiddenSize = r.integer("hidden_size");
  c.intermediateSize = r.integer("intermediate_size");
  c.numLayers = r.integer("num_hidden_layers");
  c.numHeads = r.integer("num_attention_heads");
  c.numKvHeads = r.integerOr("num_key_value_heads", c.numHeads);
  c.vocabSize = r.integer("vocab_size");
  c.maxPositionEmbeddings = r.integerOr("max_position_embeddings", family->defaultMaxPositions);
  c.rmsNormEps = r.numberOr("rms_norm_eps", 1e-6);
  c.tieWordEmbeddings = r.flagOr("tie_word_embeddings", false);
  if (c.hiddenSize <= 0 || c.intermediateSize <= 0 || c.numLayers <= 0 || c.numHeads <= 0 || c.numKvHeads <= 0 ||
      c.vocabSize <= 0)
    r.fail("hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads and vocab_size "
           "must be positive");
  if (c.numHeads % c.numKvHeads != 0)
    r.fail("num_attention_heads (" + std::to_string(c.numHeads) + ") must be a multiple of num_key_value_heads (" +
           std::to_string(c.numKvHeads) + ")");
  if (r.get("head_dim") != nullptr) {
    c.headDim = r.integer("head_dim");
  } else if (family->defaultHeadDim > 0) {
    c.headDim = family->defaultHeadDim;  // Qwen3: 128 whatever hidden_size is
  } else {
    if (c.hiddenSize % c.numHeads != 0) r.fail("hidden_size must be a multiple of num_attention_heads when head_dim is absent");
    c.headDim = c.hiddenSize / c.numHeads;
  }
  if (c.headDim <= 0 || c.headDim % 2 != 0) r.fail("head_dim must be a positive even number, got " + std::to_string(c.headDim));
  if (c.hiddenSize > kMaxSize || c.intermediateSize > kMaxSize || c.numLayers > kMaxSize || c.numHeads > kMaxSize ||
      c.vocabSize > kMaxSize || c.headDim > kMaxSize)
    r.fail("a size (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size, head_dim) is "
           "larger than 2^31 - 1: this is no real model's config");
  if (c.maxPositionEmbeddings <= 0)
    r.fail("max_position_embeddings must be positive, got " + std::to_string(c.maxPositionEmbeddings));
  // 0 divides by zero on an all-zero row; Infinity (1e999 in JSON) turns every hidden state into 0 and the logits
  // into all zeros without an error.
  requirePositiveFinite(r, "rms_norm_eps", c.rmsNormEps, " (Llama uses 1e-5 or 1e-6)");

  // transformers 4.x: rope_theta + rope_scaling at the top; 5.x: rope_parameters {rope_theta, rope_type, ...}.
  c.rope.theta = r.numberOr("rope_theta", 10000.0);
  readRope(r, r.get("rope_scaling"), "rope_scaling", c.rope);
  readRope(r, r.get("rope_parameters"), "rope_parameters", c.rope);
  requirePositiveFinite(r, "rope_theta", c.rope.theta, " (Llama 3 uses 500000)");
  if (c.rope.type != "default") {
    requirePositiveFinite(r, "the rope scaling factor", c.rope.factor, "");
    if (c.rope.type == "llama3") {
      requirePositiveFinite(r, "low_freq_factor", c.rope.lowFreqFactor, "");
      requirePositiveFinite(r, "high_freq_factor", c.rope.highFreqFactor, "");
      if (c.rope.originalMaxPositionEmbeddings <= 0)
        r.fail("original_max_position_embeddings must be positive, got " + std::to_string(c.rope.originalMaxPositionEmbeddings));
    }
  }

  readWindow(r, *family, c);

  c.bosTokenId = firstInteger(r, "bos_token_id");
  c.eosTokenIds = integers(r, "eos_token_id");
  c.padTokenId = firstInteger(r, "pad_token_id");
  return c;
}

LlamaConfig readConfig(const std::string& dir) {
  std::string path = dir + "/config.json";
  if (::access(path.c_str(), F_OK) != 0)
    throw Error("cannot load Llama model from '" + dir + "': " + path + " is missing or unreadable");
  return parseConfig(readTextFile(path, kMaxConfigJsonBytes, "config.json"), path);
}

namespace {
std::string num(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  std::string out = s.str();
  if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
  return out;
}
}  // namespace

std::string configToJson(const LlamaConfig& c, const std::string& dtypeName) {
  const Family* family = findFamily(c.modelType);
  if (family == nullptr) throw Error("cannot write config.json: unknown model_type \"" + c.modelType + "\"");
  const std::string& type = c.modelType;
  const bool qwen = family->window == Family::Window::WhenFlagged;
  const WindowConfig& w = c.window;
  std::ostringstream s;
  s << "{\n";
  s << "  \"architectures\": [" << json::quote(family->architecture) << "],\n";
  if (family->readsBiasFlags) s << "  \"attention_bias\": false,\n";
  s << "  \"attention_dropout\": 0.0,\n";
  if (c.bosTokenId >= 0) s << "  \"bos_token_id\": " << c.bosTokenId << ",\n";
  if (c.eosTokenIds.size() == 1) s << "  \"eos_token_id\": " << c.eosTokenIds[0] << ",\n";
  if (c.eosTokenIds.size() > 1) {
    s << "  \"eos_token_id\": [";
    for (size_t i = 0; i < c.eosTokenIds.size(); i++) s << (i ? ", " : "") << c.eosTokenIds[i];
    s << "],\n";
  }
  if (c.padTokenId >= 0) s << "  \"pad_token_id\": " << c.padTokenId << ",\n";
  // Qwen2Config has no head_dim field (its attention reads one if present): written only when it is not the default.
  if (type != "qwen2" || c.headDim * c.numHeads != c.hiddenSize) s << "  \"head_dim\": " << c.headDim << ",\n";
  s << "  \"hidden_act\": \"silu\",\n";
  s << "  \"hidden_size\": " << c.hiddenSize << ",\n";
  s << "  \"initializer_range\": 0.02,\n";
  s << "  \"intermediate_size\": " << c.intermediateSize << ",\n";
  if (!w.layerTypes.empty()) {
    s << "  \"layer_types\": [";
    for (size_t i = 0; i < w.layerTypes.size(); i++) s << (i ? ", " : "") << json::quote(w.layerTypes[i]);
    s << "],\n";
  }
  s << "  \"max_position_embeddings\": " << c.maxPositionEmbeddings << ",\n";
  if (qwen) s << "  \"max_window_layers\": " << (w.maxWindowLayers >= 0 ? w.maxWindowLayers : c.numLayers) << ",\n";
  if (family->readsBiasFlags) s << "  \"mlp_bias\": false,\n";
  s << "  \"model_type\": " << json::quote(type) << ",\n";
  s << "  \"num_attention_heads\": " << c.numHeads << ",\n";
  s << "  \"num_hidden_layers\": " << c.numLayers << ",\n";
  s << "  \"num_key_value_heads\": " << c.numKvHeads << ",\n";
  s << "  \"rms_norm_eps\": " << num(c.rmsNormEps) << ",\n";
  if (c.rope.type == "default") {
    s << "  \"rope_scaling\": null,\n";
  } else if (c.rope.type == "linear") {
    s << "  \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": " << num(c.rope.factor) << "},\n";
  } else {
    s << "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": " << num(c.rope.factor)
      << ", \"low_freq_factor\": " << num(c.rope.lowFreqFactor) << ", \"high_freq_factor\": " << num(c.rope.highFreqFactor)
      << ", \"original_max_position_embeddings\": " << c.rope.originalMaxPositionEmbeddings << "},\n";
  }
  s << "  \"rope_theta\": " << num(c.rope.theta) << ",\n";
  if (family->window != Family::Window::None) {
    s << "  \"sliding_window\": ";
    if (w.size > 0) s << w.size;
    else s << "null";
    s << ",\n";
  }
  s << "  \"tie_word_embeddings\": " << (c.tieWordEmbeddings ? "true" : "false") << ",\n";
  s << "  \"torch_dtype\": " << json::quote(dtypeName) << ",\n";
  s << "  \"use_cache\": true,\n";
  if (qwen) s << "  \"use_sliding_window\": " << (w.useSlidingWindow ? "true" : "false") << ",\n";
  s << "  \"vocab_size\": " << c.vocabSize << "\n";
  s << "}\n";
  return s.str();
}

}  // namespace atman::llama
