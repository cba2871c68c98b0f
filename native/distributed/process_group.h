// One data-parallel process group per process, over libtorch's c10d (DESIGN.md "Scale-out"): a TCPStore rendezvous,
// then ProcessGroupGloo for CPU tensors or ProcessGroupNCCL for CUDA tensors. Collectives are split in two halves so
// that the caller can issue them in program order on one thread (every rank must issue the same sequence) and wait for
// them on another: start*() enqueues and returns a Pending; Pending::wait() blocks until the result is in the tensors.
// Every failure is an atman::Error whose message names this rank and the likely cause (a peer that exited or hung).
#pragma once
#include <ATen/ATen.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace atman::dist {

struct InitOptions {
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  std::string backend = "gloo";  // "gloo" (CPU tensors) or "nccl" (CUDA tensors)
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  // Rank 0 hosts the TCPStore unless the launcher already runs one there (torchrun's agent store).
  bool hostStore = true;
  // nccl: this rank's GPU (the device of its tensors; the barrier's one-element all-reduce runs there).
  int cudaDevice = 0;
};

enum class ReduceOp { Sum, Avg, Max, Min };

// A started collective. wait() may run on any thread; it throws atman::Error on failure.
class Pending {
 public:
  explicit Pending(std::function<void()> wait) : wait_(std::move(wait)) {}
  void wait() { wait_(); }

 private:
  std::function<void()> wait_;
};

// Blocks until every rank has joined (or the timeout passes). Throws when a group exists already.
void init(const InitOptions& o);
bool initialized();
int rank();       // 0 when not initialized
int worldSize();  // 1 when not initialized
std::string backend();  // "" when not initialized
// Which backends this build has ("gloo", "nccl").
std::vector<std::string> availableBackends();

// In place on each tensor; all must be dense, contiguous and on the group's device type. One c10d call per tensor,
// all enqueued before any is waited for (the buckets of a gradient all-reduce travel back to back).
Pending startAllReduce(std::vector<at::Tensor> tensors, ReduceOp op);
Pending startBroadcast(at::Tensor tensor, int src);
Pending startBarrier();
// Drops the group and the store. Safe to call when not initialized.
void destroy();

}  // namespace atman::dist
