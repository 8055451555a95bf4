// Unary activations (float32, element-wise, in place allowed): Relu, LeakyRelu,
// Elu, Selu, Sigmoid, Tanh, HardSigmoid, HardSwish, Clip.
#include <limits>

#include "ops/op.h"

namespace cnnrt {
namespace {

class ActOp : public Op {
 public:
  ActOp(const KernelTable& kt, ActParams p, bool clip_inputs) : kt_(kt), p_(p), clip_inputs_(clip_inputs) {}
  int inplace_input() const override { return 0; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32);
    for (int k = 1; k < ctx.num_inputs(); ++k)
      if (ctx.has(k)) {
        const TensorMeta& m = ctx.expect(k, DType::F32);
        if (m.numel() != 1) ctx.fail("input ", k, " (clip bound) must be a scalar, got shape ", shape_str(m.shape));
      }
    ctx.set_out(0, DType::F32, x.shape);
    const int64_t n = x.numel();
    const KernelTable* kt = &kt_;
    ActParams p = p_;
    const bool has_min = clip_inputs_ && ctx.has(1), has_max = clip_inputs_ && ctx.has(2);
    return [kt, p, n, has_min, has_max](const RunCtx& r) {
      ActParams q = p;
      if (has_min) q.a = *r.i<float>(1);
      if (has_max) q.b = *r.i<float>(2);
      kt->act(r.o<float>(0), r.i<float>(0), n, q);
    };
  }

 private:
  const KernelTable& kt_;
  ActParams p_;
  bool clip_inputs_;
};

std::unique_ptr<Op> make(CreateCtx& c, Act kind, float a = 0.f, float b = 0.f, bool clip_inputs = false) {
  ActParams p;
  p.kind = kind;
  p.a = a;
  p.b = b;
  return std::make_unique<ActOp>(c.kernels(), p, clip_inputs);
}

std::unique_ptr<Op> create_relu(CreateCtx& c) { return make(c, Act::Relu); }
std::unique_ptr<Op> create_leaky(CreateCtx& c) { return make(c, Act::LeakyRelu, c.node().f("alpha", 0.01f)); }
std::unique_ptr<Op> create_elu(CreateCtx& c) { return make(c, Act::Elu, c.node().f("alpha", 1.f)); }
std::unique_ptr<Op> create_selu(CreateCtx& c) {
  return make(c, Act::Selu, c.node().f("alpha", 1.67326319217681884765625f), c.node().f("gamma", 1.05070102214813232421875f));
}
std::unique_ptr<Op> create_sigmoid(CreateCtx& c) { return make(c, Act::Sigmoid); }
std::unique_ptr<Op> create_tanh(CreateCtx& c) { return make(c, Act::Tanh); }
std::unique_ptr<Op> create_hardsigmoid(CreateCtx& c) {
  return make(c, Act::HardSigmoid, c.node().f("alpha", 0.2f), c.node().f("beta", 0.5f));
}
std::unique_ptr<Op> create_hardswish(CreateCtx& c) { return make(c, Act::HardSwish); }
// Clip: bounds from attributes (opset < 11, normalised by the importer) or
// from optional scalar inputs 1 and 2, read at run time.
std::unique_ptr<Op> create_clip(CreateCtx& c) {
  return make(c, Act::Clip, c.node().f("min", -std::numeric_limits<float>::infinity()),
              c.node().f("max", std::numeric_limits<float>::infinity()), true);
}

CNNRT_REGISTER_OP("Relu", create_relu);
CNNRT_REGISTER_OP("LeakyRelu", create_leaky);
CNNRT_REGISTER_OP("Elu", create_elu);
CNNRT_REGISTER_OP("Selu", create_selu);
CNNRT_REGISTER_OP("Sigmoid", create_sigmoid);
CNNRT_REGISTER_OP("Tanh", create_tanh);
CNNRT_REGISTER_OP("HardSigmoid", create_hardsigmoid);
CNNRT_REGISTER_OP("HardSwish", create_hardswish);
CNNRT_REGISTER_OP("Clip", create_clip);

}  // namespace
}  // namespace cnnrt
