#include "native/distributed/process_group.h"

#include <mutex>

#include "native/compat.h"
#include "native/core/value.h"

#include ATMAN_C10D_BACKEND_HEADER
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef ATMAN_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(ATMAN_WITH_CUDA) && defined(ATMAN_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace atman::dist {

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<ATMAN_C10D_BACKEND> pg;
  InitOptions options;
};

std::mutex mutex;
std::shared_ptr<Group> group;  // shared: a Pending keeps its group alive past destroy()

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

std::string firstLine(std::string s) {
  for (const char* cut : {"\nException raised from", "\nFrame "}) {
    auto p = s.find(cut);
    if (p != std::string::npos) s = s.substr(0, p);
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string seconds(std::chrono::milliseconds t) { return std::to_string(t.count() / 1000.0).substr(0, 6) + " s"; }

std::string whereAmI(const InitOptions& o) { return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.worldSize); }

// c10d's and gloo's messages name addresses and syscalls; users need which rank failed and what to look at.
[[noreturn]] void rethrowExplained(const std::string& what, const InitOptions& o, const std::string& raw) {
  std::string m = firstLine(raw), cause;
  if (contains(m, "imed out") || contains(m, "imeout") || contains(m, "timed out"))
    cause = "timed out after " + seconds(o.timeout) + " waiting for the other ranks (a peer has hung, died, or is far behind; "
            "the timeout is distributed.timeoutSeconds / --dist-timeout)";
  else if (contains(m, "closed") || contains(m, "reset by peer") || contains(m, "Broken pipe") || contains(m, "Connection refused") ||
           contains(m, "ECONNRESET") || contains(m, "EPIPE"))
    cause = "a peer rank closed its connection (it exited or crashed; its own log says why)";
  else
    cause = "the collective failed";
  throw Error("distributed " + what + " failed on " + whereAmI(o) + ": " + cause + " [c10d: " + m + "]");
}

std::shared_ptr<Group> current(const char* what) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!group) throw Error(std::string("distributed.") + what + "(): no process group; call distributed.init() first");
  return group;
}

void checkTensor(const Group& g, const at::Tensor& t, const char* what) {
  if (!t.defined()) throw TypeError(std::string("distributed.") + what + "(): the tensor is undefined");
  const bool wantCuda = g.options.backend == "nccl";
  if (t.is_cuda() != wantCuda)
    throw TypeError(std::string("distributed.") + what + "(): the " + g.options.backend + " group works on " +
                    (wantCuda ? "CUDA" : "CPU") + " tensors, got one on " + t.device().str());
  if (!t.is_contiguous() || t.is_sparse())
    throw TypeError(std::string("distributed.") + what + "(): the tensor must be dense and contiguous (call .contiguous())");
}

Pending pendingOf(std::shared_ptr<Group> g, const char* what, std::vector<c10::intrusive_ptr<c10d::Work>> works,
                  std::function<void()> after = {}) {
  std::string name = what;
  return Pending([g, name, works = std::move(works), after = std::move(after)]() {
    try {
      for (const auto& w : works) w->wait(g->options.timeout);
    } catch (const std::exception& e) {
      rethrowExplained(name, g->options, e.what());
    }
    if (after) after();
  });
}

c10d::ReduceOp c10dOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::Max: return c10d::ReduceOp(c10d::ReduceOp::MAX);
    case ReduceOp::Min: return c10d::ReduceOp(c10d::ReduceOp::MIN);
    default: return c10d::ReduceOp(c10d::ReduceOp::SUM);  // Avg: a sum divided afterwards (Gloo has no AVG)
  }
}

c10::intrusive_ptr<ATMAN_C10D_BACKEND> makeBackend(const c10::intrusive_ptr<c10d::Store>& store, const InitOptions& o) {
  if (o.backend == "gloo") {
#ifdef ATMAN_WITH_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(o.timeout);
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.worldSize, opts);
#else
    throw Error("distributed: this build of atman-native has no Gloo backend (CPU tensors): its libtorch came without gloo "
                "headers. On Debian install libgloo-dev and rebuild (npm rebuild atman-native)");
#endif
  }
  if (o.backend == "nccl") {
#if defined(ATMAN_WITH_CUDA) && defined(ATMAN_WITH_NCCL)
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = o.timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.worldSize, opts);
#else
    throw Error("distributed: this build of atman-native has no NCCL backend (CUDA tensors): it was built without CUDA or "
                "without nccl.h (set NCCL_INCLUDE_DIR or pip install nvidia-nccl, then rebuild)");
#endif
  }
  throw RangeError("distributed.init(): backend must be 'gloo' or 'nccl', got '" + o.backend + "'");
}

}  // namespace

std::vector<std::string> availableBackends() {
  std::vector<std::string> out;
#ifdef ATMAN_WITH_GLOO
  out.push_back("gloo");
#endif
#if defined(ATMAN_WITH_CUDA) && defined(ATMAN_WITH_NCCL)
  out.push_back("nccl");
#endif
  return out;
}

void init(const InitOptions& o) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (group) throw Error("distributed.init(): this process already joined a group (" + whereAmI(group->options) + "); call destroy() first");
  }
  if (o.worldSize < 1) throw RangeError("distributed.init(): worldSize must be >= 1, got " + std::to_string(o.worldSize));
  if (o.rank < 0 || o.rank >= o.worldSize)
    throw RangeError("distributed.init(): rank must be in [0, " + std::to_string(o.worldSize) + "), got " + std::to_string(o.rank));
  if (o.masterPort < 1 || o.masterPort > 65535)
    throw RangeError("distributed.init(): masterPort must be in [1, 65535], got " + std::to_string(o.masterPort));
  if (o.timeout.count() <= 0) throw RangeError("distributed.init(): the timeout must be positive");
  auto g = std::make_shared<Group>();
  g->options = o;
  const std::string where = o.masterAddr + ":" + std::to_string(o.masterPort);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.masterPort);
    so.isServer = o.rank == 0 && o.hostStore;
    if (so.isServer) so.numWorkers = static_cast<std::size_t>(o.worldSize);
    so.waitWorkers = false;  // the process group's own rendezvous waits for everyone
    so.timeout = o.timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(o.masterAddr, so);
    g->store = c10::make_intrusive<c10d::PrefixStore>("atman-native/0", tcp);
  } catch (const std::exception& e) {
    std::string m = firstLine(e.what());
    std::string hint = contains(m, "in use") || contains(m, "EADDRINUSE")
                           ? "the port is in use (another run?): choose another --master-port / MASTER_PORT"
                           : "is rank 0 running, and are MASTER_ADDR / MASTER_PORT the same on every rank and reachable?";
    throw Error("distributed.init(): " + whereAmI(o) + " could not " + (o.rank == 0 && o.hostStore ? "host" : "reach") +
                " the rendezvous store at " + where + " within " + seconds(o.timeout) + ": " + hint + " [c10d: " + m + "]");
  }
  try {
    g->pg = makeBackend(g->store, o);
  } catch (const Error&) {
    throw;
  } catch (const RangeError&) {
    throw;
  } catch (const std::exception& e) {
    rethrowExplained("init (" + o.backend + " rendezvous at " + where + ")", o, e.what());
  }
  std::lock_guard<std::mutex> lock(mutex);
  group = g;
}

bool initialized() {
  std::lock_guard<std::mutex> lock(mutex);
  return group != nullptr;
}

int rank() {
  std::lock_guard<std::mutex> lock(mutex);
  return group ? group->options.rank : 0;
}

int worldSize() {
  std::lock_guard<std::mutex> lock(mutex);
  return group ? group->options.worldSize : 1;
}

std::string backend() {
  std::lock_guard<std::mutex> lock(mutex);
  return group ? group->options.backend : "";
}

Pending startAllReduce(std::vector<at::Tensor> tensors, ReduceOp op) {
  auto g = current("allReduce");
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  try {
    for (auto& t : tensors) {
      checkTensor(*g, t, "allReduce");
      std::vector<at::Tensor> one{t};
      c10d::AllreduceOptions opts;
      opts.reduceOp = c10dOp(op);
      opts.timeout = g->options.timeout;
      works.push_back(g->pg->allreduce(one, opts));
    }
  } catch (const TypeError&) {
    throw;
  } catch (const std::exception& e) {
    rethrowExplained("allReduce", g->options, e.what());
  }
  std::function<void()> after;
  if (op == ReduceOp::Avg) {
    const double n = g->options.worldSize;
    after = [tensors, n]() mutable {
      for (auto& t : tensors) t.div_(n);
    };
  }
  return pendingOf(g, "allReduce", std::move(works), std::move(after));
}

Pending startBroadcast(at::Tensor tensor, int src) {
  auto g = current("broadcast");
  checkTensor(*g, tensor, "broadcast");
  if (src < 0 || src >= g->options.worldSize)
    throw RangeError("distributed.broadcast(): src must be a rank in [0, " + std::to_string(g->options.worldSize) + "), got " +
                     std::to_string(src));
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  try {
    std::vector<at::Tensor> one{tensor};
    c10d::BroadcastOptions opts;
    opts.rootRank = src;
    opts.timeout = g->options.timeout;
    works.push_back(g->pg->broadcast(one, opts));
  } catch (const std::exception& e) {
    rethrowExplained("broadcast", g->options, e.what());
  }
  return pendingOf(g, "broadcast", std::move(works), [tensor]() {});
}

Pending startBarrier() {
  auto g = current("barrier");
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  try {
    if (g->options.backend == "nccl") {
      // An all-reduce of one element: NCCL's own barrier guesses the device from the rank.
      at::Tensor one = at::ones({1}, at::TensorOptions().device(at::Device(at::kCUDA, g->options.cudaDevice)));
      std::vector<at::Tensor> v{one};
      works.push_back(g->pg->allreduce(v));
    } else {
      c10d::BarrierOptions opts;
      opts.timeout = g->options.timeout;
      works.push_back(g->pg->barrier(opts));
    }
  } catch (const std::exception& e) {
    rethrowExplained("barrier", g->options, e.what());
  }
  return pendingOf(g, "barrier", std::move(works));
}

void destroy() {
  std::shared_ptr<Group> g;
  {
    std::lock_guard<std::mutex> lock(mutex);
    g.swap(group);
  }
  // The last reference (this one, unless a Pending still holds the group) joins the backend's threads.
}

}  // namespace atman::dist
