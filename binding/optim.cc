// The AdamW optimizer object and clipGradNorm.
#include <napi.h>

#include "binding/convert.h"
#include "binding/errors.h"
#include "binding/tensor_handle.h"
#include "native/optim/adamw.h"

namespace binding {

namespace {

double numberField(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("wrong argument type: AdamW option ") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

atman::TensorList tensorListArg(const Napi::Value& v, const char* what) {
  atman::Value value = toValue(v);
  atman::Args args(what, {value});
  return args.tensors(0);
}

// {lr, betas: [b1, b2], eps, weightDecay}: absent fields keep their value in base.
atman::AdamWOptions optionsFrom(const Napi::Object& opts, atman::AdamWOptions base) {
  Napi::Env env = opts.Env();
  base.lr = numberField(opts, "lr", base.lr);
  base.eps = numberField(opts, "eps", base.eps);
  base.weightDecay = numberField(opts, "weightDecay", base.weightDecay);
  Napi::Value betas = opts.Get("betas");
  if (!betas.IsUndefined() && !betas.IsNull()) {
    if (!betas.IsArray() || betas.As<Napi::Array>().Length() != 2)
      throw Napi::TypeError::New(env, "wrong argument type: AdamW betas must be [beta1, beta2]");
    Napi::Value b1 = betas.As<Napi::Array>().Get(0u), b2 = betas.As<Napi::Array>().Get(1u);
    if (!b1.IsNumber() || !b2.IsNumber()) throw Napi::TypeError::New(env, "wrong argument type: AdamW betas must be two numbers");
    base.beta1 = b1.As<Napi::Number>().DoubleValue();
    base.beta2 = b2.As<Napi::Number>().DoubleValue();
  }
  return base;
}

class AdamWHandle : public Napi::ObjectWrap<AdamWHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "AdamW",
                                      {InstanceMethod("step", &AdamWHandle::step),
                                       InstanceMethod("zeroGrad", &AdamWHandle::zeroGrad),
                                       InstanceMethod("setLr", &AdamWHandle::setLr),
                                       InstanceMethod("options", &AdamWHandle::options),
                                       InstanceMethod("state", &AdamWHandle::state),
                                       InstanceMethod("loadState", &AdamWHandle::loadState)});
    exports.Set("AdamW", ctor);
  }

  // new AdamW(params, {lr, betas: [b1, b2], eps, weightDecay})
  explicit AdamWHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AdamWHandle>(info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      atman::TensorList params = tensorListArg(info[0], "AdamW");
      atman::AdamWOptions o;
      if (info.Length() > 1 && info[1].IsObject()) o = optionsFrom(info[1].As<Napi::Object>(), o);
      optimizer_ = std::make_unique<atman::AdamW>(std::move(params), o);
    });
  }

 private:
  Napi::Value step(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { optimizer_->step(); });
    return info.Env().Undefined();
  }
  Napi::Value zeroGrad(const Napi::CallbackInfo& info) {
    optimizer_->zeroGrad();
    return info.Env().Undefined();
  }
  Napi::Value setLr(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "wrong argument type: setLr() needs a number");
      optimizer_->setLr(info[0].As<Napi::Number>().DoubleValue());
    });
    return info.Env().Undefined();
  }
  Napi::Value options(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& o = optimizer_->options();
    Napi::Object out = Napi::Object::New(env);
    out.Set("lr", o.lr);
    Napi::Array betas = Napi::Array::New(env, 2);
    betas.Set(0u, o.beta1);
    betas.Set(1u, o.beta2);
    out.Set("betas", betas);
    out.Set("eps", o.eps);
    out.Set("weightDecay", o.weightDecay);
    return out;
  }
  // {step, expAvg: (Tensor|null)[], expAvgSq: (Tensor|null)[]}
  Napi::Value state(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      atman::AdamWState s = optimizer_->state();
      Napi::Object out = Napi::Object::New(env);
      out.Set("step", static_cast<double>(s.step));
      out.Set("expAvg", fromTensorList(env, s.expAvg));
      out.Set("expAvgSq", fromTensorList(env, s.expAvgSq));
      return out;
    });
  }
  Napi::Value loadState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (!info[0].IsObject()) throw Napi::TypeError::New(env, "wrong argument type: loadState() needs a state object");
      Napi::Object o = info[0].As<Napi::Object>();
      atman::AdamWState s;
      s.step = static_cast<int64_t>(numberField(o, "step", -1));
      auto list = [&](const char* key) {
        atman::Value v = toValue(o.Get(key));
        if (auto* l = std::get_if<atman::TensorList>(&v)) return *l;
        if (auto* l = std::get_if<atman::IntList>(&v); l && l->empty()) return atman::TensorList{};
        throw Napi::TypeError::New(env, std::string("wrong argument type: optimizer state.") + key + " must be a list of Tensors or nulls");
      };
      s.expAvg = list("expAvg");
      s.expAvgSq = list("expAvgSq");
      // Hyperparameters saved with the state (stateDict() has them) are restored too, as torch's load_state_dict does.
      atman::AdamWOptions next = optionsFrom(o, optimizer_->options());
      atman::AdamW::validate(next);
      optimizer_->loadState(s);
      optimizer_->setOptions(next);
    });
    return env.Undefined();
  }

  std::unique_ptr<atman::AdamW> optimizer_;
};

Napi::Value clipGradNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    atman::TensorList params = tensorListArg(info[0], "clipGradNorm");
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "wrong argument type: clipGradNorm() maxNorm must be a number");
    return Napi::Number::New(env, atman::clipGradNorm(params, info[1].As<Napi::Number>().DoubleValue()));
  });
}

}  // namespace

void InitOptim(Napi::Env env, Napi::Object exports) {
  AdamWHandle::Init(env, exports);
  exports.Set("clipGradNorm", Napi::Function::New(env, clipGradNorm));
}

}  // namespace binding
