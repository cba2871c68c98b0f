// The JS value that owns one at::Tensor: an N-API external (cheaper to make than a class instance,
// which matters for per-op overhead). TS's Tensor class holds one; dispose() frees the tensor at once,
// otherwise garbage collection does.
#pragma once
#include <napi.h>

#include <ATen/ATen.h>

namespace binding {

class TensorHandle {
 public:
  static Napi::Value wrap(Napi::Env env, at::Tensor t);
  static bool is(const Napi::Value& v);
  // The tensor of a live handle; a TypeError for anything else (a disposed handle above all).
  static const at::Tensor& unwrap(const Napi::Value& v);
  // The handle behind v, or nullptr when v is not one of ours.
  static TensorHandle* from(const Napi::Value& v);

  void release();
  bool disposed() const { return !tensor_.defined(); }

 private:
  TensorHandle(napi_env env, at::Tensor t);
  ~TensorHandle();
  static void finalize(node_api_basic_env env, void* data, void* hint);

  at::Tensor tensor_;
  int64_t externalBytes_ = 0;
  napi_env env_;
};

}  // namespace binding
