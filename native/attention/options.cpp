#include "native/attention/options.h"

#include <cmath>
#include <sstream>

#include "native/core/dtype.h"
#include "native/core/value.h"

namespace atman {

namespace {

std::string shapeOf(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

bool isFloat(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kBFloat16 || t == at::kHalf;
}

void checkDevice(const at::Tensor& q, const at::Tensor& t, const char* name) {
  if (t.device() != q.device())
    throw TypeError(std::string("device mismatch: attention() ") + name + " is on " + deviceName(t.device()) +
                    " but q is on " + deviceName(q.device()) + "; move them to one device");
}

// int64 [B] per-batch positions (keyStart, biasQueryStart).
void checkPositions(const at::Tensor& q, const at::Tensor& t, const char* name, int64_t B) {
  if (!t.defined()) return;
  if (t.scalar_type() != at::kLong)
    throw TypeError(std::string("dtype mismatch: attention() ") + name + " must be an int64 tensor, got " +
                    dtypeName(t.scalar_type()));
  if (t.dim() != 1 || t.size(0) != B)
    throw TypeError(std::string("shape mismatch: attention() ") + name + " must have shape [B] = [" +
                    std::to_string(B) + "], got " + shapeOf(t));
  checkDevice(q, t, name);
}

}  // namespace

AttentionShape checkAttentionInputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const AttentionOptions& o) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    throw TypeError("shape mismatch: attention() needs 4-D q [B, Hq, Tq, D] and k, v [B, Hkv, Tk, D], got q " +
                    shapeOf(q) + ", k " + shapeOf(k) + ", v " + shapeOf(v));
  if (!k.sizes().equals(v.sizes()))
    throw TypeError("shape mismatch: attention() k and v must have the same shape, got k " + shapeOf(k) + " and v " +
                    shapeOf(v));
  AttentionShape s{q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3)};
  if (k.size(0) != s.B)
    throw TypeError("shape mismatch: attention() batch sizes differ: q " + shapeOf(q) + ", k and v " + shapeOf(k));
  if (k.size(3) != s.D)
    throw TypeError("shape mismatch: attention() head dims differ: q " + shapeOf(q) + ", k and v " + shapeOf(k));
  if (s.D == 0) throw TypeError("shape mismatch: attention() needs a head dim D of at least 1, got q " + shapeOf(q));
  if (s.Hkv == 0 || s.Hq % s.Hkv != 0)
    throw TypeError("shape mismatch: attention() query heads (Hq = " + std::to_string(s.Hq) +
                    ") must be a multiple of the key/value heads (Hkv = " + std::to_string(s.Hkv) + ")");

  if (!isFloat(q.scalar_type()))
    throw TypeError("dtype mismatch: attention() needs floating-point q, k, v (float32, float64, bfloat16 or float16), "
                    "got " + dtypeName(q.scalar_type()));
  if (k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type())
    throw TypeError("dtype mismatch: attention() q, k and v must share one dtype, got q " + dtypeName(q.scalar_type()) +
                    ", k " + dtypeName(k.scalar_type()) + ", v " + dtypeName(v.scalar_type()));
  checkDevice(q, k, "k");
  checkDevice(q, v, "v");

  if (o.keyBias.defined()) {
    const at::ScalarType bt = o.keyBias.scalar_type();
    // float64 is allowed only with float64 q: the reference in float64 (finite-difference checks) stays exact.
    if (!(bt == at::kFloat || (bt == at::kDouble && q.scalar_type() == at::kDouble)))
      throw TypeError("dtype mismatch: attention() keyBias must be float32 (or float64 when q is float64), got " +
                      dtypeName(bt));
    if (o.keyBias.dim() != 2 || o.keyBias.size(0) != s.B || o.keyBias.size(1) != s.Tk)
      throw TypeError("shape mismatch: attention() keyBias must have shape [B, Tk] = [" + std::to_string(s.B) + ", " +
                      std::to_string(s.Tk) + "], got " + shapeOf(o.keyBias));
    checkDevice(q, o.keyBias, "keyBias");
  }
  checkPositions(q, o.biasQueryStart, "biasQueryStart", s.B);
  checkPositions(q, o.keyStart, "keyStart", s.B);
  if (o.scale && !std::isfinite(*o.scale))
    throw RangeError("invalid values: attention() scale must be a finite number, got " + std::to_string(*o.scale));
  return s;
}

void checkKeyStartValues(const at::Tensor& keyStart, int64_t Tk) {
  if (!keyStart.defined() || keyStart.numel() == 0 || keyStart.scalar_type() != at::kLong) return;
  const int64_t lo = keyStart.min().item<int64_t>(), hi = keyStart.max().item<int64_t>();
  if (lo < 0 || hi > Tk)
    throw RangeError("index out of range: keyStart must be in [0, " + std::to_string(Tk) + "] (Tk, the number of keys), got " +
                     std::to_string(lo < 0 ? lo : hi) + "; keyStart[b] = Tk masks every key of row b (its output is zeros)");
}

double attentionScale(const AttentionOptions& o, int64_t headDim) {
  return o.scale ? *o.scale : 1.0 / std::sqrt(static_cast<double>(headDim));
}

}  // namespace atman
