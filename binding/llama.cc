// LlamaModel: load (on a worker thread), forward, tokenLogprobs, parameters, save. The model is in native/llama.
#include <napi.h>

#include <cmath>

#include "binding/convert.h"
#include "binding/errors.h"
#include "binding/promise_worker.h"
#include "binding/tensor_handle.h"
#include "native/core/dtype.h"
#include "native/generate/generate.h"
#include "native/llama/adapter_io.h"
#include "native/llama/model.h"

namespace binding {

namespace {

using atman::llama::LlamaModel;

struct ModelBox {
  std::shared_ptr<LlamaModel> model;
};

// Tags model boxes so that no other external (a tensor handle, say) is taken for one.
constexpr napi_type_tag kModelTag = {0x61746d616e4c6c61ULL, 0x6d614d6f64656c42ULL};

Napi::Value wrapModel(Napi::Env env, std::shared_ptr<LlamaModel> m) {
  auto box = Napi::External<ModelBox>::New(env, new ModelBox{std::move(m)}, [](Napi::Env, ModelBox* b) { delete b; });
  box.TypeTag(&kModelTag);
  return box;
}

bool isModel(const Napi::Value& v) { return v.IsExternal() && v.As<Napi::External<ModelBox>>().CheckTypeTag(&kModelTag); }

ModelBox& boxOf(const Napi::Value& v) {
  if (!isModel(v)) throw Napi::TypeError::New(v.Env(), "wrong argument type: expected a native LlamaModel");
  return *v.As<Napi::External<ModelBox>>().Data();
}

LlamaModel& modelOf(const Napi::Value& v) {
  ModelBox& box = boxOf(v);
  if (!box.model) throw Napi::TypeError::New(v.Env(), "disposed model: this LlamaModel was disposed and can no longer be used");
  return *box.model;
}

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string dir, std::optional<at::Device> device, std::optional<at::ScalarType> dtype,
             bool mapped)
      : PromiseWorker(env), dir_(std::move(dir)), device_(device), dtype_(dtype), mapped_(mapped) {}

 private:
  void compute() override { model_ = LlamaModel::load(dir_, device_, dtype_, mapped_); }
  Napi::Value result(Napi::Env env) override { return wrapModel(env, std::move(model_)); }

  std::string dir_;
  std::optional<at::Device> device_;
  std::optional<at::ScalarType> dtype_;
  bool mapped_;
  std::shared_ptr<LlamaModel> model_;
};

// llamaLoad(dir, device?, dtype?, mapped?) -> Promise<model>
Napi::Value llamaLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    atman::Args a("LlamaModel.load", toValues(info, 0));
    std::string dir = a.string(0);
    std::optional<at::Device> device;
    std::optional<at::ScalarType> dtype;
    if (a.has(1)) device = atman::parseDevice(a.string(1));
    if (a.has(2)) dtype = atman::parseDtype(a.string(2));
    return (new LoadWorker(env, dir, device, dtype, a.flagOr(3, false)))->start();
  });
}

// Arguments from `first` on: keyBias?, biasQueryStart (integer or int64 Tensor)?, keyStart?, positions?
atman::llama::ForwardOptions forwardOptions(const atman::Args& a, size_t first) {
  atman::llama::ForwardOptions o;
  o.keyBias = a.optTensor(first);
  if (auto* t = std::get_if<at::Tensor>(&a.at(first + 1))) {
    o.biasQueryStart = *t;
  } else if (a.has(first + 1)) {
    auto* n = std::get_if<int64_t>(&a.at(first + 1));
    if (n == nullptr) a.fail(first + 1, "an integer or an int64 Tensor (biasQueryStart)");
    o.biasQueryStartScalar = *n;
  }
  o.keyStart = a.optTensor(first + 2);
  o.positions = a.optTensor(first + 3);
  o.pastKeys = a.optTensor(first + 4);
  o.pastValues = a.optTensor(first + 5);
  return o;
}

// llamaForward(model, ids, keyBias?, biasQueryStart?, keyStart?, positions?, pastKeys?, pastValues?) -> logits
Napi::Value llamaForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    atman::Args a("LlamaModel.forward", toValues(info, 1));
    return TensorHandle::wrap(env, m.forward(a.tensor(0), forwardOptions(a, 1)));
  });
}

// [first, second] as a JS array of tensor handles.
static Napi::Value tensorPair(Napi::Env env, const at::Tensor& first, const at::Tensor& second) {
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, TensorHandle::wrap(env, first));
  out.Set(1u, TensorHandle::wrap(env, second));
  return out;
}

// llamaTokenLogprobs(model, ids, targetStart (integer or int64 Tensor), temperature, chunkSize?, keyBias?,
//                    biasQueryStart?, keyStart?, positions?, pastKeys?, pastValues?) -> [B, T]
// llamaTokenLogprobsEntropy(same arguments) -> [logprobs [B, T], entropy [B, T]]
static Napi::Value tokenLogprobs(const Napi::CallbackInfo& info, bool withEntropy) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    atman::Args a("LlamaModel.tokenLogprobs", toValues(info, 1));
    atman::llama::LogprobOptions lp;
    if (auto* t = std::get_if<at::Tensor>(&a.at(1))) {
      lp.targetStart = *t;
    } else {
      lp.targetStartScalar = a.integerOr(1, 1);
    }
    lp.temperature = a.numberOr(2, 1.0);
    lp.chunkSize = a.integerOr(3, 0);
    if (!withEntropy) return TensorHandle::wrap(env, m.tokenLogprobs(a.tensor(0), forwardOptions(a, 4), lp));
    at::Tensor entropy;
    at::Tensor logprobs = m.tokenLogprobs(a.tensor(0), forwardOptions(a, 4), lp, &entropy);
    return tensorPair(env, logprobs, entropy);
  });
}

Napi::Value llamaTokenLogprobs(const Napi::CallbackInfo& info) { return tokenLogprobs(info, false); }
Napi::Value llamaTokenLogprobsEntropy(const Napi::CallbackInfo& info) { return tokenLogprobs(info, true); }

// llamaPrefix(model, ids, keyStart?) -> [pastKeys, pastValues]
Napi::Value llamaPrefix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    atman::Args a("LlamaModel.prefix", toValues(info, 1));
    auto [keys, values] = m.prefix(a.tensor(0), a.optTensor(1));
    return tensorPair(env, keys, values);
  });
}

// llamaNamedParameters(model) -> [names, tensors]
Napi::Value llamaNamedParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto params = modelOf(info[0]).namedParameters();
    Napi::Array names = Napi::Array::New(env, params.size());
    Napi::Array tensors = Napi::Array::New(env, params.size());
    for (uint32_t i = 0; i < params.size(); i++) {
      names.Set(i, Napi::String::New(env, params[i].first));
      tensors.Set(i, TensorHandle::wrap(env, params[i].second));
    }
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, names);
    out.Set(1u, tensors);
    return out;
  });
}

Napi::Value llamaRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    modelOf(info[0]).setRequiresGrad(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

class GenerateWorker : public PromiseWorker {
 public:
  GenerateWorker(Napi::Env env, std::shared_ptr<LlamaModel> model, std::vector<std::vector<int64_t>> prompts,
                 atman::GenerateOptions o)
      : PromiseWorker(env), model_(std::move(model)), prompts_(std::move(prompts)), o_(std::move(o)) {}

 private:
  void compute() override { result_ = atman::generate(*model_, prompts_, o_); }
  Napi::Value result(Napi::Env env) override {
    Napi::Array tokens = Napi::Array::New(env, result_.tokens.size());
    Napi::Array reasons = Napi::Array::New(env, result_.tokens.size());
    for (uint32_t i = 0; i < result_.tokens.size(); i++) {
      Napi::Array row = Napi::Array::New(env, result_.tokens[i].size());
      for (uint32_t j = 0; j < result_.tokens[i].size(); j++) row.Set(j, static_cast<double>(result_.tokens[i][j]));
      tokens.Set(i, row);
      reasons.Set(i, Napi::String::New(env, result_.finishReasons[i]));
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("tokens", tokens);
    out.Set("finishReasons", reasons);
    return out;
  }

  std::shared_ptr<LlamaModel> model_;  // keeps the weights alive if the model is disposed meanwhile
  std::vector<std::vector<int64_t>> prompts_;
  atman::GenerateOptions o_;
  atman::GenerateResult result_;
};

int64_t intOf(const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), "wrong argument type: generate() " + what + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != std::floor(d) || std::abs(d) > 9007199254740991.0)
    throw Napi::TypeError::New(v.Env(), "wrong argument type: generate() " + what + " must be an integer");
  return static_cast<int64_t>(d);
}

// llamaGenerate(model, prompts: number[][], {maxNewTokens, temperature, topP, topK, stopTokenIds,
//               numReturnSequences, seed, padTokenId, cudaGraph}) -> Promise<{tokens, finishReasons}>
Napi::Value llamaGenerate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ModelBox& box = boxOf(info[0]);
    if (!box.model) throw Napi::TypeError::New(env, "disposed model: this LlamaModel was disposed and can no longer be used");
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "wrong argument type: generate() prompts must be an array of token id arrays");
    Napi::Array list = info[1].As<Napi::Array>();
    std::vector<std::vector<int64_t>> prompts;
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Value row = list.Get(i);
      if (!row.IsArray()) throw Napi::TypeError::New(env, "wrong argument type: generate() prompts must be an array of token id arrays");
      Napi::Array r = row.As<Napi::Array>();
      std::vector<int64_t> ids;
      for (uint32_t j = 0; j < r.Length(); j++) ids.push_back(intOf(r.Get(j), "token ids"));
      prompts.push_back(std::move(ids));
    }
    atman::GenerateOptions o;
    if (info[2].IsObject()) {
      Napi::Object opts = info[2].As<Napi::Object>();
      auto has = [&](const char* k) { return opts.Has(k) && !opts.Get(k).IsUndefined() && !opts.Get(k).IsNull(); };
      auto num = [&](const char* k) {
        if (!opts.Get(k).IsNumber()) throw Napi::TypeError::New(env, std::string("wrong argument type: generate() ") + k + " must be a number");
        return opts.Get(k).As<Napi::Number>().DoubleValue();
      };
      if (has("maxNewTokens")) o.maxNewTokens = intOf(opts.Get("maxNewTokens"), "maxNewTokens");
      if (has("temperature")) o.temperature = num("temperature");
      if (has("topP")) o.topP = num("topP");
      if (has("topK")) o.topK = intOf(opts.Get("topK"), "topK");
      if (has("numReturnSequences")) o.numReturnSequences = intOf(opts.Get("numReturnSequences"), "numReturnSequences");
      if (has("padTokenId")) o.padTokenId = intOf(opts.Get("padTokenId"), "padTokenId");
      if (has("cudaGraph")) {
        if (!opts.Get("cudaGraph").IsBoolean()) throw Napi::TypeError::New(env, "wrong argument type: generate() cudaGraph must be a boolean");
        o.cudaGraph = opts.Get("cudaGraph").As<Napi::Boolean>().Value();
      }
      if (has("seed")) {
        int64_t seed = intOf(opts.Get("seed"), "seed");
        if (seed < 0) throw Napi::RangeError::New(env, "out of range: generate() seed must be >= 0");
        o.seed = static_cast<uint64_t>(seed);
      }
      if (has("stopTokenIds")) {
        Napi::Value st = opts.Get("stopTokenIds");
        if (!st.IsArray()) throw Napi::TypeError::New(env, "wrong argument type: generate() stopTokenIds must be an array of token ids");
        Napi::Array a = st.As<Napi::Array>();
        for (uint32_t j = 0; j < a.Length(); j++) o.stopTokenIds.push_back(intOf(a.Get(j), "stopTokenIds"));
      }
    }
    return (new GenerateWorker(env, box.model, std::move(prompts), std::move(o)))->start();
  });
}

Napi::Value llamaSetCheckpointing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    modelOf(info[0]).setGradientCheckpointing(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

Napi::Value llamaConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    const atman::llama::LlamaConfig& c = m.config();
    Napi::Object o = Napi::Object::New(env);
    o.Set("modelType", c.modelType);
    o.Set("attentionBias", c.qkvBias);
    o.Set("qkNorm", c.qkNorm);
    o.Set("slidingWindow", c.window.effective > 0 ? Napi::Number::New(env, static_cast<double>(c.window.effective)) : env.Null());
    o.Set("hiddenSize", static_cast<double>(c.hiddenSize));
    o.Set("intermediateSize", static_cast<double>(c.intermediateSize));
    o.Set("numHiddenLayers", static_cast<double>(c.numLayers));
    o.Set("numAttentionHeads", static_cast<double>(c.numHeads));
    o.Set("numKeyValueHeads", static_cast<double>(c.numKvHeads));
    o.Set("headDim", static_cast<double>(c.headDim));
    o.Set("vocabSize", static_cast<double>(c.vocabSize));
    o.Set("maxPositionEmbeddings", static_cast<double>(c.maxPositionEmbeddings));
    o.Set("rmsNormEps", c.rmsNormEps);
    o.Set("ropeTheta", c.rope.theta);
    if (c.rope.type == "default") {
      o.Set("ropeScaling", env.Null());
    } else {
      Napi::Object r = Napi::Object::New(env);
      r.Set("ropeType", c.rope.type);
      r.Set("factor", c.rope.factor);
      if (c.rope.type == "llama3") {
        r.Set("lowFreqFactor", c.rope.lowFreqFactor);
        r.Set("highFreqFactor", c.rope.highFreqFactor);
        r.Set("originalMaxPositionEmbeddings", static_cast<double>(c.rope.originalMaxPositionEmbeddings));
      }
      o.Set("ropeScaling", r);
    }
    o.Set("tieWordEmbeddings", c.tieWordEmbeddings);
    auto id = [&](int64_t v) -> Napi::Value { return v < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(v)); };
    o.Set("bosTokenId", id(c.bosTokenId));
    o.Set("eosTokenId", id(c.eosTokenIds.empty() ? -1 : c.eosTokenIds[0]));
    Napi::Array eos = Napi::Array::New(env, c.eosTokenIds.size());
    for (uint32_t i = 0; i < c.eosTokenIds.size(); i++) eos.Set(i, static_cast<double>(c.eosTokenIds[i]));
    o.Set("eosTokenIds", eos);
    o.Set("padTokenId", id(c.padTokenId));
    o.Set("dtype", atman::dtypeName(m.dtype()));
    o.Set("device", atman::deviceName(m.device()));
    return o;
  });
}

Napi::Value llamaSave(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    atman::Args a("LlamaModel.save", toValues(info, 1));
    m.save(a.string(0));
    return env.Undefined();
  });
}

// llamaAddLora(model, r, alpha, dropout, targetModules: string[], baseModel?)
Napi::Value llamaAddLora(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    atman::Args a("LlamaModel.addLora", {toValue(info[1]), toValue(info[2]), toValue(info[3])});
    atman::llama::LoraOptions o;
    o.r = a.integer(0);
    o.alpha = a.number(1);
    o.dropout = a.number(2);
    if (!info[4].IsArray()) throw Napi::TypeError::New(env, "wrong argument type: addLora() targetModules must be an array of module names");
    Napi::Array list = info[4].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Value v = list.Get(i);
      const int t = v.IsString() ? atman::llama::findLoraTarget(v.As<Napi::String>().Utf8Value()) : -1;
      if (t < 0)
        throw Napi::TypeError::New(env, "invalid values: addLora() target module " + (v.IsString() ? "'" + v.As<Napi::String>().Utf8Value() + "'" : std::string("(not a string)")) +
                                            " is not supported; targets: " + atman::llama::loraTargetNames());
      o.targets[t] = true;
    }
    if (info[5].IsString()) o.baseModel = info[5].As<Napi::String>().Utf8Value();
    m.addLora(o);
    return env.Undefined();
  });
}

// Reads and checks the adapter off the JS thread; installs it on the JS thread (where the model is used).
class LoadAdapterWorker : public PromiseWorker {
 public:
  LoadAdapterWorker(Napi::Env env, std::shared_ptr<LlamaModel> model, std::string dir)
      : PromiseWorker(env), model_(std::move(model)), dir_(std::move(dir)) {}

 private:
  void compute() override { adapter_ = atman::llama::readAdapter(dir_, *model_); }
  Napi::Value result(Napi::Env env) override {
    return guarded(env, [&]() -> Napi::Value {
      model_->installAdapter(adapter_.options, std::move(adapter_.pairs));
      return env.Undefined();
    });
  }

  std::shared_ptr<LlamaModel> model_;
  std::string dir_;
  atman::llama::LoadedAdapter adapter_;
};

// llamaLoadAdapter(model, dir) -> Promise<void>
Napi::Value llamaLoadAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    modelOf(info[0]);
    atman::Args a("LlamaModel.loadAdapter", toValues(info, 1));
    return (new LoadAdapterWorker(env, boxOf(info[0]).model, a.string(0)))->start();
  });
}

// llamaSaveAdapter(model, dir)
Napi::Value llamaSaveAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    atman::Args a("LlamaModel.saveAdapter", toValues(info, 1));
    atman::llama::saveAdapter(m, a.string(0));
    return env.Undefined();
  });
}

Napi::Value llamaMergeAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    modelOf(info[0]).mergeAdapter();
    return env.Undefined();
  });
}

Napi::Value llamaSetAdapterEnabled(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    modelOf(info[0]).setAdapterEnabled(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

// llamaAdapterInfo(model) -> null | {r, alpha, dropout, targetModules, enabled}
Napi::Value llamaAdapterInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LlamaModel& m = modelOf(info[0]);
    if (!m.hasAdapter()) return env.Null();
    const atman::llama::LoraOptions& o = m.adapterOptions();
    Napi::Object out = Napi::Object::New(env);
    out.Set("r", static_cast<double>(o.r));
    out.Set("alpha", o.alpha);
    out.Set("dropout", o.dropout);
    Napi::Array targets = Napi::Array::New(env);
    for (int t = 0; t < atman::llama::kLoraTargets; t++)
      if (o.targets[t]) targets.Set(targets.Length(), atman::llama::loraTargetName(t));
    out.Set("targetModules", targets);
    out.Set("enabled", m.adapterEnabled());
    return out;
  });
}

// llamaAdapterParameters(model) -> [names, tensors] (PEFT names)
Napi::Value llamaAdapterParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto params = modelOf(info[0]).adapterParameters();
    Napi::Array names = Napi::Array::New(env, params.size());
    Napi::Array tensors = Napi::Array::New(env, params.size());
    for (uint32_t i = 0; i < params.size(); i++) {
      names.Set(i, Napi::String::New(env, params[i].first));
      tensors.Set(i, TensorHandle::wrap(env, params[i].second));
    }
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, names);
    out.Set(1u, tensors);
    return out;
  });
}

Napi::Value llamaDispose(const Napi::CallbackInfo& info) {
  if (isModel(info[0])) boxOf(info[0]).model.reset();
  return info.Env().Undefined();
}

}  // namespace

void InitLlama(Napi::Env env, Napi::Object exports) {
  exports.Set("llamaLoad", Napi::Function::New(env, llamaLoad));
  exports.Set("llamaForward", Napi::Function::New(env, llamaForward));
  exports.Set("llamaTokenLogprobs", Napi::Function::New(env, llamaTokenLogprobs));
  exports.Set("llamaTokenLogprobsEntropy", Napi::Function::New(env, llamaTokenLogprobsEntropy));
  exports.Set("llamaPrefix", Napi::Function::New(env, llamaPrefix));
  exports.Set("llamaNamedParameters", Napi::Function::New(env, llamaNamedParameters));
  exports.Set("llamaRequiresGrad", Napi::Function::New(env, llamaRequiresGrad));
  exports.Set("llamaSetCheckpointing", Napi::Function::New(env, llamaSetCheckpointing));
  exports.Set("llamaGenerate", Napi::Function::New(env, llamaGenerate));
  exports.Set("llamaConfig", Napi::Function::New(env, llamaConfig));
  exports.Set("llamaSave", Napi::Function::New(env, llamaSave));
  exports.Set("llamaDispose", Napi::Function::New(env, llamaDispose));
  exports.Set("llamaAddLora", Napi::Function::New(env, llamaAddLora));
  exports.Set("llamaLoadAdapter", Napi::Function::New(env, llamaLoadAdapter));
  exports.Set("llamaSaveAdapter", Napi::Function::New(env, llamaSaveAdapter));
  exports.Set("llamaMergeAdapter", Napi::Function::New(env, llamaMergeAdapter));
  exports.Set("llamaSetAdapterEnabled", Napi::Function::New(env, llamaSetAdapterEnabled));
  exports.Set("llamaAdapterInfo", Napi::Function::New(env, llamaAdapterInfo));
  exports.Set("llamaAdapterParameters", Napi::Function::New(env, llamaAdapterParameters));
}

}  // namespace binding
