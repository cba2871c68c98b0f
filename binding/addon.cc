// Module entry: each binding area adds its exports.
#include <napi.h>

#include "native/memory/cpu_allocator.h"
#include "native/runtime/threads.h"

namespace binding {
void InitOps(Napi::Env env, Napi::Object exports);
void InitHostData(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);
void InitIo(Napi::Env env, Napi::Object exports);
void InitLlama(Napi::Env env, Napi::Object exports);
void InitDistributed(Napi::Env env, Napi::Object exports);
}  // namespace binding

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  atman::installCpuAllocator();
  atman::initCpuThreads();
  binding::InitOps(env, exports);
  binding::InitHostData(env, exports);
  binding::InitRuntime(env, exports);
  binding::InitOptim(env, exports);
  binding::InitIo(env, exports);
  binding::InitLlama(env, exports);
  binding::InitDistributed(env, exports);
  return exports;
}

NODE_API_MODULE(atman_native, Init)
