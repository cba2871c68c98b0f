#include "binding/tensor_handle.h"

#include "native/memory/live_tensors.h"

namespace binding {

namespace {
// Tags our handles so that no other external can be mistaken for one.
constexpr napi_type_tag kTensorTag = {0x61746d616e54656eULL, 0x736f7248616e646cULL};
}  // namespace

TensorHandle::TensorHandle(napi_env env, at::Tensor t) : tensor_(std::move(t)), env_(env) {
  atman::trackTensor(tensor_);
  // Tell V8 about host memory so that forgotten tensors get collected under memory pressure.
  if (tensor_.device().is_cpu()) {
    externalBytes_ = static_cast<int64_t>(tensor_.numel() * tensor_.element_size());
    if (externalBytes_ > 0) napi_adjust_external_memory(env_, externalBytes_, nullptr);
  }
}

TensorHandle::~TensorHandle() { release(); }

void TensorHandle::release() {
  if (!tensor_.defined()) return;
  atman::untrackTensor(tensor_);
  tensor_ = at::Tensor();
  if (externalBytes_ > 0) {
    napi_adjust_external_memory(env_, -externalBytes_, nullptr);
    externalBytes_ = 0;
  }
}

void TensorHandle::finalize(napi_env, void* data, void*) { delete static_cast<TensorHandle*>(data); }

Napi::Value TensorHandle::wrap(Napi::Env env, at::Tensor t) {
  auto* handle = new TensorHandle(env, std::move(t));
  napi_value value;
  napi_status status = napi_create_external(env, handle, &TensorHandle::finalize, nullptr, &value);
  if (status == napi_ok) status = napi_type_tag_object(env, value, &kTensorTag);
  if (status != napi_ok) {
    delete handle;
    throw Napi::Error::New(env, "internal error: could not create a tensor handle");
  }
  return Napi::Value(env, value);
}

TensorHandle* TensorHandle::from(const Napi::Value& v) {
  if (v.Type() != napi_external) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(v.Env(), v, &kTensorTag, &tagged) != napi_ok || !tagged) return nullptr;
  return static_cast<TensorHandle*>(v.As<Napi::External<TensorHandle>>().Data());
}

bool TensorHandle::is(const Napi::Value& v) { return from(v) != nullptr; }

const at::Tensor& TensorHandle::unwrap(const Napi::Value& v) {
  TensorHandle* h = from(v);
  if (h == nullptr) throw Napi::TypeError::New(v.Env(), "wrong argument type: expected a Tensor");
  if (h->disposed())
    throw Napi::TypeError::New(v.Env(), "disposed tensor: this Tensor was disposed (dispose(), tidy() or an optimizer) and can no longer be used");
  return h->tensor_;
}

}  // namespace binding
