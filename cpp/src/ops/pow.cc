// Pow: base float32 or int64, exponent float32 or int64 (opset 12+ lets them
// differ; the output has the base's dtype), numpy broadcasting.
// A float32 base with a scalar exponent known when the plan is built takes a
// vectorisable fast path for 2 (x*x), 3 (x*x*x) and 0.5 (sqrt, with
// pow(-inf, 0.5) = +inf kept); everything else calls std::pow.
// int64 ** int64 is exact (wrapping) for exponents >= 0 and truncates toward
// zero for negative ones (1, -1 stay; anything else is 0); int64 ** float32 is
// pow in double, truncated toward zero (NaN and out-of-range give INT64_MIN,
// what x86 conversion gives).
#include <cmath>
#include <limits>

#include "ops/bcast.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

int64_t to_i64(double v) {
  if (!(v >= -9.2233720368547758e18 && v < 9.2233720368547758e18)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

int64_t ipow(int64_t x, int64_t e) {
  if (e < 0) {
    if (x == 1) return 1;
    if (x == -1) return (e & 1) ? -1 : 1;
    return 0;
  }
  uint64_t r = 1, b = static_cast<uint64_t>(x);
  uint64_t n = static_cast<uint64_t>(e);
  while (n) {
    if (n & 1) r *= b;
    b *= b;
    n >>= 1;
  }
  return static_cast<int64_t>(r);
}

class PowOp : public Op {
 public:
  Kernel plan(PlanCtx& ctx) const override {
    if (ctx.num_inputs() != 2 || !ctx.has(0) || !ctx.has(1)) ctx.fail("needs two inputs (X and Y)");
    const TensorMeta& a = ctx.in(0);
    const TensorMeta& b = ctx.in(1);
    if (a.dtype != DType::F32 && a.dtype != DType::I64) ctx.fail("input 0 (X) has dtype ", dtype_name(a.dtype), ", expected float32 or int64");
    if (b.dtype != DType::F32 && b.dtype != DType::I64) ctx.fail("input 1 (Y) has dtype ", dtype_name(b.dtype), ", expected float32 or int64");
    const Shape out = broadcast_shapes(a.shape, b.shape, ctx);
    ctx.set_out(0, a.dtype, out);
    const NBcast<2> bc = make_nbcast<2>(out, {a.shape, b.shape});
    const int64_t n = checked_numel(out);
    if (a.dtype == DType::F32 && b.value && b.numel() == 1 && out == a.shape) {
      const double e = b.dtype == DType::F32 ? *b.value->ptr<float>() : static_cast<double>(*b.value->ptr<int64_t>());
      if (e == 2.0)
        return [n](const RunCtx& rc) {
          const float* x = rc.i<float>(0);
          float* y = rc.o<float>(0);
          for (int64_t j = 0; j < n; ++j) y[j] = x[j] * x[j];
        };
      if (e == 3.0)
        return [n](const RunCtx& rc) {
          const float* x = rc.i<float>(0);
          float* y = rc.o<float>(0);
          for (int64_t j = 0; j < n; ++j) y[j] = x[j] * x[j] * x[j];
        };
      if (e == 0.5)
        return [n](const RunCtx& rc) {
          const float* x = rc.i<float>(0);
          float* y = rc.o<float>(0);
          const float ninf = -std::numeric_limits<float>::infinity();
          for (int64_t j = 0; j < n; ++j) {
            const float v = x[j];
            const float s = std::sqrt(v);
            y[j] = v == ninf ? -ninf : s + 0.f;  // + 0: sqrt(-0) = -0, pow(-0, 0.5) = +0
          }
        };
    }
    if (a.dtype == DType::F32) {
      if (b.dtype == DType::F32)
        return [bc](const RunCtx& rc) {
          binary_apply(bc, rc.i<float>(0), rc.i<float>(1), rc.o<float>(0), rc.threads, [](float x, float e) { return std::pow(x, e); });
        };
      return [bc](const RunCtx& rc) {
        binary_apply(bc, rc.i<float>(0), rc.i<int64_t>(1), rc.o<float>(0), rc.threads,
                     [](float x, int64_t e) { return static_cast<float>(std::pow(static_cast<double>(x), static_cast<double>(e))); });
      };
    }
    if (b.dtype == DType::I64)
      return [bc](const RunCtx& rc) {
        binary_apply(bc, rc.i<int64_t>(0), rc.i<int64_t>(1), rc.o<int64_t>(0), rc.threads, [](int64_t x, int64_t e) { return ipow(x, e); });
      };
    return [bc](const RunCtx& rc) {
      binary_apply(bc, rc.i<int64_t>(0), rc.i<float>(1), rc.o<int64_t>(0), rc.threads,
                   [](int64_t x, float e) { return to_i64(std::pow(static_cast<double>(x), static_cast<double>(e))); });
    };
  }
};

std::unique_ptr<Op> create_pow(CreateCtx&) { return std::make_unique<PowOp>(); }

CNNRT_REGISTER_OP("Pow", create_pow);

}  // namespace
}  // namespace cnnrt
