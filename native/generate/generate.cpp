#include "native/generate/generate.h"

#include <torch/csrc/api/include/torch/utils.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "native/core/value.h"

#ifdef ATMAN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace atman {

namespace {

// Next tokens from last-position logits [N, V]: argmax at temperature 0, else a sample after temperature, top-k
// and top-p (nucleus: the smallest set of most likely tokens whose probability reaches topP) filtering.
at::Tensor pick(const at::Tensor& logitsIn, const GenerateOptions& o) {
  at::Tensor logits = logitsIn.to(at::kFloat);
  if (o.temperature == 0) return logits.argmax(-1);
  logits = logits.div(o.temperature);
  const int64_t V = logits.size(-1);
  const double negInf = -std::numeric_limits<double>::infinity();
  if (o.topK > 0 && o.topK < V) {
    at::Tensor kth = std::get<0>(logits.topk(o.topK, -1)).narrow(-1, o.topK - 1, 1);
    logits = logits.masked_fill(logits.lt(kth), negInf);
  }
  if (o.topP < 1.0) {
    auto sorted = logits.sort(-1, /*descending=*/true);
    at::Tensor sortedLogits = std::get<0>(sorted), order = std::get<1>(sorted);
    at::Tensor cum = sortedLogits.softmax(-1).cumsum(-1);
    // Drop a token when the tokens before it already reach topP (the most likely token always stays).
    at::Tensor drop = cum.sub(sortedLogits.softmax(-1)).ge(o.topP);
    at::Tensor dropUnsorted = at::zeros_like(drop).scatter(-1, order, drop);
    logits = logits.masked_fill(dropUnsorted, negInf);
  }
  at::Tensor probs = logits.softmax(-1);
  if (probs.is_cuda()) {
    // Exponential race: argmax_i p_i / E_i with E_i ~ Exp(1) picks i with probability p_i. Three small kernels where
    // multinomial validates its input with three single-block reductions and two device asserts (~3% of a batch-1
    // decoding step). E is kept above 0 so a filtered token (p = 0) can never win through 0 / 0.
    at::Tensor e = at::empty_like(probs).exponential_(1.0).clamp_min_(std::numeric_limits<float>::min());
    return probs.div(e).argmax(-1);
  }
  return at::multinomial(probs, 1).squeeze(-1);
}

// Runs `step` for tokens emitted = first .. count-1, checking `finished` (a host sync) every 16 tokens. On CUDA with
// graphs enabled, the step runs once eagerly on a side stream (warm-up), is captured once, and is replayed: the
// decode loop then costs one graph launch per token instead of hundreds of kernel launches. `step` must read and
// write only tensors that outlive the loop. Returns the number of tokens emitted.
int64_t decodeLoop(const at::Device& dev, bool useGraph, int64_t first, int64_t count, const std::function<void()>& step,
                   const std::function<bool()>& finished) {
  int64_t s = first;
  auto due = [&]() { return s < count && !(s % 16 == 0 && finished()); };
#ifdef ATMAN_WITH_CUDA
  if (useGraph && dev.is_cuda() && due()) {
    c10::cuda::CUDAGuard deviceGuard(dev);
    at::cuda::getCurrentCUDAStream().synchronize();  // the prefill, on the current stream, is done
    at::cuda::CUDAStream side = at::cuda::getStreamFromPool();
    c10::cuda::CUDAStreamGuard streamGuard(side);
    step();  // warm-up (a real step): first-call allocations and library handles happen outside the capture
    s++;
    if (due()) {
      at::cuda::CUDAGraph graph;
      graph.capture_begin();
      step();
      graph.capture_end();
      while (due()) {
        graph.replay();
        s++;
      }
    }
    side.synchronize();
    return s;
  }
#endif
  while (due()) {
    step();
    s++;
  }
  return s;
}

}  // namespace

GenerateResult generate(const llama::LlamaModel& model, const std::vector<std::vector<int64_t>>& prompts,
                        const GenerateOptions& o) {
  at::NoGradGuard noGrad;
  const int64_t V = model.config().vocabSize;
  if (prompts.empty()) return {};
  if (o.maxNewTokens < 0) throw RangeError("out of range: generate() maxNewTokens must be >= 0");
  if (o.numReturnSequences < 1) throw RangeError("out of range: generate() numReturnSequences must be >= 1");
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature))
    throw RangeError("invalid values: generate() temperature must be >= 0");
  if (!(o.topP > 0 && o.topP <= 1)) throw RangeError("invalid values: generate() topP must be in (0, 1]");
  if (o.topK < 0) throw RangeError("invalid values: generate() topK must be >= 0");
  if (o.padTokenId < 0 || o.padTokenId >= V) throw RangeError("out of range: generate() padTokenId must be a token id");
  int64_t longest = 0;
  for (size_t p = 0; p < prompts.size(); p++) {
    if (prompts[p].empty()) throw RangeError("invalid values: generate() prompt " + std::to_string(p) + " is empty");
    for (int64_t t : prompts[p])
      if (t < 0 || t >= V)
        throw RangeError("index out of range: generate() prompt " + std::to_string(p) + " has token id " +
                         std::to_string(t) + ", outside [0, " + std::to_string(V) + ")");
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts[p].size()));
  }
  llama::checkSequenceLength(model.config(), longest, "generate() prompt");
  const int64_t window = model.config().window.effective;
  if (window > 0 && longest + o.maxNewTokens > window)
    throw RangeError("out of range: generate() would run sequences to " + std::to_string(longest + o.maxNewTokens) +
                     " tokens (the longest prompt, " + std::to_string(longest) + ", plus maxNewTokens " +
                     std::to_string(o.maxNewTokens) + "), beyond the " + model.config().modelType +
                     " model's sliding window of " + std::to_string(window) +
                     " (sliding_window in config.json), which atman-native does not implement: lower maxNewTokens to " +
                     std::to_string(std::max<int64_t>(0, window - longest)) + " or shorten the prompts");
  if (o.seed) torch::manual_seed(*o.seed);

  const int64_t P = static_cast<int64_t>(prompts.size()), G = o.numReturnSequences, N = P * G;
  const at::Device dev = model.device();
  const auto longCpu = at::TensorOptions().dtype(at::kLong);
  // Left-padded prompts; keyStart masks the padding and shifts rotary positions so each prompt starts at 0.
  at::Tensor ids = at::full({P, longest}, o.padTokenId, longCpu);
  at::Tensor keyStart = at::empty({P}, longCpu);
  for (int64_t p = 0; p < P; p++) {
    const int64_t L = static_cast<int64_t>(prompts[p].size());
    keyStart[p] = longest - L;
    std::copy(prompts[p].begin(), prompts[p].end(), ids[p].data_ptr<int64_t>() + (longest - L));
  }
  ids = ids.to(dev);
  keyStart = keyStart.to(dev);

  GenerateResult result;
  result.tokens.assign(N, {});
  result.finishReasons.assign(N, "length");
  if (o.maxNewTokens == 0) return result;

  // Prefill each prompt once, then give each of its G sequences a copy of the cache.
  llama::KVCache cache = model.newCache(P, longest + o.maxNewTokens);
  at::Tensor h = model.extend(ids, keyStart, cache);
  model.mergeForDecoding(cache);  // ATMAN_LORA_DECODE=merge only
  at::Tensor last = model.logits(h.narrow(1, longest - 1, 1)).squeeze(1);  // [P, V]
  if (G > 1) {
    for (auto* list : {&cache.k, &cache.v})
      for (auto& t : *list) t = t.repeat_interleave(G, 0);
    last = last.repeat_interleave(G, 0);
    keyStart = keyStart.repeat_interleave(G, 0);
  }

  // Decoding state lives in tensors that every step updates in place (so a CUDA graph can replay the step): the
  // filled cache length, the output column, the last token, which sequences are done, and the output.
  const auto longDev = at::TensorOptions().dtype(at::kLong).device(dev);
  at::Tensor stops = at::tensor(o.stopTokenIds, longCpu).to(dev);
  at::Tensor done = at::zeros({N}, at::TensorOptions().dtype(at::kBool).device(dev));
  at::Tensor out = at::full({N, o.maxNewTokens}, o.padTokenId, longDev);
  at::Tensor length = at::full({1}, longest, longDev);
  at::Tensor column = at::zeros({1}, longDev);
  at::Tensor token = at::empty({N, 1}, longDev);
  auto emit = [&](const at::Tensor& logits) {  // choose, record and feed back the next token of every sequence
    at::Tensor next = at::where(done, at::full({}, o.padTokenId, longDev), pick(logits, o));
    out.index_copy_(1, column, next.unsqueeze(1));
    if (stops.numel() > 0) done.logical_or_(at::isin(next, stops));
    token.copy_(next.unsqueeze(1));
  };
  emit(last);
  auto step = [&]() {
    at::Tensor logits = model.decodeStep(token, length, keyStart, cache);
    length.add_(1);
    column.add_(1);
    emit(logits);
  };
  const int64_t emitted = decodeLoop(dev, o.cudaGraph, 1, o.maxNewTokens, step, [&]() { return done.all().item<bool>(); });

  at::Tensor all = out.narrow(1, 0, emitted).cpu();  // [N, emitted]
  std::vector<int64_t> stopList = o.stopTokenIds;
  for (int64_t i = 0; i < N; i++) {
    const int64_t* row = all[i].data_ptr<int64_t>();
    for (int64_t s = 0; s < all.size(1); s++) {
      result.tokens[i].push_back(row[s]);
      if (std::find(stopList.begin(), stopList.end(), row[s]) != stopList.end()) {
        result.finishReasons[i] = "stop";
        break;
      }
    }
  }
  return result;
}

}  // namespace atman
