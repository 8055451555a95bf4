// TopK: the k largest (largest = 1) or smallest values along `axis`
// (default -1, negative counts from the end) and their int64 indices. k is
// input 1 (opset 10: a 1-element int64 tensor known at plan time) or the `k`
// attribute (opset < 10). Ties go to the lower index, as onnxruntime orders
// them; the output is always sorted (sorted = 0 leaves the order free, so the
// sorted one is valid too). Float32 and int64 data; NaN counts as larger than
// every number.
//
// A bounded heap of k indices kept in the output's own index slice (strided
// by the inner size): O(D log k), no allocation while running.
#include <cstdint>
#include <type_traits>

#include "ops/op.h"

namespace cnnrt {
namespace {

template <class T>
struct Cmp {
  const T* x;
  int64_t inner;
  bool largest;
  // Whether index a ranks before index b.
  bool before(int64_t a, int64_t b) const {
    const T va = x[a * inner], vb = x[b * inner];
    if constexpr (std::is_floating_point_v<T>) {
      const bool na = va != va, nb = vb != vb;
      if (na || nb) {
        if (na && nb) return a < b;
        return largest ? na : nb;  // NaN is the largest value
      }
    }
    if (va != vb) return largest ? va > vb : va < vb;
    return a < b;
  }
};

// Heap over idx[0], idx[s], ..., idx[(n-1)s] with the worst element at the root.
template <class T>
void sift_down(int64_t* idx, int64_t s, int64_t n, int64_t i, const Cmp<T>& c) {
  for (;;) {
    int64_t w = i;
    const int64_t l = 2 * i + 1, r = l + 1;
    if (l < n && c.before(idx[w * s], idx[l * s])) w = l;
    if (r < n && c.before(idx[w * s], idx[r * s])) w = r;
    if (w == i) return;
    std::swap(idx[i * s], idx[w * s]);
    i = w;
  }
}

template <class T>
void topk(const T* x, T* vals, int64_t* idx, int64_t outer, int64_t D, int64_t inner, int64_t k, bool largest) {
  if (k == 0) return;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      const T* xs = x + o * D * inner + j;
      int64_t* is = idx + o * k * inner + j;
      T* vs = vals ? vals + o * k * inner + j : nullptr;
      const Cmp<T> c{xs, inner, largest};
      for (int64_t d = 0; d < k; ++d) is[d * inner] = d;
      for (int64_t i = k / 2 - 1; i >= 0; --i) sift_down(is, inner, k, i, c);
      for (int64_t d = k; d < D; ++d)
        if (c.before(d, is[0])) {
          is[0] = d;
          sift_down(is, inner, k, 0, c);
        }
      for (int64_t n = k - 1; n > 0; --n) {  // heap sort: worst to the back
        std::swap(is[0], is[n * inner]);
        sift_down(is, inner, n, 0, c);
      }
      if (vs)
        for (int64_t d = 0; d < k; ++d) vs[d * inner] = xs[is[d * inner] * inner];
    }
}

class TopKOp : public Op {
 public:
  TopKOp(bool has_k_attr, int64_t k, int64_t axis, bool largest) : has_k_attr_(has_k_attr), k_(k), axis_(axis), largest_(largest) {}
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (x.dtype != DType::F32 && x.dtype != DType::I64)
      ctx.fail("input 0 has dtype ", dtype_name(x.dtype), ", expected float32 or int64");
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (r == 0) ctx.fail("input 0 is a scalar; TopK needs rank >= 1");
    const int64_t axis = normalize_axis(axis_, r, ctx);
    int64_t k = k_;
    if (ctx.has(1)) {
      const Tensor& t = ctx.value(1, "K");
      if (t.dtype != DType::I64) ctx.fail("input 1 (K) has dtype ", dtype_name(t.dtype), ", expected int64");
      if (t.numel() != 1) ctx.fail("input 1 (K) must hold one value, got shape ", shape_str(t.shape));
      k = t.ptr<int64_t>()[0];
    } else if (!has_k_attr_) {
      ctx.fail("needs k (the 'k' attribute before opset 10, input 1 from opset 10)");
    }
    const int64_t D = x.shape[axis];
    if (k < 0) ctx.fail("k = ", k, " is negative");
    if (k > D) ctx.fail("k = ", k, " exceeds the size ", D, " of axis ", axis, " (input shape ", shape_str(x.shape), ")");
    int64_t outer = 1, inner = 1;
    for (int64_t a = 0; a < axis; ++a) outer = checked_mul(outer, x.shape[a]);
    for (int64_t a = axis + 1; a < r; ++a) inner = checked_mul(inner, x.shape[a]);
    Shape out = x.shape;
    out[axis] = k;
    ctx.set_out(0, x.dtype, out);
    ctx.set_out(1, DType::I64, out);
    const bool largest = largest_;
    const bool want_vals = ctx.out_wanted(0);
    if (x.dtype == DType::F32)
      return [=](const RunCtx& rc) {
        topk(rc.i<float>(0), want_vals ? rc.o<float>(0) : nullptr, rc.o<int64_t>(1), outer, D, inner, k, largest);
      };
    return [=](const RunCtx& rc) {
      topk(rc.i<int64_t>(0), want_vals ? rc.o<int64_t>(0) : nullptr, rc.o<int64_t>(1), outer, D, inner, k, largest);
    };
  }

 private:
  bool has_k_attr_;
  int64_t k_, axis_;
  bool largest_;
};

std::unique_ptr<Op> create_topk(CreateCtx& c) {
  const Node& n = c.node();
  const int64_t largest = n.i("largest", 1), sorted = n.i("sorted", 1);
  if (largest != 0 && largest != 1) c.fail("largest must be 0 or 1, got ", largest);
  if (sorted != 0 && sorted != 1) c.fail("sorted must be 0 or 1, got ", sorted);
  if (n.outputs.size() < 2 || n.outputs[1] < 0) c.fail("needs the Indices output (output 1)");
  return std::make_unique<TopKOp>(n.has("k"), n.i("k", 0), n.i("axis", -1), largest == 1);
}

CNNRT_REGISTER_OP("TopK", create_topk);

}  // namespace
}  // namespace cnnrt
