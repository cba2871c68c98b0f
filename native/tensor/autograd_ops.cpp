// Gradients: backward, functional grad, grad mode, and per-tensor gradient state.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "native/core/registry.h"

namespace atman {

namespace {

// backward(t, grad?, retainGraph = false)
Value backward(const Args& a) {
  at::Tensor t = a.tensor(0);
  if (!t.requires_grad())
    throw TypeError("autograd: backward() on a tensor that does not require grad (no input had requiresGrad: true)");
  at::Tensor g = a.optTensor(1);
  if (!g.defined() && t.numel() != 1)
    throw TypeError("shape mismatch: backward() without a gradient needs a single-element tensor, got " +
                    std::to_string(t.numel()) + " elements; pass grad of the same shape");
  torch::autograd::backward({t}, g.defined() ? TensorList{g} : TensorList{}, a.flagOr(2, false));
  return None{};
}

// grad(outputs, inputs, gradOutputs?, retainGraph = false, createGraph = false) -> one entry per input (null if unused)
Value grad(const Args& a) {
  TensorList outputs = a.tensors(0), inputs = a.tensors(1);
  TensorList gradOutputs = a.has(2) ? a.tensors(2) : TensorList{};
  for (const auto& o : outputs)
    if (!o.requires_grad()) throw TypeError("autograd: grad() got an output that does not require grad");
  for (const auto& i : inputs)
    if (!i.requires_grad()) throw TypeError("autograd: grad() got an input that does not require grad");
  bool createGraph = a.flagOr(4, false);
  bool retain = a.flagOr(3, createGraph);
  return torch::autograd::grad(outputs, inputs, gradOutputs, retain, createGraph, /*allow_unused=*/true);
}

Value setGradEnabled(const Args& a) {
  bool previous = at::GradMode::is_enabled();
  at::GradMode::set_enabled(a.flagOr(0, true));
  return previous;
}

Value requiresGrad(const Args& a) {
  at::Tensor t = a.tensor(0);
  bool flag = a.flagOr(1, true);
  if (flag && !t.is_leaf())
    throw TypeError("autograd: requiresGrad_() only works on leaf tensors; use detach() first for a computed tensor");
  t.set_requires_grad(flag);
  return None{};
}

Value gradOf(const Args& a) {
  at::Tensor g = a.tensor(0).grad();
  if (!g.defined()) return None{};
  return g;
}

Value zeroGrad(const Args& a) {
  a.tensor(0).mutable_grad() = at::Tensor();
  return None{};
}

}  // namespace

void registerAutogradOps(OpTable& t) {
  t.add("backward", backward);
  t.add("grad", grad);
  t.add("setGradEnabled", setGradEnabled);
  t.add("isGradEnabled", [](const Args&) -> Value { return at::GradMode::is_enabled(); });
  t.add("requiresGrad_", requiresGrad);
  t.add("gradOf", gradOf);
  t.add("zeroGrad", zeroGrad);
}

}  // namespace atman
