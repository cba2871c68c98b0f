// safetensors save/load: converts JS arguments and results; the work is in native/io/safetensors.
#include <napi.h>

#include "binding/errors.h"
#include "binding/tensor_handle.h"
#include "native/core/dtype.h"
#include "native/io/safetensors.h"

namespace binding {

namespace {

std::string stringArg(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string("wrong argument type: ") + what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Array arrayArg(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string("wrong argument type: ") + what + " must be an array");
  return v.As<Napi::Array>();
}

// Own enumerable string-keyed properties only: nothing inherited from a prototype.
std::map<std::string, std::string> stringMapArg(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || v.IsArray()) throw Napi::TypeError::New(env, "wrong argument type: metadata must be an object of strings");
  Napi::Object o = v.As<Napi::Object>();
  napi_value raw;
  NAPI_THROW_IF_FAILED(env, napi_get_all_property_names(env, o, napi_key_own_only,
                                                        static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                                        napi_key_numbers_to_strings, &raw),
                       {});
  Napi::Array keys(env, raw);
  std::map<std::string, std::string> out;
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value value = o.Get(key);
    if (!value.IsString())
      throw Napi::TypeError::New(env, "wrong argument type: metadata value for key '" + key + "' must be a string");
    out[key] = value.As<Napi::String>().Utf8Value();
  }
  return out;
}

// Defines an own property even for names like "__proto__", which a plain Set would treat as the prototype.
void defineOwn(Napi::Object o, const std::string& key, Napi::Value value) {
  o.DefineProperty(Napi::PropertyDescriptor::Value(key, value, napi_default_jsproperty));
}

// saveSafetensors(file, names, handles, metadata)
Napi::Value saveSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::string file = stringArg(info[0], "file");
    Napi::Array names = arrayArg(info[1], "names");
    Napi::Array handles = arrayArg(info[2], "tensors");
    if (names.Length() != handles.Length())
      throw Napi::TypeError::New(env, "wrong argument type: names and tensors must have the same length");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (uint32_t i = 0; i < names.Length(); i++)
      tensors.emplace_back(stringArg(names.Get(i), "a tensor name"), TensorHandle::unwrap(handles.Get(i)));
    atman::saveSafetensors(file, tensors, stringMapArg(info[3]));
    return env.Undefined();
  });
}

// loadSafetensors(file, device?, mapped?) -> {tensors: {name: handle}, metadata: {key: value}}
Napi::Value loadSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::string file = stringArg(info[0], "file");
    std::optional<at::Device> device;
    if (!info[1].IsUndefined() && !info[1].IsNull()) device = atman::parseDevice(stringArg(info[1], "device"));
    const bool mapped = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    atman::SafetensorsFile loaded = atman::loadSafetensors(file, device, mapped);
    Napi::Object tensors = Napi::Object::New(env);
    for (auto& [name, t] : loaded.tensors) defineOwn(tensors, name, TensorHandle::wrap(env, std::move(t)));
    Napi::Object metadata = Napi::Object::New(env);
    for (const auto& [key, value] : loaded.metadata) defineOwn(metadata, key, Napi::String::New(env, value));
    Napi::Object result = Napi::Object::New(env);
    result.Set("tensors", tensors);
    result.Set("metadata", metadata);
    return result;
  });
}

}  // namespace

void InitIo(Napi::Env env, Napi::Object exports) {
  exports.Set("saveSafetensors", Napi::Function::New(env, saveSafetensors));
  exports.Set("loadSafetensors", Napi::Function::New(env, loadSafetensors));
}

}  // namespace binding
