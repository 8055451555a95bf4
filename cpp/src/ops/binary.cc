// Add, Sub, Mul, Div, PRelu and Sum with numpy broadcasting; float32 through
// the kernel table, int64 (shape arithmetic) with plain loops.
#include <algorithm>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

// Broadcast iteration: collapse the output into [outer..., inner] where each
// input is either contiguous (stride 1) or constant (stride 0) along inner.
struct Bcast {
  Shape out;
  std::vector<int64_t> outer_dims;            // outer dims of the output
  std::vector<int64_t> sa, sb;                // element strides of a, b per outer dim
  int64_t inner = 1;
  BinMode mode = BinMode::VV;
};

Bcast make_bcast(const Shape& a, const Shape& b, const Shape& out) {
  const size_t r = out.size();
  auto strides = [&](const Shape& s) {
    std::vector<int64_t> st(r, 0);
    int64_t acc = 1;
    for (size_t k = 0; k < s.size(); ++k) {
      size_t d = s.size() - 1 - k;
      size_t od = r - 1 - k;
      st[od] = s[d] == 1 ? 0 : acc;
      acc *= s[d];
    }
    return st;
  };
  std::vector<int64_t> sa = strides(a), sb = strides(b);
  Bcast bc;
  bc.out = out;
  // Peel the innermost dims while both inputs keep one pattern.
  int64_t inner = 1;
  size_t k = r;
  int pattern = -1;  // 0: both contiguous, 1: b constant, 2: a constant
  int64_t ea = 1, eb = 1;  // expected contiguous stride
  while (k > 0) {
    size_t d = k - 1;
    if (out[d] == 1) { --k; continue; }
    bool ca = sa[d] == ea, cb = sb[d] == eb;
    bool za = sa[d] == 0, zb = sb[d] == 0;
    int pat = (ca && cb) ? 0 : (ca && zb) ? 1 : (za && cb) ? 2 : -2;
    if (pat == -2 || (pattern >= 0 && pat != pattern)) break;
    pattern = pat;
    inner *= out[d];
    if (ca) ea *= out[d];
    if (cb) eb *= out[d];
    --k;
  }
  if (pattern < 0) pattern = 0;
  bc.inner = inner;
  bc.mode = static_cast<BinMode>(pattern);
  for (size_t d = 0; d < k; ++d) {
    bc.outer_dims.push_back(out[d]);
    bc.sa.push_back(sa[d]);
    bc.sb.push_back(sb[d]);
  }
  return bc;
}

int64_t outer_rows(const Bcast& bc) {
  int64_t total = 1;
  for (int64_t d : bc.outer_dims) total *= d;
  return total;
}

// f(out offset, a offset, b offset) for outer rows [r0, r1), in order.
template <class F>
void for_each_outer(const Bcast& bc, const F& f, int64_t r0 = 0, int64_t r1 = -1) {
  const int64_t total = r1 < 0 ? outer_rows(bc) : r1;
  const size_t nd = bc.outer_dims.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t oa = 0, ob = 0;
  for (size_t d = nd, rest = static_cast<size_t>(r0); d-- > 0;) {  // row r0's index
    idx[d] = static_cast<int64_t>(rest) % bc.outer_dims[d];
    rest /= static_cast<size_t>(bc.outer_dims[d]);
    oa += idx[d] * bc.sa[d];
    ob += idx[d] * bc.sb[d];
  }
  for (int64_t t = r0; t < total; ++t) {
    f(t * bc.inner, oa, ob);
    for (size_t d = nd; d-- > 0;) {
      ++idx[d];
      oa += bc.sa[d];
      ob += bc.sb[d];
      if (idx[d] < bc.outer_dims[d]) break;
      oa -= bc.sa[d] * idx[d];
      ob -= bc.sb[d] * idx[d];
      idx[d] = 0;
    }
  }
}

int64_t apply_i64(BinOp op, int64_t a, int64_t b) {
  switch (op) {
    case BinOp::Add: return a + b;
    case BinOp::Sub: return a - b;
    case BinOp::Mul: return a * b;
    case BinOp::Div: return b == 0 ? 0 : a / b;
    case BinOp::PRelu: return a < 0 ? a * b : a;
  }
  return 0;
}

class BinaryOp : public Op {
 public:
  BinaryOp(const KernelTable& kt, BinOp op) : kt_(kt), op_(op) {}
  int inplace_input() const override { return 0; }
  Kernel plan(PlanCtx& ctx) const override {
    if (ctx.num_inputs() < 2 || !ctx.has(0) || !ctx.has(1)) ctx.fail("needs two inputs");
    const TensorMeta& a = ctx.in(0);
    const TensorMeta& b = ctx.in(1);
    if (a.dtype != b.dtype) ctx.fail("input dtypes differ: ", dtype_name(a.dtype), " and ", dtype_name(b.dtype));
    if (a.dtype != DType::F32 && a.dtype != DType::I64) ctx.fail("dtype ", dtype_name(a.dtype), " is not supported");
    if (op_ == BinOp::PRelu && a.dtype != DType::F32) ctx.fail("PRelu needs float32");
    Shape out = broadcast_shapes(a.shape, b.shape, ctx);
    if (op_ == BinOp::PRelu && out != a.shape) ctx.fail("slope shape ", shape_str(b.shape), " does not broadcast to X's ", shape_str(a.shape));
    ctx.set_out(0, a.dtype, out);
    Bcast bc = make_bcast(a.shape, b.shape, out);
    const KernelTable* kt = &kt_;
    const BinOp op = op_;
    if (a.dtype == DType::F32) {
      const int threads = ctx.threads();
      // Threads take contiguous shares of the output (one each, claimed in
      // order, as the convolutions split pixels), so a core mostly reads
      // what it wrote in the layer before. Single-threaded, EfficientNet's
      // squeeze-excitation Mul (112x112x32 by a per-channel scale) took 2x
      // onnxruntime's time at 2 threads.
      const int64_t rows = outer_rows(bc);
      const int t = threads_for_work(checked_numel(out), threads);
      return [kt, op, bc, t, rows](const RunCtx& r) {
        const float* pa = r.i<float>(0);
        const float* pb = r.i<float>(1);
        float* py = r.o<float>(0);
        if (bc.outer_dims.empty()) {
          const int64_t n = bc.inner;
          parallel_for(t, t, [&](int64_t c) {
            const int64_t j0 = n * c / t, j1 = n * (c + 1) / t;
            kt->binary(op, bc.mode, py + j0, pa + (bc.mode == BinMode::SV ? 0 : j0),
                       pb + (bc.mode == BinMode::VS ? 0 : j0), j1 - j0);
          });
          return;
        }
        const int tr = rows < t ? static_cast<int>(rows) : t;
        parallel_for(tr, tr, [&](int64_t c) {
          for_each_outer(
              bc, [&](int64_t oy, int64_t oa, int64_t ob) { kt->binary(op, bc.mode, py + oy, pa + oa, pb + ob, bc.inner); },
              rows * c / tr, rows * (c + 1) / tr);
        });
      };
    }
    return [op, bc](const RunCtx& r) {
      const int64_t* pa = r.i<int64_t>(0);
      const int64_t* pb = r.i<int64_t>(1);
      int64_t* py = r.o<int64_t>(0);
      for_each_outer(bc, [&](int64_t oy, int64_t oa, int64_t ob) {
        for (int64_t j = 0; j < bc.inner; ++j) {
          int64_t x = pa[oa + (bc.mode == BinMode::SV ? 0 : j)];
          int64_t y = pb[ob + (bc.mode == BinMode::VS ? 0 : j)];
          py[oy + j] = apply_i64(op, x, y);
        }
      });
    };
  }

 private:
  const KernelTable& kt_;
  BinOp op_;
};

// Sum of N inputs, broadcast: y = x0 + x1 + ... (folded pairwise into y).
class SumOp : public Op {
 public:
  explicit SumOp(const KernelTable& kt) : kt_(kt) {}
  Kernel plan(PlanCtx& ctx) const override {
    const int n = ctx.num_inputs();
    if (n < 1) ctx.fail("needs at least one input");
    Shape out = ctx.expect(0, DType::F32).shape;
    for (int k = 1; k < n; ++k) out = broadcast_shapes(out, ctx.expect(k, DType::F32).shape, ctx);
    ctx.set_out(0, DType::F32, out);
    std::vector<Bcast> first_pair;
    // y = bcast(x0) + x1, then y += xk.
    std::vector<Bcast> steps;
    Shape s0 = ctx.in(0).shape;
    if (n == 1) {
      const int64_t cnt = checked_numel(out);
      return [cnt](const RunCtx& r) {
        if (r.o<float>(0) != r.i<float>(0)) std::copy(r.i<float>(0), r.i<float>(0) + cnt, r.o<float>(0));
      };
    }
    // Expand x0 to out by adding zero-stride copies: y = x0 + x1 covers it.
    steps.push_back(make_bcast(s0, ctx.in(1).shape, out));
    for (int k = 2; k < n; ++k) steps.push_back(make_bcast(out, ctx.in(k).shape, out));
    const KernelTable* kt = &kt_;
    return [kt, steps, n](const RunCtx& r) {
      float* y = r.o<float>(0);
      for (int k = 1; k < n; ++k) {
        const Bcast& bc = steps[k - 1];
        const float* pa = k == 1 ? r.i<float>(0) : y;
        const float* pb = r.i<float>(k);
        for_each_outer(bc, [&](int64_t oy, int64_t oa, int64_t ob) {
          kt->binary(BinOp::Add, bc.mode, y + oy, pa + oa, pb + ob, bc.inner);
        });
      }
    };
  }

 private:
  const KernelTable& kt_;
};

std::unique_ptr<Op> create_add(CreateCtx& c) { return std::make_unique<BinaryOp>(c.kernels(), BinOp::Add); }
std::unique_ptr<Op> create_sub(CreateCtx& c) { return std::make_unique<BinaryOp>(c.kernels(), BinOp::Sub); }
std::unique_ptr<Op> create_mul(CreateCtx& c) { return std::make_unique<BinaryOp>(c.kernels(), BinOp::Mul); }
std::unique_ptr<Op> create_div(CreateCtx& c) { return std::make_unique<BinaryOp>(c.kernels(), BinOp::Div); }
std::unique_ptr<Op> create_prelu(CreateCtx& c) { return std::make_unique<BinaryOp>(c.kernels(), BinOp::PRelu); }
std::unique_ptr<Op> create_sum(CreateCtx& c) { return std::make_unique<SumOp>(c.kernels()); }

CNNRT_REGISTER_OP("Add", create_add);
CNNRT_REGISTER_OP("Sub", create_sub);
CNNRT_REGISTER_OP("Mul", create_mul);
CNNRT_REGISTER_OP("Div", create_div);
CNNRT_REGISTER_OP("PRelu", create_prelu);
CNNRT_REGISTER_OP("Sum", create_sum);

}  // namespace
}  // namespace cnnrt
