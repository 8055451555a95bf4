// Comparisons (Equal, Greater, Less, GreaterOrEqual, LessOrEqual) and logic
// (And, Or, Xor, Not), numpy broadcasting (ops/bcast.h), output bool.
// Comparisons take float32 or int64 (Equal also bool), both inputs of one
// dtype; logic ops take bool. Small tensors whose inputs are known when the
// plan is built (shape arithmetic) are evaluated then by the session.
#include <cstring>

#include "ops/bcast.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

enum class Cmp { Eq, Gt, Lt, Ge, Le, And, Or, Xor };

template <class T>
Kernel cmp_kernel(Cmp op, const NBcast<2>& bc) {
  return [op, bc](const RunCtx& rc) {
    const T* a = rc.i<T>(0);
    const T* b = rc.i<T>(1);
    uint8_t* y = rc.o<uint8_t>(0);
    switch (op) {
      case Cmp::Eq: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return x == z; }); break;
      case Cmp::Gt: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return x > z; }); break;
      case Cmp::Lt: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return x < z; }); break;
      case Cmp::Ge: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return x >= z; }); break;
      case Cmp::Le: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return x <= z; }); break;
      case Cmp::And: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return (x != 0) & (z != 0); }); break;
      case Cmp::Or: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return (x != 0) | (z != 0); }); break;
      case Cmp::Xor: binary_apply(bc, a, b, y, rc.threads, [](T x, T z) -> uint8_t { return (x != 0) ^ (z != 0); }); break;
    }
  };
}

class CompareOp : public Op {
 public:
  explicit CompareOp(Cmp op) : op_(op) {}
  Kernel plan(PlanCtx& ctx) const override {
    if (ctx.num_inputs() != 2 || !ctx.has(0) || !ctx.has(1)) ctx.fail("needs two inputs");
    const TensorMeta& a = ctx.in(0);
    const TensorMeta& b = ctx.in(1);
    if (a.dtype != b.dtype) ctx.fail("input dtypes differ: ", dtype_name(a.dtype), " and ", dtype_name(b.dtype));
    const bool logic = op_ == Cmp::And || op_ == Cmp::Or || op_ == Cmp::Xor;
    if (logic && a.dtype != DType::BOOL) ctx.fail("inputs have dtype ", dtype_name(a.dtype), ", expected bool");
    if (!logic && a.dtype == DType::BOOL && op_ != Cmp::Eq) ctx.fail("inputs have dtype bool, expected float32 or int64");
    const Shape out = broadcast_shapes(a.shape, b.shape, ctx);
    ctx.set_out(0, DType::BOOL, out);
    const NBcast<2> bc = make_nbcast<2>(out, {a.shape, b.shape});
    switch (a.dtype) {
      case DType::F32: return cmp_kernel<float>(op_, bc);
      case DType::I64: return cmp_kernel<int64_t>(op_, bc);
      default: return cmp_kernel<uint8_t>(op_, bc);
    }
  }

 private:
  Cmp op_;
};

class NotOp : public Op {
 public:
  int inplace_input() const override { return 0; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::BOOL);
    ctx.set_out(0, DType::BOOL, x.shape);
    const int64_t n = x.numel();
    return [n](const RunCtx& rc) {
      const uint8_t* a = rc.i<uint8_t>(0);
      uint8_t* y = rc.o<uint8_t>(0);
      for (int64_t j = 0; j < n; ++j) y[j] = a[j] == 0;
    };
  }
};

std::unique_ptr<Op> create_equal(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::Eq); }
std::unique_ptr<Op> create_greater(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::Gt); }
std::unique_ptr<Op> create_less(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::Lt); }
std::unique_ptr<Op> create_ge(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::Ge); }
std::unique_ptr<Op> create_le(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::Le); }
std::unique_ptr<Op> create_and(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::And); }
std::unique_ptr<Op> create_or(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::Or); }
std::unique_ptr<Op> create_xor(CreateCtx&) { return std::make_unique<CompareOp>(Cmp::Xor); }
std::unique_ptr<Op> create_not(CreateCtx&) { return std::make_unique<NotOp>(); }

CNNRT_REGISTER_OP("Equal", create_equal);
CNNRT_REGISTER_OP("Greater", create_greater);
CNNRT_REGISTER_OP("Less", create_less);
CNNRT_REGISTER_OP("GreaterOrEqual", create_ge);
CNNRT_REGISTER_OP("LessOrEqual", create_le);
CNNRT_REGISTER_OP("And", create_and);
CNNRT_REGISTER_OP("Or", create_or);
CNNRT_REGISTER_OP("Xor", create_xor);
CNNRT_REGISTER_OP("Not", create_not);

}  // namespace
}  // namespace cnnrt
