// Element-wise unary math and the activations added with it: Sqrt, Exp, Log,
// Abs, Neg, Reciprocal, Floor, Ceil, Round (half to even), Sign, Erf, Gelu
// (approximate 'none' | 'tanh'), Mish, Softplus, Softsign, Celu (alpha),
// ThresholdedRelu (alpha). Float32 through the kernel table's act loops
// (kernels/eltwise/math.inc, one vectorised loop per kind and ISA); Abs, Neg
// and Sign also on int64 (two's-complement wrap for INT64_MIN, as
// onnxruntime), computed at plan time when the input's value is known there.
// In place allowed.
#include <cstdint>

#include "ops/op.h"

namespace cnnrt {
namespace {

enum class IntFn { None, Abs, Neg, Sign };

inline int64_t int_apply(IntFn fn, int64_t v) {
  switch (fn) {
    case IntFn::Abs: return v < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v)) : v;
    case IntFn::Neg: return static_cast<int64_t>(0 - static_cast<uint64_t>(v));
    case IntFn::Sign: return v > 0 ? 1 : (v < 0 ? -1 : 0);
    case IntFn::None: break;
  }
  return v;
}

class UnaryOp : public Op {
 public:
  UnaryOp(const KernelTable& kt, ActParams p, IntFn int_fn) : kt_(kt), p_(p), int_fn_(int_fn) {}
  int inplace_input() const override { return 0; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (x.dtype == DType::I64 && int_fn_ != IntFn::None) {
      const int64_t n = x.numel();
      const IntFn fn = int_fn_;
      if (x.value) {
        Tensor& t = ctx.set_out_value(0, DType::I64, x.shape);
        const int64_t* src = x.value->ptr<int64_t>();
        int64_t* dst = t.ptr<int64_t>();
        for (int64_t i = 0; i < n; ++i) dst[i] = int_apply(fn, src[i]);
      } else {
        ctx.set_out(0, DType::I64, x.shape);
      }
      return [n, fn](const RunCtx& r) {
        const int64_t* src = r.i<int64_t>(0);
        int64_t* dst = r.o<int64_t>(0);
        for (int64_t i = 0; i < n; ++i) dst[i] = int_apply(fn, src[i]);
      };
    }
    if (x.dtype != DType::F32)
      ctx.fail("input 0 has dtype ", dtype_name(x.dtype), ", expected float32",
               int_fn_ != IntFn::None ? " or int64" : "");
    ctx.set_out(0, DType::F32, x.shape);
    const int64_t n = x.numel();
    const KernelTable* kt = &kt_;
    const ActParams p = p_;
    return [kt, p, n](const RunCtx& r) { kt->act(r.o<float>(0), r.i<float>(0), n, p); };
  }

 private:
  const KernelTable& kt_;
  ActParams p_;
  IntFn int_fn_;
};

std::unique_ptr<Op> make(CreateCtx& c, Act kind, float a = 0.f, IntFn int_fn = IntFn::None) {
  ActParams p;
  p.kind = kind;
  p.a = a;
  return std::make_unique<UnaryOp>(c.kernels(), p, int_fn);
}

std::unique_ptr<Op> create_gelu(CreateCtx& c) {
  const std::string approx = c.node().s("approximate", "none");
  if (approx == "none") return make(c, Act::Gelu);
  if (approx == "tanh") return make(c, Act::GeluTanh);
  c.fail("approximate must be 'none' or 'tanh', got '", approx, "'");
}

CNNRT_REGISTER_OP("Sqrt", [](CreateCtx& c) { return make(c, Act::Sqrt); });
CNNRT_REGISTER_OP("Exp", [](CreateCtx& c) { return make(c, Act::Exp); });
CNNRT_REGISTER_OP("Log", [](CreateCtx& c) { return make(c, Act::Log); });
CNNRT_REGISTER_OP("Abs", [](CreateCtx& c) { return make(c, Act::Abs, 0.f, IntFn::Abs); });
CNNRT_REGISTER_OP("Neg", [](CreateCtx& c) { return make(c, Act::Neg, 0.f, IntFn::Neg); });
CNNRT_REGISTER_OP("Sign", [](CreateCtx& c) { return make(c, Act::Sign, 0.f, IntFn::Sign); });
CNNRT_REGISTER_OP("Reciprocal", [](CreateCtx& c) { return make(c, Act::Reciprocal); });
CNNRT_REGISTER_OP("Floor", [](CreateCtx& c) { return make(c, Act::Floor); });
CNNRT_REGISTER_OP("Ceil", [](CreateCtx& c) { return make(c, Act::Ceil); });
CNNRT_REGISTER_OP("Round", [](CreateCtx& c) { return make(c, Act::Round); });
CNNRT_REGISTER_OP("Erf", [](CreateCtx& c) { return make(c, Act::Erf); });
CNNRT_REGISTER_OP("Gelu", create_gelu);
CNNRT_REGISTER_OP("Mish", [](CreateCtx& c) { return make(c, Act::Mish); });
CNNRT_REGISTER_OP("Softplus", [](CreateCtx& c) { return make(c, Act::Softplus); });
CNNRT_REGISTER_OP("Softsign", [](CreateCtx& c) { return make(c, Act::Softsign); });
CNNRT_REGISTER_OP("Celu", [](CreateCtx& c) { return make(c, Act::Celu, c.node().f("alpha", 1.f)); });
CNNRT_REGISTER_OP("ThresholdedRelu", [](CreateCtx& c) { return make(c, Act::ThresholdedRelu, c.node().f("alpha", 1.f)); });

}  // namespace
}  // namespace cnnrt
