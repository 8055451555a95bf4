// DepthToSpace (modes DCR, the default, and CRD) and SpaceToDepth (DCR; CRD
// from opset 28) on rank-4
// NCHW tensors of any dtype: each is a reshape to 6-D, a permutation and a
// reshape back, so the move is Transpose's tiled kernel on the 6-D view.
//   DCR: [N, b, b, C/b^2, H, W] -> perm [0, 3, 4, 1, 5, 2] -> [N, C/b^2, H*b, W*b]
//   CRD: [N, C/b^2, b, b, H, W] -> perm [0, 1, 4, 2, 5, 3] -> [N, C/b^2, H*b, W*b]
//   SpaceToDepth DCR: [N, C, H/b, b, W/b, b] -> perm [0, 3, 5, 1, 2, 4] -> [N, C*b^2, H/b, W/b]
//   SpaceToDepth CRD (opset 28): perm [0, 1, 3, 5, 2, 4]
#include "ops/op.h"

namespace cnnrt {
namespace {

class DepthSpaceOp : public Op {
 public:
  DepthSpaceOp(bool to_space, bool crd, int64_t b) : to_space_(to_space), crd_(crd), b_(b) {}
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (x.shape.size() != 4) ctx.fail("input 0 has shape ", shape_str(x.shape), "; expected rank 4 (N, C, H, W)");
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], b = b_;
    const int64_t bb = checked_mul(b, b);
    Shape view, out;
    std::vector<int64_t> perm;
    if (to_space_) {
      if (c % bb != 0)
        ctx.fail("input channels ", c, " (shape ", shape_str(x.shape), ") are not divisible by blocksize^2 = ", bb);
      const int64_t co = c / bb;
      if (crd_) {
        view = {n, co, b, b, h, w};
        perm = {0, 1, 4, 2, 5, 3};
      } else {
        view = {n, b, b, co, h, w};
        perm = {0, 3, 4, 1, 5, 2};
      }
      out = {n, co, checked_mul(h, b), checked_mul(w, b)};
    } else {
      if (h % b != 0 || w % b != 0)
        ctx.fail("input height and width (shape ", shape_str(x.shape), ") are not divisible by blocksize ", b);
      view = {n, c, h / b, b, w / b, b};
      if (crd_)
        perm = {0, 1, 3, 5, 2, 4};
      else
        perm = {0, 3, 5, 1, 2, 4};
      out = {n, checked_mul(c, bb), h / b, w / b};
    }
    ctx.set_out(0, x.dtype, out);
    return transpose_kernel(view, x.dtype, perm, ctx);
  }

 private:
  bool to_space_, crd_;
  int64_t b_;
};

std::unique_ptr<Op> create(CreateCtx& c, bool to_space) {
  const Node& n = c.node();
  if (!n.has("blocksize")) c.fail("needs the 'blocksize' attribute");
  const int64_t b = n.i("blocksize", 0);
  if (b < 1) c.fail("blocksize must be >= 1, got ", b);
  const std::string mode = n.s("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") c.fail("mode must be 'DCR' or 'CRD', got '", mode, "'");
  const bool crd = mode == "CRD";
  return std::make_unique<DepthSpaceOp>(to_space, crd, b);
}
std::unique_ptr<Op> create_d2s(CreateCtx& c) { return create(c, true); }
std::unique_ptr<Op> create_s2d(CreateCtx& c) { return create(c, false); }

CNNRT_REGISTER_OP("DepthToSpace", create_d2s);
CNNRT_REGISTER_OP("SpaceToDepth", create_s2d);

}  // namespace
}  // namespace cnnrt
