#include "native/llama/model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "native/attention/attention.h"
#include "native/core/dtype.h"
#include "native/core/value.h"
#include "native/io/atomic_file.h"
#include "native/io/json_lite.h"
#include "native/io/read_file.h"
#include "native/io/safetensors.h"
#include "native/llama/fused_decode.h"
#include "native/llama/fused_ops.h"

namespace atman::llama {

namespace fs = std::filesystem;

namespace {

std::string shapeString(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); i++) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// All tensors of the checkpoint by name (CPU; read into owned memory, or views of the mapped files with `mapped`),
// and a description of where they came from for messages.
struct Checkpoint {
  std::map<std::string, at::Tensor> tensors;
  std::string source;
};

Checkpoint readCheckpoint(const std::string& dir, bool mapped) {
  Checkpoint ck;
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (fs::exists(single)) {
    ck.source = "model.safetensors";
    for (auto& [name, t] : loadSafetensors(single, std::nullopt, mapped).tensors) ck.tensors[name] = t;
    return ck;
  }
  if (!fs::exists(index))
    throw Error("cannot load Llama model from '" + dir + "': neither model.safetensors nor model.safetensors.index.json is there");
  ck.source = "the shards of model.safetensors.index.json";
  json::Value root;
  try {
    root = json::parse(readTextFile(index, kMaxIndexJsonBytes, "model.safetensors.index.json"));
  } catch (const json::ParseError& e) {
    throw Error("invalid " + index + ": not valid JSON: " + e.what());
  }
  const json::Value* map = root.kind == json::Value::Kind::Object ? root.find("weight_map") : nullptr;
  if (map == nullptr || map->kind != json::Value::Kind::Object)
    throw Error("invalid " + index + ": it has no \"weight_map\" object");
  std::map<std::string, std::vector<std::string>> byFile;
  for (const auto& [name, file] : map->object) {
    if (file.kind != json::Value::Kind::String) throw Error("invalid " + index + ": weight_map[\"" + name + "\"] is not a file name");
    if (file.string.find('/') != std::string::npos || file.string.empty() || file.string[0] == '.')
      throw Error("invalid " + index + ": weight_map[\"" + name + "\"] names a file outside the model directory");
    byFile[file.string].push_back(name);
  }
  for (const auto& [file, names] : byFile) {
    const std::string path = dir + "/" + file;
    if (!fs::exists(path)) throw Error("cannot load Llama model from '" + dir + "': shard " + file + " named in model.safetensors.index.json is missing");
    std::map<std::string, at::Tensor> inFile;
    for (auto& [name, t] : loadSafetensors(path, std::nullopt, mapped).tensors) inFile[name] = t;
    for (const auto& name : names) {
      auto it = inFile.find(name);
      if (it == inFile.end())
        throw Error("cannot load Llama model from '" + dir + "': tensor '" + name + "' is missing from shard " + file +
                    " (model.safetensors.index.json puts it there)");
      ck.tensors[name] = it->second;
    }
  }
  return ck;
}

// A projection bias or q/k norm weight that the config's family does not use means config.json names the wrong
// model_type (a Qwen2 checkpoint labelled "llama" would run without its biases and compute something else).
void checkNoFamilyWeightsLeft(const Checkpoint& ck, const LlamaConfig& c, const std::string& dir) {
  for (const auto& [name, t] : ck.tensors) {
    if (name.rfind("model.layers.", 0) != 0) continue;
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool qkNorm = name.find(".self_attn.q_norm.") != std::string::npos || name.find(".self_attn.k_norm.") != std::string::npos;
    if (bias || qkNorm)
      throw Error("cannot load " + c.modelType + " model from '" + dir + "': " + ck.source + " holds '" + name +
                  "', a weight model_type \"" + c.modelType + "\" does not have; is config.json's model_type right? " +
                  "(qwen2 has q/k/v projection biases, qwen3 has q_norm/k_norm; attention_bias and mlp_bias are not supported)");
  }
}

}  // namespace

at::Tensor ropeInvFreq(const LlamaConfig& c) {
  // transformers: 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)); `x / t` on a tensor t
  // with a Python number x is t.reciprocal() * x.
  const int64_t dim = c.headDim;
  at::Tensor exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat).div(static_cast<double>(dim));
  at::Tensor invFreq = at::pow(at::Scalar(c.rope.theta), exponent).reciprocal();
  const RopeConfig& r = c.rope;
  if (r.type == "linear") return invFreq.div(r.factor);
  if (r.type != "llama3") return invFreq;
  // transformers' _compute_llama3_parameters, op for op.
  const double oldContext = static_cast<double>(r.originalMaxPositionEmbeddings);
  const double lowFreqWavelen = oldContext / r.lowFreqFactor;
  const double highFreqWavelen = oldContext / r.highFreqFactor;
  at::Tensor wavelen = invFreq.reciprocal().mul(2 * M_PI);
  at::Tensor llama = at::where(wavelen.gt(lowFreqWavelen), invFreq.div(r.factor), invFreq);
  at::Tensor smooth = wavelen.reciprocal().mul(oldContext).sub(r.lowFreqFactor).div(r.highFreqFactor - r.lowFreqFactor);
  at::Tensor smoothed = at::rsub(smooth, 1).mul(llama).div(r.factor).add(smooth.mul(llama));
  at::Tensor medium = wavelen.lt(highFreqWavelen).logical_not().logical_and(wavelen.gt(lowFreqWavelen).logical_not());
  return at::where(medium, smoothed, llama);
}

std::shared_ptr<LlamaModel> LlamaModel::load(const std::string& dir, std::optional<at::Device> device,
                                             std::optional<at::ScalarType> dtype, bool mapped) {
  if (dir.empty() || dir.find('\0') != std::string::npos) throw TypeError("invalid path: LlamaModel.load() needs a directory path");
  if (!fs::is_directory(dir)) throw Error("cannot load Llama model: '" + dir + "' is not a directory");
  auto m = std::shared_ptr<LlamaModel>(new LlamaModel());
  m->config_ = readConfig(dir);
  const LlamaConfig& c = m->config_;
  Checkpoint ck = readCheckpoint(dir, mapped);

  if (dtype && !(*dtype == at::kFloat || *dtype == at::kDouble || *dtype == at::kBFloat16 || *dtype == at::kHalf))
    throw TypeError("dtype mismatch: LlamaModel.load() dtype must be float32, float64, bfloat16 or float16, got " + dtypeName(*dtype));
  const at::Device dev = device.value_or(at::Device(at::kCPU));
  std::optional<at::ScalarType> want = dtype;

  auto take = [&](const std::string& name, std::vector<int64_t> shape) -> at::Tensor {
    auto it = ck.tensors.find(name);
    if (it == ck.tensors.end())
      throw Error("cannot load Llama model from '" + dir + "': tensor '" + name + "' is missing from " + ck.source);
    // Taken out of the checkpoint: a weight that load() copies (packing, a dtype change) frees its file copy at once.
    const at::Tensor t = std::move(it->second);
    ck.tensors.erase(it);
    if (!t.sizes().equals(shape)) {
      // An attention tensor of the wrong size is most often a head_dim that config.json states wrongly (or omits
      // where it is not hidden_size / num_attention_heads).
      const bool attn = name.find(".self_attn.") != std::string::npos;
      throw Error("cannot load " + c.modelType + " model from '" + dir + "': tensor '" + name + "' has shape " +
                  shapeString(t.sizes()) + " in " + ck.source + ", expected " + shapeString(shape) + " from config.json" +
                  (attn ? " (num_attention_heads " + std::to_string(c.numHeads) + ", num_key_value_heads " +
                              std::to_string(c.numKvHeads) + ", head_dim " + std::to_string(c.headDim) +
                              "): check head_dim and the head counts in config.json"
                        : std::string()));
    }
    const at::ScalarType st = t.scalar_type();
    if (!(st == at::kFloat || st == at::kBFloat16 || st == at::kHalf || st == at::kDouble))
      throw Error("cannot load Llama model from '" + dir + "': tensor '" + name + "' has dtype " + dtypeName(st) +
                  ", expected a floating-point dtype");
    if (!want) want = st;  // default: the dtype of the first tensor on disk (embed_tokens)
    return t.to(dev, *want).detach();
  };

  const int64_t H = c.hiddenSize, I = c.intermediateSize, D = c.headDim;
  m->embed_ = take("model.embed_tokens.weight", {c.vocabSize, H});
  for (int64_t i = 0; i < c.numLayers; i++) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer l;
    l.inputNorm = take(p + "input_layernorm.weight", {H});
    l.q = take(p + "self_attn.q_proj.weight", {c.numHeads * D, H});
    l.k = take(p + "self_attn.k_proj.weight", {c.numKvHeads * D, H});
    l.v = take(p + "self_attn.v_proj.weight", {c.numKvHeads * D, H});
    l.o = take(p + "self_attn.o_proj.weight", {H, c.numHeads * D});
    l.postNorm = take(p + "post_attention_layernorm.weight", {H});
    l.gate = take(p + "mlp.gate_proj.weight", {I, H});
    l.up = take(p + "mlp.up_proj.weight", {I, H});
    l.down = take(p + "mlp.down_proj.weight", {H, I});
    if (c.qkvBias) {
      l.qBias = take(p + "self_attn.q_proj.bias", {c.numHeads * D});
      l.kBias = take(p + "self_attn.k_proj.bias", {c.numKvHeads * D});
      l.vBias = take(p + "self_attn.v_proj.bias", {c.numKvHeads * D});
    }
    if (c.qkNorm) {
      l.qNorm = take(p + "self_attn.q_norm.weight", {D});
      l.kNorm = take(p + "self_attn.k_norm.weight", {D});
    }
    packProjections(l);
    m->layers_.push_back(std::move(l));
  }
  m->norm_ = take("model.norm.weight", {H});
  m->lmHead_ = c.tieWordEmbeddings ? m->embed_ : take("lm_head.weight", {c.vocabSize, H});
  m->invFreq_ = ropeInvFreq(c).to(dev);
  checkNoFamilyWeightsLeft(ck, c, dir);
  return m;
}

namespace {

// A tensor of rows [start, start + n) of the 2-d contiguous buf: same memory, but its own leaf (requires_grad, grad,
// version counter), unlike a view.
// buf may also be 1-d (packed biases): then the elements [start, start + n).
at::Tensor rowsOf(const at::Tensor& buf, int64_t start, int64_t n, bool requiresGrad) {
  at::Tensor t = at::empty({0}, buf.options());
  if (buf.dim() == 1) t.set_(buf.storage(), buf.storage_offset() + start, {n}, {1});
  else t.set_(buf.storage(), buf.storage_offset() + start * buf.stride(0), {n, buf.size(1)}, {buf.stride(0), 1});
  t.set_requires_grad(requiresGrad);
  return t;
}

bool isRowsOf(const at::Tensor& t, const at::Tensor& buf, int64_t start) {
  return t.defined() && t.is_contiguous() && t.scalar_type() == buf.scalar_type() && t.device() == buf.device() &&
         t.data_ptr() == static_cast<const char*>(buf.data_ptr()) + start * buf.stride(0) * buf.element_size();
}

}  // namespace

void packProjections(Layer& l) {
  at::NoGradGuard noGrad;
  const int64_t nq = l.q.size(0), nk = l.k.size(0), ni = l.gate.size(0);
  const bool grad = l.q.requires_grad();
  l.qkv = at::cat({l.q, l.k, l.v}, 0);
  l.q = rowsOf(l.qkv, 0, nq, grad);
  l.k = rowsOf(l.qkv, nq, nk, grad);
  l.v = rowsOf(l.qkv, nq + nk, nk, grad);
  l.gateUp = at::cat({l.gate, l.up}, 0);
  l.gate = rowsOf(l.gateUp, 0, ni, grad);
  l.up = rowsOf(l.gateUp, ni, ni, grad);
  if (l.qBias.defined()) {
    l.qkvBias = at::cat({l.qBias, l.kBias, l.vBias}, 0);
    l.qBias = rowsOf(l.qkvBias, 0, nq, grad);
    l.kBias = rowsOf(l.qkvBias, nq, nk, grad);
    l.vBias = rowsOf(l.qkvBias, nq + nk, nk, grad);
  }
}

bool projectionsPacked(const Layer& l) {
  if (!l.qkv.defined() || !l.gateUp.defined()) return false;
  const int64_t nq = l.q.size(0), nk = l.k.size(0), ni = l.gate.size(0);
  if (l.qBias.defined() &&
      !(l.qkvBias.defined() && isRowsOf(l.qBias, l.qkvBias, 0) && isRowsOf(l.kBias, l.qkvBias, nq) &&
        isRowsOf(l.vBias, l.qkvBias, nq + nk)))
    return false;
  return isRowsOf(l.q, l.qkv, 0) && isRowsOf(l.k, l.qkv, nq) && isRowsOf(l.v, l.qkv, nq + nk) &&
         isRowsOf(l.gate, l.gateUp, 0) && isRowsOf(l.up, l.gateUp, ni);
}

namespace {

// HF LlamaRMSNorm: in float32 (float64 stays float64 here, so float64 models are exact), cast back, times weight.
at::Tensor rmsNormEps(const at::Tensor& x, const at::Tensor& w, double eps) {
  if (fusedOpsApply(x)) return fusedRmsNorm(x, w, eps);
  const at::ScalarType ct = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor h = x.to(ct);
  at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h.mul(at::rsqrt(variance.add(eps)));
  return w.mul(h.to(x.scalar_type()));
}

at::Tensor rotateHalf(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)}, -1);
}

struct LayerShape {
  int64_t heads, kvHeads, headDim;
  double eps;
  LoraRun lora{};  // the adapter of this pass (scale 0: none)
};

// x in the adapter's dtype when one of the targets reading x has an adapter that runs in this pass, else undefined.
// One cast for the projections that share an input (q/k/v, gate/up), so autograd keeps one float32 copy, not three.
at::Tensor adapterInput(const at::Tensor& x, const Layer& l, std::initializer_list<int> targets, const LayerShape& c) {
  if (c.lora.scale == 0) return at::Tensor();
  for (int t : targets)
    if (l.lora[t].A.defined()) return x.to(l.lora[t].A.scalar_type());
  return at::Tensor();
}

// The projection of x through target t's weight w (and bias b), plus the layer's adapter update when one runs (xl:
// x in the adapter's dtype, from adapterInput).
at::Tensor project(const at::Tensor& x, const at::Tensor& xl, const at::Tensor& w, const at::Tensor& b, const Layer& l,
                   int t, const LayerShape& c) {
  at::Tensor y = at::linear(x, w, b);
  const LoraPair& p = l.lora[t];
  if (c.lora.scale == 0 || !p.A.defined()) return y;
  // As PEFT: the base output plus the float32 update, rounded once to the model dtype.
  return y.add_(loraDelta(xl, p, c.lora, t));
}

// One decoder layer: x + attn(norm(x)), then + mlp(norm(.)). cos/sin [B, 1, T, D] in x's dtype.
// With a cache (kc, vc [B, Hkv, capacity, D]): this call's keys and values are written at [start, start + T) and the
// queries attend over [0, start + T) (the attention op places query row i at position start + i).
// Attention of one query per sequence over the whole cache (decodeStep), as two batched matrix products: the G query
// heads of a kv group are the rows of one [G, D] x [D, C] product, so each cached key and value is read once per kv
// head. bias [B, C] float: 0 on visible slots, -1e9 on unfilled and padding ones. Scores come out of the product in
// the model dtype (as transformers' eager attention), the softmax runs in float32.
at::Tensor decodeAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) {
  const int64_t B = q.size(0), Hq = q.size(1), D = q.size(3), Hkv = k.size(1), C = k.size(2);
  at::Tensor qg = q.reshape({B, Hkv, Hq / Hkv, D});
  // (scores + bias) * scale, promoted to the bias' float type: the same values as float(scores) * scale + bias on
  // the visible slots (bias 0) in one kernel fewer.
  at::Tensor scores = at::matmul(qg, k.transpose(2, 3)).add(bias.view({B, 1, 1, C})).mul(1.0 / std::sqrt(double(D)));
  at::Tensor p = scores.softmax(-1).to(q.scalar_type());
  return at::matmul(p, v).reshape({B, Hq, 1, D});
}

at::Tensor decoderLayer(const at::Tensor& xIn, const Layer& l, const at::Tensor& cos, const at::Tensor& sin,
                        const AttentionOptions& ao, const LayerShape& c, at::Tensor* kc = nullptr,
                        at::Tensor* vc = nullptr, int64_t start = 0, const at::Tensor* pastK = nullptr,
                        const at::Tensor* pastV = nullptr, const at::Tensor* writeAt = nullptr) {
  const int64_t B = xIn.size(0), T = xIn.size(1), D = c.headDim;
  at::Tensor x = xIn;
  at::Tensor h = rmsNormEps(x, l.inputNorm, c.eps);
  // Undefined biases (every family but Qwen2) are none.
  const at::Tensor hl = adapterInput(h, l, {kQ, kK, kV}, c);
  at::Tensor q = project(h, hl, l.q, l.qBias, l, kQ, c).view({B, T, c.heads, D});
  at::Tensor k = project(h, hl, l.k, l.kBias, l, kK, c).view({B, T, c.kvHeads, D});
  at::Tensor v = project(h, hl, l.v, l.vBias, l, kV, c).view({B, T, c.kvHeads, D}).transpose(1, 2);
  if (l.qNorm.defined()) {  // Qwen3: RMSNorm over each head's q and k, before rotary
    q = rmsNormEps(q, l.qNorm, c.eps);
    k = rmsNormEps(k, l.kNorm, c.eps);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  if (fusedOpsApply(q)) {  // a fused autograd node when autograd records, else the plain kernel
    q = fusedRotary(q, cos, sin);
    k = fusedRotary(k, cos, sin);
  } else {
    q = q.mul(cos).add(rotateHalf(q).mul(sin));
    k = k.mul(cos).add(rotateHalf(k).mul(sin));
  }
  if (writeAt != nullptr) {  // decodeStep: the position comes from a device tensor; attend over the whole cache
    kc->index_copy_(2, *writeAt, k);
    vc->index_copy_(2, *writeAt, v);
    k = *kc;
    v = *vc;
  } else if (kc != nullptr) {
    kc->narrow(2, start, T).copy_(k);
    vc->narrow(2, start, T).copy_(v);
    k = kc->narrow(2, 0, start + T);
    v = vc->narrow(2, 0, start + T);
  } else if (pastK != nullptr) {
    k = at::cat({*pastK, k}, 2);
    v = at::cat({*pastV, v}, 2);
  }
  // Unfused decoding (CPU, or ATMAN_FUSED=0) reads the cache once per kv head through two small products; on CUDA
  // decodeStep normally runs native/llama/fused_decode.cpp instead.
  at::Tensor a = writeAt != nullptr ? decodeAttention(q, k, v, ao.keyBias) : atman::attention(q, k, v, ao);  // [B, Hq, T, D]
  a = a.transpose(1, 2).reshape({B, T, c.heads * D});
  x = x.add(project(a, adapterInput(a, l, {kO}, c), l.o, at::Tensor(), l, kO, c));
  h = rmsNormEps(x, l.postNorm, c.eps);
  const at::Tensor hm = adapterInput(h, l, {kGate, kUp}, c);
  at::Tensor gate = project(h, hm, l.gate, at::Tensor(), l, kGate, c), up = project(h, hm, l.up, at::Tensor(), l, kUp, c);
  at::Tensor act = fusedOpsApply(gate) ? fusedSiluMul(gate, up) : at::silu(gate).mul(up);
  return x.add(project(act, adapterInput(act, l, {kDown}, c), l.down, at::Tensor(), l, kDown, c));
}

at::Tensor orUndefined(const c10::optional<at::Tensor>& t) { return t.has_value() ? *t : at::Tensor(); }
c10::optional<at::Tensor> optionalOf(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

// Activation checkpointing of one layer: forward keeps only its inputs; backward runs the layer again with autograd
// and differentiates it (as torch.utils.checkpoint's reentrant variant does). The family options (projection biases,
// q/k norms) are optional inputs: absent ones are no autograd inputs. The adapter's A and B (those of its targets, in
// target order) come as one list after the 5 non-tensor arguments; its targets, scale, dropout and dropout seed
// follow (the same seed redraws the same dropout masks in backward).
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  static constexpr size_t kTensorInputs = 20;  // x .. kNorm below; then 5 non-tensor arguments
  static constexpr size_t kScalarsBeforeLora = 5;

  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& sin, const c10::optional<at::Tensor>& keyBias,
                            const c10::optional<at::Tensor>& bqs, const c10::optional<at::Tensor>& keyStart,
                            const at::Tensor& inputNorm, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& o, const at::Tensor& postNorm, const at::Tensor& gate,
                            const at::Tensor& up, const at::Tensor& down, const c10::optional<at::Tensor>& qBias,
                            const c10::optional<at::Tensor>& kBias, const c10::optional<at::Tensor>& vBias,
                            const c10::optional<at::Tensor>& qNorm, const c10::optional<at::Tensor>& kNorm,
                            int64_t bqsScalar, int64_t heads, int64_t kvHeads, int64_t headDim, double eps,
                            at::TensorList lora, int64_t loraTargets, double loraScale, double loraDropout,
                            int64_t dropoutSeed) {
    std::vector<at::Tensor> saved{x, cos, sin, orUndefined(keyBias), orUndefined(bqs), orUndefined(keyStart), inputNorm, q, k,
                                  v, o, postNorm, gate, up, down, orUndefined(qBias), orUndefined(kBias), orUndefined(vBias),
                                  orUndefined(qNorm), orUndefined(kNorm)};
    saved.insert(saved.end(), lora.begin(), lora.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["bqsScalar"] = bqsScalar;
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["kvHeads"] = kvHeads;
    ctx->saved_data["headDim"] = headDim;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["loraTargets"] = loraTargets;
    ctx->saved_data["loraScale"] = loraScale;
    ctx->saved_data["loraDropout"] = loraDropout;
    ctx->saved_data["dropoutSeed"] = dropoutSeed;
    return run(x, cos, sin, orUndefined(keyBias), orUndefined(bqs), orUndefined(keyStart), layerOf(saved, ctx), ctx);
  }

  // The adapter tensors of l as the flat list forward takes, and the bit set of their targets.
  static std::pair<std::vector<at::Tensor>, int64_t> loraList(const Layer& l) {
    std::vector<at::Tensor> out;
    int64_t targets = 0;
    for (int t = 0; t < kLoraTargets; t++) {
      if (!l.lora[t].A.defined()) continue;
      out.push_back(l.lora[t].A);
      out.push_back(l.lora[t].B);
      targets |= int64_t(1) << t;
    }
    return {out, targets};
  }

  // The layer's tensors in forward's order, from index 6 of the saved inputs; the adapter's after index 19.
  static Layer layerOf(const std::vector<at::Tensor>& in, torch::autograd::AutogradContext* ctx) {
    Layer l{in[6], in[7], in[8], in[9], in[10], in[11], in[12], in[13], in[14]};
    l.qBias = in[15], l.kBias = in[16], l.vBias = in[17], l.qNorm = in[18], l.kNorm = in[19];
    const int64_t targets = ctx->saved_data["loraTargets"].toInt();
    size_t next = kTensorInputs;
    for (int t = 0; t < kLoraTargets; t++) {
      if (!(targets & (int64_t(1) << t))) continue;
      l.lora[t].A = in[next++];
      l.lora[t].B = in[next++];
    }
    return l;
  }

  static at::Tensor run(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& keyBias,
                        const at::Tensor& bqs, const at::Tensor& keyStart, const Layer& l,
                        torch::autograd::AutogradContext* ctx) {
    AttentionOptions ao;
    ao.keyBias = keyBias;
    ao.biasQueryStart = bqs;
    ao.biasQueryStartScalar = ctx->saved_data["bqsScalar"].toInt();
    ao.keyStart = keyStart;
    LayerShape c{ctx->saved_data["heads"].toInt(), ctx->saved_data["kvHeads"].toInt(), ctx->saved_data["headDim"].toInt(),
                 ctx->saved_data["eps"].toDouble()};
    c.lora.scale = ctx->saved_data["loraScale"].toDouble();
    c.lora.dropout = ctx->saved_data["loraDropout"].toDouble();
    c.lora.dropoutSeed = ctx->saved_data["dropoutSeed"].toInt();
    return decoderLayer(x, l, cos, sin, ao, c);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();  // tensor inputs 0..19 in forward's order, then the adapter's
    const size_t n = saved.size();
    std::vector<at::Tensor> in(n);
    std::vector<at::Tensor> wanted;
    std::vector<size_t> wantedIndex;
    size_t edge = 0;  // needs_input_grad counts tensor inputs only (an absent optional is none)
    for (size_t i = 0; i < n; i++) {
      if (!saved[i].defined()) continue;
      in[i] = saved[i].detach();
      if (ctx->needs_input_grad(edge++)) {
        in[i].set_requires_grad(true);
        wanted.push_back(in[i]);
        wantedIndex.push_back(i);
      }
    }
    // One output per forward argument: the 20 tensors, 5 scalars, each adapter tensor, 4 scalars.
    const size_t nLora = n - kTensorInputs;
    torch::autograd::variable_list out(kTensorInputs + kScalarsBeforeLora + nLora + 4);
    if (wanted.empty() || !grads[0].defined()) return out;
    at::Tensor y;
    {
      at::AutoGradMode enable(true);
      y = run(in[0], in[1], in[2], in[3], in[4], in[5], layerOf(in, ctx), ctx);
    }
    auto g = torch::autograd::grad({y}, wanted, {grads[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                   /*allow_unused=*/true);
    for (size_t j = 0; j < wantedIndex.size(); j++) {
      const size_t i = wantedIndex[j];
      out[i < kTensorInputs ? i : i + kScalarsBeforeLora] = g[j];
    }
    return out;
  }
};

}  // namespace

at::Tensor LlamaModel::rmsNorm(const at::Tensor& x, const at::Tensor& w) const { return rmsNormEps(x, w, config_.rmsNormEps); }

std::pair<at::Tensor, at::Tensor> LlamaModel::rotary(const at::Tensor& pos) const {
  // As HF computes them: float32 products of positions and inv_freq, cat(freqs, freqs), cast to the model dtype.
  at::Tensor freqs = pos.to(at::kFloat).unsqueeze(-1).mul(invFreq_.view({1, 1, -1}));  // [B, T, D/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype()).unsqueeze(1), emb.sin().to(dtype()).unsqueeze(1)};  // [B, 1, T, D] each
}

at::Tensor LlamaModel::defaultPositions(int64_t B, int64_t T, const at::Tensor& keyStart, int64_t offset) const {
  const auto longOpts = at::TensorOptions().dtype(at::kLong).device(device());
  at::Tensor j = at::arange(offset, offset + T, longOpts).unsqueeze(0).expand({B, T});
  if (!keyStart.defined()) return j;
  return j.sub(keyStart.view({B, 1})).clamp_min(0);
}

namespace {

void checkIndexTensor(const at::Tensor& t, const char* name, int64_t B, int64_t T) {
  if (!t.defined()) return;
  if (t.scalar_type() != at::kLong)
    throw TypeError(std::string("dtype mismatch: LlamaModel ") + name + " must be an int64 tensor, got " + dtypeName(t.scalar_type()));
  const bool ok = T < 0 ? (t.dim() == 1 && t.size(0) == B) : (t.dim() == 2 && t.size(0) == B && t.size(1) == T);
  if (!ok)
    throw TypeError(std::string("shape mismatch: LlamaModel ") + name + " must have shape " +
                    (T < 0 ? "[B] = [" + std::to_string(B) + "]" : "[B, T] = [" + std::to_string(B) + ", " + std::to_string(T) + "]") +
                    ", got " + shapeString(t.sizes()));
}

}  // namespace

void checkSequenceLength(const LlamaConfig& c, int64_t length, const char* fn) {
  if (length > c.maxPositionEmbeddings)
    throw RangeError("out of range: LlamaModel " + std::string(fn) + " got a sequence of " + std::to_string(length) +
                     " tokens, more than the model's " + std::to_string(c.maxPositionEmbeddings) +
                     " positions (max_position_embeddings in config.json); shorten or truncate the input");
  if (c.window.effective > 0 && length > c.window.effective)
    throw RangeError("out of range: LlamaModel " + std::string(fn) + " got a sequence of " + std::to_string(length) +
                     " tokens, longer than the " + c.modelType + " model's sliding window of " +
                     std::to_string(c.window.effective) +
                     " (sliding_window in config.json); atman-native does not implement sliding-window attention, so it "
                     "runs only sequences the window leaves whole: shorten or truncate the input to " +
                     std::to_string(c.window.effective) + " tokens");
}

at::Tensor LlamaModel::hidden(const at::Tensor& idsIn, const ForwardOptions& o) const {
  const LlamaConfig& c = config_;
  if (embed_.defined() == false) throw TypeError("disposed model: this LlamaModel was disposed");
  if (idsIn.scalar_type() != at::kLong || idsIn.dim() != 2)
    throw TypeError("wrong argument type: LlamaModel ids must be an int64 tensor [B, T], got " + dtypeName(idsIn.scalar_type()) +
                    " " + shapeString(idsIn.sizes()));
  const int64_t B = idsIn.size(0), T = idsIn.size(1);
  const at::Device dev = device();
  at::Tensor ids = idsIn.to(dev);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= c.vocabSize)
      throw RangeError("index out of range: LlamaModel token ids must be in [0, " + std::to_string(c.vocabSize) + "), got " +
                       std::to_string(lo < 0 ? lo : hi));
  }
  checkIndexTensor(o.keyStart, "keyStart", B, -1);
  checkIndexTensor(o.biasQueryStart, "biasQueryStart", B, -1);
  checkIndexTensor(o.positions, "positions", B, T);
  const bool hasPast = o.pastKeys.defined() || o.pastValues.defined();
  int64_t P = 0;
  if (hasPast) {
    const auto L = static_cast<int64_t>(layers_.size());
    const auto& pk = o.pastKeys;
    const auto& pv = o.pastValues;
    if (!pk.defined() || !pv.defined() || pk.dim() != 5 || !pk.sizes().equals(pv.sizes()) || pk.size(0) != L ||
        pk.size(1) != B || pk.size(2) != c.numKvHeads || pk.size(4) != c.headDim)
      throw TypeError("shape mismatch: LlamaModel past keys and values must both have shape [numLayers, B, numKvHeads, P, "
                      "headDim] = [" + std::to_string(L) + ", " + std::to_string(B) + ", " + std::to_string(c.numKvHeads) +
                      ", P, " + std::to_string(c.headDim) + "] (from prefix()), got " +
                      (pk.defined() ? shapeString(pk.sizes()) : std::string("none")) + " and " +
                      (pv.defined() ? shapeString(pv.sizes()) : std::string("none")));
    if (pk.scalar_type() != dtype() || pv.scalar_type() != dtype())
      throw TypeError("dtype mismatch: LlamaModel past keys and values must be " + dtypeName(dtype()) + " (from prefix())");
    P = pk.size(3);
  }

  checkSequenceLength(c, P + T, "forward()");
  checkKeyStartValues(o.keyStart, P + T);

  AttentionOptions ao;
  ao.causal = true;
  if (o.keyBias.defined()) ao.keyBias = o.keyBias.to(dev);
  if (o.biasQueryStart.defined()) ao.biasQueryStart = o.biasQueryStart.to(dev);
  ao.biasQueryStartScalar = o.biasQueryStartScalar;
  if (o.keyStart.defined()) ao.keyStart = o.keyStart.to(dev);
  at::Tensor pos = o.positions.defined() ? o.positions.to(dev) : defaultPositions(B, T, ao.keyStart, P);

  auto [cos, sin] = rotary(pos);

  at::Tensor x = at::embedding(embed_, ids);  // [B, T, H]
  LayerShape shape{c.numHeads, c.numKvHeads, c.headDim, c.rmsNormEps};
  shape.lora = loraRun(at::GradMode::is_enabled());
  // With a prefix the layers run plainly: activation checkpointing is for full-sequence training passes.
  const bool checkpoint = checkpointing_ && at::GradMode::is_enabled() && !hasPast;
  at::Tensor pastK = hasPast ? o.pastKeys.to(dev) : at::Tensor(), pastV = hasPast ? o.pastValues.to(dev) : at::Tensor();
  // keyBias [L, B, T]: one bias per layer (AtMan per-layer masks); [B, T]: the same bias in every layer.
  const at::Tensor allBias = ao.keyBias;
  const bool perLayer = allBias.defined() && allBias.dim() == 3;
  if (perLayer && allBias.size(0) != static_cast<int64_t>(layers_.size()))
    throw TypeError("shape mismatch: a per-layer keyBias must have shape [numLayers, B, T] = [" +
                    std::to_string(layers_.size()) + ", " + std::to_string(B) + ", " + std::to_string(T) + "], got " +
                    shapeString(allBias.sizes()));
  for (size_t i = 0; i < layers_.size(); i++) {
    const Layer& l = layers_[i];
    if (perLayer) ao.keyBias = allBias.select(0, static_cast<int64_t>(i));
    if (checkpoint) {
      auto [lora, loraTargets] = shape.lora.scale != 0 ? CheckpointedLayer::loraList(l)
                                                       : std::pair<std::vector<at::Tensor>, int64_t>{{}, 0};
      x = CheckpointedLayer::apply(x, cos, sin, optionalOf(ao.keyBias), optionalOf(ao.biasQueryStart),
                                   optionalOf(ao.keyStart), l.inputNorm, l.q, l.k, l.v, l.o, l.postNorm, l.gate, l.up,
                                   l.down, optionalOf(l.qBias), optionalOf(l.kBias), optionalOf(l.vBias),
                                   optionalOf(l.qNorm), optionalOf(l.kNorm), ao.biasQueryStartScalar, c.numHeads,
                                   c.numKvHeads, c.headDim, c.rmsNormEps, at::TensorList(lora), loraTargets,
                                   shape.lora.scale, shape.lora.dropout, shape.lora.dropoutSeed);
    } else if (hasPast) {
      const auto li = static_cast<int64_t>(i);
      const at::Tensor pk = pastK.select(0, li), pv = pastV.select(0, li);
      x = decoderLayer(x, l, cos, sin, ao, shape, nullptr, nullptr, 0, &pk, &pv);
    } else {
      x = decoderLayer(x, l, cos, sin, ao, shape);
    }
  }
  return rmsNorm(x, norm_);
}

std::pair<at::Tensor, at::Tensor> LlamaModel::prefix(const at::Tensor& idsIn, const at::Tensor& keyStart) const {
  if (embed_.defined() == false) throw TypeError("disposed model: this LlamaModel was disposed");
  if (idsIn.scalar_type() != at::kLong || idsIn.dim() != 2 || idsIn.size(1) < 1)
    throw TypeError("wrong argument type: LlamaModel.prefix() ids must be an int64 tensor [B, P] with P >= 1, got " +
                    dtypeName(idsIn.scalar_type()) + " " + shapeString(idsIn.sizes()));
  const int64_t B = idsIn.size(0), P = idsIn.size(1);
  checkIndexTensor(keyStart, "keyStart", B, -1);
  at::Tensor ids = idsIn.to(device());
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  if (lo < 0 || hi >= config_.vocabSize)
    throw RangeError("index out of range: LlamaModel token ids must be in [0, " + std::to_string(config_.vocabSize) + "), got " +
                     std::to_string(lo < 0 ? lo : hi));
  checkSequenceLength(config_, P, "prefix()");
  checkKeyStartValues(keyStart, P);
  KVCache cache = newCache(B, P);
  extend(ids, keyStart.defined() ? keyStart.to(device()) : at::Tensor(), cache);
  return {at::stack(cache.k), at::stack(cache.v)};
}

KVCache LlamaModel::newCache(int64_t batch, int64_t capacity) const {
  KVCache cache;
  cache.capacity = capacity;
  for (size_t i = 0; i < layers_.size(); i++) {
    // Zeros, not empty: decodeStep attends over unfilled slots with zero weight, and 0 * NaN garbage would be NaN.
    cache.k.push_back(at::zeros({batch, config_.numKvHeads, capacity, config_.headDim}, embed_.options()));
    cache.v.push_back(at::zeros({batch, config_.numKvHeads, capacity, config_.headDim}, embed_.options()));
  }
  return cache;
}

at::Tensor LlamaModel::extend(const at::Tensor& ids, const at::Tensor& keyStart, KVCache& cache) const {
  at::NoGradGuard noGrad;
  const LlamaConfig& c = config_;
  const int64_t B = ids.size(0), n = ids.size(1), start = cache.length;
  if (start + n > cache.capacity)
    throw RangeError("out of range: the KV cache holds " + std::to_string(cache.capacity) + " positions, " +
                     std::to_string(start + n) + " needed");
  AttentionOptions ao;
  ao.causal = true;
  ao.keyStart = keyStart;
  auto [cos, sin] = rotary(defaultPositions(B, n, keyStart, start));
  at::Tensor x = at::embedding(embed_, ids);
  LayerShape shape{c.numHeads, c.numKvHeads, c.headDim, c.rmsNormEps};
  shape.lora = loraRun(false);
  for (size_t i = 0; i < layers_.size(); i++) x = decoderLayer(x, layers_[i], cos, sin, ao, shape, &cache.k[i], &cache.v[i], start);
  cache.length = start + n;
  return rmsNorm(x, norm_);
}

at::Tensor LlamaModel::decodeStep(const at::Tensor& ids, const at::Tensor& length, const at::Tensor& keyStart,
                                  KVCache& cache) const {
  at::NoGradGuard noGrad;
  const LlamaConfig& c = config_;
  const int64_t B = ids.size(0), C = cache.capacity;
  const auto longOpts = at::TensorOptions().dtype(at::kLong).device(device());
  const std::vector<Layer>& layers = cache.decodeLayers ? *cache.decodeLayers : layers_;
  const LoraRun lora = cache.decodeLayers ? LoraRun{} : loraRun(false);  // merged copies carry no adapter
  if (fusedDecodeApplies(c, layers, embed_))
    return fusedDecodeStep(c, DecodeWeights{layers, embed_, norm_, lmHead_, invFreq_, lora.scale}, ids, length, keyStart,
                           cache);
  at::Tensor pos = length.view({1, 1}).expand({B, 1});
  if (keyStart.defined()) pos = pos.sub(keyStart.view({B, 1})).clamp_min(0);
  auto [cos, sin] = rotary(pos);
  const at::ScalarType dt = dtype();
  // Cache slots after `length` (nothing written yet) and before keyStart (left padding) get a bias of -1e9: zero
  // weight in decodeAttention. A row is never all hidden: the slot being written is visible.
  const at::ScalarType biasType = dt == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor slot = at::arange(C, longOpts).unsqueeze(0);
  at::Tensor hidden = slot.gt(length.view({1, 1})).expand({B, C});
  if (keyStart.defined()) hidden = hidden.logical_or(slot.lt(keyStart.view({B, 1})));
  AttentionOptions ao;  // decodeAttention reads only the bias
  ao.keyBias = hidden.to(biasType).mul(-1e9).contiguous();
  at::Tensor x = at::embedding(embed_, ids);
  LayerShape shape{c.numHeads, c.numKvHeads, c.headDim, c.rmsNormEps};
  shape.lora = lora;
  for (size_t i = 0; i < layers.size(); i++)
    x = decoderLayer(x, layers[i], cos, sin, ao, shape, &cache.k[i], &cache.v[i], 0, nullptr, nullptr, &length);
  return logits(rmsNorm(x, norm_)).squeeze(1);
}

at::Tensor LlamaModel::logits(const at::Tensor& h) const { return at::linear(h, lmHead_); }

at::Tensor LlamaModel::forward(const at::Tensor& ids, const ForwardOptions& o) const {
  return at::linear(hidden(ids, o), lmHead_);
}

namespace {

// Chunked log p(token) over lm_head: forward and backward both run chunk by chunk over positions, and backward
// recomputes each chunk's logits, so only h, the weight and [B, T] tensors are kept for backward (never [B, T, V]).
// Without a weight gradient (frozen model, mask optimization) backward skips the dW products.
struct ChunkedLogprobs : public torch::autograd::Function<ChunkedLogprobs> {
  // h [B, T, H] final hidden states; w [V, H]; tokens int64 [B, T]; mask bool [B, T] (t >= targetStart).
  // Entry t of the result (for t >= first, masked) is log_softmax(linear(h[:, t-1], w) / temperature)[tokens[:, t]].
  // Returns {log-probs [B, T], entropy}: with `withEntropy`, entropy [B, T] of the same (tempered) distributions, 0
  // where masked, not differentiable (a metric); otherwise an empty tensor.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& h,
                                                const at::Tensor& w, const at::Tensor& tokens, const at::Tensor& mask,
                                                int64_t first, int64_t chunk, double temperature, int64_t outDtype,
                                                bool withEntropy) {
    const auto out = static_cast<at::ScalarType>(outDtype);
    const int64_t B = h.size(0), T = h.size(1);
    std::vector<at::Tensor> pieces, entropies;
    pieces.push_back(at::zeros({B, first}, h.options().dtype(out)));
    if (withEntropy) entropies.push_back(at::zeros({B, first}, h.options().dtype(out)));
    for (int64_t s = first; s < T; s += chunk) {
      const int64_t n = std::min(chunk, T - s);
      at::Tensor logits = at::linear(h.narrow(1, s - 1, n), w).to(out);  // predictions for tokens s .. s+n-1
      if (temperature != 1.0) logits = logits.div(temperature);
      at::Tensor picked = logits.gather(-1, tokens.narrow(1, s, n).unsqueeze(-1)).squeeze(-1);
      at::Tensor lse = logits.logsumexp(-1);
      pieces.push_back(picked.sub(lse));
      if (withEntropy) entropies.push_back(lse.sub(logits.softmax(-1).mul(logits).sum(-1)));  // H = lse - E_p[logit]
    }
    at::Tensor all = at::cat(pieces, 1);
    ctx->save_for_backward({h, w, tokens, mask});
    ctx->saved_data["first"] = first;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["outDtype"] = outDtype;
    const at::Tensor zero = at::zeros({}, all.options());
    at::Tensor entropy = withEntropy ? at::where(mask, at::cat(entropies, 1), zero) : at::empty({0}, all.options());
    ctx->mark_non_differentiable({entropy});
    return {at::where(mask, all, zero), entropy};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &h = saved[0], &w = saved[1], &tokens = saved[2], &mask = saved[3];
    const int64_t first = ctx->saved_data["first"].toInt(), chunk = ctx->saved_data["chunk"].toInt();
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const auto out = static_cast<at::ScalarType>(ctx->saved_data["outDtype"].toInt());
    const bool wantH = ctx->needs_input_grad(0), wantW = ctx->needs_input_grad(1);
    at::Tensor dh, dw;
    if (wantH) dh = at::zeros_like(h);
    if (grads[0].defined() && (wantH || wantW)) {
      at::Tensor g = at::where(mask, grads[0].to(out), at::zeros({}, grads[0].options().dtype(out)));
      const int64_t B = h.size(0), T = h.size(1), V = w.size(0), H = h.size(2);
      for (int64_t s = first; s < T; s += chunk) {
        const int64_t n = std::min(chunk, T - s);
        at::Tensor hc = h.narrow(1, s - 1, n);
        at::Tensor logits = at::linear(hc, w).to(out);
        if (temperature != 1.0) logits = logits.div(temperature);
        at::Tensor gc = g.narrow(1, s, n).unsqueeze(-1);                   // [B, n, 1]
        at::Tensor dl = logits.softmax(-1).mul(gc).neg();                  // d/dlogits of lp: (onehot - p) * g
        dl.scatter_add_(-1, tokens.narrow(1, s, n).unsqueeze(-1), gc);
        if (temperature != 1.0) dl = dl.div(temperature);
        at::Tensor dlm = dl.to(w.scalar_type());                            // through the cast to `out`
        if (wantH) dh.narrow(1, s - 1, n).copy_(at::matmul(dlm, w));
        if (wantW) {
          // Accumulated in w's dtype, one GEMM per chunk adding into dw (fp32 accumulation inside the GEMM, one
          // rounding per chunk, as autograd's own bf16 .grad accumulation): an fp32 [V, H] buffer with a cast and an
          // add per chunk costs ~60 GB of memory traffic per step at Llama-3 vocabulary sizes. For float32/float64
          // models w's dtype is `out`: the same sums as before.
          const at::Tensor dlt = dlm.reshape({B * n, V}).t(), hr = hc.reshape({B * n, H});
          if (dw.defined()) dw.addmm_(dlt, hr);
          else dw = at::mm(dlt, hr);
        }
      }
    }
    if (wantW && !dw.defined()) dw = at::zeros(w.sizes(), w.options());  // no position is a target
    return {dh, dw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor LlamaModel::tokenLogprobs(const at::Tensor& ids, const ForwardOptions& o, const LogprobOptions& lp,
                                     at::Tensor* entropy) const {
  if (!(lp.temperature > 0) || !std::isfinite(lp.temperature))
    throw RangeError("invalid values: tokenLogprobs() temperature must be a positive number, got " + std::to_string(lp.temperature));
  if (lp.chunkSize < 0) throw RangeError("invalid values: tokenLogprobs() chunkSize must be positive");
  at::Tensor h = hidden(ids, o);
  const int64_t B = h.size(0), T = h.size(1), V = config_.vocabSize;
  const at::Device dev = device();
  at::Tensor start;
  if (lp.targetStart.defined()) {
    checkIndexTensor(lp.targetStart, "targetStart", B, -1);
    start = lp.targetStart.to(dev);
  } else {
    start = at::full({B}, lp.targetStartScalar, at::TensorOptions().dtype(at::kLong).device(dev));
  }
  start = start.clamp_min(1);
  const at::ScalarType out = dtype() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t first = B > 0 ? std::min(start.min().item<int64_t>(), T) : T;
  const int64_t chunk = lp.chunkSize > 0 ? lp.chunkSize : std::max<int64_t>(1, (int64_t(1) << 26) / std::max<int64_t>(1, B * V));
  at::Tensor t = at::arange(T, at::TensorOptions().dtype(at::kLong).device(dev)).unsqueeze(0);
  at::Tensor mask = t.ge(start.unsqueeze(1));
  auto outs = ChunkedLogprobs::apply(h, lmHead_, ids.to(dev), mask, first, chunk, lp.temperature,
                                     static_cast<int64_t>(out), entropy != nullptr);
  if (entropy != nullptr) *entropy = outs[1];
  return outs[0];
}

std::vector<std::pair<std::string, at::Tensor>> LlamaModel::namedParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.emplace_back("model.embed_tokens.weight", embed_);
  for (size_t i = 0; i < layers_.size(); i++) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const Layer& l = layers_[i];
    out.emplace_back(p + "self_attn.q_proj.weight", l.q);
    if (l.qBias.defined()) out.emplace_back(p + "self_attn.q_proj.bias", l.qBias);
    out.emplace_back(p + "self_attn.k_proj.weight", l.k);
    if (l.kBias.defined()) out.emplace_back(p + "self_attn.k_proj.bias", l.kBias);
    out.emplace_back(p + "self_attn.v_proj.weight", l.v);
    if (l.vBias.defined()) out.emplace_back(p + "self_attn.v_proj.bias", l.vBias);
    if (l.qNorm.defined()) out.emplace_back(p + "self_attn.q_norm.weight", l.qNorm);
    if (l.kNorm.defined()) out.emplace_back(p + "self_attn.k_norm.weight", l.kNorm);
    out.emplace_back(p + "self_attn.o_proj.weight", l.o);
    out.emplace_back(p + "mlp.gate_proj.weight", l.gate);
    out.emplace_back(p + "mlp.up_proj.weight", l.up);
    out.emplace_back(p + "mlp.down_proj.weight", l.down);
    out.emplace_back(p + "input_layernorm.weight", l.inputNorm);
    out.emplace_back(p + "post_attention_layernorm.weight", l.postNorm);
  }
  out.emplace_back("model.norm.weight", norm_);
  if (!config_.tieWordEmbeddings) out.emplace_back("lm_head.weight", lmHead_);
  return out;
}

void LlamaModel::setRequiresGrad(bool flag) {
  // With an adapter only its A and B train: the base stays frozen.
  for (auto& [name, t] : namedParameters()) t.set_requires_grad(flag && !hasAdapter());
  for (auto& [name, t] : adapterParameters()) t.set_requires_grad(flag);
}

LoraRun LlamaModel::loraRun(bool training) const {
  LoraRun run;
  if (!hasAdapter() || !adapterEnabled_) return run;
  run.scale = adapter_.scale();
  run.dropout = adapter_.dropout;
  // Dropout only in training passes: autograd records and the adapter is trainable (not in frozen mask optimization).
  bool trainable = false;
  for (const Layer& l : layers_)
    for (const LoraPair& p : l.lora) trainable = trainable || (p.A.defined() && p.A.requires_grad());
  if (training && trainable && adapter_.dropout > 0) run.dropoutSeed = drawDropoutSeed();
  return run;
}

namespace {

// The in and out features of target t's weight in layer l.
std::pair<int64_t, int64_t> targetShape(const Layer& l, int t) {
  const at::Tensor* w[kLoraTargets] = {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down};
  return {w[t]->size(1), w[t]->size(0)};
}

at::Tensor& targetWeight(Layer& l, int t) {
  at::Tensor* w[kLoraTargets] = {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down};
  return *w[t];
}

}  // namespace

void LlamaModel::addLora(const LoraOptions& o) {
  if (!embed_.defined()) throw TypeError("disposed model: this LlamaModel was disposed");
  checkLoraOptions(o, "addLora()");
  std::vector<std::array<LoraPair, kLoraTargets>> pairs(layers_.size());
  for (size_t i = 0; i < layers_.size(); i++)
    for (int t = 0; t < kLoraTargets; t++) {
      if (!o.targets[t]) continue;
      auto [in, out] = targetShape(layers_[i], t);
      pairs[i][t] = initLoraPair(in, out, o.r, adapterDtype(), device());
    }
  installAdapter(o, std::move(pairs));
}

void LlamaModel::installAdapter(const LoraOptions& o, std::vector<std::array<LoraPair, kLoraTargets>> pairs) {
  checkLoraOptions(o, "LoRA adapter");
  if (pairs.size() != layers_.size()) throw Error("LoRA adapter: one set of pairs per layer expected");
  // A trainable model stays trainable, now through its adapter only.
  bool trainable = embed_.requires_grad();
  for (const auto& [name, t] : adapterParameters()) trainable = trainable || t.requires_grad();
  for (size_t i = 0; i < layers_.size(); i++) layers_[i].lora = std::move(pairs[i]);
  adapter_ = o;
  adapterEnabled_ = true;
  setRequiresGrad(trainable);
}

void LlamaModel::mergeForDecoding(KVCache& cache) const {
  const char* mode = std::getenv("ATMAN_LORA_DECODE");
  if (mode == nullptr || std::string(mode) != "merge" || !hasAdapter() || !adapterEnabled_) return;
  at::NoGradGuard noGrad;
  const double scale = adapter_.scale();
  auto layers = std::make_shared<std::vector<Layer>>();
  for (const Layer& l : layers_) {
    Layer m = l;  // norms and biases shared; the projections replaced by merged copies
    for (int t = 0; t < kLoraTargets; t++) {
      at::Tensor& w = targetWeight(m, t);
      // Summed in the adapter's float type and rounded once, as mergeAdapter (packProjections copies q/k/v, gate/up).
      if (l.lora[t].A.defined()) w = w.add(at::mm(l.lora[t].B, l.lora[t].A).mul(scale)).to(w.scalar_type());
      m.lora[t] = LoraPair{};
    }
    packProjections(m);
    layers->push_back(std::move(m));
  }
  cache.decodeLayers = std::move(layers);
}

void LlamaModel::mergeAdapter() {
  if (!hasAdapter()) throw Error("mergeAdapter(): this model has no LoRA adapter (addLora() or loadAdapter() first)");
  at::NoGradGuard noGrad;
  const double scale = adapter_.scale();
  for (Layer& l : layers_)
    for (int t = 0; t < kLoraTargets; t++) {
      LoraPair& p = l.lora[t];
      if (!p.A.defined()) continue;
      // In place: the packed q/k/v and gate/up buffers see it too. Summed in the adapter's float type, rounded once.
      at::Tensor& w = targetWeight(l, t);
      w.add_(at::mm(p.B, p.A).mul(scale));
      p = LoraPair{};
    }
  adapter_ = LoraOptions{};
  adapterEnabled_ = true;
}

std::vector<std::pair<std::string, at::Tensor>> LlamaModel::adapterParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t i = 0; i < layers_.size(); i++)
    for (int t = 0; t < kLoraTargets; t++) {
      const LoraPair& p = layers_[i].lora[t];
      if (!p.A.defined()) continue;
      const std::string prefix = "base_model.model.model.layers." + std::to_string(i) + "." + loraTargetModule(t) + "." +
                                 loraTargetName(t);
      out.emplace_back(prefix + ".lora_A.weight", p.A);
      out.emplace_back(prefix + ".lora_B.weight", p.B);
    }
  return out;
}

void LlamaModel::save(const std::string& dir) const {
  if (dir.empty() || dir.find('\0') != std::string::npos) throw TypeError("invalid path: LlamaModel.save() needs a directory path");
  if (hasAdapter())
    throw Error("LlamaModel.save(): this model has a LoRA adapter, which the HF model format cannot hold: saveAdapter(dir) "
                "writes the adapter (PEFT format), or mergeAdapter() first to save the merged model");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot save Llama model to '" + dir + "': " + ec.message());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : namedParameters()) tensors.emplace_back(name, t.detach());
  saveSafetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  const std::string text = configToJson(config_, dtypeName(dtype()));
  AtomicFile f(dir + "/config.json");
  f.write(text.data(), text.size());
  f.commit();
}

}  // namespace atman::llama
