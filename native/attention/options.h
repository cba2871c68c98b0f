// Options and input checks shared by every implementation of the AtMan attention op (reference and kernels).
#pragma once
#include <ATen/ATen.h>
#include <optional>

namespace atman {

// Positions: key j sits at position j, query row i at i + (Tk - Tq) (the queries are the last Tq tokens).
struct AttentionOptions {
  bool causal = true;            // a query sees keys at its own position and before
  std::optional<double> scale;   // default 1/sqrt(D)
  at::Tensor keyBias;            // [B, Tk] float32 (float64 allowed with float64 q), added to key j's logit; or undefined
  at::Tensor biasQueryStart;     // int64 [B]: the bias applies to queries at positions >= this; or undefined
  int64_t biasQueryStartScalar = 0;  // used when biasQueryStart is undefined
  at::Tensor keyStart;           // int64 [B]: keys at positions < this are masked out (left padding); or undefined
};

struct AttentionShape {
  int64_t B, Hq, Hkv, Tq, Tk, D;
  int64_t group() const { return Hq / Hkv; }  // query heads per key/value head (GQA)
};

// Checks shapes, dtypes and devices of the inputs and options; throws atman::TypeError (RangeError for a bad scale).
AttentionShape checkAttentionInputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const AttentionOptions& o);

// Throws RangeError unless every keyStart[b] is in [0, Tk] (a host sync, so the op's callers check it once, not every
// layer); undefined passes. Beyond Tk a row would silently attend to nothing and come out as zeros.
void checkKeyStartValues(const at::Tensor& keyStart, int64_t Tk);

double attentionScale(const AttentionOptions& o, int64_t headDim);

}  // namespace atman
