// Identity, and Dropout in inference: output 0 is input 0 (a view, so it costs
// nothing unless it is a graph output); Dropout's optional mask is all true.
#include <cstring>

#include "ops/op.h"

namespace cnnrt {
namespace {

class IdentityOp : public Op {
 public:
  explicit IdentityOp(bool dropout) : dropout_(dropout) {}
  bool is_view() const override { return true; }
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (dropout_) {
      if (ctx.has(2)) {
        const Tensor* t = ctx.in(2).value;
        if (!t) ctx.fail("training_mode must be a constant");
        if (t->numel() != 1 || t->dtype != DType::BOOL) ctx.fail("training_mode must be a bool scalar");
        if (*t->ptr<uint8_t>()) {
          ::cnnrt::fail(ErrorKind::Unsupported, ctx.node().where(), ": training_mode=true (random dropout) is not supported for inference");
        }
      }
    }
    ctx.set_out(0, x.dtype, x.shape);
    const size_t bytes = static_cast<size_t>(x.numel()) * dtype_size(x.dtype);
    const bool mask = ctx.out_wanted(1);
    const int64_t n = x.numel();
    if (mask) ctx.set_out(1, DType::BOOL, x.shape);
    return [bytes, mask, n](const RunCtx& r) {
      if (r.out[0] && r.out[0] != r.in[0] && bytes) std::memcpy(r.out[0], r.in[0], bytes);
      if (mask) std::memset(r.out[1], 1, static_cast<size_t>(n));
    };
  }

 private:
  bool dropout_;
};

std::unique_ptr<Op> create_identity(CreateCtx&) { return std::make_unique<IdentityOp>(false); }
std::unique_ptr<Op> create_dropout(CreateCtx&) { return std::make_unique<IdentityOp>(true); }

CNNRT_REGISTER_OP("Identity", create_identity);
CNNRT_REGISTER_OP("Dropout", create_dropout);

}  // namespace
}  // namespace cnnrt
