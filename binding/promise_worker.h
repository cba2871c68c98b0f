// An AsyncWorker that settles a Promise. compute() runs off the JS thread; an exception there rejects the promise
// with the same JS error class and message a synchronous call would throw. result() builds the value on the JS thread.
#pragma once
#include <napi.h>

#include "binding/errors.h"

namespace binding {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(env) {}

  // Queues the worker (which deletes itself when done) and returns its promise.
  Napi::Promise start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  virtual void compute() = 0;
  virtual Napi::Value result(Napi::Env env) = 0;

 private:
  void Execute() final {
    try {
      compute();
    } catch (...) {
      error_ = atman::describeCurrentException();
      SetError(error_.message);
    }
  }
  void OnOK() final {
    try {
      deferred_.Resolve(result(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error&) final {
    try {
      throwJs(Env(), error_);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  atman::ErrorReport error_{atman::ErrorKind::Generic, ""};
  Napi::Promise::Deferred deferred_;
};

}  // namespace binding
