// ConvTranspose (opsets 1 and 11; NCHW, 1-D and 2-D): groups, dilations,
// strides, pads, output_padding, output_shape, auto_pad, bias (input 2).
//
// Algorithm (per image and group): one GEMM col[OCg*KH*KW, H*W] =
// W_g^T[OCg*KH*KW, Cg] * X_g[Cg, H*W] with the table's GEMM (W_g packed once
// at load when it is a constant), then a col2im scatter-add of col into Y,
// which starts as the bias, one band of input rows at a time (col stays in
// L2). Every input pixel's contribution is computed once
// (no zero-inserted input, no zero taps); the scatter is a contiguous add for
// stride 1 and a strided one otherwise. A 1x1 kernel with stride 1 and no
// padding is the GEMM alone, written straight into Y with the bias as its
// epilogue. col lives in the step's workspace.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/conv_common.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

class ConvTransposeOp : public Op {
 public:
  explicit ConvTransposeOp(CreateCtx& c) : kt_(c.kernels()) {
    const Node& n = c.node();
    if (!n.has_input(1)) c.fail("weight input W is required");
    const Tensor* w = c.constant(1);
    const ValueInfo& wi = c.info(1);
    const Shape wshape = w ? w->shape : wi.shape;
    if (!w && !wi.has_shape) c.fail("the weight's shape must be known at load");
    if (wshape.size() != 3 && wshape.size() != 4) {
      if (wshape.size() > 4) c.unsupported(wshape.size() - 2, "-D ConvTranspose is not supported (1-D and 2-D are)");
      c.fail("weight has rank ", wshape.size(), ", expected 3 (1-D) or 4 (2-D)");
    }
    for (auto d : wshape)
      if (d <= 0) c.fail("weight shape ", shape_str(wshape), " has a non-positive dim");
    nd_ = static_cast<int>(wshape.size()) - 2;
    c_ = wshape[0];
    group_ = n.i("group", 1);
    if (group_ <= 0) c.fail("group must be positive, got ", group_);
    if (c_ % group_ != 0) c.fail("the weight's input channels ", c_, " are not divisible by group ", group_);
    ocg_ = wshape[1];
    oc_ = checked_mul(ocg_, group_);
    const std::vector<int64_t> ks(wshape.begin() + 2, wshape.end());
    const std::vector<int64_t> kattr = n.ints("kernel_shape", ks);
    if (kattr != ks) c.fail("kernel_shape ", ints_str(kattr), " does not match the weight's ", ints_str(ks));
    auto list = [&](const char* name, int64_t def, size_t len) {
      std::vector<int64_t> v = n.ints(name, std::vector<int64_t>(len, def));
      if (v.size() != len) c.fail(name, " has ", v.size(), " values, expected ", len);
      return v;
    };
    // 1-D is run as 2-D with a height of 1.
    auto lift = [&](std::vector<int64_t> v, int64_t one) {
      if (nd_ == 1) v.insert(v.begin(), one);
      return v;
    };
    k_ = lift(ks, 1);
    s_ = lift(list("strides", 1, nd_), 1);
    d_ = lift(list("dilations", 1, nd_), 1);
    op_ = lift(list("output_padding", 0, nd_), 0);
    std::vector<int64_t> pads = list("pads", 0, 2 * nd_);
    pb_ = lift(std::vector<int64_t>(pads.begin(), pads.begin() + nd_), 0);
    pe_ = lift(std::vector<int64_t>(pads.begin() + nd_, pads.end()), 0);
    check_window_attr(n.where(), "strides", s_);
    check_window_attr(n.where(), "dilations", d_);
    check_window_attr(n.where(), "output_padding", op_);
    check_window_attr(n.where(), "pads", pads);
    for (int k = 0; k < 2; ++k) {
      if (s_[k] <= 0) c.fail("strides must be positive, got ", ints_str(n.ints("strides")));
      if (d_[k] <= 0) c.fail("dilations must be positive, got ", ints_str(n.ints("dilations")));
      if (pb_[k] < 0 || pe_[k] < 0) c.fail("pads must be >= 0, got ", ints_str(pads));
      if (op_[k] < 0 || (op_[k] >= s_[k] && op_[k] >= d_[k]))
        c.fail("output_padding ", ints_str(n.ints("output_padding")), " must be >= 0 and smaller than the stride or the dilation (strides ",
               ints_str(n.ints("strides", std::vector<int64_t>(nd_, 1))), ")");
    }
    auto_pad_ = n.s("auto_pad", "NOTSET");
    if (auto_pad_ != "NOTSET" && auto_pad_ != "SAME_UPPER" && auto_pad_ != "SAME_LOWER" && auto_pad_ != "VALID")
      c.fail("auto_pad '", auto_pad_, "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
    if (n.has("output_shape")) {
      out_shape_ = n.ints("output_shape");
      if (out_shape_.size() != static_cast<size_t>(nd_)) c.fail("output_shape has ", n.ints("output_shape").size(), " values, expected ", nd_);
      for (auto v : out_shape_)
        if (v <= 0) c.fail("output_shape ", ints_str(out_shape_), " must be positive");
      check_window_attr(n.where(), "output_shape", out_shape_);
      out_shape_ = lift(out_shape_, 1);
    }
    K_ = checked_mul(k_[0], k_[1]);
    M_ = checked_mul(ocg_, K_);
    cg_ = c_ / group_;
    if (w) {
      if (w->dtype != DType::F32) c.fail("weight must be float32, got ", dtype_name(w->dtype));
      const size_t per = kt_.gemm_packed_a_size(M_, cg_);
      packed_.resize(per * group_);
      for (int64_t g = 0; g < group_; ++g)  // A_g = W_g^T: W_g is [Cg, OCg*KH*KW] row-major
        kt_.gemm_pack_a(M_, cg_, w->ptr<float>() + g * cg_ * M_, M_, true, packed_.data() + g * per);
      c.take(1);
    }
    if (const Tensor* b = c.constant(2)) {
      if (b->dtype != DType::F32 || b->numel() != oc_) c.fail("bias B must be float32 with ", oc_, " elements, got ", shape_str(b->shape));
      bias_.assign(b->ptr<float>(), b->ptr<float>() + b->numel());
      c.take(2);
    }
  }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, nd_ + 2, nd_ + 2);
    if (ctx.in(1).shape.size() != static_cast<size_t>(nd_ + 2) || ctx.in(1).shape[0] != c_ || ctx.in(1).shape[1] != ocg_)
      ctx.fail("weight shape ", shape_str(ctx.in(1).shape), " changed after load");
    if (packed_.empty()) ctx.expect(1, DType::F32);
    const int64_t N = x.shape[0], C = x.shape[1];
    if (C != c_) ctx.fail("input X has ", C, " channels (shape ", shape_str(x.shape), ") but the weight expects ", c_);
    if (ctx.has(2)) {
      const TensorMeta& b = ctx.expect(2, DType::F32);
      if (b.numel() != oc_) ctx.fail("bias B has ", b.numel(), " elements, expected ", oc_);
    }
    const int64_t in[2] = {nd_ == 2 ? x.shape[2] : 1, x.shape[nd_ + 1]};
    int64_t out[2], pb[2];
    for (int k = 0; k < 2; ++k) {
      const int64_t ext = checked_add(checked_mul(k_[k] - 1, d_[k]), 1);
      const int64_t full = checked_add(checked_add(checked_mul(s_[k], in[k] - 1), op_[k]), ext);  // before padding
      const bool same = auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER";
      if (!out_shape_.empty() || same) {
        out[k] = !out_shape_.empty() ? out_shape_[k] : checked_mul(in[k], s_[k]);
        const int64_t total = full - out[k];
        // ONNX: SAME_UPPER puts the odd pad at the end, NOTSET/SAME_LOWER at the start.
        pb[k] = auto_pad_ == "SAME_UPPER" ? total / 2 - (total < 0 && total % 2 ? 1 : 0) : total - total / 2 + (total < 0 && total % 2 ? 1 : 0);
        if (k == 0 && nd_ == 1) pb[k] = 0, out[k] = 1;
      } else if (auto_pad_ == "VALID") {
        out[k] = full;
        pb[k] = 0;
      } else {
        out[k] = full - pb_[k] - pe_[k];
        pb[k] = pb_[k];
      }
      if (out[k] <= 0)
        ctx.fail("the output's spatial dim ", k - (2 - nd_), " would be ", out[k], " (input ", shape_str(x.shape), ", pads larger than the output)");
    }
    Shape oshape = {N, oc_};
    if (nd_ == 2) oshape.push_back(out[0]);
    oshape.push_back(out[1]);
    ctx.set_out(0, DType::F32, oshape);
    const int64_t HW = in[0] * in[1], OHW = out[0] * out[1];
    const bool direct = K_ == 1 && s_[0] == 1 && s_[1] == 1 && pb[0] == 0 && pb[1] == 0 && out[0] == in[0] && out[1] == in[1];
    // col is computed a band of input rows at a time, ~512 KiB of it, so that
    // the GEMM's output is still in L2 when the scatter reads it: a 64->32
    // 4x4/2 layer on 128x128 (col 32 MiB whole) ran 122 ms whole, 51 ms banded.
    const int64_t band = std::max<int64_t>(1, std::min<int64_t>(in[0], (int64_t(1) << 17) / std::max<int64_t>(1, checked_mul(M_, in[1]))));
    if (!direct && HW > 0 && M_ > 0) ctx.set_workspace(static_cast<size_t>(checked_mul(checked_mul(M_, band * in[1]), 4)));
    struct Geo {
      int64_t N, H, W, OH, OW, PH, PW, HW, OHW, band;
      bool direct;
    } g{N, in[0], in[1], out[0], out[1], pb[0], pb[1], HW, OHW, band, direct};
    const ConvTransposeOp* self = this;
    const KernelTable* kt = &kt_;
    const bool has_bias = ctx.has(2);
    const int threads = ctx.threads();
    const int t_scatter = ctx.threads_for(checked_mul(checked_mul(M_, HW), group_));
    return [self, kt, g, has_bias, threads, t_scatter](const RunCtx& r) {
      const float* x = r.i<float>(0);
      float* y = r.o<float>(0);
      const float* bias = !self->bias_.empty() ? self->bias_.data() : has_bias ? r.i<float>(2) : nullptr;
      float* col = static_cast<float*>(r.ws);
      const int64_t G = self->group_, Cg = self->cg_, OCg = self->ocg_, M = self->M_;
      const size_t per = self->packed_.empty() ? 0 : self->packed_.size() / G;
      for (int64_t n = 0; n < g.N; ++n) {
        for (int64_t gi = 0; gi < G; ++gi) {
          float* yg = y + (n * self->oc_ + gi * OCg) * g.OHW;
          const float* bg = bias ? bias + gi * OCg : nullptr;
          GemmArgs a;
          a.M = M;
          a.N = g.HW;
          a.K = Cg;
          if (!self->packed_.empty()) {
            a.a_packed = self->packed_.data() + gi * per;
          } else {
            a.a = r.i<float>(1) + gi * Cg * M;
            a.lda = M;
            a.trans_a = true;
          }
          a.b = x + (n * self->c_ + gi * Cg) * g.HW;
          a.ldb = g.HW;
          a.threads = threads;
          if (g.direct) {
            a.c = yg;
            a.ldc = g.HW;
            a.ep.bias_m = bg;
            kt->gemm(a);
            continue;
          }
          self->fill_bias(yg, bg, g.OHW, t_scatter);
          for (int64_t h0 = 0; h0 < g.H; h0 += g.band) {
            const int64_t h1 = std::min(g.H, h0 + g.band);
            GemmArgs b = a;
            b.N = (h1 - h0) * g.W;
            b.b = a.b + h0 * g.W;
            b.c = col;
            b.ldc = b.N;
            if (b.N > 0) kt->gemm(b);
            self->col2im(col, yg, h0, h1, g.W, g.OH, g.OW, g.PH, g.PW, t_scatter);
          }
        }
      }
    };
  }

  void fill_bias(float* y, const float* bias, int64_t OHW, int threads) const {
    parallel_for(ocg_, threads, [&](int64_t oc) { std::fill_n(y + oc * OHW, OHW, bias ? bias[oc] : 0.f); });
  }

  // y[oc] += scatter of col rows (oc, kh, kw) over input rows [h0, h1) x W.
  void col2im(const float* col, float* y, int64_t h0, int64_t h1, int64_t W, int64_t OH, int64_t OW, int64_t PH, int64_t PW,
              int threads) const {
    const int64_t KH = k_[0], KW = k_[1], SH = s_[0], SW = s_[1], DH = d_[0], DW = d_[1];
    const int64_t BW = (h1 - h0) * W, OHW = OH * OW;
    if (BW == 0) return;
    parallel_for(ocg_, threads, [&](int64_t oc) {
      float* yp = y + oc * OHW;
      for (int64_t kh = 0; kh < KH; ++kh) {
        for (int64_t kw = 0; kw < KW; ++kw) {
          const float* cp = col + ((oc * KH + kh) * KW + kw) * BW;
          // ow = iw * SW - PW + kw * DW in [0, OW): iw in [lo, hi).
          const int64_t off = kw * DW - PW;
          const int64_t lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
          const int64_t hi = std::min(W, OW - 1 - off < 0 ? 0 : (OW - 1 - off) / SW + 1);
          if (lo >= hi) continue;
          for (int64_t ih = h0; ih < h1; ++ih) {
            const int64_t oh = ih * SH - PH + kh * DH;
            if (oh < 0 || oh >= OH) continue;
            const float* c = cp + (ih - h0) * W;
            float* yr = yp + oh * OW + off;
            if (SW == 1) {
              for (int64_t iw = lo; iw < hi; ++iw) yr[iw] += c[iw];
            } else {
              for (int64_t iw = lo; iw < hi; ++iw) yr[iw * SW] += c[iw];
            }
          }
        }
      }
    });
  }

 private:
  const KernelTable& kt_;
  int nd_ = 2;
  int64_t c_ = 0, cg_ = 0, ocg_ = 0, oc_ = 0, group_ = 1, K_ = 1, M_ = 0;
  std::vector<int64_t> k_, s_, d_, op_, pb_, pe_, out_shape_;
  std::string auto_pad_;
  std::vector<float> packed_, bias_;
};

std::unique_ptr<Op> create_conv_transpose(CreateCtx& c) { return std::make_unique<ConvTransposeOp>(c); }
CNNRT_REGISTER_OP("ConvTranspose", create_conv_transpose);

}  // namespace
}  // namespace cnnrt
