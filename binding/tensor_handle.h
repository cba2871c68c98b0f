// The JS object that owns one at::Tensor. TS's Tensor class holds one of these; dispose() frees it at once,
// otherwise garbage collection does.
#pragma once
#include <napi.h>

#include <ATen/ATen.h>

namespace binding {

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  static Napi::Object wrap(Napi::Env env, at::Tensor t);
  static bool is(const Napi::Value& v);
  // The tensor of a live handle; a TypeError for anything else (a disposed handle above all).
  static const at::Tensor& unwrap(const Napi::Value& v);

  void release();
  bool disposed() const { return !tensor_.defined(); }

 private:
  void adopt(Napi::Env env, at::Tensor t);

  at::Tensor tensor_;
  int64_t externalBytes_ = 0;
  napi_env env_ = nullptr;
};

}  // namespace binding
