// Moving data between JS memory and tensors: creation from TypedArrays, dataSync, async data(), dispose.
#include <napi.h>

#include "binding/convert.h"
#include "binding/errors.h"
#include "binding/promise_worker.h"
#include "binding/tensor_handle.h"
#include "native/core/dtype.h"
#include "native/memory/live_tensors.h"
#include "native/tensor/creation.h"
#include "native/tensor/host_copy.h"

namespace binding {

namespace {

at::ScalarType typedArrayDtype(napi_typedarray_type t, Napi::Env env) {
  switch (t) {
    case napi_float32_array: return at::kFloat;
    case napi_float64_array: return at::kDouble;
    case napi_int32_array: return at::kInt;
    case napi_bigint64_array: return at::kLong;
    case napi_uint8_array:
    case napi_uint8_clamped_array: return at::kByte;
    default:
      throw Napi::TypeError::New(env, "wrong argument type: tensor() accepts Float32Array, Float64Array, Int32Array, "
                                      "BigInt64Array and Uint8Array data");
  }
}

// fromTypedArray(data, shape, dtype?, device?, requiresGrad?, sourceIsBool?)
Napi::Value fromTypedArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "wrong argument type: expected a TypedArray");
    Napi::TypedArray data = info[0].As<Napi::TypedArray>();
    at::ScalarType source = typedArrayDtype(data.TypedArrayType(), env);
    if (info.Length() > 5 && info[5].ToBoolean().Value()) source = at::kBool;  // bytes holding 0/1
    atman::Args args("tensor", toValues(info, 1));
    atman::IntList shape = args.shape(0);
    at::ScalarType dtype = args.has(1) ? atman::parseDtype(args.string(1)) : source;
    at::Device device = args.has(2) ? atman::parseDevice(args.string(2)) : at::Device(at::kCPU);
    const uint8_t* base = static_cast<const uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset();
    at::Tensor t = atman::tensorFromHost(base, source, static_cast<int64_t>(data.ElementLength()), shape,
                                         at::TensorOptions().dtype(dtype).device(device), args.flagOr(3, false));
    return TensorHandle::wrap(env, t);
  });
}

Napi::Value toTypedArray(Napi::Env env, const at::Tensor& host) {
  size_t n = static_cast<size_t>(host.numel());
  size_t bytes = n * host.element_size();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), host.data_ptr(), bytes);
  switch (host.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buffer, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, buffer, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buffer, 0);
    case at::kLong: return Napi::BigInt64Array::New(env, n, buffer, 0);
    case at::kByte:
    case at::kBool: return Napi::Uint8Array::New(env, n, buffer, 0);
    default: throw Napi::TypeError::New(env, "dtype mismatch: no TypedArray for " + atman::dtypeName(host.scalar_type()));
  }
}

Napi::Value dataSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return toTypedArray(env, atman::hostReadable(TensorHandle::unwrap(info[0]))); });
}

// Copies device memory to the host on a worker thread; the promise resolves with a TypedArray.
class DataWorker : public PromiseWorker {
 public:
  DataWorker(Napi::Env env, at::Tensor t) : PromiseWorker(env), tensor_(std::move(t)) {}

 private:
  void compute() override { host_ = atman::hostReadable(tensor_); }
  Napi::Value result(Napi::Env env) override { return toTypedArray(env, host_); }

  at::Tensor tensor_;  // holds a reference: disposing the JS handle meanwhile is safe
  at::Tensor host_;
};

Napi::Value data(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return (new DataWorker(env, TensorHandle::unwrap(info[0])))->start(); });
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  if (TensorHandle* h = TensorHandle::from(info[0])) h->release();
  return info.Env().Undefined();
}

Napi::Value isDisposed(const Napi::CallbackInfo& info) {
  TensorHandle* h = TensorHandle::from(info[0]);
  return Napi::Boolean::New(info.Env(), h == nullptr || h->disposed());
}

Napi::Value memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    atman::MemoryReport r = atman::memoryReport();
    Napi::Object o = Napi::Object::New(env);
    o.Set("tensors", static_cast<double>(r.liveTensors));
    o.Set("cpuBytes", static_cast<double>(r.cpuBytes));
    o.Set("cudaBytes", static_cast<double>(r.cudaBytes));
    o.Set("cpuCachedBytes", static_cast<double>(r.cpuCachedBytes));
    return o;
  });
}

}  // namespace

void InitHostData(Napi::Env env, Napi::Object exports) {
  exports.Set("fromTypedArray", Napi::Function::New(env, fromTypedArray));
  exports.Set("dataSync", Napi::Function::New(env, dataSync));
  exports.Set("data", Napi::Function::New(env, data));
  exports.Set("dispose", Napi::Function::New(env, dispose));
  exports.Set("isDisposed", Napi::Function::New(env, isDisposed));
  exports.Set("memory", Napi::Function::New(env, memory));
}

}  // namespace binding
