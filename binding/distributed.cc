// The c10d process group (native/distributed): init and the collectives return Promises; a collective is enqueued on
// the JS thread (so every rank issues them in program order) and waited for on a worker thread (so a stuck peer never
// freezes the event loop: timers, signals and the progress bar go on until the c10d timeout rejects the promise).
#include <napi.h>

#include "binding/convert.h"
#include "binding/errors.h"
#include "binding/promise_worker.h"
#include "native/core/value.h"
#include "native/distributed/gradients.h"
#include "native/distributed/process_group.h"

namespace binding {

namespace {

class InitWorker : public PromiseWorker {
 public:
  InitWorker(Napi::Env env, atman::dist::InitOptions o) : PromiseWorker(env), o_(std::move(o)) {}

 private:
  void compute() override { atman::dist::init(o_); }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }
  atman::dist::InitOptions o_;
};

class WaitWorker : public PromiseWorker {
 public:
  WaitWorker(Napi::Env env, atman::dist::Pending p) : PromiseWorker(env), pending_(std::move(p)) {}

 private:
  void compute() override { pending_.wait(); }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }
  atman::dist::Pending pending_;
};

atman::dist::ReduceOp reduceOpOf(const std::string& s) {
  if (s == "sum") return atman::dist::ReduceOp::Sum;
  if (s == "avg") return atman::dist::ReduceOp::Avg;
  if (s == "max") return atman::dist::ReduceOp::Max;
  if (s == "min") return atman::dist::ReduceOp::Min;
  throw atman::RangeError("distributed.allReduce(): op must be 'sum', 'avg', 'max' or 'min', got '" + s + "'");
}

// distInit(rank, worldSize, masterAddr, masterPort, backend, timeoutMs, hostStore, cudaDevice) -> Promise<void>
Napi::Value distInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    atman::Args a("distributed.init", toValues(info, 0));
    atman::dist::InitOptions o;
    o.rank = static_cast<int>(a.number(0));
    o.worldSize = static_cast<int>(a.number(1));
    o.masterAddr = a.string(2);
    o.masterPort = static_cast<int>(a.number(3));
    o.backend = a.string(4);
    o.timeout = std::chrono::milliseconds(static_cast<int64_t>(a.number(5)));
    o.hostStore = a.flagOr(6, true);
    o.cudaDevice = static_cast<int>(a.integerOr(7, 0));
    return (new InitWorker(env, o))->start();
  });
}

// distAllReduce(tensors, op) -> Promise<void>; the tensors are reduced in place.
Napi::Value distAllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    atman::Args a("distributed.allReduce", toValues(info, 0));
    auto pending = atman::dist::startAllReduce(a.tensors(0), reduceOpOf(a.string(1)));
    return (new WaitWorker(env, std::move(pending)))->start();
  });
}

// distBroadcast(tensor, src) -> Promise<void>
Napi::Value distBroadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    atman::Args a("distributed.broadcast", toValues(info, 0));
    auto pending = atman::dist::startBroadcast(a.tensor(0), static_cast<int>(a.number(1)));
    return (new WaitWorker(env, std::move(pending)))->start();
  });
}

// distAllReduceGradients(params, op, bucketBytes) -> Promise<void>: the parameters' .grad, reduced across ranks.
Napi::Value distAllReduceGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    atman::Args a("distributed.allReduceGradients", toValues(info, 0));
    auto pending = atman::dist::startGradientAllReduce(a.tensors(0), reduceOpOf(a.string(1)), a.integer(2));
    return (new WaitWorker(env, std::move(pending)))->start();
  });
}

Napi::Value distBarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return (new WaitWorker(env, atman::dist::startBarrier()))->start(); });
}

// new GradientReducer(params, bucketBytes): arm(op), finish() -> Promise<void>, dispose().
class GradientReducerHandle : public Napi::ObjectWrap<GradientReducerHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("GradientReducer", DefineClass(env, "GradientReducer",
                                               {InstanceMethod("arm", &GradientReducerHandle::arm),
                                                InstanceMethod("finish", &GradientReducerHandle::finish),
                                                InstanceMethod("dispose", &GradientReducerHandle::dispose),
                                                InstanceMethod("stats", &GradientReducerHandle::stats)}));
  }

  explicit GradientReducerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GradientReducerHandle>(info) {
    guarded(info.Env(), [&] {
      atman::Args a("distributed.GradientReducer", toValues(info, 0));
      reducer_ = std::make_unique<atman::dist::GradientReducer>(a.tensors(0), a.integer(1));
    });
  }

 private:
  atman::dist::GradientReducer& live(const Napi::Env& env) {
    if (!reducer_) throw Napi::Error::New(env, "distributed: the gradient reducer was disposed");
    return *reducer_;
  }
  Napi::Value arm(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] {
      atman::Args a("GradientReducer.arm", toValues(info, 0));
      live(info.Env()).arm(reduceOpOf(a.string(0)));
    });
    return info.Env().Undefined();
  }
  Napi::Value finish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return (new WaitWorker(env, live(env).finish()))->start(); });
  }
  // {overlapped, buckets}: of the last finish(), the buckets already sent during backward, and all of them.
  Napi::Value stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("overlapped", static_cast<double>(live(env).overlappedBuckets()));
    o.Set("buckets", static_cast<double>(live(env).bucketCount()));
    return o;
  }
  Napi::Value dispose(const Napi::CallbackInfo& info) {
    reducer_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<atman::dist::GradientReducer> reducer_;
};

// distInfo() -> {initialized, rank, worldSize, backend, backends}
Napi::Value distInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("initialized", atman::dist::initialized());
  o.Set("rank", atman::dist::rank());
  o.Set("worldSize", atman::dist::worldSize());
  o.Set("backend", atman::dist::backend());
  auto list = atman::dist::availableBackends();
  Napi::Array backends = Napi::Array::New(env, list.size());
  for (uint32_t i = 0; i < list.size(); i++) backends.Set(i, list[i]);
  o.Set("backends", backends);
  return o;
}

Napi::Value distDestroy(const Napi::CallbackInfo& info) {
  guarded(info.Env(), [] { atman::dist::destroy(); });
  return info.Env().Undefined();
}

}  // namespace

void InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distInit", Napi::Function::New(env, distInit));
  exports.Set("distAllReduce", Napi::Function::New(env, distAllReduce));
  exports.Set("distBroadcast", Napi::Function::New(env, distBroadcast));
  exports.Set("distAllReduceGradients", Napi::Function::New(env, distAllReduceGradients));
  exports.Set("distBarrier", Napi::Function::New(env, distBarrier));
  exports.Set("distInfo", Napi::Function::New(env, distInfo));
  exports.Set("distDestroy", Napi::Function::New(env, distDestroy));
  GradientReducerHandle::Init(env, exports);
}

}  // namespace binding
