// A decoder-only causal LM over libtorch: weights as plain tensors, forward with the AtMan attention op in every
// layer, chunked token log-probs. Computes what Hugging Face transformers' LlamaForCausalLM computes, and with the
// options of LlamaConfig (family.h) what Qwen2ForCausalLM, Qwen3ForCausalLM and MistralForCausalLM compute; with a
// LoRA adapter (lora.h, adapter_io.h) what PEFT's LoraModel over them computes.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "native/llama/config.h"
#include "native/llama/lora.h"

namespace atman::llama {

// The AtMan options, passed to every layer's attention, and the token positions.
struct ForwardOptions {
  at::Tensor keyBias;              // [B, T] float32 (float64 with a float64 model), or undefined
  at::Tensor biasQueryStart;       // int64 [B], or undefined (then biasQueryStartScalar)
  int64_t biasQueryStartScalar = 0;
  at::Tensor keyStart;             // int64 [B]: keys before this are masked out (left padding), or undefined
  // int64 [B, T] rotary positions. Default: j, or max(0, j - keyStart[b]) when keyStart is given (the first real
  // token of a left-padded row sits at position 0, as in HF generate's position_ids).
  at::Tensor positions;
  // Keys and values of a prefix, [L, B, Hkv, P, D] each (from prefix()), or undefined. With them, ids holds positions
  // [P, P + T) and every other option speaks of absolute positions: keyBias is [B, P + T] (or [L, B, P + T]),
  // biasQueryStart and keyStart index the whole sequence, positions is [B, T] (default j + P, minus keyStart). The
  // prefix takes no gradient (the AtMan mask never changes it: it lies before biasQueryStart).
  at::Tensor pastKeys, pastValues;
};

struct LogprobOptions {
  at::Tensor targetStart;        // int64 [B], or undefined (then targetStartScalar)
  int64_t targetStartScalar = 1;
  double temperature = 1.0;
  int64_t chunkSize = 0;         // positions per chunk; 0: about 2^26 logits per chunk
};

struct Layer {
  at::Tensor inputNorm, q, k, v, o, postNorm, gate, up, down;
  // Family options (undefined when the family has none): biases of the q/k/v projections [Hq D], [Hkv D], [Hkv D]
  // (Qwen2), and RMSNorm weights [D] over each head of q and of k, applied before rotary (Qwen3).
  at::Tensor qBias, kBias, vBias, qNorm, kNorm;
  // Packed projections for decoding: qkv = [q; k; v] and gateUp = [gate; up] by rows, qkvBias = [qBias; kBias;
  // vBias]. q, k, v, gate, up and the biases are separate leaf tensors (own autograd state) over these buffers'
  // memory, so updates to them (the optimizer's, in place) are seen here too. Undefined when not packed.
  at::Tensor qkv, gateUp, qkvBias;
  // The adapter's A and B per target (lora.h), undefined where the layer has none.
  std::array<LoraPair, kLoraTargets> lora;
};

// Makes q/k/v and gate/up of l share packed buffers (Layer::qkv, Layer::gateUp); copies the weights once.
void packProjections(Layer& l);
// Whether l's q/k/v and gate/up still lie inside its packed buffers (false if something replaced a tensor).
bool projectionsPacked(const Layer& l);

// Keys and values of every layer for a batch, preallocated: k[i], v[i] are [B, Hkv, capacity, D]; positions
// [0, length) are filled.
struct KVCache {
  std::vector<at::Tensor> k, v;
  int64_t length = 0;
  int64_t capacity = 0;
  // Layers decodeStep runs on instead of the model's: a LoRA adapter merged into a copy of the projections
  // (LlamaModel::mergeForDecoding), or null.
  std::shared_ptr<const std::vector<Layer>> decodeLayers;
};

class LlamaModel {
 public:
  // dir: config.json + model.safetensors or model.safetensors.index.json with its shards. dtype: the weights'
  // dtype in memory (default: as on disk). Parameters start with requires_grad false. The weights own their memory;
  // `mapped`: CPU weights of the on-disk dtype view the mapped files instead (see loadSafetensors for the risk).
  static std::shared_ptr<LlamaModel> load(const std::string& dir, std::optional<at::Device> device,
                                          std::optional<at::ScalarType> dtype, bool mapped = false);

  // ids int64 [B, T] -> final hidden states after the last RMSNorm [B, T, hidden].
  at::Tensor hidden(const at::Tensor& ids, const ForwardOptions& o) const;
  // The keys and values of every layer for ids [B, P] (no autograd), stacked [L, B, Hkv, P, D]: ForwardOptions'
  // pastKeys/pastValues, so repeated forwards over the same prefix (mask optimization) skip it.
  std::pair<at::Tensor, at::Tensor> prefix(const at::Tensor& ids, const at::Tensor& keyStart) const;
  // ids int64 [B, T] -> logits [B, T, vocab] in the model dtype.
  at::Tensor forward(const at::Tensor& ids, const ForwardOptions& o) const;
  // [B, T] float32 (float64 for a float64 model): entry t = log p(ids[b, t] | ids[b, <t]) (logits divided by
  // temperature) for t >= max(1, targetStart[b]), 0 elsewhere. lm_head runs over chunks of positions in forward and
  // again in backward (a custom autograd function that keeps only the hidden states), so the [B, T, vocab] logits are
  // never all held at once, with or without autograd.
  // With `entropy`, also fills it with the entropy [B, T] of each scored position's distribution (no autograd).
  at::Tensor tokenLogprobs(const at::Tensor& ids, const ForwardOptions& o, const LogprobOptions& lp,
                           at::Tensor* entropy = nullptr) const;

  // Incremental inference (no autograd) for generation. extend() runs ids [B, n] (on the model device) at cache
  // positions [length, length + n), stores their keys/values, and returns the final hidden states [B, n, hidden].
  // keyStart int64 [B] (or undefined): left padding, as in ForwardOptions (rotary position max(0, j - keyStart)).
  KVCache newCache(int64_t batch, int64_t capacity) const;
  at::Tensor extend(const at::Tensor& ids, const at::Tensor& keyStart, KVCache& cache) const;
  // One decoding step whose shapes never change (so a CUDA graph can capture it): ids [B, 1] at cache position
  // `length` (an int64 [1] tensor on the model's device: the positions already filled; not advanced here). Writes
  // this position's keys/values into every layer's cache and attends over the filled positions. On CUDA it runs on
  // the fused decode kernels (native/llama/fused_decode.h); elsewhere two batched products per layer over the whole
  // capacity, the positions after it and the padding masked by a bias. Returns logits [B, vocab]. No autograd.
  at::Tensor decodeStep(const at::Tensor& ids, const at::Tensor& length, const at::Tensor& keyStart, KVCache& cache) const;
  // With an enabled LoRA adapter and the environment variable ATMAN_LORA_DECODE=merge: gives the cache a copy of
  // the layers with the adapter merged into the projections, which decodeStep then runs on (the fused step without
  // the low-rank products, at the memory of a second copy of the projection weights: a switch to measure that
  // trade-off; by default decodeStep adds the low-rank products). Otherwise does nothing.
  void mergeForDecoding(KVCache& cache) const;
  at::Tensor logits(const at::Tensor& hidden) const;  // lm_head

  // HF names; a tied lm_head is not listed (it is model.embed_tokens.weight).
  std::vector<std::pair<std::string, at::Tensor>> namedParameters() const;
  void setRequiresGrad(bool flag);
  // Activation checkpointing per layer (when autograd records): each layer keeps only its input for backward and
  // runs again during backward. Same results and gradients, less memory, about one more forward of compute.
  void setGradientCheckpointing(bool flag) { checkpointing_ = flag; }
  bool gradientCheckpointing() const { return checkpointing_; }
  // config.json + model.safetensors in dir (created if missing), in the HF format transformers loads.
  void save(const std::string& dir) const;

  // LoRA (lora.h). addLora() gives every target linear layer a fresh pair (A kaiming-uniform, B zero: the model
  // computes what it did); installAdapter() takes given pairs (loaded from disk: adapter_io.h), pairs[i][t] for layer
  // i and target t, already checked. Either replaces an adapter there is. With an adapter, setRequiresGrad(true) makes
  // only its A and B trainable (the base stays frozen). mergeAdapter() folds scale · B A into the base weights (one
  // rounding to the model dtype, as PEFT's merge) and removes the adapter.
  void addLora(const LoraOptions& o);
  void installAdapter(const LoraOptions& o, std::vector<std::array<LoraPair, kLoraTargets>> pairs);
  void mergeAdapter();
  bool hasAdapter() const { return adapter_.r > 0; }
  const LoraOptions& adapterOptions() const { return adapter_; }
  // Disabled, the model computes the base alone (GRPO's KL reference) without a second copy of the weights.
  void setAdapterEnabled(bool flag) { adapterEnabled_ = flag; }
  bool adapterEnabled() const { return adapterEnabled_; }
  // PEFT's tensor names (base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight, ...) and the tensors.
  std::vector<std::pair<std::string, at::Tensor>> adapterParameters() const;
  // The adapter's dtype: float32, or float64 for a float64 model.
  at::ScalarType adapterDtype() const { return dtype() == at::kDouble ? at::kDouble : at::kFloat; }
  const std::vector<Layer>& layers() const { return layers_; }

  const LlamaConfig& config() const { return config_; }
  at::Device device() const { return embed_.device(); }
  at::ScalarType dtype() const { return embed_.scalar_type(); }

 private:
  at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& w) const;
  at::Tensor defaultPositions(int64_t B, int64_t T, const at::Tensor& keyStart, int64_t offset = 0) const;
  // Rotary cos and sin [B, 1, T, headDim] for int64 positions [B, T].
  std::pair<at::Tensor, at::Tensor> rotary(const at::Tensor& pos) const;

  LlamaConfig config_;
  at::Tensor embed_, norm_, lmHead_;  // lmHead_ is embed_ when tied
  std::vector<Layer> layers_;
  at::Tensor invFreq_;
  bool checkpointing_ = false;  // float32 [headDim / 2] on the model device, as transformers computes it
  LoraOptions adapter_;          // r 0: no adapter
  bool adapterEnabled_ = true;
  // How this pass runs the adapter (none when disabled or absent); `training` draws a dropout seed.
  LoraRun loraRun(bool training) const;
};

// Throws RangeError when a sequence of `length` tokens exceeds the model's positions (max_position_embeddings) or
// its sliding window (atman-native refuses what the window would cut instead of implementing it).
void checkSequenceLength(const LlamaConfig& c, int64_t length, const char* fn);

// inv_freq as transformers' ROPE_INIT_FUNCTIONS compute it (float32, CPU).
at::Tensor ropeInvFreq(const LlamaConfig& c);

}  // namespace atman::llama
