#include "binding/tensor_handle.h"

#include "native/memory/live_tensors.h"

namespace binding {

namespace {
// Tags our handles so no other object can be mistaken for one.
constexpr napi_type_tag kTensorTag = {0x61746d616e54656eULL, 0x736f7248616e646cULL};
Napi::FunctionReference* constructor = nullptr;
}  // namespace

void TensorHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "TensorHandle", {});
  constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  exports.Set("TensorHandle", ctor);
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  info.This().As<Napi::Object>().TypeTag(&kTensorTag);
}

TensorHandle::~TensorHandle() { release(); }

void TensorHandle::adopt(Napi::Env env, at::Tensor t) {
  tensor_ = std::move(t);
  env_ = env;
  atman::trackTensor(tensor_);
  // Tell V8 about host memory so that forgotten tensors get collected under memory pressure.
  if (tensor_.device().is_cpu()) {
    externalBytes_ = static_cast<int64_t>(tensor_.numel() * tensor_.element_size());
    if (externalBytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, externalBytes_);
  }
}

void TensorHandle::release() {
  if (!tensor_.defined()) return;
  atman::untrackTensor(tensor_);
  tensor_ = at::Tensor();
  if (externalBytes_ > 0 && env_ != nullptr) {
    napi_adjust_external_memory(env_, -externalBytes_, nullptr);
    externalBytes_ = 0;
  }
}

Napi::Object TensorHandle::wrap(Napi::Env env, at::Tensor t) {
  Napi::Object obj = constructor->New({});
  Unwrap(obj)->adopt(env, std::move(t));
  return obj;
}

bool TensorHandle::is(const Napi::Value& v) { return v.IsObject() && v.As<Napi::Object>().CheckTypeTag(&kTensorTag); }

const at::Tensor& TensorHandle::unwrap(const Napi::Value& v) {
  if (!is(v)) throw Napi::TypeError::New(v.Env(), "wrong argument type: expected a Tensor");
  TensorHandle* h = Unwrap(v.As<Napi::Object>());
  if (h->disposed())
    throw Napi::TypeError::New(v.Env(), "disposed tensor: this Tensor was disposed (dispose(), tidy() or an optimizer) and can no longer be used");
  return h->tensor_;
}

}  // namespace binding
