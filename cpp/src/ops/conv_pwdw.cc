// Conv with cnnrt_pw = 1 (passes/fuse_pw_dw.py): a 1x1 convolution feeding a
// depthwise one, NHWC, run in bands of output rows so that the wide tensor
// between them (MobileNetV2's expansion, 6x the block's channels) stays in
// L2 instead of going out to L3 or DRAM and back.
//
//   e = act_pw(Conv1x1(X, Wp) + Bp)      inputs 5 (Wp [CE, C, 1, 1]), 6 (Bp)
//   Y = act(DepthwiseConv(e, Wd) + Bd)   inputs 1 (Wd [CE, 1, KH, KW]), 2 (Bd)
//
// Attributes: the depthwise conv's own (kernel_shape, strides, pads,
// dilations, auto_pad, group = CE, cnnrt_layout = 1, cnnrt_act*), the 1x1's
// activation as cnnrt_pw_act, cnnrt_pw_act_a, cnnrt_pw_act_b, and
// cnnrt_pw_band: output rows per band (0: chosen here from L2; -1: no bands,
// the whole e in the workspace, as the two convolutions unfused), and
// cnnrt_pw_split: how threads share one image (0: chosen here, 1: ranges of
// output rows, 2: groups of channels).
//
// Per task (a contiguous range of one image's output rows) and band of B
// output rows [oh0, oh1): the 1x1 kernel (kt.conv_nhwc, direct path) writes
// the e rows the band's windows need that the previous band did not, after
// the rows both need (moved to the front of the task's buffer); the
// depthwise kernel (kt.dwconv_nhwc) reads the buffer as an image of those
// rows whose top padding is what the band's first window hangs over. Only a
// task's first band recomputes rows (its halo: KH - SH rows at stride SH),
// so both kernels run the same arithmetic, in the same order per element,
// as unfused: the result is bit-identical to the two layers apart.
//
// On small maps at 2+ threads the tasks split the channels instead (where
// the table's packed weights can be sliced, kt.nhwc_slice_c): each task runs
// the 1x1 for its channels of e and the depthwise on them, over all rows,
// with no halo to recompute and e's slice in its own core's L2. Row ranges
// on MobileNetV2's 14x14 layers at 2 threads recomputed 2 of 14 e rows (1 in
// 7 per task; 4 for EfficientNet-B0's 5x5 layers), and unbanded 7x7 layers
// split the 1x1 and the depthwise differently (e crossing cores) with the
// depthwise's 7 rows split 4 + 3. The rule and its measurements: in plan().
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "cpu/cpuinfo.h"
#include "ops/conv_common.h"

namespace cnnrt {

ActParams read_fused_act(const Node& n);

namespace {

ActParams read_pw_act(const Node& n) {
  ActParams p;
  p.kind = static_cast<Act>(n.i("cnnrt_pw_act", 0));
  if (static_cast<int>(p.kind) < 0 || static_cast<int>(p.kind) > kActLast)
    fail(ErrorKind::ModelLoad, n.where(), ": bad fused activation ", static_cast<int>(p.kind), " (cnnrt_pw_act)");
  p.a = n.f("cnnrt_pw_act_a", 0.f);
  p.b = n.f("cnnrt_pw_act_b", 0.f);
  return p;
}

// Band rows when cnnrt_pw_band is 0: the largest B whose e rows fit a
// quarter of L2 (the 1x1's weights, the band's input rows and output rows
// share the rest), at least 1. Unbanded (the two kernels whole, e in the
// workspace): an e of at most 1/kWholeL2Share of L2, which stays in cache
// anyway; and at one thread, an e of at most kOneThreadBandL2 x L2.
// Measured on Zen 3 (512 KiB L2, 32 MiB L3), MobileNetV2 interleaved with
// onnxruntime, three paired rounds of 300 runs: at 2 threads the bands ran
// 5-6% faster by the median (ratio to onnxruntime 0.857 / 0.877 / 0.847
// against 0.910 / 0.930 / 0.913 for the layers apart): each thread takes
// its own rows from the 1x1 to the depthwise output, where apart the 1x1's
// task grid and the depthwise one's split the map differently and e
// crossed between the cores' L2s. At 1 thread, bands on every e over L2/2
// ran 2-3% slower (0.969 / 0.911 / 0.984 against 0.951 / 0.886 / 0.950):
// the 32 MiB L3 holds even the 4.8 MB e, so bands only add calls and the
// halo's moves. Bands on the one e beyond 4 x L2 only (MobileNetV2's and
// EfficientNet-B0's 112x112x96, 4.8 MB) against none, paired (per round of
// 5 runs the two sessions' median ratio, then the median over rounds;
// 200-300 runs, interleaved with onnxruntime), six runs: 0.983 / 0.994 /
// 1.006 / 0.990 (MobileNetV2), 0.970 / 0.983 (EfficientNet-B0). That
// block alone, 40 rounds: median 1.00 vs 1.07 and 1.05 vs 1.14 ms, minima
// level (0.70). The medians are what move: rows kept in L2 do not wait on
// an L3 that the host's other tenants share.
// And unbanded where even one output row's window rows outgrow the quarter
// of L2: EfficientNet-B0's 5x5 layers (14x14x672, 28x28x240) took bands of
// one row, each rereading all the 1x1's weights (300 KB at 672) for 14 or
// 28 pixels, and the model ran 3-4% slower at 2 threads than apart.
constexpr int64_t kWholeL2Share = 2;     // e <= L2 / 2: unbanded
constexpr int64_t kOneThreadBandL2 = 4;  // one thread: e <= 4 x L2 unbanded

class PwDwOp : public Op {
 public:
  explicit PwDwOp(CreateCtx& c) : kt_(c.kernels()) {
    const Node& n = c.node();
    if (n.i("cnnrt_layout", 0) != 1) c.fail("cnnrt_pw needs cnnrt_layout=1 (NHWC)");
    if (!n.has_input(1) || !n.has_input(5)) c.fail("cnnrt_pw needs the depthwise weight (input 1) and the 1x1 weight (input 5)");
    if (n.has_input(3) || n.has_input(4) || !n.ints("cnnrt_concat", {}).empty())
      c.fail("cnnrt_pw takes no residual (input 3), into (input 4) or cnnrt_concat");
    const Tensor* wd = c.constant(1);
    const Tensor* wp = c.constant(5);
    if (!wd || !wp) c.fail("cnnrt_pw needs constant weights (inputs 1 and 5)");
    if (wd->dtype != DType::F32 || wp->dtype != DType::F32) c.fail("cnnrt_pw weights must be float32");
    if (wd->shape.size() != 4 || wp->shape.size() != 4)
      c.fail("cnnrt_pw weights must have rank 4, got ", shape_str(wd->shape), " and ", shape_str(wp->shape));
    for (auto d : wd->shape)
      if (d <= 0) c.fail("depthwise weight shape ", shape_str(wd->shape), " has a non-positive dim");
    for (auto d : wp->shape)
      if (d <= 0) c.fail("1x1 weight shape ", shape_str(wp->shape), " has a non-positive dim");
    ce_ = wd->shape[0];
    kh_ = wd->shape[2];
    kw_ = wd->shape[3];
    if (wd->shape[1] != 1 || n.i("group", 1) != ce_)
      c.fail("cnnrt_pw: the second convolution must be depthwise (weight [C, 1, kh, kw], group C), got weight ",
             shape_str(wd->shape), " and group ", n.i("group", 1));
    if (wp->shape[0] != ce_ || wp->shape[2] != 1 || wp->shape[3] != 1)
      c.fail("cnnrt_pw: the 1x1 weight ", shape_str(wp->shape), " must be [", ce_, ", C, 1, 1]");
    cin_ = wp->shape[1];
    const std::vector<int64_t> ks = {kh_, kw_};
    if (n.ints("kernel_shape", ks) != ks) c.fail("kernel_shape does not match the depthwise weight's ", shape_str(ks));
    win_ = read_window(n, 2, ks);
    act_ = read_fused_act(n);
    pw_act_ = read_pw_act(n);
    band_ = n.i("cnnrt_pw_band", 0);
    if (band_ < -1) c.fail("cnnrt_pw_band must be -1, 0 or a row count, got ", band_);
    split_ = n.i("cnnrt_pw_split", 0);
    if (split_ < 0 || split_ > 2) c.fail("cnnrt_pw_split must be 0, 1 or 2, got ", split_);
    if (float* dst = dw_.prepare(c, "conv.nhwc.dw", kt_.dw_packed_size(ce_, kh_, kw_)))
      kt_.dw_pack(wd->ptr<float>(), ce_, kh_, kw_, dst);
    if (float* dst = pw_.prepare(c, "conv.nhwc.gemm", kt_.conv_packed_size(ce_, cin_, 1, 1)))
      kt_.conv_pack(wp->ptr<float>(), ce_, cin_, 1, 1, dst);
    c.take(1);
    c.take(5);
    for (int i : {2, 6}) {
      if (!n.has_input(i)) continue;
      const Tensor* b = c.constant(i);
      if (!b) continue;  // a run-time bias, read from the feed
      if (b->dtype != DType::F32 || b->numel() != ce_)
        c.fail("bias (input ", i, ") must be float32 with ", ce_, " elements, got ", shape_str(b->shape));
      (i == 2 ? bd_ : bp_).assign(b->ptr<float>(), b->ptr<float>() + b->numel());
      c.take(i);
    }
  }

  void export_packed(std::vector<PackedOut>& out) const override {
    pw_.export_to(out);
    dw_.export_to(out);
  }
  // The 1x1's panels are read first (the depthwise weights are few).
  std::pair<const void*, size_t> weights_read_first() const override {
    return {pw_.data(), pw_.size() * sizeof(float)};
  }

  // The next layer's first weights, prefetched by the 1x1's last tiles
  // (ConvNhwcArgs::pf_next): MobileNetV2's expansion fetches its
  // projection's while the depthwise layer is still to run.
  bool set_next_weights(const void* p, size_t bytes) override {
    if (kt_.isa == Isa::Ref) return false;  // only SIMD conv_nhwc prefetches
    next_w_ = p;
    next_w_bytes_ = bytes;
    return p != nullptr;
  }

  std::string describe() const override {
    return std::string(isa_name(kt_.isa)) + "::f32_conv_nhwc 1x1 -> f32_dwconv_nhwc (fused, row bands or channel groups)";
  }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, 4, 4);
    const int64_t N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3];
    if (C != cin_)
      ctx.fail("input X (NHWC) has ", C, " channels (shape ", shape_str(x.shape), ") but the 1x1 weight expects ", cin_);
    for (int i : {2, 6})
      if (ctx.has(i)) {
        const TensorMeta& b = ctx.expect(i, DType::F32);
        if (b.numel() != ce_) ctx.fail("bias (input ", i, ") has ", b.numel(), " elements, expected ", ce_);
      }
    std::vector<int64_t> pb, pe;
    const std::vector<int64_t> out_sp = window_output(win_, {H, W}, pb, pe, ctx);
    const Shape oshape = {N, out_sp[0], out_sp[1], ce_};
    ctx.set_out(0, DType::F32, oshape);

    ConvNhwcArgs dw;  // per band: x, H, PH, OH, y
    dw.N = 1;
    dw.W = W;
    dw.C = dw.OC = ce_;
    dw.x_stride = dw.y_stride = ce_;
    fill_window_2d(dw, win_, kh_, kw_, pb, out_sp);
    dw.ep.ldr = ce_;
    dw.ep.act = act_;
    dw.threads = 1;
    ConvNhwcArgs pw;  // per band: x, H, OH, y
    pw.N = 1;
    pw.W = pw.OW = W;
    pw.C = pw.x_stride = cin_;
    pw.OC = pw.y_stride = ce_;
    pw.ep.ldr = ce_;
    pw.ep.act = pw_act_;
    pw.threads = 1;

    const int64_t OH = dw.OH, OW = dw.OW;
    const int64_t row_f = checked_mul(W, ce_);  // floats per e row
    const int64_t e_bytes = checked_mul(checked_mul(checked_mul(N, H), row_f), int64_t(sizeof(float)));
    const int64_t l2 = cpu_features().l2_bytes > 0 ? cpu_features().l2_bytes : int64_t(512) << 10;
    const int threads = ctx.threads_for(checked_mul(checked_mul(N * OH, OW), checked_mul(ce_, cin_ + kh_ * kw_)));
    // Rows of e a band of b output rows reads.
    const int64_t span = (kh_ - 1) * dw.DH + 1;
    auto e_rows = [&](int64_t b) { return std::min(H, (b - 1) * dw.SH + span); };
    // Channel groups (ncg > 1): N == 1, threads > 1, the table slices packed
    // weights, and (cnnrt_pw_split = 0) the channel split's busiest task has
    // less to do, relative to an even share, than the row split's (its halo
    // rows of e, or the depthwise's uneven rows). Zen 3, 2 threads, summed
    // step minima, in-process A/B against rows: MobileNetV2 0.952-0.963 (and
    // 0.992 in a slow phase of the host), EfficientNet-B0 0.982-0.995 (its
    // 14x14 5x5 layers run the two kernels whole on an even 14 rows: a tie,
    // left to rows). Per layer: 14x14 576 0.162 -> 0.139 ms, 14x14 -> 7x7
    // 0.167 -> 0.127, 7x7 960 0.111 -> 0.102.
    // Forced everywhere (split=channels) the 56x56 layers, whose 144
    // channels are 9 panels split 5 + 4, ran 2-5% slower than rows, and the
    // 112x112 one (6 panels, halo 1 row in 56) 1-4% faster: the rule's.
    const int64_t S = kt_.nhwc_slice_c;
    const int64_t npan = S > 0 ? (ce_ + S - 1) / S : 0;
    // Group cg of g: panels [npan cg / g, npan (cg + 1) / g), channels [c0, c1).
    auto group_of = [npan, S, ce = ce_](int64_t g, int64_t cg, int64_t& c0, int64_t& c1) {
      if (g == 1) {
        c0 = 0;
        c1 = ce;
        return;
      }
      c0 = npan * cg / g * S;
      c1 = std::min(ce, npan * (cg + 1) / g * S);
    };
    auto widest = [&](int64_t g) {
      int64_t w = 0;
      for (int64_t cg = 0; cg < g; ++cg) {
        int64_t c0, c1;
        group_of(g, cg, c0, c1);
        w = std::max(w, c1 - c0);
      }
      return w;
    };
    int64_t ncg = 1;
    if (split_ != 1 && N == 1 && threads > 1 && npan >= 2 && OH > 0 && H > 0) {
      // Each cost: the busiest task's work over an even share of `threads`.
      const int64_t g = std::min<int64_t>(threads, npan);
      const double ch_cost = double(widest(g)) * double(threads) / double(ce_);
      // Rows: the unbanded path (as chosen below: e within L2 / 2, or even
      // one output row's window rows beyond a band's budget) runs the 1x1
      // and the depthwise each on all threads, the depthwise's busiest task
      // with ceil(OH / threads) rows; the banded one gives each task a range
      // of output rows and the e rows its windows read (its halo recomputed).
      const int64_t budget = l2 / 4 / (row_f * int64_t(sizeof(float)));
      const bool whole_rows =
          band_ == -1 || (band_ == 0 && (e_bytes <= l2 / kWholeL2Share || e_rows(1) > budget));
      const int64_t t = std::min<int64_t>(threads, OH);
      const int64_t rows_max = (OH + t - 1) / t;
      const double rows_cost = whole_rows ? double(rows_max) * double(threads) / double(OH)
                                          : double(e_rows(rows_max)) * double(threads) / double(H);
      if (split_ == 2 || ch_cost < rows_cost) ncg = g;
    }
    auto group_channels = [group_of, ncg](int64_t cg, int64_t& c0, int64_t& c1) { group_of(ncg, cg, c0, c1); };
    const int64_t cw_max = ncg > 1 ? widest(ncg) : ce_;  // the widest group's channels
    const int64_t row_g = checked_mul(W, cw_max);  // floats per e row of a task's channels
    int64_t band = band_;
    if (ncg > 1) {
      // All rows per task; bands only where its slice of e outgrows L2 / 2.
      const int64_t slice_bytes = checked_mul(checked_mul(H, row_g), int64_t(sizeof(float)));
      if (band == -1) {
        band = OH;  // forced unbanded: one band of all rows
      } else if (band == 0) {
        const int64_t budget = l2 / 4 / (row_g * int64_t(sizeof(float)));
        if (slice_bytes <= l2 / kWholeL2Share || e_rows(1) > budget) {
          band = OH;
        } else {
          band = 1;
          while (band < OH && e_rows(band + 1) <= budget) ++band;
        }
      }
    } else if (band == 0) {
      const int64_t budget = l2 / 4 / (row_f * int64_t(sizeof(float)));  // e rows a band may hold
      const bool whole = threads <= 1 ? e_bytes <= kOneThreadBandL2 * l2 : e_bytes <= l2 / kWholeL2Share;
      if (whole || e_rows(1) > budget) {
        band = -1;
      } else {
        band = 1;
        while (band < OH && e_rows(band + 1) <= budget) ++band;
      }
    }
    const PwDwOp* self = this;
    const bool has_bd = ctx.has(2), has_bp = ctx.has(6);
    if (ncg == 1 && (band < 0 || OH <= 0 || H <= 0)) {  // unbanded: e whole in the workspace
      ctx.set_workspace(static_cast<size_t>(e_bytes));
      return [self, pw, dw, N, H, threads, has_bd, has_bp](const RunCtx& r) {
        float* e = static_cast<float*>(r.ws);
        ConvNhwcArgs p = pw, d = dw;
        p.N = d.N = N;
        p.H = p.OH = d.H = H;
        p.x = r.i<float>(0);
        p.y = e;
        p.w_packed = self->pw_.data();
        p.ep.bias_n = self->bp_.empty() ? (has_bp ? r.i<float>(6) : nullptr) : self->bp_.data();
        p.threads = threads;
        p.pf_next = self->next_w_;
        p.pf_next_bytes = static_cast<int64_t>(self->next_w_bytes_);
        self->kt_.conv_nhwc(p);
        d.x = e;
        d.y = r.o<float>(0);
        d.w_packed = self->dw_.data();
        d.ep.bias_n = self->bd_.empty() ? (has_bd ? r.i<float>(2) : nullptr) : self->bd_.data();
        d.threads = threads;
        self->kt_.dwconv_nhwc(d);
      };
    }
    band = std::max<int64_t>(1, std::min(band, OH));
    // Tasks: per image, `per_img` contiguous ranges of output rows (or, with
    // channel groups, all rows of each of ncg groups), each with its own
    // buffer (its first band's halo is the only recomputation).
    const int64_t per_img =
        ncg > 1 ? 1 : std::max<int64_t>(1, std::min(OH / std::max<int64_t>(band, 1), (threads + N - 1) / N));
    const int64_t ntask = checked_mul(checked_mul(N, per_img), ncg);
    // The buffer holds more rows than a band reads: bands append to it, and
    // only when it is full do the rows the next band shares move to its
    // front (a move per band cost as much as the rows' compute at stride 1).
    const int64_t cap_rows =
        std::min(H, std::max(e_rows(band), l2 / kWholeL2Share / (row_g * int64_t(sizeof(float)))));
    const int64_t buf_f = checked_mul(cap_rows, row_g);
    ctx.set_workspace(static_cast<size_t>(checked_mul(checked_mul(ntask, buf_f), int64_t(sizeof(float)))));
    return [self, pw, dw, N, H, W, C, OH, OW, band, per_img, ncg, group_channels, ntask, cap_rows, buf_f, threads,
            has_bd, has_bp](const RunCtx& r) {
      const float* X = r.i<float>(0);
      float* Y = r.o<float>(0);
      const float* bp = self->bp_.empty() ? (has_bp ? r.i<float>(6) : nullptr) : self->bp_.data();
      const float* bd = self->bd_.empty() ? (has_bd ? r.i<float>(2) : nullptr) : self->bd_.data();
      float* ws = static_cast<float*>(r.ws);
      const int64_t SH = dw.SH, PH = dw.PH, span = (dw.KH - 1) * dw.DH + 1;
      if (ncg > 1) g_pwdw_channel_split_runs.fetch_add(1, std::memory_order_relaxed);
      parallel_for(ntask, static_cast<int>(std::min<int64_t>(threads, ntask)), [&](int64_t t) {
        const int64_t cg = t % ncg, n = t / ncg / per_img, part = t / ncg % per_img;
        const int64_t oa = OH * part / per_img, ob = OH * (part + 1) / per_img;
        int64_t c0, c1;  // the task's channels of e and y
        group_channels(cg, c0, c1);
        const int64_t cw = c1 - c0, row_f = W * cw;
        float* buf = ws + t * buf_f;
        int64_t blo = 0, bhi = 0;  // e rows [blo, bhi) of image n are buf's rows from 0
        ConvNhwcArgs p = pw, d = dw;
        p.w_packed = self->pw_.data() + c0 * self->cin_;
        p.ep.bias_n = bp ? bp + c0 : nullptr;
        p.OC = p.y_stride = cw;
        d.w_packed = self->dw_.data() + c0 * dw.KH * dw.KW;
        d.ep.bias_n = bd ? bd + c0 : nullptr;
        d.C = d.OC = d.x_stride = cw;
        for (int64_t oh0 = oa; oh0 < ob; oh0 += band) {
          const int64_t oh1 = std::min(ob, oh0 + band);
          const int64_t lo = std::max<int64_t>(0, oh0 * SH - PH);
          const int64_t hi = std::max(lo, std::min(H, (oh1 - 1) * SH - PH + span));
          if (lo >= bhi) {  // nothing shared with the rows held: start afresh
            blo = bhi = lo;
          } else if (hi - blo > cap_rows) {  // full: the shared rows [lo, bhi) to the front
            std::memmove(buf, buf + (lo - blo) * row_f, static_cast<size_t>((bhi - lo) * row_f) * sizeof(float));
            blo = lo;
          }
          if (hi > bhi) {
            if (oh1 == ob && self->next_w_) {  // the task's last 1x1 call: its share of the next weights
              const int64_t share = (static_cast<int64_t>(self->next_w_bytes_) / 64 + ntask - 1) / ntask * 64;
              const int64_t lo_b = std::min<int64_t>(t * share, static_cast<int64_t>(self->next_w_bytes_));
              p.pf_next = static_cast<const char*>(self->next_w_) + lo_b;
              p.pf_next_bytes = std::min<int64_t>(share, static_cast<int64_t>(self->next_w_bytes_) - lo_b);
            }
            p.x = X + (n * H + bhi) * W * C;
            p.H = p.OH = hi - bhi;
            p.y = buf + (bhi - blo) * row_f;
            self->kt_.conv_nhwc(p);
            bhi = hi;
          }
          d.x = buf + (lo - blo) * row_f;
          d.H = hi - lo;
          d.PH = PH + lo - oh0 * SH;
          d.OH = oh1 - oh0;
          d.y = Y + (n * OH + oh0) * OW * self->ce_ + c0;
          self->kt_.dwconv_nhwc(d);
        }
      });
    };
  }

 private:
  const KernelTable& kt_;
  int64_t ce_ = 0, cin_ = 0, kh_ = 1, kw_ = 1, band_ = 0, split_ = 0;
  Window win_;
  ActParams act_, pw_act_;
  PackedBuf pw_, dw_;
  std::vector<float> bd_, bp_;
  const void* next_w_ = nullptr;  // set_next_weights
  size_t next_w_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Op> create_pwdw(CreateCtx& c) { return std::make_unique<PwDwOp>(c); }

}  // namespace cnnrt
