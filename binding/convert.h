// JS values <-> atman::Value.
#pragma once
#include <napi.h>

#include "native/core/value.h"

namespace binding {

// null/undefined -> None; Tensor handle -> Tensor; integer-valued number -> int64; other number -> double;
// bigint -> int64; boolean; string; array of numbers -> IntList or FloatList; array of handles -> TensorList.
atman::Value toValue(const Napi::Value& v);
std::vector<atman::Value> toValues(const Napi::CallbackInfo& info, size_t first);

// int64 beyond 2^53 becomes a BigInt; an undefined tensor in a list becomes null.
Napi::Value fromValue(Napi::Env env, const atman::Value& v);
Napi::Value fromTensorList(Napi::Env env, const atman::TensorList& list);

}  // namespace binding
