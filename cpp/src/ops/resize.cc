// Resize (opsets 10, 11, 13, 18, 19; Upsample 7-10 arrives in this form from
// the importer, onnx_import/normalize.py). Inputs: X, roi (optional),
// scales (optional), sizes (optional); or the `scales` attribute (Upsample-7).
// Attributes: mode nearest|linear|cubic, coordinate_transformation_mode,
// nearest_mode (+ "simple": Upsample / Resize-10's rule), cubic_coeff_a,
// exclude_outside, extrapolation_value, antialias, axes,
// keep_aspect_ratio_policy. float32 X.
//
// Interpolation is separable: per resized axis, a table of taps (input index,
// weight) per output index, computed at plan time the way the ONNX reference
// does (onnx/reference/ops/op_resize.py: edge clamping, ratio 1 at integer
// coordinates, antialias filters widened by 1/scale, exclude_outside
// renormalisation). Algorithms:
//  * 2-D fast path: the last two axes resized, at most 2 taps per axis
//    (nearest, linear without antialias), no extrapolation: one pass per
//    N*C plane, rows reused when consecutive output rows read the same input
//    row (nearest upsampling), threaded over planes;
//  * otherwise one 1-D pass per resized axis through a workspace; a pass over
//    a non-last axis is a weighted sum of contiguous rows (vectorisable).
// tf_crop_and_resize: outputs whose coordinate falls outside the input on any
// axis are set to extrapolation_value at the end.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Coord { HalfPixel, HalfPixelSymmetric, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNN, TfCropAndResize };
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Simple };
enum class Aspect { Stretch, NotLarger, NotSmaller };

// Taps of one axis: out_len outputs, n taps each.
struct AxisTaps {
  int64_t in_len = 0, out_len = 0, n = 1;
  std::vector<int64_t> idx;  // out_len * n, clamped into [0, in_len)
  std::vector<float> w;      // out_len * n
  std::vector<char> extrap;  // out_len (tf_crop_and_resize), or empty
  bool identity = false;
};

class ResizeOp : public Op {
 public:
  explicit ResizeOp(CreateCtx& c) {
    const Node& n = c.node();
    const std::string mode = n.s("mode", "nearest");
    if (mode == "nearest") mode_ = Mode::Nearest;
    else if (mode == "linear" || mode == "bilinear") mode_ = Mode::Linear;
    else if (mode == "cubic") mode_ = Mode::Cubic;
    else c.fail("mode '", mode, "' is not one of nearest, linear, cubic");
    const std::string ct = n.s("coordinate_transformation_mode", "half_pixel");
    if (ct == "half_pixel") coord_ = Coord::HalfPixel;
    else if (ct == "half_pixel_symmetric") coord_ = Coord::HalfPixelSymmetric;
    else if (ct == "pytorch_half_pixel") coord_ = Coord::PytorchHalfPixel;
    else if (ct == "align_corners") coord_ = Coord::AlignCorners;
    else if (ct == "asymmetric") coord_ = Coord::Asymmetric;
    else if (ct == "tf_half_pixel_for_nn") coord_ = Coord::TfHalfPixelForNN;
    else if (ct == "tf_crop_and_resize") coord_ = Coord::TfCropAndResize;
    else
      c.fail("coordinate_transformation_mode '", ct,
             "' is not one of half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, "
             "tf_half_pixel_for_nn, tf_crop_and_resize");
    const std::string nm = n.s("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor") nearest_ = NearestMode::RoundPreferFloor;
    else if (nm == "round_prefer_ceil") nearest_ = NearestMode::RoundPreferCeil;
    else if (nm == "floor") nearest_ = NearestMode::Floor;
    else if (nm == "ceil") nearest_ = NearestMode::Ceil;
    else if (nm == "simple") nearest_ = NearestMode::Simple;
    else c.fail("nearest_mode '", nm, "' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil");
    const std::string kp = n.s("keep_aspect_ratio_policy", "stretch");
    if (kp == "stretch") aspect_ = Aspect::Stretch;
    else if (kp == "not_larger") aspect_ = Aspect::NotLarger;
    else if (kp == "not_smaller") aspect_ = Aspect::NotSmaller;
    else c.fail("keep_aspect_ratio_policy '", kp, "' is not one of stretch, not_larger, not_smaller");
    cubic_a_ = n.f("cubic_coeff_a", -0.75f);
    exclude_outside_ = n.i("exclude_outside", 0) != 0;
    extrap_value_ = n.f("extrapolation_value", 0.f);
    antialias_ = n.i("antialias", 0) != 0;
    if (antialias_ && mode_ == Mode::Nearest) c.fail("antialias=1 needs mode linear or cubic, not nearest");
    has_axes_ = n.has("axes");
    axes_ = n.ints("axes");
    upsample_ = n.i("cnnrt_upsample", 0) != 0;
    has_scales_attr_ = n.has("scales");
    scales_attr_ = n.floats("scales");
    if (!n.has_input(0)) c.fail("input X is required");
    if (has_scales_attr_ && (n.has_input(2) || n.has_input(3))) c.fail("the scales attribute and a scales/sizes input are both given");
    if (!has_scales_attr_ && !n.has_input(2) && !n.has_input(3)) c.fail("needs scales or sizes (input 2 or 3)");
  }

  bool value_input(int i) const override { return i >= 1 && i <= 3; }

  // Plan-time float / int list of input i (empty when absent or empty).
  std::vector<double> float_list(const PlanCtx& ctx, int i, const char* what) const {
    if (!ctx.has(i)) return {};
    const Tensor& t = ctx.value(i, what);
    if (t.dtype != DType::F32) ctx.fail("input ", i, " (", what, ") has dtype ", dtype_name(t.dtype), ", expected float32");
    if (t.shape.size() != 1) ctx.fail("input ", i, " (", what, ") must be 1-D, got shape ", shape_str(t.shape));
    return std::vector<double>(t.ptr<float>(), t.ptr<float>() + t.numel());
  }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (x.dtype != DType::F32) ctx.fail("input X has dtype ", dtype_name(x.dtype), "; cnnrt's Resize computes float32");
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (r == 0) ctx.fail("input X must have rank >= 1");
    // Axes.
    std::vector<int64_t> axes;
    if (has_axes_) {
      std::vector<char> seen(r, 0);
      for (int64_t a : axes_) {
        if (a < -r || a >= r) ctx.fail("axis ", a, " in axes ", ints_str(axes_), " is out of range for rank ", r);
        const int64_t k = a < 0 ? a + r : a;
        if (seen[k]) ctx.fail("axes ", ints_str(axes_), " name dimension ", k, " twice");
        seen[k] = 1;
        axes.push_back(k);
      }
    } else {
      for (int64_t k = 0; k < r; ++k) axes.push_back(k);
    }
    const size_t na = axes.size();
    // Scales or sizes.
    std::vector<double> scales = has_scales_attr_ ? std::vector<double>(scales_attr_.begin(), scales_attr_.end())
                                                  : float_list(ctx, 2, "scales");
    std::vector<int64_t> sizes;
    if (ctx.has(3)) {
      const Tensor& t = ctx.value(3, "sizes");
      if (t.dtype != DType::I64) ctx.fail("input 3 (sizes) has dtype ", dtype_name(t.dtype), ", expected int64");
      if (t.shape.size() != 1) ctx.fail("input 3 (sizes) must be 1-D, got shape ", shape_str(t.shape));
      sizes.assign(t.ptr<int64_t>(), t.ptr<int64_t>() + t.numel());
    }
    if (!scales.empty() && !sizes.empty()) ctx.fail("scales and sizes are both given; exactly one may be");
    if (scales.empty() && sizes.empty()) ctx.fail("neither scales nor sizes is given (both are empty or absent)");
    Shape out = x.shape;
    std::vector<double> scale(r, 1.0);
    if (!scales.empty()) {
      if (scales.size() != na)
        ctx.fail("scales has ", scales.size(), " values, expected ", na, " (one per ", has_axes_ ? "axis in axes" : "dimension of X", ", X shape ",
                 shape_str(x.shape), ")");
      for (size_t k = 0; k < na; ++k) {
        const double s = scales[k];
        if (!(s > 0) || !std::isfinite(s)) ctx.fail("scale ", s, " (scales[", k, "]) must be a positive finite number");
        if (upsample_ && s < 1) ctx.fail("Upsample's scale ", s, " (scales[", k, "]) must be >= 1");
        const double o = std::floor(s * static_cast<double>(x.shape[axes[k]]));
        if (o > 9.0e18) ctx.fail("scale ", s, " on dimension ", axes[k], " (size ", x.shape[axes[k]], ") gives an output dimension too large");
        scale[axes[k]] = s;
        out[axes[k]] = static_cast<int64_t>(o);
      }
    } else {
      if (sizes.size() != na)
        ctx.fail("sizes has ", sizes.size(), " values, expected ", na, " (one per ", has_axes_ ? "axis in axes" : "dimension of X", ", X shape ",
                 shape_str(x.shape), ")");
      for (size_t k = 0; k < na; ++k) {
        if (sizes[k] <= 0) ctx.fail("sizes ", ints_str(sizes), " must be positive");
        if (x.shape[axes[k]] == 0) ctx.fail("dimension ", axes[k], " of X is 0; it cannot be resized to ", sizes[k]);
        scale[axes[k]] = static_cast<double>(sizes[k]) / static_cast<double>(x.shape[axes[k]]);
        out[axes[k]] = sizes[k];
      }
      if (aspect_ != Aspect::Stretch) {
        double s = scale[axes[0]];
        for (size_t k = 1; k < na; ++k)
          s = aspect_ == Aspect::NotLarger ? std::min(s, scale[axes[k]]) : std::max(s, scale[axes[k]]);
        for (size_t k = 0; k < na; ++k) {
          scale[axes[k]] = s;
          const double o = s * static_cast<double>(x.shape[axes[k]]) + 0.5;
          if (o > 9.0e18) ctx.fail("keep_aspect_ratio_policy gives an output dimension too large");
          out[axes[k]] = static_cast<int64_t>(o);
        }
      }
    }
    // roi: [starts..., ends...] over axes (tf_crop_and_resize only).
    std::vector<double> roi_s(r, 0.0), roi_e(r, 1.0);
    if (coord_ == Coord::TfCropAndResize) {
      std::vector<double> roi = float_list(ctx, 1, "roi");
      if (roi.size() != 2 * na)
        ctx.fail("coordinate_transformation_mode tf_crop_and_resize needs roi with ", 2 * na, " values, got ", roi.size());
      for (size_t k = 0; k < na; ++k) {
        roi_s[axes[k]] = roi[k];
        roi_e[axes[k]] = roi[na + k];
      }
    }
    ctx.set_out(0, DType::F32, out);

    const int64_t numel = checked_numel(out);
    if (numel == 0) return [](const RunCtx&) {};
    std::vector<AxisTaps> taps(r);
    bool any_extrap = false;
    for (int64_t d = 0; d < r; ++d) {
      taps[d] = axis_taps(x.shape[d], out[d], scale[d], roi_s[d], roi_e[d]);
      if (!taps[d].extrap.empty()) any_extrap = true;
    }
    std::vector<int64_t> passes;  // non-identity axes
    for (int64_t d = 0; d < r; ++d)
      if (!taps[d].identity) passes.push_back(d);
    const float ev = extrap_value_;
    if (passes.empty()) {
      const size_t bytes = static_cast<size_t>(numel) * sizeof(float);
      return [bytes](const RunCtx& rc) {
        if (rc.out[0] != rc.in[0]) std::memcpy(rc.out[0], rc.in[0], bytes);
      };
    }
    // 2-D fast path.
    if (r >= 2 && !any_extrap && passes.front() >= r - 2 && taps[r - 1].n <= 2 && taps[r - 2].n <= 2) {
      int64_t planes = 1;
      for (int64_t d = 0; d < r - 2; ++d) planes *= x.shape[d];
      const AxisTaps& th = taps[r - 2];
      const AxisTaps& tw = taps[r - 1];
      return plan_2d(ctx, planes, th, tw);
    }
    // Separable passes through the workspace (two ping-pong buffers).
    struct Pass {
      int64_t outer, in_len, out_len, inner;
      int64_t ntaps;
      std::vector<int64_t> idx;
      std::vector<float> w;
    };
    std::vector<Pass> ps;
    Shape cur = x.shape;
    int64_t ws_elems = 0;
    for (size_t p = 0; p < passes.size(); ++p) {
      const int64_t d = passes[p];
      Pass q;
      q.outer = 1;
      for (int64_t k = 0; k < d; ++k) q.outer = checked_mul(q.outer, cur[k]);
      q.inner = 1;
      for (int64_t k = d + 1; k < r; ++k) q.inner = checked_mul(q.inner, cur[k]);
      q.in_len = cur[d];
      q.out_len = out[d];
      q.ntaps = taps[d].n;
      q.idx = taps[d].idx;
      q.w = taps[d].w;
      cur[d] = out[d];
      if (p + 1 < passes.size()) ws_elems = std::max(ws_elems, checked_numel(cur));
      ps.push_back(std::move(q));
    }
    const int64_t buf_elems = (ws_elems + 15) / 16 * 16;
    if (passes.size() > 1) ctx.set_workspace(static_cast<size_t>(checked_mul(buf_elems, passes.size() > 2 ? 2 : 1)) * sizeof(float));
    // Extrapolation masks (per axis), applied at the end.
    std::vector<std::vector<char>> masks(r);
    for (int64_t d = 0; d < r; ++d) masks[d] = taps[d].extrap;
    std::vector<int64_t> oshape(out.begin(), out.end());
    const int t = ctx.threads_for(numel * 4);
    return [ps, buf_elems, masks, oshape, any_extrap, ev, t](const RunCtx& rc) {
      const float* src = rc.i<float>(0);
      float* ws = static_cast<float*>(rc.ws);
      for (size_t p = 0; p < ps.size(); ++p) {
        float* dst = p + 1 == ps.size() ? rc.o<float>(0) : ws + (p % 2) * buf_elems;
        run_pass(ps[p].outer, ps[p].in_len, ps[p].out_len, ps[p].inner, ps[p].ntaps, ps[p].idx.data(), ps[p].w.data(), src, dst, t);
        src = dst;
      }
      if (!any_extrap) return;
      float* y = rc.o<float>(0);
      const int64_t rr = static_cast<int64_t>(oshape.size());
      for (int64_t d = 0; d < rr; ++d) {
        if (masks[d].empty()) continue;
        int64_t outer = 1, inner = 1;
        for (int64_t k = 0; k < d; ++k) outer *= oshape[k];
        for (int64_t k = d + 1; k < rr; ++k) inner *= oshape[k];
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t j = 0; j < oshape[d]; ++j)
            if (masks[d][j]) std::fill_n(y + (o * oshape[d] + j) * inner, inner, ev);
      }
    };
  }

  static void run_pass(int64_t outer, int64_t in_len, int64_t out_len, int64_t inner, int64_t n, const int64_t* idx,
                       const float* w, const float* src, float* dst, int threads) {
    const int64_t rows = outer * out_len;
    // Tasks of whole rows, ~4K outputs each: one atomic claim per task.
    const int64_t per = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, inner));
    parallel_for((rows + per - 1) / per, threads, [&](int64_t task) {
      const int64_t r1 = std::min(rows, (task + 1) * per);
      for (int64_t row = task * per; row < r1; ++row) {
        const int64_t o = row / out_len, j = row % out_len;
        const float* xs = src + o * in_len * inner;
        float* y = dst + row * inner;
        const int64_t* ix = idx + j * n;
        const float* wj = w + j * n;
        if (inner == 1) {
          float acc = 0.f;
          for (int64_t t = 0; t < n; ++t) acc += wj[t] * xs[ix[t]];
          *y = acc;
          continue;
        }
        if (n == 1) {
          std::memcpy(y, xs + ix[0] * inner, static_cast<size_t>(inner) * sizeof(float));
          continue;
        }
        {
          const float w0 = wj[0];
          const float* a = xs + ix[0] * inner;
          for (int64_t i = 0; i < inner; ++i) y[i] = w0 * a[i];
        }
        for (int64_t t = 1; t < n; ++t) {
          const float wt = wj[t];
          if (wt == 0.f) continue;
          const float* a = xs + ix[t] * inner;
          for (int64_t i = 0; i < inner; ++i) y[i] += wt * a[i];
        }
      }
    });
  }

  Kernel plan_2d(PlanCtx& ctx, int64_t planes, const AxisTaps& th, const AxisTaps& tw) const {
    struct T2 {
      int64_t H, W, OH, OW;
      std::vector<int64_t> y0, y1, x0, x1;
      std::vector<float> wy0, wy1, wx0, wx1;
    };
    auto t2 = std::make_shared<T2>();
    t2->H = th.in_len;
    t2->W = tw.in_len;
    t2->OH = th.out_len;
    t2->OW = tw.out_len;
    auto split = [](const AxisTaps& t, std::vector<int64_t>& i0, std::vector<int64_t>& i1, std::vector<float>& w0,
                    std::vector<float>& w1) {
      i0.resize(t.out_len);
      i1.resize(t.out_len);
      w0.resize(t.out_len);
      w1.resize(t.out_len);
      for (int64_t o = 0; o < t.out_len; ++o) {
        if (t.identity) {
          i0[o] = i1[o] = o;
          w0[o] = 1.f;
          w1[o] = 0.f;
        } else if (t.n == 1) {
          i0[o] = i1[o] = t.idx[o];
          w0[o] = 1.f;
          w1[o] = 0.f;
        } else {
          i0[o] = t.idx[2 * o];
          i1[o] = t.idx[2 * o + 1];
          w0[o] = t.w[2 * o];
          w1[o] = t.w[2 * o + 1];
          if (w0[o] == 0.f) {  // one live tap: read it as the first
            i0[o] = i1[o];
            w0[o] = w1[o];
            w1[o] = 0.f;
          }
          if (w1[o] == 0.f) i1[o] = i0[o];
        }
      }
    };
    split(th, t2->y0, t2->y1, t2->wy0, t2->wy1);
    split(tw, t2->x0, t2->x1, t2->wx0, t2->wx1);
    bool w_single = true;  // every output column reads one input column with weight 1
    for (int64_t o = 0; o < t2->OW; ++o)
      if (t2->wx1[o] != 0.f || t2->wx0[o] != 1.f) w_single = false;
    // Integer nearest upsampling along W (ox -> ox / f): the common 2x case.
    int64_t fw = 0;
    if (w_single && t2->OW % t2->W == 0) {
      fw = t2->OW / t2->W;
      for (int64_t o = 0; o < t2->OW && fw; ++o)
        if (t2->x0[o] != o / fw) fw = 0;
    }
    const int64_t per_plane = t2->OH * t2->OW;
    const int t = ctx.threads_for(checked_mul(planes, per_plane) * 4);
    return [t2, planes, w_single, fw, t](const RunCtx& rc) {
      const float* x = rc.i<float>(0);
      float* y = rc.o<float>(0);
      const T2& g = *t2;
      auto row = [&](const float* a, float* dst) {  // one output row from one input row
        if (fw == 2) {
          for (int64_t i = 0; i < g.W; ++i) dst[2 * i] = dst[2 * i + 1] = a[i];
        } else if (fw > 0) {
          for (int64_t i = 0; i < g.W; ++i)
            for (int64_t k = 0; k < fw; ++k) dst[i * fw + k] = a[i];
        } else if (w_single) {
          for (int64_t o = 0; o < g.OW; ++o) dst[o] = a[g.x0[o]];
        } else {
          const int64_t* x0 = g.x0.data();
          const int64_t* x1 = g.x1.data();
          const float* w0 = g.wx0.data();
          const float* w1 = g.wx1.data();
          for (int64_t o = 0; o < g.OW; ++o) dst[o] = w0[o] * a[x0[o]] + w1[o] * a[x1[o]];
        }
      };
      parallel_for(planes, t, [&](int64_t p) {
        const float* xp = x + p * g.H * g.W;
        float* yp = y + p * g.OH * g.OW;
        for (int64_t oy = 0; oy < g.OH; ++oy) {
          float* dst = yp + oy * g.OW;
          const int64_t a0 = g.y0[oy], a1 = g.y1[oy];
          const float w0 = g.wy0[oy], w1 = g.wy1[oy];
          if (w1 == 0.f && w0 == 1.f) {
            if (oy > 0 && g.wy1[oy - 1] == 0.f && g.wy0[oy - 1] == 1.f && g.y0[oy - 1] == a0) {
              std::memcpy(dst, dst - g.OW, static_cast<size_t>(g.OW) * sizeof(float));
            } else {
              row(xp + a0 * g.W, dst);
            }
            continue;
          }
          const float* r0 = xp + a0 * g.W;
          const float* r1 = xp + a1 * g.W;
          if (w_single) {
            for (int64_t o = 0; o < g.OW; ++o) dst[o] = w0 * r0[g.x0[o]] + w1 * r1[g.x0[o]];
          } else {
            const int64_t* x0 = g.x0.data();
            const int64_t* x1 = g.x1.data();
            const float* v0 = g.wx0.data();
            const float* v1 = g.wx1.data();
            for (int64_t o = 0; o < g.OW; ++o)
              dst[o] = w0 * (v0[o] * r0[x0[o]] + v1[o] * r0[x1[o]]) + w1 * (v0[o] * r1[x0[o]] + v1[o] * r1[x1[o]]);
          }
        }
      });
    };
  }

  // Source coordinate of output index o (onnx reference _compute_x_ori): the
  // modes that divide by the output width use the float width s * in_len,
  // which differs from out_len when scales give a non-integer size.
  double source_coord(int64_t o, int64_t in_len, int64_t out_len, double s, double rs, double re) const {
    const double y = static_cast<double>(o);
    const double out_w = s * static_cast<double>(in_len);
    switch (coord_) {
      case Coord::AlignCorners: return out_w == 1 ? 0.0 : y * static_cast<double>(in_len - 1) / (out_w - 1);
      case Coord::Asymmetric: return y / s;
      case Coord::TfHalfPixelForNN: return (y + 0.5) / s;
      case Coord::TfCropAndResize:
        return (out_w == 1 ? (re - rs) * static_cast<double>(in_len - 1) / 2
                           : y * (re - rs) * static_cast<double>(in_len - 1) / (out_w - 1)) +
               rs * static_cast<double>(in_len - 1);
      case Coord::PytorchHalfPixel: return out_w == 1 ? -0.5 : (y + 0.5) / s - 0.5;
      case Coord::HalfPixel: return (y + 0.5) / s - 0.5;
      case Coord::HalfPixelSymmetric: {
        const double adj = static_cast<double>(out_len) / out_w;
        const double center = static_cast<double>(in_len) / 2;
        return center * (1 - adj) + (y + 0.5) / s - 0.5;
      }
    }
    return 0.0;
  }

  AxisTaps axis_taps(int64_t in_len, int64_t out_len, double s, double rs, double re) const {
    AxisTaps t;
    t.in_len = in_len;
    t.out_len = out_len;
    const bool crop = coord_ == Coord::TfCropAndResize;
    // Identity: every mode maps o -> o exactly when in == out and the scale is
    // 1 (half_pixel_symmetric: adjustment 1), pytorch_half_pixel too but for
    // a length-1 axis, where its -0.5 reads the one element anyway (edge
    // clamping; the taps' weights sum to 1). Not tf_half_pixel_for_nn (o + 0.5).
    if (!crop && in_len == out_len && s == 1.0 && coord_ != Coord::TfHalfPixelForNN &&
        (coord_ != Coord::PytorchHalfPixel || in_len > 1 || mode_ == Mode::Nearest || mode_ == Mode::Linear)) {
      t.identity = true;
      return t;
    }
    if (crop && in_len == out_len && rs == 0.0 && re == 1.0) {
      t.identity = true;
      return t;
    }
    if (in_len == 0) {  // out_len is 0 too (scales) or refused (sizes)
      t.identity = true;
      return t;
    }
    const double sc = std::min(s, 1.0);
    if (mode_ == Mode::Nearest) t.n = 1;
    else if (!antialias_) t.n = mode_ == Mode::Linear ? 2 : 4;
    else if (mode_ == Mode::Linear) t.n = 2 - 2 * static_cast<int64_t>(std::floor(-1 / sc) + 1);
    else t.n = 2 - 2 * static_cast<int64_t>(std::floor(-2 / sc) + 1);
    t.idx.resize(static_cast<size_t>(checked_mul(out_len, t.n)));
    t.w.resize(t.idx.size());
    if (crop) t.extrap.assign(out_len, 0);
    bool any_extrap = false;
    std::vector<double> c(t.n);
    for (int64_t o = 0; o < out_len; ++o) {
      const double xo = source_coord(o, in_len, out_len, s, rs, re);
      if (crop && (xo < 0 || xo > static_cast<double>(in_len - 1))) {
        t.extrap[o] = 1;
        any_extrap = true;
      }
      int64_t* ix = &t.idx[o * t.n];
      float* w = &t.w[o * t.n];
      if (mode_ == Mode::Nearest) {
        // The reference's rule: 2 candidate taps, the window found from
        // xo + 1 (its edge padding; the sum may round, e.g. 3.0000000000000004
        // + 1 == 4, which moves the window), the tap chosen from xo's ratio.
        const double fl = std::floor(xo);
        const bool integer = xo == fl;
        const double ratio = xo - fl;
        int64_t k;
        if (nearest_ == NearestMode::Simple) {  // Upsample / Resize-10 (onnxruntime's rule)
          k = s < 1.0 ? static_cast<int64_t>(std::ceil(xo)) : static_cast<int64_t>(xo);
        } else {
          bool second = true;
          if (!integer) {
            switch (nearest_) {
              case NearestMode::RoundPreferFloor: second = ratio > 0.5; break;
              case NearestMode::RoundPreferCeil: second = ratio >= 0.5; break;
              case NearestMode::Floor: second = false; break;
              default: second = true; break;
            }
          }
          const double xp = xo + 1.0;
          const double pf = std::floor(xp);
          k = static_cast<int64_t>(pf) + (xp == pf ? -1 : 0) - 1 + (second ? 1 : 0);
        }
        ix[0] = std::min<int64_t>(std::max<int64_t>(k, 0), in_len - 1);
        w[0] = 1.f;
        continue;
      }
      const double fl = std::floor(xo);
      const double ratio = xo == fl ? 1.0 : xo - fl;
      const int64_t n = t.n;
      if (!antialias_) {
        if (mode_ == Mode::Linear) {
          c[0] = 1 - ratio;
          c[1] = ratio;
        } else {
          const double A = cubic_a_;
          c[0] = ((A * (ratio + 1) - 5 * A) * (ratio + 1) + 8 * A) * (ratio + 1) - 4 * A;
          c[1] = ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1;
          c[2] = ((A + 2) * (1 - ratio) - (A + 3)) * (1 - ratio) * (1 - ratio) + 1;
          c[3] = ((A * ((1 - ratio) + 1) - 5 * A) * ((1 - ratio) + 1) + 8 * A) * ((1 - ratio) + 1) - 4 * A;
        }
      } else {
        double sum = 0;
        const int64_t start = -(n / 2 - 1);  // floor(-1/sc)+1 (linear) or floor(-2/sc)+1 (cubic)
        for (int64_t i = 0; i < n; ++i) {
          const double a = std::abs((static_cast<double>(start + i) - ratio) * sc);
          double v;
          if (mode_ == Mode::Linear) {
            v = std::min(std::max(1 - a, 0.0), 1.0);
          } else {
            const double A = cubic_a_;
            v = a <= 1 ? ((A + 2) * a - (A + 3)) * a * a + 1 : a < 2 ? ((A * a - 5 * A) * a + 8 * A) * a - 4 * A : 0.0;
          }
          c[i] = v;
          sum += v;
        }
        for (int64_t i = 0; i < n; ++i) c[i] /= sum;
      }
      // The n taps nearest to xo, ties to the smaller index (reference
      // _get_neighbor with edge padding): n is even.
      const int64_t pad = (n + 1) / 2;
      const double xp = xo + static_cast<double>(pad);
      const double pf = std::floor(xp);
      const int64_t start = static_cast<int64_t>(pf) + (xp == pf ? -(n / 2) : -(n / 2) + 1) - pad;
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = start + i;
        if (exclude_outside_ && (k < 0 || k >= in_len)) c[i] = 0;
        sum += c[i];
      }
      if (exclude_outside_ && sum == 0) sum = 1;
      for (int64_t i = 0; i < n; ++i) {
        ix[i] = std::min<int64_t>(std::max<int64_t>(start + i, 0), in_len - 1);
        w[i] = static_cast<float>(exclude_outside_ ? c[i] / sum : c[i]);
      }
    }
    if (crop && !any_extrap) t.extrap.clear();
    return t;
  }

 private:
  Mode mode_ = Mode::Nearest;
  Coord coord_ = Coord::HalfPixel;
  NearestMode nearest_ = NearestMode::RoundPreferFloor;
  Aspect aspect_ = Aspect::Stretch;
  float cubic_a_ = -0.75f, extrap_value_ = 0.f;
  bool upsample_ = false, exclude_outside_ = false, antialias_ = false, has_axes_ = false, has_scales_attr_ = false;
  std::vector<int64_t> axes_;
  std::vector<float> scales_attr_;
};

std::unique_ptr<Op> create_resize(CreateCtx& c) { return std::make_unique<ResizeOp>(c); }
CNNRT_REGISTER_OP("Resize", create_resize);

}  // namespace
}  // namespace cnnrt
