// Batched generation with a preallocated KV cache: prefill once per prompt, decode all sequences together.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "native/llama/model.h"

namespace atman {

struct GenerateOptions {
  int64_t maxNewTokens = 128;
  double temperature = 1.0;  // 0: greedy (argmax), deterministic
  double topP = 1.0;
  int64_t topK = 0;          // 0: off
  std::vector<int64_t> stopTokenIds;
  int64_t numReturnSequences = 1;   // G sequences per prompt share its prefill
  std::optional<uint64_t> seed;     // reseeds libtorch's default generators (all devices) before sampling
  int64_t padTokenId = 0;           // fills left padding and the tokens after a sequence stopped
  bool cudaGraph = true;            // on CUDA, replay the decoding step as one captured CUDA graph
};

struct GenerateResult {
  // Per sequence (prompt p's G sequences are rows p*G .. p*G+G-1): new tokens (the stop token included), and
  // "stop" (a stop token was produced) or "length" (maxNewTokens reached).
  std::vector<std::vector<int64_t>> tokens;
  std::vector<std::string> finishReasons;
};

GenerateResult generate(const llama::LlamaModel& model, const std::vector<std::vector<int64_t>>& prompts,
                        const GenerateOptions& o);

}  // namespace atman
