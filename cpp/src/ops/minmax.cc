// Min, Max (float32 or int64) and Mean (float32): any number of inputs of one
// dtype with numpy broadcasting, folded pairwise into the output:
// y = f(x0, x1), then y = f(y, xk); Mean divides the sum by the count.
// NaN propagates (as numpy's minimum/maximum).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/bcast.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

enum class Red { Min, Max, Mean };

template <class T>
struct Fn {
  static T min(T a, T b) { return a < b ? a : b; }
  static T max(T a, T b) { return a > b ? a : b; }
};
template <>
struct Fn<float> {
  static float min(float a, float b) { return a != a ? a : (b != b ? b : (a < b ? a : b)); }
  static float max(float a, float b) { return a != a ? a : (b != b ? b : (a > b ? a : b)); }
};

template <class T>
Kernel variadic_kernel(Red op, std::vector<NBcast<2>> steps, int n, int64_t count) {
  return [op, steps, n, count](const RunCtx& rc) {
    T* y = rc.o<T>(0);
    if (n == 1) {
      if (static_cast<const void*>(y) != rc.in[0]) std::memcpy(y, rc.in[0], static_cast<size_t>(count) * sizeof(T));
      return;
    }
    for (int k = 1; k < n; ++k) {
      const T* a = k == 1 ? rc.i<T>(0) : y;
      const T* b = rc.i<T>(k);
      switch (op) {
        case Red::Min: binary_apply(steps[k - 1], a, b, y, rc.threads, [](T u, T v) { return Fn<T>::min(u, v); }); break;
        case Red::Max: binary_apply(steps[k - 1], a, b, y, rc.threads, [](T u, T v) { return Fn<T>::max(u, v); }); break;
        case Red::Mean: binary_apply(steps[k - 1], a, b, y, rc.threads, [](T u, T v) { return u + v; }); break;
      }
    }
    if (op == Red::Mean) {
      const T s = static_cast<T>(1) / static_cast<T>(n);
      for (int64_t j = 0; j < count; ++j) y[j] *= s;
    }
  };
}

class VariadicOp : public Op {
 public:
  explicit VariadicOp(Red op) : op_(op) {}
  Kernel plan(PlanCtx& ctx) const override {
    const int n = ctx.num_inputs();
    if (n < 1) ctx.fail("needs at least one input");
    const TensorMeta& x0 = ctx.in(0);
    const DType dt = x0.dtype;
    if (dt != DType::F32 && (dt != DType::I64 || op_ == Red::Mean))
      ctx.fail("input 0 has dtype ", dtype_name(dt), "; expected float32", op_ == Red::Mean ? "" : " or int64");
    Shape out = x0.shape;
    for (int k = 1; k < n; ++k) {
      const TensorMeta& xk = ctx.in(k);
      if (xk.dtype != dt) ctx.fail("input ", k, " has dtype ", dtype_name(xk.dtype), ", input 0 has ", dtype_name(dt));
      out = broadcast_shapes(out, xk.shape, ctx);
    }
    ctx.set_out(0, dt, out);
    std::vector<NBcast<2>> steps;
    for (int k = 1; k < n; ++k) steps.push_back(make_nbcast<2>(out, {k == 1 ? x0.shape : out, ctx.in(k).shape}));
    const int64_t count = checked_numel(out);
    if (dt == DType::F32) return variadic_kernel<float>(op_, std::move(steps), n, count);
    return variadic_kernel<int64_t>(op_, std::move(steps), n, count);
  }

 private:
  Red op_;
};

std::unique_ptr<Op> create_min(CreateCtx&) { return std::make_unique<VariadicOp>(Red::Min); }
std::unique_ptr<Op> create_max(CreateCtx&) { return std::make_unique<VariadicOp>(Red::Max); }
std::unique_ptr<Op> create_mean(CreateCtx&) { return std::make_unique<VariadicOp>(Red::Mean); }

CNNRT_REGISTER_OP("Min", create_min);
CNNRT_REGISTER_OP("Max", create_max);
CNNRT_REGISTER_OP("Mean", create_mean);

}  // namespace
}  // namespace cnnrt
