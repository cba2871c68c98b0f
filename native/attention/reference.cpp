#include "native/attention/reference.h"

#include <limits>

namespace atman {

namespace {

// Which (query row, key) pairs may attend: bool [B or 1, Tq, Tk].
at::Tensor visibility(const AttentionShape& s, const AttentionOptions& o, const at::Tensor& qPos,
                      const at::Tensor& kPos) {
  at::Tensor visible = o.causal ? kPos.view({1, s.Tk}).le(qPos.view({s.Tq, 1}))
                                : at::ones({s.Tq, s.Tk}, qPos.options().dtype(at::kBool));
  visible = visible.unsqueeze(0);
  if (o.keyStart.defined()) visible = visible.logical_and(kPos.view({1, 1, s.Tk}).ge(o.keyStart.view({s.B, 1, 1})));
  return visible;
}

// The bias term: keyBias[b, j] on query rows at positions >= biasQueryStart[b], else 0: [B, Tq, Tk] in dtype ct.
// A where (not a multiplication by a 0/1 mask) keeps a -inf bias from turning unbiased rows into NaN.
at::Tensor biasTerm(const AttentionShape& s, const AttentionOptions& o, const at::Tensor& qPos, at::ScalarType ct) {
  at::Tensor applies = o.biasQueryStart.defined() ? qPos.view({1, s.Tq}).ge(o.biasQueryStart.view({s.B, 1}))
                                                  : qPos.view({1, s.Tq}).ge(o.biasQueryStartScalar);
  at::Tensor bias = o.keyBias.to(ct).view({s.B, 1, s.Tk});
  return at::where(applies.unsqueeze(-1), bias, at::zeros({}, bias.options()));
}

}  // namespace

at::Tensor attentionReference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const AttentionOptions& o) {
  const AttentionShape s = checkAttentionInputs(q, k, v, o);
  const int64_t G = s.group();
  // Softmax and products in float32 at least; float64 stays float64.
  const at::ScalarType ct = q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;

  // GQA without copying K/V: the G query heads of kv head h are rows of one [G*Tq, D] matrix against k[b, h].
  at::Tensor qg = q.to(ct).reshape({s.B, s.Hkv, G * s.Tq, s.D});
  at::Tensor logits = at::matmul(qg, k.to(ct).transpose(-2, -1)).mul(attentionScale(o, s.D));
  logits = logits.reshape({s.B, s.Hkv, G, s.Tq, s.Tk});  // [B, Hkv, G, Tq, Tk]

  const auto posOptions = q.options().dtype(at::kLong);
  at::Tensor qPos = at::arange(s.Tq, posOptions).add(s.Tk - s.Tq);
  at::Tensor kPos = at::arange(s.Tk, posOptions);
  if (o.keyBias.defined()) logits = logits.add(biasTerm(s, o, qPos, ct).unsqueeze(1).unsqueeze(1));
  at::Tensor visible = visibility(s, o, qPos, kPos).unsqueeze(1).unsqueeze(1);  // [B or 1, 1, 1, Tq, Tk]
  logits = logits.masked_fill(visible.logical_not(), -std::numeric_limits<double>::infinity());

  // Safe softmax. A row whose logits are all -inf (no visible key, or only keys biased by -inf) has exp() = 0
  // everywhere, hence output 0 and zero gradients, never NaN: its max is replaced by 0 and its zero sum by 1.
  // The max is detached: softmax does not depend on the shift, so this changes no gradient.
  at::Tensor rowMax = at::zeros({}, logits.options());
  if (s.Tk > 0) {  // amax() refuses an empty dim; with no keys every row is empty anyway
    rowMax = logits.amax(-1, /*keepdim=*/true).detach();
    rowMax = at::where(rowMax.isfinite(), rowMax, at::zeros({}, rowMax.options()));
  }
  at::Tensor e = logits.sub(rowMax).exp();
  at::Tensor sum = e.sum(-1, /*keepdim=*/true);
  at::Tensor p = e.div(at::where(sum.gt(0), sum, at::ones({}, sum.options())));

  at::Tensor out = at::matmul(p.reshape({s.B, s.Hkv, G * s.Tq, s.Tk}), v.to(ct));  // [B, Hkv, G*Tq, D]
  return out.reshape({s.B, s.Hq, s.Tq, s.D}).to(q.scalar_type());
}

}  // namespace atman
