#include "native/core/registry.h"

namespace atman {

const OpTable& opTable() {
  static const OpTable table = [] {
    OpTable t;
    registerCreationOps(t);
    registerMathOps(t);
    registerReductionOps(t);
    registerShapeOps(t);
    registerAutogradOps(t);
    registerNnOps(t);
    registerTensorInfoOps(t);
    registerAttentionOps(t);
    return t;
  }();
  return table;
}

}  // namespace atman
