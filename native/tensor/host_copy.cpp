#include "native/tensor/host_copy.h"

namespace atman {

at::Tensor hostReadable(const at::Tensor& t) {
  at::Tensor d = t.detach();
  auto type = d.scalar_type();
  if (type == at::kHalf || type == at::kBFloat16) type = at::kFloat;
  return d.to(at::kCPU, type, /*non_blocking=*/false, /*copy=*/true).contiguous();
}

}  // namespace atman
