#include "native/llama/adapter_io.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "native/core/dtype.h"
#include "native/core/value.h"
#include "native/io/atomic_file.h"
#include "native/io/json_lite.h"
#include "native/io/read_file.h"
#include "native/io/safetensors.h"

namespace atman::llama {

namespace fs = std::filesystem;

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kKeyPrefix = "base_model.model.model.layers.";

// The shortest text that reads back as x (0.1, not 0.10000000000000001); integers without a fraction.
std::string number(double x) {
  if (std::floor(x) == x && std::abs(x) < 1e15) return std::to_string(static_cast<int64_t>(x));
  std::string out;
  for (int precision = 15; precision <= 17; precision++) {
    std::ostringstream s;
    s.precision(precision);
    s << x;
    out = s.str();
    if (std::stod(out) == x) break;
  }
  return out;
}

std::string shapeText(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); i++) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Whether a config value means "not used": absent, null, false, an empty list, object or string.
bool unset(const json::Value* v) {
  if (v == nullptr) return true;
  switch (v->kind) {
    case json::Value::Kind::Null: return true;
    case json::Value::Kind::Bool: return !v->boolean;
    case json::Value::Kind::Array: return v->array.empty();
    case json::Value::Kind::Object: return v->object.empty();
    case json::Value::Kind::String: return v->string.empty();
    default: return false;
  }
}

// Splits a PEFT tensor name into layer, target and "A"/"B"; false when it is not one.
bool parseKey(const std::string& key, int64_t& layer, int& target, char& which) {
  const std::string prefix = kKeyPrefix;
  if (key.compare(0, prefix.size(), prefix) != 0) return false;
  size_t pos = prefix.size(), dot = key.find('.', pos);
  if (dot == std::string::npos || dot == pos || dot - pos > 9) return false;
  for (size_t i = pos; i < dot; i++)
    if (key[i] < '0' || key[i] > '9') return false;
  layer = std::stoll(key.substr(pos, dot - pos));
  for (int t = 0; t < kLoraTargets; t++) {
    for (char ab : {'A', 'B'}) {
      const std::string rest = std::string(".") + loraTargetModule(t) + "." + loraTargetName(t) + ".lora_" + ab + ".weight";
      if (key.compare(dot, std::string::npos, rest) == 0) {
        target = t;
        which = ab;
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string adapterConfigJson(const LoraOptions& o) {
  std::ostringstream s;
  s << "{\n";
  s << "  \"alpha_pattern\": {},\n";
  s << "  \"auto_mapping\": null,\n";
  s << "  \"base_model_name_or_path\": " << (o.baseModel.empty() ? std::string("null") : json::quote(o.baseModel)) << ",\n";
  s << "  \"bias\": \"none\",\n";
  s << "  \"fan_in_fan_out\": false,\n";
  s << "  \"inference_mode\": true,\n";
  s << "  \"init_lora_weights\": true,\n";
  s << "  \"layers_pattern\": null,\n";
  s << "  \"layers_to_transform\": null,\n";
  s << "  \"lora_alpha\": " << number(o.alpha) << ",\n";
  s << "  \"lora_dropout\": " << number(o.dropout) << (std::floor(o.dropout) == o.dropout ? ".0" : "") << ",\n";
  s << "  \"modules_to_save\": null,\n";
  s << "  \"peft_type\": \"LORA\",\n";
  s << "  \"r\": " << o.r << ",\n";
  s << "  \"rank_pattern\": {},\n";
  s << "  \"revision\": null,\n";
  s << "  \"target_modules\": [";
  bool first = true;
  for (int t = 0; t < kLoraTargets; t++) {
    if (!o.targets[t]) continue;
    s << (first ? "" : ", ") << json::quote(loraTargetName(t));
    first = false;
  }
  s << "],\n";
  s << "  \"task_type\": \"CAUSAL_LM\",\n";
  s << "  \"use_dora\": false,\n";
  s << "  \"use_rslora\": false\n";
  s << "}\n";
  return s.str();
}

LoraOptions parseAdapterConfig(const std::string& text, const std::string& where) {
  auto fail = [&](const std::string& cause) -> void { throw Error("invalid LoRA adapter " + where + ": " + cause); };
  json::Value root;
  try {
    root = json::parse(text);
  } catch (const json::ParseError& e) {
    fail(std::string("not valid JSON: ") + e.what());
  }
  if (root.kind != json::Value::Kind::Object) fail("it is not a JSON object");
  auto get = [&](const char* key) -> const json::Value* {
    const json::Value* v = root.find(key);
    return v == nullptr || v->kind == json::Value::Kind::Null ? nullptr : v;
  };
  const json::Value* type = get("peft_type");
  if (type == nullptr || type->kind != json::Value::Kind::String || type->string != "LORA")
    fail("peft_type must be \"LORA\" (atman-native loads LoRA adapters only), got " +
         (type == nullptr ? std::string("none") : type->kind == json::Value::Kind::String ? json::quote(type->string) : json::kindName(type->kind)));
  // Options atman-native does not implement: refused rather than silently computing something else.
  const char* unsupported[][2] = {
      {"use_dora", "DoRA (use_dora)"},
      {"use_rslora", "rank-stabilized LoRA (use_rslora: scale alpha / sqrt(r))"},
      {"fan_in_fan_out", "fan_in_fan_out (Conv1D-style weights)"},
      {"lora_bias", "LoRA biases (lora_bias)"},
      {"modules_to_save", "modules_to_save (fully trained extra modules)"},
      {"layers_to_transform", "layers_to_transform (an adapter on some layers only)"},
      {"layers_pattern", "layers_pattern"},
      {"rank_pattern", "rank_pattern (a rank per module)"},
      {"alpha_pattern", "alpha_pattern (an alpha per module)"},
      {"exclude_modules", "exclude_modules"},
      {"target_parameters", "target_parameters"},
      {"trainable_token_indices", "trainable_token_indices"},
      {"layer_replication", "layer_replication"},
  };
  for (const auto& [key, what] : unsupported)
    if (!unset(get(key))) fail(std::string(what) + " is not supported by atman-native");
  const json::Value* bias = get("bias");
  if (bias != nullptr && !(bias->kind == json::Value::Kind::String && bias->string == "none"))
    fail("bias must be \"none\" (atman-native trains no biases in adapters)");
  const json::Value* task = get("task_type");
  if (task != nullptr && !(task->kind == json::Value::Kind::String && task->string == "CAUSAL_LM"))
    fail("task_type must be \"CAUSAL_LM\" or null, got " + (task->kind == json::Value::Kind::String ? json::quote(task->string) : json::kindName(task->kind)));

  LoraOptions o;
  const json::Value* r = get("r");
  if (r == nullptr || !r->isInteger || r->integer < 1) fail("r must be a positive integer");
  o.r = r->integer;
  const json::Value* alpha = get("lora_alpha");
  if (alpha == nullptr || alpha->kind != json::Value::Kind::Number || !std::isfinite(alpha->number) || alpha->number <= 0)
    fail("lora_alpha must be a positive number");
  o.alpha = alpha->number;
  const json::Value* dropout = get("lora_dropout");
  if (dropout != nullptr) {
    if (dropout->kind != json::Value::Kind::Number || !(dropout->number >= 0 && dropout->number < 1))
      fail("lora_dropout must be a number in [0, 1)");
    o.dropout = dropout->number;
  }
  const json::Value* base = get("base_model_name_or_path");
  if (base != nullptr && base->kind == json::Value::Kind::String) o.baseModel = base->string;
  const json::Value* targets = get("target_modules");
  if (targets == nullptr) fail("target_modules is missing");
  if (targets->kind == json::Value::Kind::String) {
    if (targets->string != "all-linear")
      fail("target_modules " + json::quote(targets->string) + " is a regular expression, which atman-native does not read; " +
           "give a list of module names (" + loraTargetNames() + ") or \"all-linear\"");
    o.targets.fill(true);
  } else if (targets->kind == json::Value::Kind::Array) {
    for (const auto& v : targets->array) {
      if (v.kind != json::Value::Kind::String) fail("target_modules must be a list of module names");
      const int t = findLoraTarget(v.string);
      if (t < 0)
        fail("target module " + json::quote(v.string) + " is not supported: atman-native adapts " + loraTargetNames());
      o.targets[t] = true;
    }
  } else {
    fail("target_modules must be a list of module names or \"all-linear\"");
  }
  try {
    checkLoraOptions(o, where);
  } catch (const RangeError& e) {
    fail(e.what());
  }
  return o;
}

void saveAdapter(const LlamaModel& m, const std::string& dir) {
  if (dir.empty() || dir.find('\0') != std::string::npos) throw TypeError("invalid path: saveAdapter() needs a directory path");
  if (!m.hasAdapter()) throw Error("saveAdapter(): this model has no LoRA adapter (addLora() or loadAdapter() first)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot save LoRA adapter to '" + dir + "': " + ec.message());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : m.adapterParameters()) tensors.emplace_back(name, t.detach());
  saveSafetensors(dir + "/" + kWeightsFile, tensors, {{"format", "pt"}});
  const std::string text = adapterConfigJson(m.adapterOptions());
  AtomicFile f(dir + "/" + kConfigFile);
  f.write(text.data(), text.size());
  f.commit();
}

LoadedAdapter readAdapter(const std::string& dir, const LlamaModel& m) {
  if (dir.empty() || dir.find('\0') != std::string::npos) throw TypeError("invalid path: loadAdapter() needs a directory path");
  if (!fs::is_directory(dir)) throw Error("cannot load LoRA adapter: '" + dir + "' is not a directory");
  const std::string configPath = dir + "/" + kConfigFile, weightsPath = dir + "/" + kWeightsFile;
  if (!fs::exists(configPath)) throw Error("cannot load LoRA adapter from '" + dir + "': " + kConfigFile + " is missing");
  if (!fs::exists(weightsPath))
    throw Error("cannot load LoRA adapter from '" + dir + "': " + kWeightsFile + " is missing" +
                (fs::exists(dir + "/adapter_model.bin") ? " (adapter_model.bin, a pickle, is not read: save the adapter with "
                                                          "safe_serialization=True)" : ""));
  LoadedAdapter out;
  out.options = parseAdapterConfig(readTextFile(configPath, kMaxConfigJsonBytes, kConfigFile), configPath);
  const LoraOptions& o = out.options;
  const auto& layers = m.layers();
  const auto L = static_cast<int64_t>(layers.size());
  out.pairs.resize(layers.size());
  auto fail = [&](const std::string& cause) { throw Error("invalid LoRA adapter " + weightsPath + ": " + cause); };
  for (auto& [name, t] : loadSafetensors(weightsPath, std::nullopt).tensors) {
    int64_t layer = -1;
    int target = -1;
    char which = 0;
    if (!parseKey(name, layer, target, which))
      fail("unknown tensor '" + name + "' (expected " + kKeyPrefix + "{i}.self_attn.q_proj.lora_A.weight and the like, for " +
           loraTargetNames() + ")");
    if (layer >= L) fail("tensor '" + name + "' is for layer " + std::to_string(layer) + ", the model has " + std::to_string(L));
    if (!o.targets[target])
      fail("tensor '" + name + "' adapts " + loraTargetName(target) + ", which adapter_config.json's target_modules does not name");
    if (!at::isFloatingType(t.scalar_type())) fail("tensor '" + name + "' is " + dtypeName(t.scalar_type()) + ", not floating point");
    const at::Tensor& w = [&]() -> const at::Tensor& {
      const Layer& l = layers[layer];
      const at::Tensor* ws[kLoraTargets] = {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down};
      return *ws[target];
    }();
    const std::vector<int64_t> want = which == 'A' ? std::vector<int64_t>{o.r, w.size(1)} : std::vector<int64_t>{w.size(0), o.r};
    if (!t.sizes().equals(want))
      fail("tensor '" + name + "' has shape " + shapeText(t.sizes()) + ", expected " + shapeText(want) + " (r " +
           std::to_string(o.r) + ", the model's " + loraTargetName(target) + " is " + shapeText(w.sizes()) + ")");
    at::Tensor& slot = which == 'A' ? out.pairs[layer][target].A : out.pairs[layer][target].B;
    if (slot.defined()) fail("tensor '" + name + "' appears twice");
    slot = t.to(m.device(), m.adapterDtype()).detach().contiguous();
  }
  for (int64_t i = 0; i < L; i++)
    for (int t = 0; t < kLoraTargets; t++) {
      if (!o.targets[t]) continue;
      const LoraPair& p = out.pairs[i][t];
      for (char ab : {'A', 'B'})
        if (!(ab == 'A' ? p.A : p.B).defined())
          fail(std::string("tensor '") + kKeyPrefix + std::to_string(i) + "." + loraTargetModule(t) + "." + loraTargetName(t) +
               ".lora_" + ab + ".weight' is missing (target_modules names " + loraTargetName(t) + ")");
    }
  return out;
}

}  // namespace atman::llama
