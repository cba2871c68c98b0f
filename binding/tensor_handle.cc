#include "binding/tensor_handle.h"

#include <unordered_set>

#include "native/memory/live_tensors.h"

namespace binding {

namespace {
// Every handle alive on the JS side (disposed or not), so that no foreign external is taken for one.
// A set lookup costs less than N-API's type tags, which add a property to each new external.
std::unordered_set<const TensorHandle*>& handles() {
  static std::unordered_set<const TensorHandle*> set;
  return set;
}
// Below this size V8 need not hear about a tensor's host memory: the handle itself dominates.
constexpr int64_t kReportBytesFrom = 4096;
}  // namespace

TensorHandle::TensorHandle(napi_env env, at::Tensor t) : tensor_(std::move(t)), env_(env) {
  atman::trackTensor(tensor_);
  // Tell V8 about host memory so that forgotten tensors get collected under memory pressure.
  if (tensor_.device().is_cpu()) {
    int64_t bytes = static_cast<int64_t>(tensor_.numel() * tensor_.element_size());
    if (bytes >= kReportBytesFrom) {
      externalBytes_ = bytes;
      napi_adjust_external_memory(env_, externalBytes_, nullptr);
    }
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

void TensorHandle::finalize(node_api_basic_env, void* data, void*) {
  auto* handle = static_cast<TensorHandle*>(data);
  handles().erase(handle);
  delete handle;
}

Napi::Value TensorHandle::wrap(Napi::Env env, at::Tensor t) {
  auto* handle = new TensorHandle(env, std::move(t));
  napi_value value;
  if (napi_create_external(env, handle, &TensorHandle::finalize, nullptr, &value) != napi_ok) {
    delete handle;
    throw Napi::Error::New(env, "internal error: could not create a tensor handle");
  }
  handles().insert(handle);
  return Napi::Value(env, value);
}

TensorHandle* TensorHandle::from(const Napi::Value& v) {
  if (v.Type() != napi_external) return nullptr;
  void* data = nullptr;
  if (napi_get_value_external(v.Env(), v, &data) != napi_ok) return nullptr;
  auto* handle = static_cast<TensorHandle*>(data);
  return handles().count(handle) ? handle : nullptr;
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
