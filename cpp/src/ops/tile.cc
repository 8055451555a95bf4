// Tile, Expand and Range.
//  - Tile: repeats (int64, one per input dim, >= 0, known when the plan is
//    built). The output, viewed as [r0, d0, r1, d1, ...], reads the input
//    with stride 0 along each r: a strided copy (ops/copy.h) of contiguous
//    runs.
//  - Expand: shape (int64 1-D, plan-time) broadcast with the input's shape
//    both ways (numpy rules); size-1 input dims are read with stride 0 (a
//    fill run where innermost).
//  - Range: start, limit, delta scalars of one dtype (float32 or int64),
//    known when the plan is built since they fix the output's length
//    max(ceil((limit - start) / delta), 0); delta 0 is an error. Float32
//    bounds fed at run time make the output shape depend on data, which a
//    plan built per input shape cannot hold: refused as a scope limit.
#include <cmath>
#include <limits>

#include "ops/copy.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

class TileOp : public Op {
 public:
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (ctx.num_inputs() < 2 || !ctx.has(1)) ctx.fail("needs the repeats input (input 1)");
    const std::vector<int64_t> rep = plan_ints(ctx, 1, "repeats");
    if (static_cast<int64_t>(rep.size()) != r)
      ctx.fail("repeats ", ints_str(rep), " has ", rep.size(), " entries but the input ", shape_str(x.shape), " has rank ", r);
    Shape out(r), view, stride;
    const std::vector<int64_t> is = contiguous_strides(x.shape);
    for (int64_t k = 0; k < r; ++k) {
      if (rep[k] < 0) ctx.fail("repeats ", ints_str(rep), " has the negative entry ", rep[k], " (axis ", k, ")");
      out[k] = checked_mul(x.shape[k], rep[k]);
      view.push_back(rep[k]);
      stride.push_back(0);
      view.push_back(x.shape[k]);
      stride.push_back(is[k]);
    }
    ctx.set_out(0, x.dtype, out);
    StridedCopy c = make_strided_copy(view, stride, 0, dtype_size(x.dtype));
    return [c](const RunCtx& rc) { run_strided_copy(c, rc.in[0], rc.out[0], rc.threads); };
  }
};

class ExpandOp : public Op {
 public:
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (ctx.num_inputs() < 2 || !ctx.has(1)) ctx.fail("needs the shape input (input 1)");
    const std::vector<int64_t> shape = plan_ints(ctx, 1, "shape");
    for (int64_t d : shape)
      if (d < 0) ctx.fail("shape ", ints_str(shape), " has a negative dimension");
    const Shape out = broadcast_shapes(x.shape, shape, ctx);
    ctx.set_out(0, x.dtype, out);
    const size_t r = out.size(), lead = r - x.shape.size();
    const std::vector<int64_t> is = contiguous_strides(x.shape);
    std::vector<int64_t> stride(r, 0);
    for (size_t k = lead; k < r; ++k) stride[k] = x.shape[k - lead] == 1 ? 0 : is[k - lead];
    StridedCopy c = make_strided_copy(out, stride, 0, dtype_size(x.dtype));
    return [c](const RunCtx& rc) { run_strided_copy(c, rc.in[0], rc.out[0], rc.threads); };
  }
};

class RangeOp : public Op {
 public:
  Kernel plan(PlanCtx& ctx) const override {
    const char* names[3] = {"start", "limit", "delta"};
    const DType dt = ctx.in(0).dtype;
    for (int k = 0; k < 3; ++k) {
      const TensorMeta& m = ctx.in(k);
      if (m.dtype != dt) ctx.fail("input ", k, " (", names[k], ") has dtype ", dtype_name(m.dtype), ", input 0 has ", dtype_name(dt));
      if (m.numel() != 1 || m.shape.size() > 1) ctx.fail("input ", k, " (", names[k], ") must be a scalar, got shape ", shape_str(m.shape));
    }
    if (dt != DType::F32 && dt != DType::I64) ctx.fail("dtype ", dtype_name(dt), " is not supported (float32 or int64)");
    for (int k = 0; k < 3; ++k)
      if (!ctx.in(k).value) {
        if (dt == DType::F32)
          ctx.unsupported("input ", k, " (", names[k], ") is a float32 value computed at run time; the output's length would depend on it, "
                          "and cnnrt plans shapes from input shapes (give Range constant or int64 shape-derived bounds)");
        ctx.value(k, names[k]);
      }
    int64_t n;
    if (dt == DType::I64) {
      const int64_t s = *ctx.value(0, "start").ptr<int64_t>(), l = *ctx.value(1, "limit").ptr<int64_t>(),
                    d = *ctx.value(2, "delta").ptr<int64_t>();
      if (d == 0) ctx.fail("delta is 0");
      const __int128 span = static_cast<__int128>(l) - s;
      __int128 q = span / d;
      if (q * d != span && ((span > 0) == (d > 0))) q += 1;  // ceil for a positive quotient
      if (q < 0) q = 0;
      if (q > std::numeric_limits<int64_t>::max()) ctx.fail("the range [", s, ", ", l, ") step ", d, " has too many elements");
      n = static_cast<int64_t>(q);
      if (n > kMaxTensorBytes / 8)
        ctx.fail("the range [", s, ", ", l, ") step ", d, " has ", n, " elements, more than cnnrt's tensor limit");
      ctx.set_out(0, dt, {n});
      return [s, d, n](const RunCtx& rc) {
        int64_t* y = rc.o<int64_t>(0);
        for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int64_t>(static_cast<uint64_t>(s) + static_cast<uint64_t>(i) * static_cast<uint64_t>(d));
      };
    }
    const float s = *ctx.value(0, "start").ptr<float>(), l = *ctx.value(1, "limit").ptr<float>(),
                d = *ctx.value(2, "delta").ptr<float>();
    if (d == 0.f) ctx.fail("delta is 0");
    if (!std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d))
      ctx.fail("start ", s, ", limit ", l, " and delta ", d, " must be finite");
    const double q = std::ceil((static_cast<double>(l) - s) / d);
    if (q > static_cast<double>(kMaxTensorBytes / 4))
      ctx.fail("the range [", s, ", ", l, ") step ", d, " has ", q, " elements, more than cnnrt's tensor limit");
    n = q > 0 ? static_cast<int64_t>(q) : 0;
    ctx.set_out(0, dt, {n});
    return [s, d, n](const RunCtx& rc) {
      float* y = rc.o<float>(0);
      for (int64_t i = 0; i < n; ++i) y[i] = s + static_cast<float>(i) * d;
    };
  }
};

std::unique_ptr<Op> create_tile(CreateCtx&) { return std::make_unique<TileOp>(); }
std::unique_ptr<Op> create_expand(CreateCtx&) { return std::make_unique<ExpandOp>(); }
std::unique_ptr<Op> create_range(CreateCtx& c) {
  if (c.node().num_inputs() < 3) c.fail("needs inputs start, limit and delta");
  return std::make_unique<RangeOp>();
}

CNNRT_REGISTER_OP("Tile", create_tile);
CNNRT_REGISTER_OP("Expand", create_expand);
CNNRT_REGISTER_OP("Range", create_range);

}  // namespace
}  // namespace cnnrt
