// Maps any C++ exception to a JS Error (TypeError/RangeError where it fits). No native failure may abort the process.
#pragma once
#include <napi.h>

#include "native/core/errors.h"

namespace binding {

[[noreturn]] void throwJs(const Napi::Env& env, const atman::ErrorReport& report);

// Runs f; anything it throws becomes a JS exception with a plain-words message.
template <class F>
auto guarded(const Napi::Env& env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJs(env, atman::describeCurrentException());
  }
}

}  // namespace binding
