// ArgMax, ArgMin: int64 index of the largest / smallest value along `axis`
// (negative counts from the end), the first one unless select_last_index = 1
// (opset 12); keepdims (default 1). Float32 and int64 data. NaN counts as
// larger / smaller than everything and its first index wins (numpy,
// onnxruntime).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "ops/op.h"

namespace cnnrt {
namespace {

constexpr int64_t kBlock = 256;

// Whether v replaces the current best b (strictly better; with last, equal too).
template <class T>
inline bool better(T v, T b, bool is_max, bool last) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b != b) return false;  // a NaN best stays
    if (v != v) return true;
  }
  if (is_max) return last ? v >= b : v > b;
  return last ? v <= b : v < b;
}

template <class T>
void argext(const T* x, int64_t* y, int64_t outer, int64_t D, int64_t inner, bool is_max, bool last) {
  for (int64_t o = 0; o < outer; ++o) {
    const T* xo = x + o * D * inner;
    int64_t* yo = y + o * inner;
    for (int64_t j0 = 0; j0 < inner; j0 += kBlock) {
      const int64_t nj = std::min(kBlock, inner - j0);
      T best[kBlock];
      for (int64_t j = 0; j < nj; ++j) {
        best[j] = xo[j0 + j];
        yo[j0 + j] = 0;
      }
      for (int64_t d = 1; d < D; ++d) {
        const T* row = xo + d * inner + j0;
        for (int64_t j = 0; j < nj; ++j)
          if (better(row[j], best[j], is_max, last)) {
            best[j] = row[j];
            yo[j0 + j] = d;
          }
      }
    }
  }
}

class ArgOp : public Op {
 public:
  ArgOp(bool is_max, int64_t axis, bool keepdims, bool last) : is_max_(is_max), axis_(axis), keep_(keepdims), last_(last) {}
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (x.dtype != DType::F32 && x.dtype != DType::I64)
      ctx.fail("input 0 has dtype ", dtype_name(x.dtype), ", expected float32 or int64");
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (r == 0) ctx.fail("input 0 is a scalar; ", is_max_ ? "ArgMax" : "ArgMin", " needs rank >= 1");
    const int64_t axis = normalize_axis(axis_, r, ctx);
    const int64_t D = x.shape[axis];
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < axis; ++k) outer = checked_mul(outer, x.shape[k]);
    for (int64_t k = axis + 1; k < r; ++k) inner = checked_mul(inner, x.shape[k]);
    Shape out;
    for (int64_t k = 0; k < r; ++k) {
      if (k != axis) out.push_back(x.shape[k]);
      else if (keep_) out.push_back(1);
    }
    if (D == 0 && checked_numel(out) > 0)
      ctx.fail("axis ", axis, " of input shape ", shape_str(x.shape), " is empty: no index to return");
    ctx.set_out(0, DType::I64, out);
    const bool is_max = is_max_, last = last_;
    if (x.dtype == DType::F32)
      return [=](const RunCtx& rc) { argext(rc.i<float>(0), rc.o<int64_t>(0), outer, D, inner, is_max, last); };
    return [=](const RunCtx& rc) { argext(rc.i<int64_t>(0), rc.o<int64_t>(0), outer, D, inner, is_max, last); };
  }

 private:
  bool is_max_;
  int64_t axis_;
  bool keep_, last_;
};

template <bool IsMax>
std::unique_ptr<Op> create(CreateCtx& c) {
  const Node& n = c.node();
  const int64_t keep = n.i("keepdims", 1), last = n.i("select_last_index", 0);
  if (keep != 0 && keep != 1) c.fail("keepdims must be 0 or 1, got ", keep);
  if (last != 0 && last != 1) c.fail("select_last_index must be 0 or 1, got ", last);
  return std::make_unique<ArgOp>(IsMax, n.i("axis", 0), keep == 1, last == 1);
}

CNNRT_REGISTER_OP("ArgMax", create<true>);
CNNRT_REGISTER_OP("ArgMin", create<false>);

}  // namespace
}  // namespace cnnrt
