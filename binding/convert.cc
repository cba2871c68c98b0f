#include "binding/convert.h"

#include <cmath>

#include "binding/tensor_handle.h"

namespace binding {

namespace {
constexpr double kMaxSafe = 9007199254740991.0;

bool isIntegral(double d) { return std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= kMaxSafe; }

atman::Value arrayToValue(const Napi::Array& arr) {
  uint32_t n = arr.Length();
  if (n == 0) return atman::IntList{};
  Napi::Value first = arr.Get(0u);
  if (TensorHandle::is(first) || first.IsNull()) {
    atman::TensorList list;
    list.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Value e = arr.Get(i);
      list.push_back(e.IsNull() || e.IsUndefined() ? at::Tensor() : TensorHandle::unwrap(e));
    }
    return list;
  }
  atman::FloatList values;
  values.reserve(n);
  bool allIntegral = true;
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(arr.Env(), "wrong argument type: a list must hold only numbers or only Tensors");
    double d = e.As<Napi::Number>().DoubleValue();
    allIntegral = allIntegral && isIntegral(d);
    values.push_back(d);
  }
  if (!allIntegral) return values;
  return atman::IntList(values.begin(), values.end());
}
}  // namespace

atman::Value toValue(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined:
    case napi_null: return atman::None{};
    case napi_boolean: return v.As<Napi::Boolean>().Value();
    case napi_number: {
      double d = v.As<Napi::Number>().DoubleValue();
      if (isIntegral(d)) return static_cast<int64_t>(d);
      return d;
    }
    case napi_bigint: {
      bool lossless = false;
      int64_t n = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) throw Napi::RangeError::New(v.Env(), "out of range: BigInt does not fit in int64");
      return n;
    }
    case napi_string: return v.As<Napi::String>().Utf8Value();
    case napi_external: return TensorHandle::unwrap(v);
    case napi_object:
      if (v.IsArray()) return arrayToValue(v.As<Napi::Array>());
      break;
    default: break;
  }
  throw Napi::TypeError::New(v.Env(), "wrong argument type: expected a Tensor, number, boolean, string or array");
}

std::vector<atman::Value> toValues(const Napi::CallbackInfo& info, size_t first) {
  std::vector<atman::Value> out;
  out.reserve(info.Length() > first ? info.Length() - first : 0);
  for (size_t i = first; i < info.Length(); ++i) out.push_back(toValue(info[i]));
  return out;
}

Napi::Value fromTensorList(Napi::Env env, const atman::TensorList& list) {
  Napi::Array arr = Napi::Array::New(env, list.size());
  for (uint32_t i = 0; i < list.size(); ++i)
    arr.Set(i, list[i].defined() ? Napi::Value(TensorHandle::wrap(env, list[i])) : env.Null());
  return arr;
}

Napi::Value fromValue(Napi::Env env, const atman::Value& v) {
  struct Visitor {
    Napi::Env env;
    Napi::Value operator()(const atman::None&) { return env.Undefined(); }
    Napi::Value operator()(const at::Tensor& t) { return t.defined() ? Napi::Value(TensorHandle::wrap(env, t)) : env.Null(); }
    Napi::Value operator()(double d) { return Napi::Number::New(env, d); }
    Napi::Value operator()(int64_t n) {
      if (std::fabs(static_cast<double>(n)) <= kMaxSafe) return Napi::Number::New(env, static_cast<double>(n));
      return Napi::BigInt::New(env, n);
    }
    Napi::Value operator()(bool b) { return Napi::Boolean::New(env, b); }
    Napi::Value operator()(const std::string& s) { return Napi::String::New(env, s); }
    Napi::Value operator()(const atman::IntList& l) {
      Napi::Array arr = Napi::Array::New(env, l.size());
      for (uint32_t i = 0; i < l.size(); ++i) arr.Set(i, Napi::Number::New(env, static_cast<double>(l[i])));
      return arr;
    }
    Napi::Value operator()(const atman::FloatList& l) {
      Napi::Array arr = Napi::Array::New(env, l.size());
      for (uint32_t i = 0; i < l.size(); ++i) arr.Set(i, Napi::Number::New(env, l[i]));
      return arr;
    }
    Napi::Value operator()(const atman::TensorList& l) { return fromTensorList(env, l); }
  };
  return std::visit(Visitor{env}, v);
}

}  // namespace binding
