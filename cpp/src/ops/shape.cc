// Shape and ConstantOfShape: both are known when the plan is built.
//  - Shape: the input's dims [start, end) (opset 15; clamped like numpy
//    slicing, negative counts from the end), an int64 1-D tensor computed
//    while planning, so the shape subgraphs exporters put around Reshape fold
//    for each input shape.
//  - ConstantOfShape: input 0 (int64 1-D, known at plan time) gives the shape
//    (an empty one gives a scalar); the importer normalises the `value` tensor
//    attribute to `value` (a number) and `dtype` (1 float32, 7 int64, 9 bool).
#include <algorithm>
#include <cstring>

#include "ops/op.h"

namespace cnnrt {
namespace {

class ShapeOp : public Op {
 public:
  ShapeOp(int64_t start, bool has_end, int64_t end) : start_(start), has_end_(has_end), end_(end) {}
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    auto clamp = [r](int64_t v) {
      if (v < 0) v += r;
      return std::max<int64_t>(0, std::min<int64_t>(r, v));
    };
    const int64_t b = clamp(start_), e = has_end_ ? clamp(end_) : r;
    const int64_t n = std::max<int64_t>(0, e - b);
    Tensor& t = ctx.set_out_value(0, DType::I64, {n});
    for (int64_t k = 0; k < n; ++k) t.ptr<int64_t>()[k] = x.shape[b + k];
    return [](const RunCtx&) {};
  }

 private:
  int64_t start_;
  bool has_end_;
  int64_t end_;
};

class ConstantOfShapeOp : public Op {
 public:
  ConstantOfShapeOp(DType dtype, float fv, int64_t iv) : dtype_(dtype), fv_(fv), iv_(iv) {}
  Kernel plan(PlanCtx& ctx) const override {
    ctx.expect(0, DType::I64, 1, 1);
    const Tensor& s = ctx.value(0, "shape");
    Shape out(s.ptr<int64_t>(), s.ptr<int64_t>() + s.numel());
    for (int64_t d : out)
      if (d < 0) ctx.fail("input 0 (shape) ", shape_str(out), " has a negative dimension");
    ctx.set_out(0, dtype_, out);
    const int64_t n = checked_numel(out);
    switch (dtype_) {
      case DType::F32: {
        const float v = fv_;
        return [n, v](const RunCtx& r) { std::fill_n(r.o<float>(0), n, v); };
      }
      case DType::I64: {
        const int64_t v = iv_;
        return [n, v](const RunCtx& r) { std::fill_n(r.o<int64_t>(0), n, v); };
      }
      default: {
        const uint8_t v = iv_ != 0;
        return [n, v](const RunCtx& r) {
          if (n) std::memset(r.out[0], v, static_cast<size_t>(n));
        };
      }
    }
  }

 private:
  DType dtype_;
  float fv_;
  int64_t iv_;
};

std::unique_ptr<Op> create_shape(CreateCtx& c) {
  return std::make_unique<ShapeOp>(c.node().i("start", 0), c.node().has("end"), c.node().i("end", 0));
}

std::unique_ptr<Op> create_constant_of_shape(CreateCtx& c) {
  const int64_t code = c.node().i("dtype", static_cast<int64_t>(DType::F32));
  DType dt;
  switch (code) {
    case 1: dt = DType::F32; break;
    case 7: dt = DType::I64; break;
    case 9: dt = DType::BOOL; break;
    default: c.unsupported("value of ONNX dtype ", code, " (cnnrt runs float32, int64 and bool)");
  }
  float fv = 0.f;
  int64_t iv = 0;
  if (dt == DType::F32)
    fv = c.node().f("value", 0.f);
  else
    iv = c.node().i("value", 0);
  return std::make_unique<ConstantOfShapeOp>(dt, fv, iv);
}

CNNRT_REGISTER_OP("Shape", create_shape);
CNNRT_REGISTER_OP("ConstantOfShape", create_constant_of_shape);

}  // namespace
}  // namespace cnnrt
