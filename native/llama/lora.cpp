#include "native/llama/lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <mutex>

#include "native/core/value.h"

#ifdef ATMAN_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

namespace atman::llama {

namespace {

constexpr const char* kNames[kLoraTargets] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

// A private generator of x's device seeded with `seed`: the same masks for the same seed, and the default generator
// (sampling, the trainer's seeding) is left alone.
at::Generator seededGenerator(const at::Device& device, uint64_t seed) {
#ifdef ATMAN_WITH_CUDA
  if (device.is_cuda()) {
    at::Generator g = at::cuda::detail::createCUDAGenerator(device.index());
    g.set_current_seed(seed);
    return g;
  }
#endif
  if (!device.is_cpu()) throw Error("LoRA dropout runs on the CPU and CUDA only, not on " + device.str());
  return at::detail::createCPUGenerator(seed);
}

}  // namespace

const char* loraTargetName(int t) { return kNames[t]; }
const char* loraTargetModule(int t) { return t <= kO ? "self_attn" : "mlp"; }

int findLoraTarget(const std::string& name) {
  for (int t = 0; t < kLoraTargets; t++)
    if (name == kNames[t]) return t;
  return -1;
}

std::string loraTargetNames() {
  std::string out;
  for (int t = 0; t < kLoraTargets; t++) out += (t ? ", " : "") + std::string(kNames[t]);
  return out;
}

void checkLoraOptions(const LoraOptions& o, const std::string& where) {
  if (o.r < 1) throw RangeError("invalid values: " + where + " LoRA rank r must be a positive integer, got " + std::to_string(o.r));
  if (!std::isfinite(o.alpha) || o.alpha <= 0)
    throw RangeError("invalid values: " + where + " LoRA alpha must be a positive number, got " + std::to_string(o.alpha));
  if (!(o.dropout >= 0 && o.dropout < 1))
    throw RangeError("invalid values: " + where + " LoRA dropout must be in [0, 1), got " + std::to_string(o.dropout));
  bool any = false;
  for (bool t : o.targets) any = any || t;
  if (!any) throw RangeError("invalid values: " + where + " LoRA needs at least one target module (" + loraTargetNames() + ")");
}

at::Tensor loraDelta(const at::Tensor& x, const LoraPair& p, const LoraRun& run, int64_t salt) {
  at::Tensor in = x.to(p.A.scalar_type());
  if (run.dropoutSeed >= 0 && run.dropout > 0) {
    at::Generator g = seededGenerator(x.device(), static_cast<uint64_t>(run.dropoutSeed) * 8 + static_cast<uint64_t>(salt));
    at::Tensor keep = at::empty_like(in).bernoulli_(1.0 - run.dropout, g);
    in = in.mul(keep).div(1.0 - run.dropout);
  }
  return at::linear(at::linear(in, p.A), p.B).mul(run.scale);
}

LoraPair initLoraPair(int64_t in, int64_t out, int64_t r, at::ScalarType dtype, at::Device device) {
  at::NoGradGuard noGrad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  LoraPair p;
  p.A = at::empty({r, in}, at::TensorOptions().dtype(dtype)).uniform_(-bound, bound).to(device);
  p.B = at::zeros({out, r}, at::TensorOptions().dtype(dtype).device(device));
  return p;
}

int64_t drawDropoutSeed() {
  at::Generator g = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(g.mutex());
  return static_cast<int64_t>(g.get<at::CPUGeneratorImpl>()->random64() >> 4);
}

}  // namespace atman::llama
