// InstanceNormalization, LayerNormalization and GroupNormalization, float32.
// Each normalises contiguous segments of the input (NCHW: one channel's
// plane, one group's channels x planes, or the trailing dims from `axis`):
// two passes over a segment (mean, then the mean of squared deviations: no
// cancellation as with E[x^2] - mean^2), then y = (x - mean) * inv * scale +
// bias with the scale/bias of the segment's channel or element. The loops
// keep 16 independent partial sums so they vectorise without -ffast-math.
// Segments are spread over threads when the tensor is large.
//
// Forms (the importer normalises every opset to these):
//  - InstanceNormalization: X [N, C, d...] (rank >= 3), scale [C], B [C], epsilon.
//  - LayerNormalization (17): X, Scale, optional B (both unidirectionally
//    broadcastable to X.shape[axis:]), axis (negative allowed), epsilon,
//    stash_type (computation in float32; 1 is the only float type cnnrt
//    computes), outputs Y, optional Mean and InvStdDev with shape
//    X.shape[:axis] + [1] * (rank - axis).
//  - GroupNormalization: X [N, C, d...], scale and bias [num_groups]
//    (opset 18: per group, `per_channel`=0) or [C] (opset 21: per channel,
//    `per_channel`=1), num_groups dividing C, epsilon.
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

constexpr int L = 16;  // independent partial sums

// Statistics of a segment: mean = shift + dmean, inv = 1/sqrt(var + eps).
// Everything is computed on x - shift (shift = x[0]), which is exact for
// data far from zero (mean 1000, spread 0.01): neither the mean nor x - mean
// then lose the digits that a float near 1000 cannot hold.
struct Moments {
  float shift, dmean, inv;
  float mean() const { return shift + dmean; }
};

// Two passes: the mean, then the mean of squared deviations.
Moments moments(const float* x, int64_t n, float eps) {
  if (n == 0) return Moments{0.f, 0.f, 1.f / std::sqrt(eps)};
  const float k = x[0];
  float acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) acc[j] += x[i + j] - k;
  for (int j = 0; i + j < n; ++j) acc[j] += x[i + j] - k;
  double s = 0;
  for (int j = 0; j < L; ++j) s += acc[j];
  const float m = static_cast<float>(s / n);
  for (int j = 0; j < L; ++j) acc[j] = 0.f;
  i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) {
      const float d = (x[i + j] - k) - m;
      acc[j] += d * d;
    }
  for (int j = 0; i + j < n; ++j) {
    const float d = (x[i + j] - k) - m;
    acc[j] += d * d;
  }
  double v = 0;
  for (int j = 0; j < L; ++j) v += acc[j];
  return Moments{k, m, 1.f / std::sqrt(static_cast<float>(v / n) + eps)};
}

// y = (x - mean) * inv * a + b over n floats (a, b scalars).
inline void affine_scalar(const float* x, float* y, int64_t n, const Moments& st, float a, float b) {
  const float s = st.inv * a, t = b - st.dmean * s, k = st.shift;
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - k) * s + t;
}

// Reads the normalisation inputs' common NCHW shape facts.
struct NC {
  int64_t N = 0, C = 0, S = 1;
};

NC nc_of(const TensorMeta& x) {
  NC r;
  r.N = x.shape[0];
  r.C = x.shape[1];
  for (size_t d = 2; d < x.shape.size(); ++d) r.S = checked_mul(r.S, x.shape[d]);
  return r;
}

// ---------------------------------------------------------------- Instance

class InstanceNormOp : public Op {
 public:
  explicit InstanceNormOp(CreateCtx& c) {
    eps_ = c.node().f("epsilon", 1e-5f);
    if (!(eps_ >= 0.f)) c.fail("epsilon must be >= 0, got ", eps_);
  }
  int inplace_input() const override { return 0; }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, 3);
    const NC d = nc_of(x);
    for (int k = 1; k <= 2; ++k) {
      const TensorMeta& m = ctx.expect(k, DType::F32, 1, 1);
      if (m.shape[0] != d.C)
        ctx.fail("input ", k, k == 1 ? " (scale)" : " (B)", " has shape ", shape_str(m.shape), ", expected [", d.C,
                 "] (the channels of X ", shape_str(x.shape), ")");
    }
    ctx.set_out(0, DType::F32, x.shape);
    const float eps = eps_;
    const int threads = ctx.threads_for(checked_mul(d.N * d.C, d.S) * 4);
    return [d, eps, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      const float* sc = r.i<float>(1);
      const float* bi = r.i<float>(2);
      float* y = r.o<float>(0);
      parallel_for(d.N * d.C, threads, [&](int64_t t) {
        const int64_t c = t % d.C;
        const Moments st = moments(x + t * d.S, d.S, eps);
        affine_scalar(x + t * d.S, y + t * d.S, d.S, st, sc[c], bi[c]);
      });
    };
  }

 private:
  float eps_ = 1e-5f;
};

// ---------------------------------------------------------------- Group

class GroupNormOp : public Op {
 public:
  explicit GroupNormOp(CreateCtx& c) {
    const Node& n = c.node();
    eps_ = n.f("epsilon", 1e-5f);
    if (!(eps_ >= 0.f)) c.fail("epsilon must be >= 0, got ", eps_);
    if (!n.has("num_groups")) c.fail("attribute 'num_groups' is required");
    groups_ = n.i("num_groups", 0);
    if (groups_ < 1) c.fail("num_groups must be >= 1, got ", groups_);
    per_channel_ = n.i("per_channel", 1) != 0;
  }
  int inplace_input() const override { return 0; }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, 3);
    const NC d = nc_of(x);
    const int64_t G = groups_;
    if (d.C % G != 0) ctx.fail("num_groups ", G, " does not divide the ", d.C, " channels of X ", shape_str(x.shape));
    const int64_t want = per_channel_ ? d.C : G;
    for (int k = 1; k <= 2; ++k) {
      const TensorMeta& m = ctx.expect(k, DType::F32, 1, 1);
      if (m.shape[0] != want)
        ctx.fail("input ", k, k == 1 ? " (scale)" : " (bias)", " has shape ", shape_str(m.shape), ", expected [", want,
                 "] (", per_channel_ ? "one per channel, opset 21" : "one per group, opset 18", ")");
    }
    ctx.set_out(0, DType::F32, x.shape);
    const int64_t cg = d.C / G;
    const float eps = eps_;
    const bool pc = per_channel_;
    const int threads = ctx.threads_for(checked_mul(d.N * d.C, d.S) * 4);
    return [d, G, cg, eps, pc, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      const float* sc = r.i<float>(1);
      const float* bi = r.i<float>(2);
      float* y = r.o<float>(0);
      const int64_t seg = cg * d.S;
      parallel_for(d.N * G, threads, [&](int64_t t) {
        const int64_t g = t % G;
        const float* xs = x + t * seg;
        float* ys = y + t * seg;
        const Moments st = moments(xs, seg, eps);
        for (int64_t k = 0; k < cg; ++k) {
          const int64_t p = pc ? g * cg + k : g;
          affine_scalar(xs + k * d.S, ys + k * d.S, d.S, st, sc[p], bi[p]);
        }
      });
    };
  }

 private:
  float eps_ = 1e-5f;
  int64_t groups_ = 1;
  bool per_channel_ = true;
};

// ---------------------------------------------------------------- Layer

class LayerNormOp : public Op {
 public:
  explicit LayerNormOp(CreateCtx& c) {
    const Node& n = c.node();
    eps_ = n.f("epsilon", 1e-5f);
    if (!(eps_ >= 0.f)) c.fail("epsilon must be >= 0, got ", eps_);
    axis_ = n.i("axis", -1);
    const int64_t stash = n.i("stash_type", 1);
    if (stash != 1) c.unsupported("stash_type ", stash, ": cnnrt computes the statistics in float32 (stash_type 1) only");
  }
  int inplace_input() const override { return 0; }

  // Index map of a parameter broadcast to the normalised shape, or empty when
  // it already has the normalised shape (element i is parameter i).
  static std::vector<int64_t> bcast_index(const Shape& p, const Shape& norm, const PlanCtx& ctx, const char* what) {
    if (p.size() > norm.size())
      ctx.fail(what, " has shape ", shape_str(p), ", which does not broadcast to the normalised shape ", shape_str(norm));
    const size_t off = norm.size() - p.size();
    for (size_t k = 0; k < p.size(); ++k)
      if (p[k] != norm[off + k] && p[k] != 1)
        ctx.fail(what, " has shape ", shape_str(p), ", which does not broadcast to the normalised shape ", shape_str(norm));
    // Broadcastable with as many elements: the identity map.
    if (checked_numel(p) == checked_numel(norm)) return {};
    const int64_t D = checked_numel(norm);
    std::vector<int64_t> idx(D);
    std::vector<int64_t> pos(norm.size(), 0);
    for (int64_t i = 0; i < D; ++i) {
      int64_t o = 0;
      for (size_t k = 0; k < p.size(); ++k) o = o * p[k] + (p[k] == 1 ? 0 : pos[off + k]);
      idx[i] = o;
      for (size_t k = norm.size(); k-- > 0;) {
        if (++pos[k] < norm[k]) break;
        pos[k] = 0;
      }
    }
    return idx;
  }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, 1);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t axis = normalize_axis(axis_, rank, ctx);
    Shape norm(x.shape.begin() + axis, x.shape.end());
    int64_t outer = 1;
    for (int64_t k = 0; k < axis; ++k) outer = checked_mul(outer, x.shape[k]);
    const int64_t D = checked_numel(norm);
    const TensorMeta& sm = ctx.expect(1, DType::F32);
    auto sidx = std::make_shared<std::vector<int64_t>>(bcast_index(sm.shape, norm, ctx, "input 1 (Scale)"));
    const bool has_b = ctx.has(2);
    auto bidx = std::make_shared<std::vector<int64_t>>();
    if (has_b) *bidx = bcast_index(ctx.expect(2, DType::F32).shape, norm, ctx, "input 2 (B)");
    ctx.set_out(0, DType::F32, x.shape);
    Shape stat(x.shape.begin(), x.shape.begin() + axis);
    stat.resize(rank, 1);
    for (int k = 1; k <= 2; ++k)
      if (ctx.out_wanted(k)) ctx.set_out(k, DType::F32, stat);
    const float eps = eps_;
    const int threads = ctx.threads_for(checked_mul(outer, D) * 4);
    const bool want_mean = ctx.out_wanted(1), want_inv = ctx.out_wanted(2);
    return [outer, D, eps, sidx, bidx, has_b, want_mean, want_inv, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      const float* sc = r.i<float>(1);
      const float* bi = has_b ? r.i<float>(2) : nullptr;
      float* y = r.o<float>(0);
      float* mo = want_mean ? r.o<float>(1) : nullptr;
      float* io = want_inv ? r.o<float>(2) : nullptr;
      const int64_t* si = sidx->empty() ? nullptr : sidx->data();
      const int64_t* bx = bidx->empty() ? nullptr : bidx->data();
      parallel_for(outer, threads, [&](int64_t o) {
        const float* xs = x + o * D;
        float* ys = y + o * D;
        const Moments st = moments(xs, D, eps);
        if (mo) mo[o] = st.mean();
        if (io) io[o] = st.inv;
        const float k = st.shift, m = st.dmean, inv = st.inv;
        if (!si && (!bi || !bx)) {
          if (bi)
            for (int64_t i = 0; i < D; ++i) ys[i] = ((xs[i] - k) - m) * inv * sc[i] + bi[i];
          else
            for (int64_t i = 0; i < D; ++i) ys[i] = ((xs[i] - k) - m) * inv * sc[i];
        } else {
          for (int64_t i = 0; i < D; ++i) {
            const float s = sc[si ? si[i] : i];
            const float b = bi ? bi[bx ? bx[i] : i] : 0.f;
            ys[i] = ((xs[i] - k) - m) * inv * s + b;
          }
        }
      });
    };
  }

 private:
  float eps_ = 1e-5f;
  int64_t axis_ = -1;
};

std::unique_ptr<Op> create_instance_norm(CreateCtx& c) { return std::make_unique<InstanceNormOp>(c); }
std::unique_ptr<Op> create_group_norm(CreateCtx& c) { return std::make_unique<GroupNormOp>(c); }
std::unique_ptr<Op> create_layer_norm(CreateCtx& c) { return std::make_unique<LayerNormOp>(c); }
CNNRT_REGISTER_OP("InstanceNormalization", create_instance_norm);
CNNRT_REGISTER_OP("GroupNormalization", create_group_norm);
CNNRT_REGISTER_OP("LayerNormalization", create_layer_norm);

}  // namespace
}  // namespace cnnrt
