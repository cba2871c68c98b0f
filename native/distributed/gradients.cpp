#include "native/distributed/gradients.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <mutex>

#include "native/core/value.h"

namespace atman::dist {

namespace {

struct Bucket {
  std::vector<size_t> params;  // indices into the parameter list
  std::vector<int64_t> offsets;
  int64_t numel = 0;
  int64_t bytes = 0;
};

// Consecutive parameters (in the given order) of one dtype and device share a bucket until it is full.
std::vector<Bucket> bucketsOf(const std::vector<at::Tensor>& params, const std::vector<size_t>& order, int64_t bucketBytes) {
  if (bucketBytes <= 0) throw RangeError("distributed: the gradient bucket size must be positive");
  std::vector<Bucket> out;
  for (size_t i : order) {
    const at::Tensor& p = params[i];
    if (!p.defined()) throw TypeError("distributed: a parameter is undefined");
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !out.empty() && params[out.back().params.front()].scalar_type() == p.scalar_type() &&
                      params[out.back().params.front()].device() == p.device() && out.back().bytes + bytes <= bucketBytes;
    if (!fits) out.emplace_back();
    Bucket& b = out.back();
    b.params.push_back(i);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
    b.bytes += bytes;
  }
  return out;
}

// The current gradient of p as a flat tensor of p's dtype (zeros when it has none).
at::Tensor flatGrad(const at::Tensor& p) {
  const at::Tensor& g = p.grad();
  return g.defined() ? g.detach().reshape({-1}).to(p.scalar_type()) : at::zeros({p.numel()}, p.options());
}

// Writes the reduced flat buckets back into the parameters' gradients.
void copyBack(const std::vector<at::Tensor>& params, const std::vector<Bucket>& buckets, const std::vector<at::Tensor>& flats) {
  at::NoGradGuard noGrad;
  for (size_t k = 0; k < buckets.size(); k++) {
    for (size_t j = 0; j < buckets[k].params.size(); j++) {
      at::Tensor p = params[buckets[k].params[j]];  // shares the parameter's autograd meta: its grad is the parameter's
      at::Tensor slice = flats[k].narrow(0, buckets[k].offsets[j], p.numel()).view(p.sizes());
      at::Tensor& g = p.mutable_grad();
      if (g.defined()) g.copy_(slice);
      else g = slice.clone();
    }
  }
}

std::vector<size_t> identity(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = i;
  return v;
}

}  // namespace

Pending startGradientAllReduce(const std::vector<at::Tensor>& params, ReduceOp op, int64_t bucketBytes) {
  at::NoGradGuard noGrad;
  std::vector<Bucket> buckets = bucketsOf(params, identity(params.size()), bucketBytes);
  std::vector<at::Tensor> flats;
  for (const auto& b : buckets) {
    std::vector<at::Tensor> pieces;
    for (size_t i : b.params) pieces.push_back(flatGrad(params[i]));
    flats.push_back(at::cat(pieces));
  }
  Pending reduce = startAllReduce(flats, op);
  return Pending([reduce, params, buckets = std::move(buckets), flats]() mutable {
    reduce.wait();
    copyBack(params, buckets, flats);
  });
}

struct GradientReducer::State {
  std::mutex mutex;
  std::vector<at::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucketOf, slotOf;  // per parameter: its bucket and its place in it
  std::vector<at::Tensor> flats;
  std::vector<size_t> missing;           // per bucket: parameters not final yet
  std::vector<char> ready;               // per parameter, in the armed backward
  std::vector<Pending> launched;
  size_t next = 0;                       // the next bucket to launch (in order)
  size_t overlapped = 0;                 // buckets launched before finish()
  bool armed = false;
  bool repeated = false;                 // a gradient changed after its bucket left: reduce everything again
  ReduceOp op = ReduceOp::Sum;
  int64_t bucketBytes = 0;

  void launchFilled() {
    while (next < buckets.size() && missing[next] == 0) {
      launched.push_back(startAllReduce({flats[next]}, op));
      next++;
    }
  }

  void markReady(size_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed) return;
    const size_t k = bucketOf[i];
    if (ready[i]) {
      if (k < next) repeated = true;
    } else {
      ready[i] = 1;
      missing[k]--;
    }
    if (k >= next) {
      at::NoGradGuard noGrad;
      flats[k].narrow(0, buckets[k].offsets[slotOf[i]], params[i].numel()).copy_(flatGrad(params[i]));
    }
    launchFilled();
  }
};

GradientReducer::GradientReducer(std::vector<at::Tensor> params, int64_t bucketBytes) : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.params = std::move(params);
  s.bucketBytes = bucketBytes;
  // Gradients arrive roughly last layer first: bucket in reverse order, as DDP does.
  std::vector<size_t> order = identity(s.params.size());
  std::reverse(order.begin(), order.end());
  s.buckets = bucketsOf(s.params, order, bucketBytes);
  s.bucketOf.resize(s.params.size());
  s.slotOf.resize(s.params.size());
  for (size_t k = 0; k < s.buckets.size(); k++)
    for (size_t j = 0; j < s.buckets[k].params.size(); j++) {
      s.bucketOf[s.buckets[k].params[j]] = k;
      s.slotOf[s.buckets[k].params[j]] = j;
    }
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size(); i++) {
    if (!s.params[i].requires_grad()) throw TypeError("distributed: a parameter of the gradient reducer does not require grad");
    auto accumulator = torch::autograd::impl::grad_accumulator(s.params[i]);
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (auto st = weak.lock()) st->markReady(i);
          return outputs;
        }));
    accumulators_.push_back(accumulator);
  }
}

GradientReducer::~GradientReducer() = default;  // the hooks hold only a weak reference: they fall silent

void GradientReducer::arm(ReduceOp op) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.armed) throw Error("distributed: the gradient reducer is armed already (finish() the previous step first)");
  s.flats.clear();
  for (const auto& b : s.buckets) s.flats.push_back(at::empty({b.numel}, s.params[b.params.front()].options().requires_grad(false)));
  s.missing.clear();
  for (const auto& b : s.buckets) s.missing.push_back(b.params.size());
  s.ready.assign(s.params.size(), 0);
  s.launched.clear();
  s.next = 0;
  s.repeated = false;
  s.op = op;
  s.armed = true;
}

Pending GradientReducer::finish() {
  auto st = state_;
  State& s = *st;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.armed) throw Error("distributed: the gradient reducer's finish() needs arm() first");
  s.overlapped = s.next;
  // Parameters the armed backward did not reach keep their current gradient (zeros without one).
  at::NoGradGuard noGrad;
  for (size_t k = s.next; k < s.buckets.size(); k++)
    for (size_t j = 0; j < s.buckets[k].params.size(); j++) {
      size_t i = s.buckets[k].params[j];
      if (!s.ready[i]) {
        s.flats[k].narrow(0, s.buckets[k].offsets[j], s.params[i].numel()).copy_(flatGrad(s.params[i]));
        s.ready[i] = 1;
        s.missing[k]--;
      }
    }
  s.launchFilled();
  s.armed = false;
  std::vector<Pending> launched = std::move(s.launched);
  std::vector<at::Tensor> flats = s.flats;
  const bool repeated = s.repeated;
  return Pending([st, launched, flats, repeated]() mutable {
    for (auto& p : launched) p.wait();
    if (repeated) {
      // Some gradient changed after its bucket was sent (a parameter used twice in separate passes): start over
      // from the final gradients, after backward, so the result is still exact.
      startGradientAllReduce(st->params, st->op, st->bucketBytes).wait();
      return;
    }
    copyBack(st->params, st->buckets, flats);
  });
}

size_t GradientReducer::overlappedBuckets() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->overlapped;
}

size_t GradientReducer::bucketCount() const { return state_->buckets.size(); }

}  // namespace atman::dist
