// The "attention" entry of the op table.
#include "native/attention/attention.h"
#include "native/attention/options.h"
#include "native/core/registry.h"

namespace atman {

namespace {

// attention(q, k, v, causal = true, scale?, keyBias?, biasQueryStart (integer or int64 Tensor)?, keyStart?)
Value attentionOp(const Args& a) {
  AttentionOptions o;
  o.causal = a.flagOr(3, true);
  if (a.has(4)) o.scale = a.number(4);
  o.keyBias = a.optTensor(5);
  if (auto* t = std::get_if<at::Tensor>(&a.at(6))) {
    o.biasQueryStart = *t;
  } else if (a.has(6)) {
    auto* n = std::get_if<int64_t>(&a.at(6));
    if (n == nullptr) a.fail(6, "an integer or an int64 Tensor (biasQueryStart)");
    o.biasQueryStartScalar = *n;
  }
  o.keyStart = a.optTensor(7);
  at::Tensor q = a.tensor(0), k = a.tensor(1), v = a.tensor(2);
  checkAttentionInputs(q, k, v, o);
  checkKeyStartValues(o.keyStart, k.size(2));
  return attention(q, k, v, o);
}

}  // namespace

void registerAttentionOps(OpTable& t) { t.add("attention", attentionOp); }

}  // namespace atman
