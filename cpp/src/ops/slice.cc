// Slice and Split: strided views of the input copied as contiguous runs
// (ops/copy.h).
//  - Slice: starts/ends/axes as attributes (opset < 10) or inputs starts,
//    ends, axes, steps (opset 10+; int64, known when the plan is built).
//    Negative starts/ends count from the end, then clamp ([0, dim] for a
//    positive step, [-1, dim - 1] for a negative one), so INT64_MIN/MAX mean
//    "from the very start / to the very end"; negative steps walk backwards;
//    a step of 0 and an axis named twice are errors.
//  - Split: `axis` (negative allowed), sizes from the `split` attribute
//    (opset < 13) or input 1 (opset 13+), or `num_outputs` (opset 18: chunks
//    of ceil(dim / n), the last one smaller), or equal parts over the node's
//    outputs. Sizes must be >= 0 and sum to the axis' size.
#include <algorithm>
#include <limits>

#include "ops/copy.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

class SliceOp : public Op {
 public:
  SliceOp(bool attr_form, std::vector<int64_t> starts, std::vector<int64_t> ends, bool has_axes, std::vector<int64_t> axes)
      : attr_form_(attr_form), starts_(std::move(starts)), ends_(std::move(ends)), has_axes_(has_axes), axes_(std::move(axes)) {}

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> starts, ends, axes, steps;
    bool has_axes = has_axes_, has_steps = false;
    if (attr_form_) {
      starts = starts_;
      ends = ends_;
      axes = axes_;
    } else {
      if (ctx.num_inputs() < 3 || !ctx.has(1) || !ctx.has(2)) ctx.fail("needs inputs starts (1) and ends (2)");
      starts = plan_ints(ctx, 1, "starts");
      ends = plan_ints(ctx, 2, "ends");
      has_axes = ctx.num_inputs() > 3 && ctx.has(3);
      if (has_axes) axes = plan_ints(ctx, 3, "axes");
      has_steps = ctx.num_inputs() > 4 && ctx.has(4);
      if (has_steps) steps = plan_ints(ctx, 4, "steps");
    }
    const size_t n = starts.size();
    if (ends.size() != n)
      ctx.fail("starts ", ints_str(starts), " and ends ", ints_str(ends), " have different lengths");
    if (!has_axes) {
      axes.resize(n);
      for (size_t k = 0; k < n; ++k) axes[k] = static_cast<int64_t>(k);
    }
    if (!has_steps) steps.assign(n, 1);
    if (axes.size() != n) ctx.fail("axes ", ints_str(axes), " has ", axes.size(), " entries, starts has ", n);
    if (steps.size() != n) ctx.fail("steps ", ints_str(steps), " has ", steps.size(), " entries, starts has ", n);

    Shape out = x.shape;
    std::vector<int64_t> begin(r, 0), step(r, 1);
    std::vector<char> seen(r, 0);
    for (size_t k = 0; k < n; ++k) {
      int64_t a = axes[k];
      if (a < -r || a >= r) ctx.fail("axis ", a, " in axes ", ints_str(axes), " is out of range for rank ", r, " (input shape ", shape_str(x.shape), ")");
      if (a < 0) a += r;
      if (seen[a]) ctx.fail("axes ", ints_str(axes), " name dimension ", a, " twice");
      seen[a] = 1;
      const int64_t dim = x.shape[a], st = steps[k];
      if (st == 0) ctx.fail("step 0 for axis ", a, " (steps ", ints_str(steps), "): steps must be non-zero");
      int64_t s = starts[k], e = ends[k];
      if (s < 0) s += dim;  // no overflow: s < 0 <= dim
      if (e < 0) e += dim;
      int64_t len;
      if (st > 0) {
        s = std::max<int64_t>(0, std::min(s, dim));
        e = std::max<int64_t>(0, std::min(e, dim));
        len = e > s ? static_cast<int64_t>((static_cast<__int128>(e) - s + st - 1) / st) : 0;
      } else {
        s = std::max<int64_t>(-1, std::min(s, dim - 1));
        e = std::max<int64_t>(-1, std::min(e, dim - 1));
        const __int128 ast = -static_cast<__int128>(st);
        len = s > e ? static_cast<int64_t>((static_cast<__int128>(s) - e + ast - 1) / ast) : 0;
      }
      out[a] = len;
      begin[a] = len > 0 ? s : 0;
      step[a] = len > 1 ? st : 1;
    }
    ctx.set_out(0, x.dtype, out);
    const std::vector<int64_t> is = contiguous_strides(x.shape);
    std::vector<int64_t> stride(r);
    int64_t base = 0;
    for (int64_t k = 0; k < r; ++k) {
      stride[k] = checked_mul(step[k], is[k]);
      base += begin[k] * is[k];
    }
    StridedCopy c = make_strided_copy(out, stride, base, dtype_size(x.dtype));
    return [c](const RunCtx& rc) { run_strided_copy(c, rc.in[0], rc.out[0], rc.threads); };
  }

 private:
  bool attr_form_;
  std::vector<int64_t> starts_, ends_;
  bool has_axes_;
  std::vector<int64_t> axes_;
};

class SplitOp : public Op {
 public:
  SplitOp(int64_t axis, bool has_split, std::vector<int64_t> split, int64_t num_outputs)
      : axis_(axis), has_split_(has_split), split_(std::move(split)), num_outputs_(num_outputs) {}

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (r < 1) ctx.fail("input 0 is a scalar; Split needs rank >= 1");
    if (axis_ < -r || axis_ >= r) ctx.fail("axis ", axis_, " is out of range for rank ", r, " (input shape ", shape_str(x.shape), ")");
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    const int64_t dim = x.shape[axis];
    const int nout = ctx.num_outputs();
    std::vector<int64_t> sizes;
    if (ctx.num_inputs() > 1 && ctx.has(1)) {
      if (num_outputs_ > 0) ctx.fail("has both the split input and the num_outputs attribute");
      sizes = plan_ints(ctx, 1, "split");
    } else if (has_split_) {
      sizes = split_;
    } else if (num_outputs_ > 0) {
      if (num_outputs_ != nout) ctx.fail("num_outputs is ", num_outputs_, " but the node has ", nout, " outputs");
      const int64_t chunk = (dim + num_outputs_ - 1) / num_outputs_;
      const int64_t last = dim - chunk * (num_outputs_ - 1);
      if (last < 0)
        ctx.fail("cannot split axis ", axis, " of size ", dim, " into ", num_outputs_, " chunks of ", chunk, " (the last would have ", last, ")");
      sizes.assign(num_outputs_ - 1, chunk);
      sizes.push_back(last);
    } else {
      if (dim % nout != 0)
        ctx.fail("axis ", axis, " of size ", dim, " (input shape ", shape_str(x.shape), ") does not split into ", nout, " equal parts");
      sizes.assign(nout, dim / nout);
    }
    if (static_cast<int64_t>(sizes.size()) != nout)
      ctx.fail("split ", ints_str(sizes), " has ", sizes.size(), " entries but the node has ", nout, " outputs");
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0) ctx.fail("split ", ints_str(sizes), " has a negative size");
      sum = checked_add(sum, s);
    }
    if (sum != dim)
      ctx.fail("split ", ints_str(sizes), " sums to ", sum, " but axis ", axis, " of the input ", shape_str(x.shape), " has size ", dim);
    const std::vector<int64_t> is = contiguous_strides(x.shape);
    std::vector<StridedCopy> copies;
    std::vector<int> which;
    int64_t at = 0;
    for (int k = 0; k < nout; ++k) {
      Shape out = x.shape;
      out[axis] = sizes[k];
      if (ctx.out_wanted(k)) {
        ctx.set_out(k, x.dtype, out);
        copies.push_back(make_strided_copy(out, is, at * is[axis], dtype_size(x.dtype)));
        which.push_back(k);
      }
      at += sizes[k];
    }
    return [copies, which](const RunCtx& rc) {
      for (size_t j = 0; j < copies.size(); ++j)
        if (rc.out[which[j]]) run_strided_copy(copies[j], rc.in[0], rc.out[which[j]], rc.threads);
    };
  }

 private:
  int64_t axis_;
  bool has_split_;
  std::vector<int64_t> split_;
  int64_t num_outputs_;
};

std::unique_ptr<Op> create_slice(CreateCtx& c) {
  const Node& n = c.node();
  const bool attr_form = n.has("starts") || n.has("ends");
  if (attr_form && (!n.has("starts") || !n.has("ends"))) c.fail("needs both the 'starts' and 'ends' attributes");
  if (!attr_form && (n.num_inputs() < 3 || !n.has_input(1) || !n.has_input(2)))
    c.fail("needs starts and ends (attributes before opset 10, inputs 1 and 2 from opset 10)");
  return std::make_unique<SliceOp>(attr_form, n.ints("starts"), n.ints("ends"), n.has("axes"), n.ints("axes"));
}

std::unique_ptr<Op> create_split(CreateCtx& c) {
  const Node& n = c.node();
  const int64_t num = n.i("num_outputs", 0);
  if (n.has("num_outputs") && num < 1) c.fail("num_outputs must be >= 1, got ", num);
  if (n.outputs.empty()) c.fail("has no outputs");
  return std::make_unique<SplitOp>(n.i("axis", 0), n.has("split"), n.ints("split"), num);
}

CNNRT_REGISTER_OP("Slice", create_slice);
CNNRT_REGISTER_OP("Split", create_split);

}  // namespace
}  // namespace cnnrt
