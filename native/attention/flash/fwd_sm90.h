// The Hopper (sm_90a, wgmma + TMA) forward, chosen by forward() in fwd.cu when it applies; plain C++ like flash.h.
#pragma once
#include "native/attention/flash/flash.h"

namespace atman {
namespace flash {

// True on a compute-capability-9 device when this build carries sm_90a code, the head dim is 64 or 128, q/k/v/o are
// 16-byte aligned (TMA), and ATMAN_FWD_SM90 is not "0" (read per call; "0" selects the sm_80 kernel everywhere).
bool sm90ForwardApplies(const Params& p);
// Null on success, else the CUDA error's text. stream is a cudaStream_t.
const char* forwardSm90(const Params& p, void* stream);

}  // namespace flash
}  // namespace atman
