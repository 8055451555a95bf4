// LpNormalization: x / ||x||_p along `axis` (default -1, negative counts from
// the end), p = 1 (sum of |x|) or 2 (default; sqrt of the sum of squares).
// A zero norm gives 0 (the input there is all zeros). Float32.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/op.h"

namespace cnnrt {
namespace {

constexpr int64_t kBlock = 256;

void lp_norm(const KernelTable& kt, const float* x, float* y, int64_t outer, int64_t D, int64_t inner, bool p2) {
  const RedKind kind = p2 ? RedKind::SumSquare : RedKind::SumAbs;
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * D * inner;
    float* yo = y + o * D * inner;
    if (inner == 1) {
      float n = kt.reduce_row(kind, xo, D, 0.f);
      if (p2) n = std::sqrt(n);
      for (int64_t d = 0; d < D; ++d) yo[d] = n != 0.f ? xo[d] / n : 0.f;
      continue;
    }
    for (int64_t j0 = 0; j0 < inner; j0 += kBlock) {
      const int64_t nj = std::min(kBlock, inner - j0);
      float acc[kBlock];
      for (int64_t j = 0; j < nj; ++j) acc[j] = 0.f;
      for (int64_t d = 0; d < D; ++d) kt.reduce_acc(kind, acc, xo + d * inner + j0, nj, nullptr);
      for (int64_t j = 0; j < nj; ++j) acc[j] = p2 ? std::sqrt(acc[j]) : acc[j];
      for (int64_t d = 0; d < D; ++d) {
        const float* xr = xo + d * inner + j0;
        float* yr = yo + d * inner + j0;
        for (int64_t j = 0; j < nj; ++j) yr[j] = acc[j] != 0.f ? xr[j] / acc[j] : 0.f;
      }
    }
  }
}

class LpNormOp : public Op {
 public:
  LpNormOp(const KernelTable& kt, int64_t axis, bool p2) : kt_(kt), axis_(axis), p2_(p2) {}
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, 1);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    const int64_t axis = normalize_axis(axis_, r, ctx);
    int64_t outer = 1, inner = 1;
    for (int64_t a = 0; a < axis; ++a) outer = checked_mul(outer, x.shape[a]);
    for (int64_t a = axis + 1; a < r; ++a) inner = checked_mul(inner, x.shape[a]);
    const int64_t D = x.shape[axis];
    ctx.set_out(0, DType::F32, x.shape);
    const KernelTable* kt = &kt_;
    const bool p2 = p2_;
    return [=](const RunCtx& rc) { lp_norm(*kt, rc.i<float>(0), rc.o<float>(0), outer, D, inner, p2); };
  }

 private:
  const KernelTable& kt_;
  int64_t axis_;
  bool p2_;
};

std::unique_ptr<Op> create_lpnorm(CreateCtx& c) {
  const int64_t p = c.node().i("p", 2);
  if (p != 1 && p != 2) c.fail("p must be 1 or 2, got ", p);
  return std::make_unique<LpNormOp>(c.kernels(), c.node().i("axis", -1), p == 2);
}

CNNRT_REGISTER_OP("LpNormalization", create_lpnorm);

}  // namespace
}  // namespace cnnrt
