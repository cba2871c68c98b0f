// AdamW with decoupled weight decay, the update PyTorch's torch.optim.AdamW makes (non-amsgrad, non-fused).
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace atman {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0.01;
};

struct AdamWState {
  int64_t step = 0;
  std::vector<at::Tensor> expAvg;    // undefined until a parameter first had a gradient
  std::vector<at::Tensor> expAvgSq;
};

class AdamW {
 public:
  AdamW(std::vector<at::Tensor> params, AdamWOptions options);

  void step();      // parameters without a gradient are skipped
  void zeroGrad();  // sets gradients to none (torch's default)
  void setLr(double lr);
  void setOptions(const AdamWOptions& options);  // validates first; nothing changes on error
  static void validate(const AdamWOptions& options);
  const AdamWOptions& options() const { return options_; }
  const std::vector<at::Tensor>& params() const { return params_; }

  AdamWState state() const;             // clones, safe to keep or save
  void loadState(const AdamWState& s);  // validates count, shapes and dtypes against the parameters

 private:
  std::vector<at::Tensor> params_;
  AdamWOptions options_;
  AdamWState state_;
};

// Scales all gradients so that their joint L2 norm is at most maxNorm; returns the norm before clipping.
double clipGradNorm(const std::vector<at::Tensor>& params, double maxNorm);

}  // namespace atman
