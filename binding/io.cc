// safetensors save/load (filled in by the io work).
#include <napi.h>

namespace binding {
void InitIo(Napi::Env env, Napi::Object exports) {}
}  // namespace binding
