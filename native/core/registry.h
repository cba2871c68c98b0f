// The table of tensor ops callable from JS by number: the binding converts arguments, looks the op up and calls it.
#pragma once
#include <string>
#include <vector>

#include "native/core/value.h"

namespace atman {

using OpFn = Value (*)(const Args&);

struct OpDef {
  const char* name;
  OpFn fn;
};

class OpTable {
 public:
  void add(const char* name, OpFn fn) { ops_.push_back({name, fn}); }
  const std::vector<OpDef>& ops() const { return ops_; }

 private:
  std::vector<OpDef> ops_;
};

const OpTable& opTable();  // built once, in a fixed order; JS resolves names to indices at load time

// Each group of ops registers itself from its own file.
void registerCreationOps(OpTable& t);
void registerMathOps(OpTable& t);
void registerReductionOps(OpTable& t);
void registerShapeOps(OpTable& t);
void registerAutogradOps(OpTable& t);
void registerNnOps(OpTable& t);
void registerTensorInfoOps(OpTable& t);
void registerAttentionOps(OpTable& t);

}  // namespace atman
