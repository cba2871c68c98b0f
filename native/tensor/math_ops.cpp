// Elementwise math, comparisons and logic. Every binary op takes a tensor or a number on the right.
#include "native/core/registry.h"

namespace atman {

namespace {

at::Tensor lhs(const Args& a) { return a.tensor(0); }
at::Tensor rhs(const Args& a) { return a.tensorOrScalar(1); }

// clamp(t, min?, max?): either bound may be absent, not both.
Value clamp(const Args& a) {
  if (!a.has(1) && !a.has(2)) throw TypeError("wrong argument type: clamp() needs a min, a max or both");
  at::Tensor t = a.tensor(0);
  c10::optional<at::Scalar> lo, hi;
  if (a.has(1)) lo = a.scalar(1);
  if (a.has(2)) hi = a.scalar(2);
  return at::clamp(t, lo, hi);
}

// where(cond, a, b): a and b may be tensors or numbers.
Value where(const Args& a) {
  at::Tensor cond = a.tensor(0);
  if (cond.scalar_type() != at::kBool) throw TypeError("dtype mismatch: where() needs a bool condition, got " + std::string(c10::toString(cond.scalar_type())));
  return at::where(cond, a.tensorOrScalar(1), a.tensorOrScalar(2));
}

// pow(t, exponent): an integer tensor to a negative integer number is refused, as torch does (it would give 0).
Value pow(const Args& a) {
  at::Tensor base = lhs(a);
  if (at::isIntegralType(base.scalar_type(), /*includeBool=*/true)) {
    if (auto* n = std::get_if<int64_t>(&a.at(1)); n && *n < 0)
      throw RangeError("invalid values: pow() of an integer tensor to a negative integer power is not allowed; convert it with float() first");
  }
  return at::pow(base, rhs(a));
}

Value gelu(const Args& a) {
  bool tanhApprox = a.has(1) && a.string(1) == "tanh";
  return at::gelu(a.tensor(0), tanhApprox ? "tanh" : "none");
}

}  // namespace

void registerMathOps(OpTable& t) {
  t.add("add", [](const Args& a) -> Value { return at::add(lhs(a), rhs(a)); });
  t.add("sub", [](const Args& a) -> Value { return at::sub(lhs(a), rhs(a)); });
  t.add("mul", [](const Args& a) -> Value { return at::mul(lhs(a), rhs(a)); });
  t.add("div", [](const Args& a) -> Value { return at::div(lhs(a), rhs(a)); });
  t.add("pow", pow);
  t.add("maximum", [](const Args& a) -> Value { return at::maximum(lhs(a), rhs(a)); });
  t.add("minimum", [](const Args& a) -> Value { return at::minimum(lhs(a), rhs(a)); });
  t.add("eq", [](const Args& a) -> Value { return at::eq(lhs(a), rhs(a)); });
  t.add("ne", [](const Args& a) -> Value { return at::ne(lhs(a), rhs(a)); });
  t.add("lt", [](const Args& a) -> Value { return at::lt(lhs(a), rhs(a)); });
  t.add("le", [](const Args& a) -> Value { return at::le(lhs(a), rhs(a)); });
  t.add("gt", [](const Args& a) -> Value { return at::gt(lhs(a), rhs(a)); });
  t.add("ge", [](const Args& a) -> Value { return at::ge(lhs(a), rhs(a)); });
  t.add("logicalAnd", [](const Args& a) -> Value { return at::logical_and(lhs(a), rhs(a)); });
  t.add("logicalOr", [](const Args& a) -> Value { return at::logical_or(lhs(a), rhs(a)); });
  t.add("logicalNot", [](const Args& a) -> Value { return at::logical_not(lhs(a)); });
  t.add("neg", [](const Args& a) -> Value { return at::neg(lhs(a)); });
  t.add("exp", [](const Args& a) -> Value { return at::exp(lhs(a)); });
  t.add("log", [](const Args& a) -> Value { return at::log(lhs(a)); });
  t.add("sqrt", [](const Args& a) -> Value { return at::sqrt(lhs(a)); });
  t.add("rsqrt", [](const Args& a) -> Value { return at::rsqrt(lhs(a)); });
  t.add("abs", [](const Args& a) -> Value { return at::abs(lhs(a)); });
  t.add("tanh", [](const Args& a) -> Value { return at::tanh(lhs(a)); });
  t.add("sigmoid", [](const Args& a) -> Value { return at::sigmoid(lhs(a)); });
  t.add("relu", [](const Args& a) -> Value { return at::relu(lhs(a)); });
  t.add("silu", [](const Args& a) -> Value { return at::silu(lhs(a)); });
  t.add("gelu", gelu);
  t.add("clamp", clamp);
  t.add("where", where);
}

}  // namespace atman
