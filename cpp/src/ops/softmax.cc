// Softmax and LogSoftmax, float32, any rank. The importer sets `axis` (with
// the opset's default) and `legacy`:
//  - legacy=1 (opset < 13): the input is coerced to 2-D
//    [prod(dims[:axis]), prod(dims[axis:])] and each row is normalised;
//  - legacy=0: normalised along `axis` only.
// Both are [outer, D, inner] with the reduction over D (legacy: inner = 1).
// Numerically stable: the maximum is subtracted before exp, so exp only sees
// arguments <= 0 (or NaN), computed by exp_nonpos in loops the compiler
// vectorises.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

constexpr float kLowest = std::numeric_limits<float>::lowest();
constexpr int64_t kBlock = 64;  // inner positions per task when inner > 1

inline uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// exp(x) for x <= 0 (and NaN), max relative error 8e-8 on [-87.3, 0]; 0 below
// about -87.7 (where float exp is subnormal or 0). Cephes' expf polynomial
// after x = n ln2 + r. Only integer selects and straight-line float code, so
// the loops that call it vectorise without -ffast-math (a float compare in a
// select is kept as a branch under the default -ftrapping-math).
inline float exp_nonpos(float x) {
  const uint32_t xb = fbits(x);
  constexpr uint32_t kLo = 0xC2B00000u;  // -88.0f; more negative floats and -inf compare larger unsigned
  const uint32_t keep = (0u - static_cast<uint32_t>(xb <= kLo)) |
                        (0u - static_cast<uint32_t>((xb & 0x7FFFFFFFu) > 0x7F800000u));  // NaN passes
  const float xc = bitsf((xb & keep) | (kLo & ~keep));
  const float t = xc * 1.44269504088896341f + 12582912.f;  // round(x / ln2) lands in t's low mantissa bits
  const float n = t - 12582912.f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.f;
  return p * bitsf((fbits(t) - 0x4B400000u + 127u) << 23);  // * 2^n; n = -127 gives 0
}

float row_max(const float* x, int64_t n) {
  constexpr int L = 16;  // independent lanes: the loop vectorises
  float m[L];
  for (int j = 0; j < L; ++j) m[j] = kLowest;
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  for (int j = 0; i + j < n; ++j) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  float r = kLowest;
  for (int j = 0; j < L; ++j) r = m[j] > r ? m[j] : r;
  return r;
}

// One contiguous row of D values (inner == 1). In place is allowed: every
// element is read before it is written.
template <bool Log>
void softmax_row(const float* x, float* y, int64_t D) {
  const float mx = row_max(x, D);
  float sum = 0.f;
  if (Log) {
    for (int64_t i = 0; i < D; ++i) sum += exp_nonpos(x[i] - mx);
    const float ls = std::log(sum);  // (x - max) - log(sum): adding log(sum) to a large max would round it away
    for (int64_t i = 0; i < D; ++i) y[i] = (x[i] - mx) - ls;
  } else {
    for (int64_t i = 0; i < D; ++i) {
      const float e = exp_nonpos(x[i] - mx);
      y[i] = e;
      sum += e;
    }
    const float inv = 1.f / sum;
    for (int64_t i = 0; i < D; ++i) y[i] *= inv;
  }
}

// `len` (<= kBlock) adjacent inner positions of one outer index: D values
// each, `inner` apart.
template <bool Log>
void softmax_cols(const float* x, float* y, int64_t D, int64_t inner, int64_t len) {
  float mx[kBlock], acc[kBlock];
  for (int64_t j = 0; j < len; ++j) mx[j] = kLowest, acc[j] = 0.f;
  for (int64_t d = 0; d < D; ++d) {
    const float* xr = x + d * inner;
    for (int64_t j = 0; j < len; ++j) mx[j] = xr[j] > mx[j] ? xr[j] : mx[j];
  }
  for (int64_t d = 0; d < D; ++d) {
    const float* xr = x + d * inner;
    float* yr = y + d * inner;
    for (int64_t j = 0; j < len; ++j) {
      const float e = exp_nonpos(xr[j] - mx[j]);
      if (!Log) yr[j] = e;
      acc[j] += e;
    }
  }
  if (Log) {
    for (int64_t j = 0; j < len; ++j) acc[j] = std::log(acc[j]);
    for (int64_t d = 0; d < D; ++d) {
      const float* xr = x + d * inner;
      float* yr = y + d * inner;
      for (int64_t j = 0; j < len; ++j) yr[j] = (xr[j] - mx[j]) - acc[j];
    }
  } else {
    for (int64_t j = 0; j < len; ++j) acc[j] = 1.f / acc[j];
    for (int64_t d = 0; d < D; ++d) {
      float* yr = y + d * inner;
      for (int64_t j = 0; j < len; ++j) yr[j] *= acc[j];
    }
  }
}

class SoftmaxOp : public Op {
 public:
  SoftmaxOp(CreateCtx& c, bool log) : log_(log) {
    axis_ = c.node().i("axis", -1);
    legacy_ = c.node().i("legacy", 0) != 0;
  }
  int inplace_input() const override { return 0; }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t axis = normalize_axis(axis_, rank, ctx);
    ctx.set_out(0, DType::F32, x.shape);
    int64_t outer = 1, D = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) {
      if (d < axis)
        outer *= x.shape[d];
      else if (d == axis || legacy_)
        D *= x.shape[d];
      else
        inner *= x.shape[d];
    }
    const bool log = log_;
    const int threads = ctx.threads();
    return [outer, D, inner, log, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      float* y = r.o<float>(0);
      if (D == 0) return;
      if (inner == 1) {
        parallel_for(outer, threads, [&](int64_t o) {
          if (log)
            softmax_row<true>(x + o * D, y + o * D, D);
          else
            softmax_row<false>(x + o * D, y + o * D, D);
        });
        return;
      }
      const int64_t nb = (inner + kBlock - 1) / kBlock;
      parallel_for(outer * nb, threads, [&](int64_t t) {
        const int64_t o = t / nb, i0 = (t % nb) * kBlock, len = std::min(kBlock, inner - i0);
        const int64_t off = o * D * inner + i0;
        if (log)
          softmax_cols<true>(x + off, y + off, D, inner, len);
        else
          softmax_cols<false>(x + off, y + off, D, inner, len);
      });
    };
  }

 private:
  bool log_;
  int64_t axis_ = -1;
  bool legacy_ = false;
};

std::unique_ptr<Op> create_softmax(CreateCtx& c) { return std::make_unique<SoftmaxOp>(c, false); }
std::unique_ptr<Op> create_logsoftmax(CreateCtx& c) { return std::make_unique<SoftmaxOp>(c, true); }
CNNRT_REGISTER_OP("Softmax", create_softmax);
CNNRT_REGISTER_OP("LogSoftmax", create_logsoftmax);

}  // namespace
}  // namespace cnnrt
