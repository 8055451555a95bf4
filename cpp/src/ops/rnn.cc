// LSTM and GRU (opset 7 and 14 forms), float32, with the default
// activations (LSTM: Sigmoid, Tanh, Tanh; GRU: Sigmoid, Tanh; the importer
// refuses other lists, naming the attribute).
//
// Inputs: X [T, N, I] (layout 0) or [N, T, I] (layout 1), W [D, G*H, I],
// R [D, G*H, H], optional B [D, 2*G*H], sequence_lens [N] (a plan-time
// value: a constant or an int64 graph input, each in [1, T]), initial_h
// (and initial_c) [D, N, H] (layout 1: [N, D, H]), P [D, 3H] (LSTM
// peepholes, gate order i, o, f). G = 4 gates for LSTM (i, o, f, c), 3 for
// GRU (z, r, h); D = 2 for direction "bidirectional", else 1.
// Outputs, each optional: Y [T, D, N, H] (layout 1: [N, T, D, H]), Y_h
// (and Y_c) [D, N, H] (layout 1: [N, D, H]). Steps past a batch entry's
// sequence length give zeros in Y; Y_h/Y_c hold its state at its last step.
//
// Computation per direction: one GEMM projects the whole sequence,
// XW = X * W^T + biases ([T*N, G*H], the kernel table's GEMM), then each
// step adds H_{t-1} * R^T (a GEMM with M = N) and applies the gates. W and R
// are packed once at create when they are constants. The reverse direction
// of an entry with length L visits t = L-1 .. 0, as onnxruntime does.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/op.h"

namespace cnnrt {
namespace {

enum class Cell { Lstm, Gru };

class RnnOp : public Op {
 public:
  RnnOp(CreateCtx& c, Cell cell) : kt_(c.kernels()), cell_(cell) {
    const Node& n = c.node();
    G_ = cell == Cell::Lstm ? 4 : 3;
    const std::string dir = n.s("direction", "forward");
    if (dir == "forward") {
      D_ = 1;
    } else if (dir == "reverse") {
      D_ = 1;
      reverse_only_ = true;
    } else if (dir == "bidirectional") {
      D_ = 2;
    } else {
      c.fail("attribute 'direction' is '", dir, "', expected 'forward', 'reverse' or 'bidirectional'");
    }
    H_ = n.i("hidden_size", -1);
    if (n.has("hidden_size") && H_ < 1) c.fail("attribute 'hidden_size' must be >= 1, got ", H_);
    if (n.has("clip")) {
      clip_ = n.f("clip", 0.f);
      if (!(clip_ > 0.f)) c.fail("attribute 'clip' must be > 0, got ", clip_);
      has_clip_ = true;
    }
    layout_ = n.i("layout", 0);
    if (layout_ != 0 && layout_ != 1) c.fail("attribute 'layout' must be 0 or 1, got ", layout_);
    input_forget_ = cell == Cell::Lstm && n.i("input_forget", 0) != 0;
    lbr_ = cell == Cell::Gru && n.i("linear_before_reset", 0) != 0;
    const int max_in = cell == Cell::Lstm ? 8 : 6;
    if (n.num_inputs() > max_in) c.fail("has ", n.num_inputs(), " inputs, at most ", max_in);
    if (n.outputs.size() > static_cast<size_t>(cell == Cell::Lstm ? 3 : 2))
      c.fail("has ", n.outputs.size(), " outputs, at most ", cell == Cell::Lstm ? 3 : 2);

    // Constant weights: checked and packed now.
    const Tensor* w = c.constant(1);
    const Tensor* r = c.constant(2);
    if (r) {
      check_w(c, *r, "R");
      if (H_ < 0) H_ = r->shape[2];
    }
    if (w) check_w(c, *w, "W");
    if (H_ < 0) return;  // hidden_size from R's shape at plan time
    const int64_t GH = G_ * H_;
    if (w && r) {
      if (w->shape[1] != GH || r->shape[1] != GH || r->shape[2] != H_)
        c.fail("W ", shape_str(w->shape), " and R ", shape_str(r->shape), " do not match hidden_size ", H_, ": expected [", D_,
               ", ", GH, ", input_size] and [", D_, ", ", GH, ", ", H_, "]");
    }
    if (w && w->shape[1] == GH) {
      const int64_t I = w->shape[2];
      I_ = I;
      const size_t sz = kt_.gemm_packed_b_size(I, GH);
      pw_.resize(sz * D_);
      for (int64_t d = 0; d < D_; ++d) kt_.gemm_pack_b(I, GH, w->ptr<float>() + d * GH * I, I, true, pw_.data() + d * sz);
      c.take(1);
    }
    if (r && r->shape[1] == GH && r->shape[2] == H_) {
      // GRU without linear_before_reset multiplies r * H before the h-gate's
      // GEMM: its R is packed in two parts (z, r) and (h).
      const int64_t n1 = (cell_ == Cell::Gru && !lbr_) ? 2 * H_ : GH;
      const size_t s1 = kt_.gemm_packed_b_size(H_, n1);
      const size_t s2 = n1 < GH ? kt_.gemm_packed_b_size(H_, H_) : 0;
      pr_.resize((s1 + s2) * D_);
      for (int64_t d = 0; d < D_; ++d) {
        const float* rd = r->ptr<float>() + d * GH * H_;
        kt_.gemm_pack_b(H_, n1, rd, H_, true, pr_.data() + d * (s1 + s2));
        if (s2) kt_.gemm_pack_b(H_, H_, rd + n1 * H_, H_, true, pr_.data() + d * (s1 + s2) + s1);
      }
      pr_s1_ = s1;
      pr_s2_ = s2;
      c.take(2);
    }
  }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, 3, 3);
    const TensorMeta& w = ctx.expect(1, DType::F32, 3, 3);
    const TensorMeta& r = ctx.expect(2, DType::F32, 3, 3);
    const int64_t T = layout_ ? x.shape[1] : x.shape[0];
    const int64_t N = layout_ ? x.shape[0] : x.shape[1];
    const int64_t I = x.shape[2];
    const int64_t H = H_ >= 0 ? H_ : r.shape[2];
    const int64_t G = G_, D = D_, GH = checked_mul(G, H);
    if (w.shape[0] != D || w.shape[1] != GH || w.shape[2] != I)
      ctx.fail("input 1 (W) has shape ", shape_str(w.shape), ", expected [", D, ", ", GH, ", ", I, "] (num_directions, ", G,
               " * hidden_size ", H, ", input_size of X ", shape_str(x.shape), ")");
    if (r.shape[0] != D || r.shape[1] != GH || r.shape[2] != H)
      ctx.fail("input 2 (R) has shape ", shape_str(r.shape), ", expected [", D, ", ", GH, ", ", H, "] (num_directions, ", G,
               " * hidden_size, hidden_size ", H, ")");
    if (ctx.has(3)) {
      const TensorMeta& b = ctx.expect(3, DType::F32, 2, 2);
      if (b.shape[0] != D || b.shape[1] != 2 * GH)
        ctx.fail("input 3 (B) has shape ", shape_str(b.shape), ", expected [", D, ", ", 2 * GH, "]");
    }
    auto lens = std::make_shared<std::vector<int64_t>>();
    if (ctx.has(4)) {
      const TensorMeta& sm = ctx.expect(4, DType::I64, 1, 1);
      if (sm.shape[0] != N) ctx.fail("input 4 (sequence_lens) has shape ", shape_str(sm.shape), ", expected [", N, "]");
      const Tensor& sv = ctx.value(4, "sequence_lens");
      bool all_full = true;
      for (int64_t b = 0; b < N; ++b) {
        const int64_t L = sv.ptr<int64_t>()[b];
        if (L < 1 || L > T) ctx.fail("input 4 (sequence_lens) holds ", L, " for batch entry ", b, ", expected 1..", T);
        all_full = all_full && L == T;
      }
      if (!all_full) lens->assign(sv.ptr<int64_t>(), sv.ptr<int64_t>() + N);
    }
    const Shape state = layout_ ? Shape{N, D, H} : Shape{D, N, H};
    for (int k = 5; k <= (cell_ == Cell::Lstm ? 6 : 5); ++k) {
      if (!ctx.has(k)) continue;
      const TensorMeta& m = ctx.expect(k, DType::F32, 3, 3);
      if (m.shape != state)
        ctx.fail("input ", k, k == 5 ? " (initial_h)" : " (initial_c)", " has shape ", shape_str(m.shape), ", expected ",
                 shape_str(state));
    }
    if (cell_ == Cell::Lstm && ctx.has(7)) {
      const TensorMeta& p = ctx.expect(7, DType::F32, 2, 2);
      if (p.shape[0] != D || p.shape[1] != 3 * H) ctx.fail("input 7 (P) has shape ", shape_str(p.shape), ", expected [", D, ", ", 3 * H, "]");
    }
    if (ctx.out_wanted(0)) ctx.set_out(0, DType::F32, layout_ ? Shape{N, T, D, H} : Shape{T, D, N, H});
    if (ctx.out_wanted(1)) ctx.set_out(1, DType::F32, state);
    if (ctx.out_wanted(2)) ctx.set_out(2, DType::F32, state);

    // Workspace, in floats: XW [T*N, GH], gates [N, GH], h, c, r*h, h-gate [N, H], bias [GH + H].
    Dims dm;
    dm.T = T, dm.N = N, dm.I = I, dm.H = H;
    dm.xw = 0;
    dm.gates = checked_mul(checked_mul(T, N), GH);
    dm.h = dm.gates + checked_mul(N, GH);
    dm.c = dm.h + N * H;
    dm.rh = dm.c + N * H;
    dm.hg = dm.rh + N * H;
    dm.bias = dm.hg + N * H;
    const int64_t total = dm.bias + GH + H;
    ctx.set_workspace(static_cast<size_t>(checked_mul(total, 4)) + 64);
    dm.threads = ctx.threads_for(checked_mul(checked_mul(T, N), checked_mul(GH, I)));
    dm.rec_threads = ctx.threads_for(checked_mul(N, checked_mul(GH, H)));
    dm.packed_w = !pw_.empty() && I_ == I && H_ == H;
    dm.packed_r = !pr_.empty() && H_ == H;
    for (int k = 0; k < 8; ++k) dm.has_in[k] = ctx.has(k);
    for (int k = 0; k < 3; ++k) dm.has_out[k] = ctx.out_wanted(k);
    const RnnOp* self = this;
    return [self, dm, lens](const RunCtx& rc) { self->run(rc, dm, lens->empty() ? nullptr : lens->data()); };
  }

 private:
  struct Dims {
    int64_t T = 0, N = 0, I = 0, H = 0;
    int64_t xw = 0, gates = 0, h = 0, c = 0, rh = 0, hg = 0, bias = 0;  // workspace offsets, floats
    int threads = 1, rec_threads = 1;
    bool packed_w = false, packed_r = false;
    bool has_in[8] = {}, has_out[3] = {};  // RunCtx holds as many pointers as the node has inputs/outputs
  };

  void check_w(CreateCtx& c, const Tensor& t, const char* what) const {
    if (t.dtype != DType::F32 || t.shape.size() != 3)
      c.fail(what, " must be a 3-D float32 tensor, got ", dtype_name(t.dtype), " ", shape_str(t.shape));
    if (t.shape[0] != D_) c.fail(what, " has shape ", shape_str(t.shape), ": ", t.shape[0], " directions, expected ", D_);
    if (H_ > 0 && t.shape[1] != G_ * H_)
      c.fail(what, " has shape ", shape_str(t.shape), ", expected dimension 1 to be ", G_, " * hidden_size = ", G_ * H_);
  }

  // Pre-activation clip, then the gate's activation, over n floats.
  void sigmoid(float* v, int64_t n) const {
    if (has_clip_) clipv(v, n);
    kt_.act(v, v, n, ActParams{Act::Sigmoid, 0.f, 0.f});
  }
  void tanhv(float* v, int64_t n) const {
    if (has_clip_) clipv(v, n);
    kt_.act(v, v, n, ActParams{Act::Tanh, 0.f, 0.f});
  }
  void clipv(float* v, int64_t n) const {
    const float c = clip_;
    for (int64_t i = 0; i < n; ++i) v[i] = std::min(std::max(v[i], -c), c);
  }

  void run(const RunCtx& rc, const Dims& dm, const int64_t* lens) const {
    const int64_t T = dm.T, N = dm.N, I = dm.I, H = dm.H, GH = G_ * H, D = D_;
    const float* x = rc.i<float>(0);
    const float* W = rc.i<float>(1);
    const float* R = rc.i<float>(2);
    const float* B = dm.has_in[3] ? rc.i<float>(3) : nullptr;
    const float* h0 = dm.has_in[5] ? rc.i<float>(5) : nullptr;
    const float* c0 = cell_ == Cell::Lstm && dm.has_in[6] ? rc.i<float>(6) : nullptr;
    const float* P = cell_ == Cell::Lstm && dm.has_in[7] ? rc.i<float>(7) : nullptr;
    float* Y = dm.has_out[0] ? rc.o<float>(0) : nullptr;
    float* Yh = dm.has_out[1] ? rc.o<float>(1) : nullptr;
    float* Yc = cell_ == Cell::Lstm && dm.has_out[2] ? rc.o<float>(2) : nullptr;
    float* ws = static_cast<float*>(rc.ws);
    float* xw = ws + dm.xw;
    float* gates = ws + dm.gates;
    float* h = ws + dm.h;
    float* c = ws + dm.c;
    float* rh = ws + dm.rh;
    float* hg = ws + dm.hg;
    float* bias = ws + dm.bias;
    const bool gru_split = cell_ == Cell::Gru && !lbr_;
    const int64_t n1 = gru_split ? 2 * H : GH;  // columns of the recurrence's first GEMM
    if (Y && lens) std::memset(Y, 0, sizeof(float) * static_cast<size_t>(T * N * D * H));
    const size_t pw_size = dm.packed_w ? pw_.size() / D : 0;
    // Row of XW (and X) holding time t of batch entry b.
    auto row = [&](int64_t t, int64_t b) { return layout_ ? b * T + t : t * N + b; };
    // Where (t, b) of direction d goes in Y, and (b) of d in Y_h / Y_c.
    auto yoff = [&](int64_t t, int64_t d, int64_t b) { return layout_ ? ((b * T + t) * D + d) * H : ((t * D + d) * N + b) * H; };
    auto soff = [&](int64_t d, int64_t b) { return layout_ ? (b * D + d) * H : (d * N + b) * H; };

    for (int64_t d = 0; d < D; ++d) {
      const bool rev = reverse_only_ || d == 1;
      // Biases folded into XW: W's, and R's where they are not inside r * (...).
      for (int64_t j = 0; j < GH; ++j) bias[j] = 0.f;
      float* rbh = bias + GH;  // GRU linear_before_reset: R's h-gate bias, added inside r * (...)
      for (int64_t j = 0; j < H; ++j) rbh[j] = 0.f;
      if (B) {
        const float* wb = B + d * 2 * GH;
        const float* rb = wb + GH;
        for (int64_t j = 0; j < GH; ++j) bias[j] = wb[j];
        for (int64_t j = 0; j < GH; ++j) {
          if (lbr_ && j >= 2 * H)
            rbh[j - 2 * H] = rb[j];
          else
            bias[j] += rb[j];
        }
      }
      // XW = X * W^T + bias for every step at once.
      if (T * N > 0) {
        GemmArgs g;
        g.M = T * N;
        g.N = GH;
        g.K = I;
        g.a = x;
        g.lda = I;
        if (dm.packed_w) {
          g.b_packed = pw_.data() + d * pw_size;
        } else {
          g.b = W + d * GH * I;
          g.ldb = I;
          g.trans_b = true;
        }
        g.c = xw;
        g.ldc = GH;
        g.ep.bias_n = bias;
        g.threads = dm.threads;
        kt_.gemm(g);
      }
      // Initial state.
      for (int64_t b = 0; b < N; ++b) {
        for (int64_t j = 0; j < H; ++j) h[b * H + j] = h0 ? h0[soff(d, b) + j] : 0.f;
        if (cell_ == Cell::Lstm)
          for (int64_t j = 0; j < H; ++j) c[b * H + j] = c0 ? c0[soff(d, b) + j] : 0.f;
      }
      const float* Rd = R + d * GH * H;
      const float* prd = dm.packed_r ? pr_.data() + d * (pr_s1_ + pr_s2_) : nullptr;
      const float* Pd = P ? P + d * 3 * H : nullptr;
      for (int64_t s = 0; s < T; ++s) {
        // gates[:, :n1] = H_{t-1} * R^T
        recurrence(N, h, H, n1, prd, Rd, gates, GH, dm.rec_threads);
        for (int64_t b = 0; b < N; ++b) {
          const int64_t L = lens ? lens[b] : T;
          if (s >= L) continue;
          const int64_t t = rev ? L - 1 - s : s;
          float* g = gates + b * GH;
          const float* xr = xw + row(t, b) * GH;
          float* hb = h + b * H;
          if (cell_ == Cell::Lstm) {
            for (int64_t j = 0; j < GH; ++j) g[j] += xr[j];
            float* gi = g;
            float* go = g + H;
            float* gf = g + 2 * H;
            float* gc = g + 3 * H;
            float* cb = c + b * H;
            if (Pd) {
              for (int64_t j = 0; j < H; ++j) gi[j] += Pd[j] * cb[j];
              for (int64_t j = 0; j < H; ++j) gf[j] += Pd[2 * H + j] * cb[j];
            }
            sigmoid(gi, H);
            if (input_forget_) {
              for (int64_t j = 0; j < H; ++j) gf[j] = 1.f - gi[j];
            } else {
              sigmoid(gf, H);
            }
            tanhv(gc, H);
            for (int64_t j = 0; j < H; ++j) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
            if (Pd)
              for (int64_t j = 0; j < H; ++j) go[j] += Pd[H + j] * cb[j];
            sigmoid(go, H);
            // h = o * tanh(c): tanh(c) into gc (no clip: the cell state is not a pre-activation)
            kt_.act(gc, cb, H, ActParams{Act::Tanh, 0.f, 0.f});
            for (int64_t j = 0; j < H; ++j) hb[j] = go[j] * gc[j];
          } else {
            float* gz = g;
            float* gr = g + H;
            for (int64_t j = 0; j < 2 * H; ++j) g[j] += xr[j];
            sigmoid(gz, H);
            sigmoid(gr, H);
            if (lbr_) {
              float* gh = g + 2 * H;
              for (int64_t j = 0; j < H; ++j) gh[j] = xr[2 * H + j] + gr[j] * (gh[j] + rbh[j]);
              tanhv(gh, H);
              for (int64_t j = 0; j < H; ++j) hb[j] = (1.f - gz[j]) * gh[j] + gz[j] * hb[j];
            } else {
              for (int64_t j = 0; j < H; ++j) rh[b * H + j] = gr[j] * hb[j];
            }
          }
        }
        if (gru_split) {
          // h-gate: X * Wh^T (+ both h biases) + (r * H_{t-1}) * Rh^T. Entries
          // past their length compute r * H from stale gates; unused below.
          recurrence(N, rh, H, H, prd ? prd + pr_s1_ : nullptr, Rd + 2 * H * H, hg, H, dm.rec_threads);
          for (int64_t b = 0; b < N; ++b) {
            const int64_t L = lens ? lens[b] : T;
            if (s >= L) continue;
            const int64_t t = rev ? L - 1 - s : s;
            const float* xr = xw + row(t, b) * GH + 2 * H;
            const float* gz = gates + b * GH;
            float* hgb = hg + b * H;
            float* hb = h + b * H;
            for (int64_t j = 0; j < H; ++j) hgb[j] += xr[j];
            tanhv(hgb, H);
            for (int64_t j = 0; j < H; ++j) hb[j] = (1.f - gz[j]) * hgb[j] + gz[j] * hb[j];
          }
        }
        if (Y)
          for (int64_t b = 0; b < N; ++b) {
            const int64_t L = lens ? lens[b] : T;
            if (s >= L) continue;
            const int64_t t = rev ? L - 1 - s : s;
            std::memcpy(Y + yoff(t, d, b), h + b * H, sizeof(float) * H);
          }
      }
      for (int64_t b = 0; b < N; ++b) {
        if (Yh) std::memcpy(Yh + soff(d, b), h + b * H, sizeof(float) * H);
        if (Yc) std::memcpy(Yc + soff(d, b), c + b * H, sizeof(float) * H);
      }
    }
  }

  // out[M, ncol] (row stride ldo) = a[M, H] * Rpart^T, Rpart the next ncol
  // rows of R ([ncol, H], raw) or its packed copy.
  void recurrence(int64_t M, const float* a, int64_t H, int64_t ncol, const float* packed, const float* raw, float* out,
                  int64_t ldo, int threads) const {
    if (M == 0) return;
    GemmArgs g;
    g.M = M;
    g.N = ncol;
    g.K = H;
    g.a = a;
    g.lda = H;
    if (packed) {
      g.b_packed = packed;
    } else {
      g.b = raw;
      g.ldb = H;
      g.trans_b = true;
    }
    g.c = out;
    g.ldc = ldo;
    g.threads = threads;
    kt_.gemm(g);
  }

  const KernelTable& kt_;
  Cell cell_;
  int64_t G_ = 4, D_ = 1, H_ = -1, I_ = -1, layout_ = 0;
  bool reverse_only_ = false, input_forget_ = false, lbr_ = false, has_clip_ = false;
  float clip_ = 0.f;
  std::vector<float> pw_, pr_;
  size_t pr_s1_ = 0, pr_s2_ = 0;
};

std::unique_ptr<Op> create_lstm(CreateCtx& c) { return std::make_unique<RnnOp>(c, Cell::Lstm); }
std::unique_ptr<Op> create_gru(CreateCtx& c) { return std::make_unique<RnnOp>(c, Cell::Gru); }
CNNRT_REGISTER_OP("LSTM", create_lstm);
CNNRT_REGISTER_OP("GRU", create_gru);

}  // namespace
}  // namespace cnnrt
