// Reading a tensor's metadata and single values.
#include "native/core/dtype.h"
#include "native/core/registry.h"

namespace atman {

namespace {

Value item(const Args& a) {
  at::Tensor t = a.tensor(0);
  if (t.numel() != 1)
    throw TypeError("shape mismatch: item() needs a tensor with exactly one element, got " + std::to_string(t.numel()));
  at::Scalar s = t.item();
  if (s.isBoolean()) return s.toBool();
  if (s.isIntegral(false)) return s.toLong();
  return s.toDouble();
}

}  // namespace

void registerTensorInfoOps(OpTable& t) {
  t.add("shape", [](const Args& a) -> Value { return IntList(a.tensor(0).sizes().vec()); });
  t.add("dtype", [](const Args& a) -> Value { return dtypeName(a.tensor(0).scalar_type()); });
  t.add("device", [](const Args& a) -> Value { return deviceName(a.tensor(0).device()); });
  t.add("requiresGrad", [](const Args& a) -> Value { return a.tensor(0).requires_grad(); });
  t.add("isLeaf", [](const Args& a) -> Value { return a.tensor(0).is_leaf(); });
  t.add("item", item);
}

}  // namespace atman
