// Reshape, Flatten, Squeeze, Unsqueeze: output 0 is input 0's bytes under
// another shape (views). The planner aliases the buffer; the kernel copies
// only when it was given a separate output (a graph output, plan-time
// evaluation). Any dtype: the bytes are copied as they are.
#include <cstring>

#include "ops/op.h"

namespace cnnrt {
namespace {

Kernel view_kernel(const TensorMeta& x) {
  const size_t bytes = static_cast<size_t>(x.numel()) * dtype_size(x.dtype);
  return [bytes](const RunCtx& r) {
    if (r.out[0] && r.out[0] != r.in[0] && bytes) std::memcpy(r.out[0], r.in[0], bytes);
  };
}

// Plan-time int64 vector from input i (a 0-D or 1-D int64 tensor).
std::vector<int64_t> int_list(const PlanCtx& ctx, int i, const char* what) {
  const Tensor& t = ctx.value(i, what);
  if (t.dtype != DType::I64) ctx.fail("input ", i, " (", what, ") has dtype ", dtype_name(t.dtype), ", expected int64");
  if (t.shape.size() > 1) ctx.fail("input ", i, " (", what, ") must be 1-D, got shape ", shape_str(t.shape));
  const int64_t n = t.numel();
  return std::vector<int64_t>(t.ptr<int64_t>(), t.ptr<int64_t>() + n);
}

class ReshapeOp : public Op {
 public:
  explicit ReshapeOp(bool allowzero) : allowzero_(allowzero) {}
  bool is_view() const override { return true; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const std::vector<int64_t> req = int_list(ctx, 1, "shape");
    const int64_t n = x.numel();
    Shape out(req.size());
    int infer = -1;
    bool has_zero = false;
    int64_t known = 1;
    for (size_t k = 0; k < req.size(); ++k) {
      int64_t d = req[k];
      if (d == -1) {
        if (infer >= 0)
          ctx.fail("shape ", ints_str(req), " has more than one -1 (input shape ", shape_str(x.shape), ")");
        infer = static_cast<int>(k);
        continue;
      }
      if (d < -1) ctx.fail("shape ", ints_str(req), " has the invalid dimension ", d, " (input shape ", shape_str(x.shape), ")");
      if (d == 0) {
        has_zero = true;
        if (!allowzero_) {
          if (k >= x.shape.size())
            ctx.fail("shape ", ints_str(req), ": dimension ", k, " is 0 (copy the input's) but the input ", shape_str(x.shape),
                     " has rank ", x.shape.size());
          d = x.shape[k];
        }
      }
      out[k] = d;
      known = checked_mul(known, d);
    }
    if (allowzero_ && has_zero && infer >= 0)
      ctx.fail("shape ", ints_str(req), " has both 0 and -1, which allowzero=1 does not allow");
    if (infer >= 0) {
      if (known == 0 || n % known != 0)
        ctx.fail("cannot reshape input of shape ", shape_str(x.shape), " (", n, " elements) to shape ", ints_str(req));
      out[infer] = n / known;
    } else if (known != n) {
      ctx.fail("cannot reshape input of shape ", shape_str(x.shape), " (", n, " elements) to shape ", ints_str(req), " (",
               known, " elements)");
    }
    ctx.set_out(0, x.dtype, out);
    return view_kernel(x);
  }

 private:
  bool allowzero_;
};

class FlattenOp : public Op {
 public:
  explicit FlattenOp(int64_t axis) : axis_(axis) {}
  bool is_view() const override { return true; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (axis_ < -r || axis_ > r) ctx.fail("axis ", axis_, " is out of range for rank ", r, " (shape ", shape_str(x.shape), ")");
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    int64_t a = 1, b = 1;
    for (int64_t k = 0; k < r; ++k) (k < axis ? a : b) = checked_mul(k < axis ? a : b, x.shape[k]);
    ctx.set_out(0, x.dtype, {a, b});
    return view_kernel(x);
  }

 private:
  int64_t axis_;
};

class SqueezeOp : public Op {
 public:
  explicit SqueezeOp(std::vector<int64_t> axes) : axes_(std::move(axes)) {}
  bool is_view() const override { return true; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> axes = ctx.has(1) ? int_list(ctx, 1, "axes") : axes_;
    const bool all = axes.empty();  // no axes (or an empty list): every dimension of size 1
    std::vector<char> drop(r, 0);
    if (all) {
      for (int64_t k = 0; k < r; ++k) drop[k] = x.shape[k] == 1;
    } else {
      for (int64_t a : axes) {
        if (a < -r || a >= r) ctx.fail("axis ", a, " in axes ", ints_str(axes), " is out of range for rank ", r);
        const int64_t k = a < 0 ? a + r : a;
        if (drop[k]) ctx.fail("axes ", ints_str(axes), " name dimension ", k, " twice");
        if (x.shape[k] != 1)
          ctx.fail("cannot squeeze dimension ", k, " of input shape ", shape_str(x.shape), ": its size is ", x.shape[k], ", not 1");
        drop[k] = 1;
      }
    }
    Shape out;
    for (int64_t k = 0; k < r; ++k)
      if (!drop[k]) out.push_back(x.shape[k]);
    ctx.set_out(0, x.dtype, out);
    return view_kernel(x);
  }

 private:
  std::vector<int64_t> axes_;  // attribute form (before opset 13)
};

class UnsqueezeOp : public Op {
 public:
  UnsqueezeOp(bool has_attr, std::vector<int64_t> axes) : has_attr_(has_attr), axes_(std::move(axes)) {}
  bool is_view() const override { return true; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    std::vector<int64_t> axes;
    if (ctx.has(1))
      axes = int_list(ctx, 1, "axes");
    else if (has_attr_)
      axes = axes_;
    else
      ctx.fail("needs axes (the 'axes' attribute before opset 13, input 1 from opset 13)");
    if (axes.empty()) ctx.fail("axes is empty");
    const int64_t r = checked_add(static_cast<int64_t>(x.shape.size()), static_cast<int64_t>(axes.size()));
    std::vector<char> ins(r, 0);
    for (int64_t a : axes) {
      if (a < -r || a >= r) ctx.fail("axis ", a, " in axes ", ints_str(axes), " is out of range for output rank ", r);
      const int64_t k = a < 0 ? a + r : a;
      if (ins[k]) ctx.fail("axes ", ints_str(axes), " name output dimension ", k, " twice");
      ins[k] = 1;
    }
    Shape out(r);
    size_t src = 0;
    for (int64_t k = 0; k < r; ++k) out[k] = ins[k] ? 1 : x.shape[src++];
    ctx.set_out(0, x.dtype, out);
    return view_kernel(x);
  }

 private:
  bool has_attr_;
  std::vector<int64_t> axes_;
};

std::unique_ptr<Op> create_reshape(CreateCtx& c) {
  const int64_t az = c.node().i("allowzero", 0);
  if (az != 0 && az != 1) c.fail("allowzero must be 0 or 1, got ", az);
  if (c.node().num_inputs() < 2 || !c.node().has_input(1)) c.fail("needs the shape input (input 1)");
  return std::make_unique<ReshapeOp>(az == 1);
}
std::unique_ptr<Op> create_flatten(CreateCtx& c) { return std::make_unique<FlattenOp>(c.node().i("axis", 1)); }
std::unique_ptr<Op> create_squeeze(CreateCtx& c) {
  return std::make_unique<SqueezeOp>(c.node().ints("axes"));
}
std::unique_ptr<Op> create_unsqueeze(CreateCtx& c) {
  return std::make_unique<UnsqueezeOp>(c.node().has("axes"), c.node().ints("axes"));
}

CNNRT_REGISTER_OP("Reshape", create_reshape);
CNNRT_REGISTER_OP("Flatten", create_flatten);
CNNRT_REGISTER_OP("Squeeze", create_squeeze);
CNNRT_REGISTER_OP("Unsqueeze", create_unsqueeze);

}  // namespace
}  // namespace cnnrt
