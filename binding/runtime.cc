// Build information and CUDA device queries for doctor and the cuda namespace.
#include <napi.h>

#include "binding/errors.h"
#include "native/runtime/build_info.h"
#include "native/runtime/cuda_info.h"

namespace binding {

namespace {

int deviceArg(const Napi::CallbackInfo& info) {
  return info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  atman::BuildInfo b = atman::buildInfo();
  Napi::Object o = Napi::Object::New(env);
  o.Set("torchVersion", b.torchVersion);
  o.Set("torchSource", b.torchSource);
  o.Set("torchLibDir", b.torchLibDir);
  o.Set("variant", b.variant);
  o.Set("cxx11Abi", b.cxx11Abi);
  o.Set("threads", b.parallelThreads);
  return o;
}

Napi::Value cudaDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto devices = atman::cudaDevices();
    Napi::Array arr = Napi::Array::New(env, devices.size());
    for (uint32_t i = 0; i < devices.size(); ++i) {
      Napi::Object d = Napi::Object::New(env);
      d.Set("index", devices[i].index);
      d.Set("name", devices[i].name);
      d.Set("totalBytes", static_cast<double>(devices[i].totalBytes));
      d.Set("capability", std::to_string(devices[i].major) + "." + std::to_string(devices[i].minor));
      arr.Set(i, d);
    }
    return arr;
  });
}

Napi::Value cudaMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto s = atman::cudaMemoryStats(deviceArg(info));
    Napi::Object o = Napi::Object::New(env);
    o.Set("allocatedBytes", static_cast<double>(s.allocatedBytes));
    o.Set("reservedBytes", static_cast<double>(s.reservedBytes));
    o.Set("peakAllocatedBytes", static_cast<double>(s.peakAllocatedBytes));
    return o;
  });
}

}  // namespace

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, buildInfo));
  exports.Set("cudaIsAvailable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Boolean::New(info.Env(), guarded(info.Env(), [] { return atman::cudaAvailable(); }));
  }));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Number::New(info.Env(), guarded(info.Env(), [] { return atman::cudaDeviceCount(); }));
  }));
  exports.Set("cudaDevices", Napi::Function::New(env, cudaDevices));
  exports.Set("cudaSynchronize", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    guarded(info.Env(), [&] { atman::cudaSynchronize(deviceArg(info)); });
    return info.Env().Undefined();
  }));
  exports.Set("cudaMemory", Napi::Function::New(env, cudaMemory));
  exports.Set("cudaResetPeak", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    guarded(info.Env(), [&] { atman::cudaResetPeak(deviceArg(info)); });
    return info.Env().Undefined();
  }));
  exports.Set("cudaEmptyCache", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    guarded(info.Env(), [] { atman::cudaEmptyCache(); });
    return info.Env().Undefined();
  }));
}

}  // namespace binding
