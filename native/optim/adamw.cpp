#include "native/optim/adamw.h"

#include <cmath>

#include "native/core/value.h"

namespace atman {

namespace {
void validateOptions(const AdamWOptions& o) {
  if (!(o.lr >= 0) || !std::isfinite(o.lr)) throw RangeError("invalid values: AdamW lr must be a finite number >= 0");
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
    throw RangeError("invalid values: AdamW betas must be in [0, 1)");
  if (!(o.eps > 0)) throw RangeError("invalid values: AdamW eps must be > 0");
  if (!(o.weightDecay >= 0)) throw RangeError("invalid values: AdamW weightDecay must be >= 0");
}
}  // namespace

AdamW::AdamW(std::vector<at::Tensor> params, AdamWOptions options) : params_(std::move(params)), options_(options) {
  validateOptions(options_);
  if (params_.empty()) throw TypeError("wrong argument type: AdamW needs at least one parameter tensor");
  for (const auto& p : params_) {
    if (!p.is_leaf() || !p.requires_grad())
      throw TypeError("autograd: AdamW parameters must be leaf tensors with requiresGrad: true");
    if (!at::isFloatingType(p.scalar_type())) throw TypeError("dtype mismatch: AdamW parameters must be floating point");
  }
  state_.expAvg.resize(params_.size());
  state_.expAvgSq.resize(params_.size());
}

void AdamW::step() {
  at::NoGradGuard noGrad;
  ++state_.step;
  const auto& o = options_;
  double bias1 = 1 - std::pow(o.beta1, static_cast<double>(state_.step));
  double bias2 = 1 - std::pow(o.beta2, static_cast<double>(state_.step));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    at::Tensor& m = state_.expAvg[i];
    at::Tensor& v = state_.expAvgSq[i];
    if (!m.defined()) {
      m = at::zeros_like(p, at::MemoryFormat::Preserve);
      v = at::zeros_like(p, at::MemoryFormat::Preserve);
    }
    p.mul_(1 - o.lr * o.weightDecay);
    m.lerp_(g, 1 - o.beta1);
    v.mul_(o.beta2).addcmul_(g, g, 1 - o.beta2);
    at::Tensor denom = (v.sqrt() / std::sqrt(bias2)).add_(o.eps);
    p.addcdiv_(m, denom, -o.lr / bias1);
  }
}

void AdamW::zeroGrad() {
  for (auto& p : params_) p.mutable_grad() = at::Tensor();
}

void AdamW::setLr(double lr) {
  AdamWOptions next = options_;
  next.lr = lr;
  setOptions(next);
}

void AdamW::setOptions(const AdamWOptions& options) {
  validateOptions(options);
  options_ = options;
}

void AdamW::validate(const AdamWOptions& options) { validateOptions(options); }

AdamWState AdamW::state() const {
  AdamWState s;
  s.step = state_.step;
  for (size_t i = 0; i < params_.size(); ++i) {
    s.expAvg.push_back(state_.expAvg[i].defined() ? state_.expAvg[i].clone() : at::Tensor());
    s.expAvgSq.push_back(state_.expAvgSq[i].defined() ? state_.expAvgSq[i].clone() : at::Tensor());
  }
  return s;
}

void AdamW::loadState(const AdamWState& s) {
  if (s.step < 0) throw RangeError("invalid values: optimizer state step must be >= 0");
  if (s.expAvg.size() != params_.size() || s.expAvgSq.size() != params_.size())
    throw TypeError("shape mismatch: optimizer state has " + std::to_string(s.expAvg.size()) +
                    " entries but the optimizer has " + std::to_string(params_.size()) + " parameters");
  AdamWState next;
  next.step = s.step;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i];
    for (const at::Tensor* t : {&s.expAvg[i], &s.expAvgSq[i]}) {
      if (t->defined() && !t->sizes().equals(p.sizes()))
        throw TypeError("shape mismatch: optimizer state for parameter " + std::to_string(i) + " has shape " +
                        c10::str(t->sizes()) + ", the parameter " + c10::str(p.sizes()));
    }
    if (s.expAvg[i].defined() != s.expAvgSq[i].defined())
      throw TypeError("invalid optimizer state: parameter " + std::to_string(i) + " has only one of expAvg/expAvgSq");
    next.expAvg.push_back(s.expAvg[i].defined() ? s.expAvg[i].to(p.options()).clone() : at::Tensor());
    next.expAvgSq.push_back(s.expAvgSq[i].defined() ? s.expAvgSq[i].to(p.options()).clone() : at::Tensor());
  }
  state_ = std::move(next);
}

double clipGradNorm(const std::vector<at::Tensor>& params, double maxNorm) {
  if (!(maxNorm > 0)) throw RangeError("invalid values: clipGradNorm() maxNorm must be > 0");
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(at::linalg_vector_norm(p.grad(), 2, c10::nullopt, false, at::kFloat));
  if (norms.empty()) return 0.0;
  for (auto& n : norms) n = n.to(norms.front().device());  // one host sync below, not one per parameter
  double total = at::linalg_vector_norm(at::stack(norms), 2, c10::nullopt, false, c10::nullopt).item<double>();
  double coef = maxNorm / (total + 1e-6);
  if (coef < 1 && std::isfinite(total))
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  return total;
}

}  // namespace atman
