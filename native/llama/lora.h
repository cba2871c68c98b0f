// LoRA adapters on the decoder's linear layers, as PEFT's LoraLayer computes them: y = W x (+ b) + scale · B A
// dropout(x), with the frozen base W in the model dtype, A [r, in] and B [out, r] in float32 (float64 for a float64
// model), scale = alpha / r. The adapter lives beside the base weights in each Layer (model.h); the PEFT on-disk format
// is adapter_io.h.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace atman::llama {

// The linear layers an adapter can target, by PEFT's module names (q_proj ... down_proj).
enum LoraTarget : int { kQ = 0, kK, kV, kO, kGate, kUp, kDown, kLoraTargets };

const char* loraTargetName(int t);    // "q_proj", ...
const char* loraTargetModule(int t);  // "self_attn" or "mlp"
int findLoraTarget(const std::string& name);  // -1 when not a target
std::string loraTargetNames();                // "q_proj, k_proj, ..." for messages

struct LoraOptions {
  int64_t r = 0;
  double alpha = 0;
  double dropout = 0;  // on the adapter's input, while training only
  std::array<bool, kLoraTargets> targets{};
  std::string baseModel;  // base_model_name_or_path written to adapter_config.json
  double scale() const { return alpha / static_cast<double>(r); }
};

// Throws RangeError for r < 1, a non-finite or non-positive alpha, dropout outside [0, 1), or no target.
void checkLoraOptions(const LoraOptions& o, const std::string& where);

// A and B of one adapted linear layer; both undefined when the layer is not a target.
struct LoraPair {
  at::Tensor A, B;
};

// How one forward pass runs the adapter: scale 0 means not at all (none, or disabled). dropoutSeed >= 0 draws the
// dropout masks of this pass from generators seeded with it (so an activation-checkpointed layer redraws the same).
struct LoraRun {
  double scale = 0;
  double dropout = 0;
  int64_t dropoutSeed = -1;
};

// scale · B A dropout(x) for x [..., in] in the model dtype: float32 (the adapter's dtype) [..., out]. `salt`
// separates the dropout masks of the targets of one layer.
at::Tensor loraDelta(const at::Tensor& x, const LoraPair& p, const LoraRun& run, int64_t salt);

// A fresh pair as PEFT initializes it: A kaiming-uniform (bound 1 / sqrt(in), torch's default for nn.Linear), B zero.
// Drawn on the CPU from the default generator (the same numbers on every device), then moved to `device`.
LoraPair initLoraPair(int64_t in, int64_t out, int64_t r, at::ScalarType dtype, at::Device device);

// A seed for this pass's dropout masks, from the default CPU generator.
int64_t drawDropoutSeed();

}  // namespace atman::llama
