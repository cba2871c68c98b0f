// Dispatches tensor op calls from JS to the native op table: call(opIndex, ...args).
#include <napi.h>

#include "binding/convert.h"
#include "binding/errors.h"
#include "native/core/registry.h"

namespace binding {

namespace {

Napi::Value opNames(const Napi::CallbackInfo& info) {
  const auto& ops = atman::opTable().ops();
  Napi::Array names = Napi::Array::New(info.Env(), ops.size());
  for (uint32_t i = 0; i < ops.size(); ++i) names.Set(i, Napi::String::New(info.Env(), ops[i].name));
  return names;
}

Napi::Value call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const auto& ops = atman::opTable().ops();
    uint32_t index = info[0].As<Napi::Number>().Uint32Value();
    if (index >= ops.size()) throw Napi::RangeError::New(env, "unknown op index");
    const atman::OpDef& op = ops[index];
    atman::Args args(op.name, toValues(info, 1));
    return fromValue(env, op.fn(args));
  });
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("opNames", Napi::Function::New(env, opNames));
  exports.Set("call", Napi::Function::New(env, call));
}

}  // namespace binding
