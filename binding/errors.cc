#include "binding/errors.h"

namespace binding {

void throwJs(const Napi::Env& env, const atman::ErrorReport& report) {
  switch (report.kind) {
    case atman::ErrorKind::Type: throw Napi::TypeError::New(env, report.message);
    case atman::ErrorKind::Range: throw Napi::RangeError::New(env, report.message);
    default: throw Napi::Error::New(env, report.message);
  }
}

}  // namespace binding
