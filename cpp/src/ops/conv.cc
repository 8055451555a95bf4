// Conv (1-D and 2-D, NCHW): groups, depthwise, dilations, strides, pads,
// auto_pad; fused epilogue from the compiler's passes: bias (input 2),
// residual (input 3, same shape as the output), activation (attributes
// cnnrt_act, cnnrt_act_a, cnnrt_act_b).
// Algorithms: depthwise -> direct dwconv kernel; 1x1/stride 1/no pad -> GEMM
// on the input rows; otherwise GEMM with an implicit im2col B operand.
//
// cnnrt_layout = 1 (set by the layout pass on 2-D convs with a constant
// weight): X is NHWC [N, H, W, C], Y is [N, OH, OW, OC], the residual is
// NHWC of Y's shape. Algorithms, chosen at load, with only the chosen one's
// weights packed: depthwise (group == C == OC) -> kt.dwconv_nhwc; 3x3
// stride 1 dilation 1 -> kt.conv_winograd (F(4x4, 3x3)) where the table has
// one and it pays (use_winograd), kt.conv_winograd6 (F(6x6, 3x3)) where that
// is faster still (winograd6_better), kt.conv_winograd2 (F(2x2, 3x3)) on
// small maps where F(4x4)'s weights cost too much (winograd2_better); 5x5
// likewise -> kt.conv_winograd5 (F(2x2, 5x5), winograd5_worth_it);
// everything else -> kt.conv_nhwc, per group for a
// grouped conv (x and y channel slices with pixel strides C and OC).
#include <cstring>

#include "ops/conv_common.h"

namespace cnnrt {

ActParams read_fused_act(const Node& n) {
  ActParams p;
  p.kind = static_cast<Act>(n.i("cnnrt_act", 0));
  if (static_cast<int>(p.kind) < 0 || static_cast<int>(p.kind) > kActLast)
    fail(ErrorKind::ModelLoad, n.where(), ": bad fused activation ", static_cast<int>(p.kind));
  p.a = n.f("cnnrt_act_a", 0.f);
  p.b = n.f("cnnrt_act_b", 0.f);
  return p;
}

namespace {

enum class NhwcAlgo { Gemm, Winograd, Winograd6, Winograd2, Winograd5, Depthwise };

// Winograd F(4x4, 3x3) where the kernels' measured rule says it beats the
// GEMM path (kernels.h, winograd_worth_it); OH/OW are 0 when the input shape
// is not known at load, and then the GEMM path runs.
bool use_winograd(const KernelTable& kt, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
  return winograd_worth_it(kt, C, OC, OH, OW);
}

class ConvOp : public Op {
 public:
  explicit ConvOp(CreateCtx& c) : kt_(c.kernels()) {
    const Node& n = c.node();
    const Tensor* w = c.constant(1);
    if (!n.has_input(1)) c.fail("weight input W is required");
    const ValueInfo& wi = c.info(1);
    Shape wshape = w ? w->shape : wi.shape;
    if (!w && !wi.has_shape) c.fail("the weight's shape must be known at load");
    if (wshape.size() != 3 && wshape.size() != 4) {
      if (wshape.size() > 4) c.unsupported(wshape.size() - 2, "-D convolution is not supported (1-D and 2-D are)");
      c.fail("weight has rank ", wshape.size(), ", expected 3 (1-D conv) or 4 (2-D conv)");
    }
    for (auto d : wshape)
      if (d <= 0) c.fail("weight shape ", shape_str(wshape), " has a non-positive dim");
    nd_ = static_cast<int>(wshape.size()) - 2;
    oc_ = wshape[0];
    cg_ = wshape[1];
    group_ = n.i("group", 1);
    if (group_ <= 0) c.fail("group must be positive, got ", group_);
    if (oc_ % group_ != 0) c.fail("output channels ", oc_, " are not divisible by group ", group_);
    std::vector<int64_t> ks(wshape.begin() + 2, wshape.end());
    std::vector<int64_t> kattr = n.ints("kernel_shape", ks);
    if (kattr != ks) c.fail("kernel_shape ", shape_str(kattr), " does not match the weight's ", shape_str(ks));
    win_ = read_window(n, nd_, ks);
    kh_ = nd_ == 2 ? ks[0] : 1;
    kw_ = ks[nd_ - 1];
    act_ = read_fused_act(n);
    depthwise_ = group_ > 1 && cg_ == 1 && oc_ == group_;
    const int64_t K = checked_mul(checked_mul(cg_, kh_), kw_);
    nhwc_ = n.i("cnnrt_layout", 0) == 1;
    residual_ = n.has_input(3);
    // cnnrt_concat = [channel offset, total channels] (passes/concat_in_place.py):
    // the output is the whole channel Concat, of which this op writes its
    // channels; input 4 holds the channels written before it.
    const std::vector<int64_t> cc = n.ints("cnnrt_concat", {});
    if (!cc.empty()) {
      if (!nhwc_) c.fail("cnnrt_concat needs cnnrt_layout=1 (NHWC)");
      if (cc.size() != 2 || cc[0] < 0 || cc[1] <= 0 || cc[0] > cc[1] || oc_ > cc[1] - cc[0])
        c.fail("cnnrt_concat must be [offset, total] with this op's ", oc_, " channels inside, got ", shape_str(cc));
      cat_off_ = cc[0];
      cat_total_ = cc[1];
    }
    if (nhwc_) {
      create_nhwc(c, w);
    } else if (w) {
      if (w->dtype != DType::F32) c.fail("weight must be float32, got ", dtype_name(w->dtype));
      if (depthwise_) {
        wdw_.assign(w->ptr<float>(), w->ptr<float>() + w->numel());
      } else {
        const int64_t ocg = oc_ / group_;
        const size_t per = kt_.gemm_packed_a_size(ocg, K);
        if (float* dst = packed_.prepare(c, "conv.nchw.gemm", per * group_))
          for (int64_t g = 0; g < group_; ++g)
            kt_.gemm_pack_a(ocg, K, w->ptr<float>() + g * ocg * K, K, false, dst + g * per);
      }
      has_w_ = true;
      c.take(1);
    }
    if (const Tensor* b = c.constant(2)) {
      if (b->dtype != DType::F32 || b->numel() != oc_) c.fail("bias must be float32 with ", oc_, " elements, got ", shape_str(b->shape));
      bias_.assign(b->ptr<float>(), b->ptr<float>() + b->numel());
      c.take(2);
    }
  }

  void create_nhwc(CreateCtx& c, const Tensor* w) {
    if (nd_ != 2) c.fail("cnnrt_layout=1 (NHWC) needs a 2-D convolution, the weight has rank ", nd_ + 2);
    if (!w) c.fail("cnnrt_layout=1 (NHWC) needs a constant weight");
    if (w->dtype != DType::F32) c.fail("weight must be float32, got ", dtype_name(w->dtype));
    const int64_t ocg = oc_ / group_;
    if (depthwise_) {
      algo_ = NhwcAlgo::Depthwise;
    } else if (group_ == 1 && ((kh_ == 3 && kw_ == 3) || (kh_ == 5 && kw_ == 5)) && win_.stride[0] == 1 &&
               win_.stride[1] == 1 && win_.dilation[0] == 1 && win_.dilation[1] == 1) {
      // Output size for the cut-over, where the input's shape is known at load.
      int64_t oh = 0, ow = 0;
      const ValueInfo& xi = c.info(0);
      if (xi.has_shape && xi.shape.size() == 4 && xi.shape[1] > 0 && xi.shape[2] > 0) {
        const bool same = win_.auto_pad == "SAME_UPPER" || win_.auto_pad == "SAME_LOWER";
        const bool valid = win_.auto_pad == "VALID";
        // Overflow-checked: the pads are not validated yet (planning does);
        // absurd ones leave no hint (0) rather than wrap.
        auto out = [&](int64_t in, int64_t pb, int64_t pe) -> int64_t {
          if (same) return in;
          int64_t r = in;
          if (!valid && (__builtin_add_overflow(r, pb, &r) || __builtin_add_overflow(r, pe, &r))) return 0;
          return __builtin_sub_overflow(r, kh_ - 1, &r) ? 0 : r;
        };
        oh = out(xi.shape[1], win_.pad_begin[0], win_.pad_end[0]);
        ow = out(xi.shape[2], win_.pad_begin[1], win_.pad_end[1]);
      }
      if (kh_ == 3 && use_winograd(kt_, cg_, oc_, oh, ow))
        algo_ = winograd6_better(kt_, cg_, oc_, oh, ow) ? NhwcAlgo::Winograd6 : NhwcAlgo::Winograd;
      else if (kh_ == 3 && winograd2_better(kt_, cg_, oc_, oh, ow))
        algo_ = NhwcAlgo::Winograd2;
      if (kh_ == 5 && winograd5_worth_it(kt_, cg_, oc_, oh, ow)) algo_ = NhwcAlgo::Winograd5;
    }
    const float* wp = w->ptr<float>();
    switch (algo_) {
      case NhwcAlgo::Depthwise:
        if (float* dst = packed_.prepare(c, "conv.nhwc.dw", kt_.dw_packed_size(oc_, kh_, kw_)))
          kt_.dw_pack(wp, oc_, kh_, kw_, dst);
        break;
      case NhwcAlgo::Winograd:
        if (float* dst = packed_.prepare(c, "conv.nhwc.winograd", kt_.winograd_packed_size(oc_, cg_)))
          kt_.winograd_pack(wp, oc_, cg_, dst);
        break;
      case NhwcAlgo::Winograd6:
        if (float* dst = packed_.prepare(c, "conv.nhwc.winograd6", kt_.winograd6_packed_size(oc_, cg_)))
          kt_.winograd6_pack(wp, oc_, cg_, dst);
        break;
      case NhwcAlgo::Winograd2:
        if (float* dst = packed_.prepare(c, "conv.nhwc.winograd2", kt_.winograd2_packed_size(oc_, cg_)))
          kt_.winograd2_pack(wp, oc_, cg_, dst);
        break;
      case NhwcAlgo::Winograd5:
        if (float* dst = packed_.prepare(c, "conv.nhwc.winograd5", kt_.winograd5_packed_size(oc_, cg_)))
          kt_.winograd5_pack(wp, oc_, cg_, dst);
        break;
      case NhwcAlgo::Gemm: {
        const size_t per = kt_.conv_packed_size(ocg, cg_, kh_, kw_);
        const int64_t wg = checked_mul(checked_mul(ocg, cg_), checked_mul(kh_, kw_));
        if (float* dst = packed_.prepare(c, "conv.nhwc.gemm", per * group_))
          for (int64_t g = 0; g < group_; ++g) kt_.conv_pack(wp + g * wg, ocg, cg_, kh_, kw_, dst + g * per);
        break;
      }
    }
    has_w_ = true;
    c.take(1);
  }

  void export_packed(std::vector<PackedOut>& out) const override { packed_.export_to(out); }
  // The NHWC GEMM path reads its panels from the first (conv_pack's order:
  // the first NC block first); a depthwise layer reads all of its few.
  std::pair<const void*, size_t> weights_read_first() const override {
    if (!nhwc_ || (algo_ != NhwcAlgo::Gemm && algo_ != NhwcAlgo::Depthwise) || packed_.empty()) return {nullptr, 0};
    return {packed_.data(), packed_.size() * sizeof(float)};
  }
  bool set_next_weights(const void* p, size_t bytes) override {
    if (!nhwc_ || algo_ != NhwcAlgo::Gemm || kt_.isa == Isa::Ref) return false;  // only SIMD conv_nhwc prefetches
    next_w_ = p;
    next_w_bytes_ = bytes;
    return p != nullptr;
  }

  Kernel plan_nhwc(PlanCtx& ctx) const {
    const TensorMeta& x = ctx.expect(0, DType::F32, 4, 4);
    const int64_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3];
    if (C != cg_ * group_)
      ctx.fail("input X (NHWC) has ", C, " channels (shape ", shape_str(x.shape), ") but the weight expects ", cg_,
               " x group ", group_, " = ", cg_ * group_);
    if (ctx.has(2)) {
      const TensorMeta& b = ctx.expect(2, DType::F32);
      if (b.numel() != oc_) ctx.fail("bias B has ", b.numel(), " elements, expected ", oc_);
    }
    std::vector<int64_t> pb, pe;
    std::vector<int64_t> out_sp = window_output(win_, {H, W}, pb, pe, ctx);
    const bool cat = cat_total_ > 0;
    const Shape oshape = {N, out_sp[0], out_sp[1], cat ? cat_total_ : oc_};
    if (cat && ctx.has(3)) ctx.fail("cnnrt_concat with a fused residual");
    if (ctx.has(4)) {
      if (!cat) ctx.fail("input 4 (into) needs cnnrt_concat");
      const TensorMeta& into = ctx.expect(4, DType::F32);
      if (into.shape != oshape)
        ctx.fail("input 4 (the channels written before) has shape ", shape_str(into.shape), ", expected ", shape_str(oshape));
    }
    if (ctx.has(3)) {
      const TensorMeta& r = ctx.expect(3, DType::F32);
      if (r.shape != oshape) ctx.fail("fused residual has shape ", shape_str(r.shape), ", expected the output's ", shape_str(oshape), " (NHWC)");
    }
    ctx.set_out(0, DType::F32, oshape);
    ConvNhwcArgs a;
    a.N = N;
    a.H = H;
    a.W = W;
    a.C = cg_;
    a.x_stride = C;
    fill_window_2d(a, win_, kh_, kw_, pb, out_sp);
    a.OC = oc_ / group_;
    a.y_stride = cat ? cat_total_ : oc_;
    a.ep.ldr = oc_;
    a.ep.act = act_;
    a.threads = ctx.threads();
    void (*fn)(const ConvNhwcArgs&) = algo_ == NhwcAlgo::Depthwise   ? kt_.dwconv_nhwc
                                      : algo_ == NhwcAlgo::Winograd  ? kt_.conv_winograd
                                      : algo_ == NhwcAlgo::Winograd6 ? kt_.conv_winograd6
                                      : algo_ == NhwcAlgo::Winograd2 ? kt_.conv_winograd2
                                      : algo_ == NhwcAlgo::Winograd5 ? kt_.conv_winograd5
                                                                     : kt_.conv_nhwc;
    const ConvOp* self = this;
    const bool has_bias = ctx.has(2), has_res = ctx.has(3);
    const int64_t G = algo_ == NhwcAlgo::Depthwise ? 1 : group_;
    if (algo_ == NhwcAlgo::Depthwise) a.C = a.OC = oc_;
    const bool has_into = ctx.has(4);
    const size_t out_bytes = static_cast<size_t>(checked_numel(oshape)) * sizeof(float);
    const int64_t y_off = cat ? cat_off_ : 0;
    return [a, fn, self, has_bias, has_res, G, has_into, out_bytes, y_off](const RunCtx& r) {
      const float* bias = self->bias_.empty() ? (has_bias ? r.i<float>(2) : nullptr) : self->bias_.data();
      const float* res = has_res ? r.i<float>(3) : nullptr;
      // The planner hands the into buffer on in place; a copy only when it could not.
      if (has_into && r.i<float>(4) != r.o<float>(0)) std::memcpy(r.o<float>(0), r.i<float>(4), out_bytes);
      const size_t per = self->packed_.size() / G;
      for (int64_t g = 0; g < G; ++g) {
        ConvNhwcArgs ga = a;
        ga.x = r.i<float>(0) + g * a.C;
        ga.y = r.o<float>(0) + y_off + g * a.OC;
        ga.w_packed = self->packed_.data() + g * per;
        ga.ep.bias_n = bias ? bias + g * a.OC : nullptr;
        ga.ep.residual = res ? res + g * a.OC : nullptr;
        if (g == G - 1) {  // the last group's tiles run right before the next layer
          ga.pf_next = self->next_w_;
          ga.pf_next_bytes = static_cast<int64_t>(self->next_w_bytes_);
        }
        fn(ga);
      }
    };
  }

  // Concat: the into buffer (input 4). NHWC with a fused residual on a SIMD
  // path: the residual's buffer, when this is its last use, as onnxruntime's
  // NCHWc Conv does with its Sum input. Those kernels (indirect GEMM, whose
  // K-blocked layers keep their partial sums in a buffer of their own;
  // Winograd's output transform; depthwise) read a pixel's residual in
  // registers right before they store that pixel, so the output
  // lines are in cache already (no write-allocate misses: ResNet-50's
  // expansion 1x1 layers ran 10-25% slower than onnxruntime's in the
  // network, at parity alone). Not on the ref path, nor for one input
  // channel (conv_nhwc's C = 1 path): they store the sums first and add the
  // residual after. The planner never aliases a buffer that another input
  // of the node also uses.
  int inplace_input() const override {
    if (cat_total_ > 0) return 4;
    const bool safe = kt_.isa != Isa::Ref && (algo_ != NhwcAlgo::Gemm || cg_ > 1);
    return nhwc_ && residual_ && safe ? 3 : -1;
  }

  std::string describe() const override {
    const std::string isa = std::string(isa_name(kt_.isa)) + "::";
    if (!nhwc_)
      return depthwise_ ? isa + "f32_dwconv" : isa + "f32_gemm_" + std::to_string(kt_.gemm_mr) + "x" +
                                                   std::to_string(kt_.gemm_nr) + " (NCHW, implicit im2col)";
    switch (algo_) {
      case NhwcAlgo::Depthwise: return isa + "f32_dwconv_nhwc";
      case NhwcAlgo::Winograd:
        return isa + "f32_winograd_f" + std::to_string(kt_.winograd_m) + "x" + std::to_string(kt_.winograd_m);
      case NhwcAlgo::Winograd6: return isa + "f32_winograd_f6x6";
      case NhwcAlgo::Winograd2: return isa + "f32_winograd_f2x2";
      case NhwcAlgo::Winograd5: return isa + "f32_winograd_f2x2_5x5";
      case NhwcAlgo::Gemm: break;
    }
    return isa + "f32_conv_nhwc" + (group_ > 1 ? " (per group)" : "");
  }

  Kernel plan(PlanCtx& ctx) const override {
    if (nhwc_) return plan_nhwc(ctx);
    const TensorMeta& x = ctx.expect(0, DType::F32, nd_ + 2, nd_ + 2);
    const TensorMeta& w = ctx.in(1);
    if (w.shape.size() != static_cast<size_t>(nd_ + 2) || w.shape[0] != oc_ || w.shape[1] != cg_)
      ctx.fail("weight shape ", shape_str(w.shape), " changed after load");
    const int64_t N = x.shape[0], C = x.shape[1];
    if (C != cg_ * group_)
      ctx.fail("input X has ", C, " channels (shape ", shape_str(x.shape), ") but the weight expects ", cg_, " x group ", group_, " = ", cg_ * group_);
    if (ctx.has(2)) {
      const TensorMeta& b = ctx.expect(2, DType::F32);
      if (b.numel() != oc_) ctx.fail("bias B has ", b.numel(), " elements, expected ", oc_);
    }
    std::vector<int64_t> in_sp(x.shape.begin() + 2, x.shape.end()), pb, pe;
    std::vector<int64_t> out_sp = window_output(win_, in_sp, pb, pe, ctx);
    Shape oshape = {N, oc_};
    oshape.insert(oshape.end(), out_sp.begin(), out_sp.end());
    if (ctx.has(3)) {
      const TensorMeta& r = ctx.expect(3, DType::F32);
      if (r.shape != oshape) ctx.fail("fused residual has shape ", shape_str(r.shape), ", expected the output's ", shape_str(oshape));
    }
    ctx.set_out(0, DType::F32, oshape);

    struct Geo {
      int64_t N, C, H, W, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, G, Cg, OCg, OC, K;
      bool pointwise;
    } g;
    g.N = N;
    g.C = C;
    g.H = nd_ == 2 ? in_sp[0] : 1;
    g.W = in_sp[nd_ - 1];
    g.OH = nd_ == 2 ? out_sp[0] : 1;
    g.OW = out_sp[nd_ - 1];
    g.KH = kh_;
    g.KW = kw_;
    g.SH = nd_ == 2 ? win_.stride[0] : 1;
    g.SW = win_.stride[nd_ - 1];
    g.DH = nd_ == 2 ? win_.dilation[0] : 1;
    g.DW = win_.dilation[nd_ - 1];
    g.PH = nd_ == 2 ? pb[0] : 0;
    g.PW = pb[nd_ - 1];
    g.G = group_;
    g.Cg = cg_;
    g.OC = oc_;
    g.OCg = oc_ / group_;
    g.K = cg_ * kh_ * kw_;
    g.pointwise = kh_ == 1 && kw_ == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0 && pe[0] == 0 &&
                  pe[nd_ - 1] == 0;
    const KernelTable* kt = &kt_;
    const ConvOp* self = this;
    const bool has_bias = ctx.has(2), has_res = ctx.has(3);
    const int threads = ctx.threads();
    return [kt, self, g, has_bias, has_res, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      const float* bias = self->bias_.empty() ? (has_bias ? r.i<float>(2) : nullptr) : self->bias_.data();
      const float* res = has_res ? r.i<float>(3) : nullptr;
      float* y = r.o<float>(0);
      const int64_t ohw = g.OH * g.OW, hw = g.H * g.W;
      if (self->depthwise_) {
        const float* w = self->has_w_ ? self->wdw_.data() : r.i<float>(1);
        for (int64_t n = 0; n < g.N; ++n) {
          DwConvArgs a;
          a.input = x + n * g.C * hw;
          a.weight = w;
          a.output = y + n * g.OC * ohw;
          a.C = g.C;
          a.H = g.H;
          a.W = g.W;
          a.KH = g.KH;
          a.KW = g.KW;
          a.SH = g.SH;
          a.SW = g.SW;
          a.DH = g.DH;
          a.DW = g.DW;
          a.PH = g.PH;
          a.PW = g.PW;
          a.OH = g.OH;
          a.OW = g.OW;
          a.ep.bias_m = bias;
          a.ep.residual = res ? res + n * g.OC * ohw : nullptr;
          a.ep.ldr = ohw;
          a.ep.act = self->act_;
          a.threads = threads;
          kt->dwconv(a);
        }
        return;
      }
      const size_t per = self->packed_.empty() ? 0 : self->packed_.size() / g.G;
      for (int64_t n = 0; n < g.N; ++n) {
        for (int64_t gi = 0; gi < g.G; ++gi) {
          const float* xin = x + (n * g.C + gi * g.Cg) * hw;
          ConvGeom cg;
          GemmArgs a;
          a.M = g.OCg;
          a.N = ohw;
          a.K = g.K;
          if (self->has_w_) {
            a.a_packed = self->packed_.data() + gi * per;
          } else {
            a.a = r.i<float>(1) + gi * g.OCg * g.K;
            a.lda = g.K;
          }
          if (g.pointwise) {
            a.b = xin;
            a.ldb = hw;
          } else {
            cg.input = xin;
            cg.C = g.Cg;
            cg.H = g.H;
            cg.W = g.W;
            cg.KH = g.KH;
            cg.KW = g.KW;
            cg.SH = g.SH;
            cg.SW = g.SW;
            cg.DH = g.DH;
            cg.DW = g.DW;
            cg.PH = g.PH;
            cg.PW = g.PW;
            cg.OH = g.OH;
            cg.OW = g.OW;
            a.conv = &cg;
          }
          const int64_t obase = (n * g.OC + gi * g.OCg) * ohw;
          a.c = y + obase;
          a.ldc = ohw;
          a.ep.bias_m = bias ? bias + gi * g.OCg : nullptr;
          a.ep.residual = res ? res + obase : nullptr;
          a.ep.ldr = ohw;
          a.ep.act = self->act_;
          a.threads = threads;
          kt->gemm(a);
        }
      }
    };
  }

 private:
  const KernelTable& kt_;
  int nd_ = 2;
  int64_t oc_ = 0, cg_ = 0, group_ = 1, kh_ = 1, kw_ = 1;
  int64_t cat_off_ = 0, cat_total_ = 0;  // cnnrt_concat (0 total: a plain output)
  Window win_;
  ActParams act_;
  bool depthwise_ = false, has_w_ = false, nhwc_ = false, residual_ = false;
  const void* next_w_ = nullptr;  // set_next_weights
  size_t next_w_bytes_ = 0;
  NhwcAlgo algo_ = NhwcAlgo::Gemm;
  PackedBuf packed_;
  std::vector<float> wdw_, bias_;
};

std::unique_ptr<Op> create_conv(CreateCtx& c) {
  if (c.node().i("cnnrt_pw", 0) != 0) return create_pwdw(c);  // conv_pwdw.cc
  return std::make_unique<ConvOp>(c);
}
CNNRT_REGISTER_OP("Conv", create_conv);

}  // namespace
}  // namespace cnnrt
