// NonMaxSuppression (opset 10/11): boxes [N, B, 4], scores [N, C, B],
// optional max_output_boxes_per_class (int64, one value; absent or <= 0:
// no boxes), iou_threshold and score_threshold (float32, one value each),
// attribute center_point_box (0: [y1, x1, y2, x2] corners in any order;
// 1: [x_center, y_center, width, height]). Output selected_indices int64
// [K, 3] rows (batch, class, box).
//
// The output's row count depends on the data: the plan sizes it for the
// most boxes that can be selected (N * C * min(max_output, B)) and the
// kernel reports the rows it wrote (PlanCtx::set_out_bounded).
//
// Order and tie rules are onnxruntime's, so results match it exactly: per
// batch, per class, candidates with score > score_threshold (all when the
// input is absent) in descending score, equal scores by ascending box index;
// a candidate is kept unless its IoU with a box already kept for this class
// exceeds iou_threshold; at most max_output per class.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace cnnrt {
namespace {

struct Cand {
  float score;
  int64_t index;
};

struct Rect {
  float x0, y0, x1, y1, area;
};

inline Rect rect_of(const float* b, bool center) {
  Rect r;
  if (center) {
    const float hw = b[2] / 2, hh = b[3] / 2;
    r.x0 = b[0] - hw;
    r.x1 = b[0] + hw;
    r.y0 = b[1] - hh;
    r.y1 = b[1] + hh;
  } else {
    r.x0 = std::min(b[1], b[3]);
    r.x1 = std::max(b[1], b[3]);
    r.y0 = std::min(b[0], b[2]);
    r.y1 = std::max(b[0], b[2]);
  }
  r.area = (r.x1 - r.x0) * (r.y1 - r.y0);
  return r;
}

// onnxruntime's SuppressByIOU: no overlap or degenerate areas never suppress.
inline bool suppress(const Rect& a, const Rect& b, float iou_threshold) {
  const float ix0 = std::max(a.x0, b.x0), ix1 = std::min(a.x1, b.x1);
  if (ix1 <= ix0) return false;
  const float iy0 = std::max(a.y0, b.y0), iy1 = std::min(a.y1, b.y1);
  if (iy1 <= iy0) return false;
  const float inter = (ix1 - ix0) * (iy1 - iy0);
  if (inter <= 0.f) return false;
  const float uni = a.area + b.area - inter;
  if (a.area <= 0.f || b.area <= 0.f || uni <= 0.f) return false;
  return inter / uni > iou_threshold;
}

// Descending score, ties by ascending index; NaN scores (possible without a
// score_threshold) last, so the order stays a strict weak one.
inline bool before(const Cand& a, const Cand& b) {
  const bool an = a.score != a.score, bn = b.score != b.score;
  if (an || bn) return an == bn ? a.index < b.index : bn;
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

class NmsOp : public Op {
 public:
  explicit NmsOp(CreateCtx& c) {
    center_ = c.node().i("center_point_box", 0);
    if (center_ != 0 && center_ != 1) c.fail("attribute 'center_point_box' must be 0 or 1, got ", center_);
    const Tensor* t = c.constant(3);
    if (t && t->dtype == DType::F32 && t->numel() == 1) {
      const float v = t->ptr<float>()[0];
      if (!(v >= 0.f && v <= 1.f)) c.fail("iou_threshold must be in [0, 1], got ", v);
    }
  }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& boxes = ctx.expect(0, DType::F32, 3, 3);
    const TensorMeta& scores = ctx.expect(1, DType::F32, 3, 3);
    const int64_t N = boxes.shape[0], B = boxes.shape[1], C = scores.shape[1];
    if (boxes.shape[2] != 4) ctx.fail("input 0 (boxes) has shape ", shape_str(boxes.shape), ", expected [num_batches, num_boxes, 4]");
    if (scores.shape[0] != N || scores.shape[2] != B)
      ctx.fail("input 1 (scores) has shape ", shape_str(scores.shape), ", expected [", N, ", num_classes, ", B,
               "] to match boxes ", shape_str(boxes.shape));
    int64_t max_out = 0;
    bool max_known = true;
    if (ctx.has(2)) {
      const TensorMeta& m = ctx.expect(2, DType::I64);
      if (m.numel() != 1) ctx.fail("input 2 (max_output_boxes_per_class) has shape ", shape_str(m.shape), ", expected one value");
      if (m.value)
        max_out = std::max<int64_t>(0, m.value->ptr<int64_t>()[0]);
      else
        max_known = false;
    }
    for (int k = 3; k <= 4; ++k) {
      if (!ctx.has(k)) continue;
      const TensorMeta& m = ctx.expect(k, DType::F32);
      if (m.numel() != 1)
        ctx.fail("input ", k, k == 3 ? " (iou_threshold)" : " (score_threshold)", " has shape ", shape_str(m.shape), ", expected one value");
    }
    const int64_t per_class = max_known ? std::min(max_out, B) : B;
    ctx.set_out_bounded(0, DType::I64, {checked_mul(checked_mul(N, C), per_class), 3});
    const bool center = center_ == 1;
    const bool has_max = ctx.has(2), has_iou = ctx.has(3), has_score = ctx.has(4);
    // Per run: candidates, kept boxes' rectangles, all rectangles of a batch.
    ctx.set_workspace(static_cast<size_t>(checked_mul(B, sizeof(Cand) + sizeof(Rect) + sizeof(int64_t))) + 64);
    return [N, B, C, center, has_max, has_iou, has_score](const RunCtx& r) {
      const float* boxes = r.i<float>(0);
      const float* scores = r.i<float>(1);
      const int64_t mo = has_max ? std::max<int64_t>(0, r.i<int64_t>(2)[0]) : 0;
      const float iou = has_iou ? r.i<float>(3)[0] : 0.f;
      const float sth = has_score ? r.i<float>(4)[0] : 0.f;
      int64_t* out = r.o<int64_t>(0);
      // 8-byte fields first: after B rects (20 bytes each) a Cand array was
      // misaligned for odd B (UBSan, the sanitizer lane).
      Cand* cand = static_cast<Cand*>(r.ws);
      int64_t* kept = reinterpret_cast<int64_t*>(cand + B);
      Rect* rects = reinterpret_cast<Rect*>(kept + B);
      int64_t k = 0;
      for (int64_t n = 0; n < N && mo > 0; ++n) {
        for (int64_t b = 0; b < B; ++b) rects[b] = rect_of(boxes + (n * B + b) * 4, center);
        for (int64_t c = 0; c < C; ++c) {
          const float* sc = scores + (n * C + c) * B;
          int64_t nc = 0;
          for (int64_t b = 0; b < B; ++b)
            if (!has_score || sc[b] > sth) cand[nc++] = Cand{sc[b], b};
          std::sort(cand, cand + nc, before);
          int64_t nk = 0;
          for (int64_t i = 0; i < nc && nk < mo; ++i) {
            const Rect& ri = rects[cand[i].index];
            bool keep = true;
            for (int64_t j = 0; j < nk && keep; ++j)
              if (suppress(ri, rects[kept[j]], iou)) keep = false;
            if (!keep) continue;
            kept[nk++] = cand[i].index;
            out[k * 3] = n;
            out[k * 3 + 1] = c;
            out[k * 3 + 2] = cand[i].index;
            ++k;
          }
        }
      }
      r.rows[0] = k;
    };
  }

 private:
  int64_t center_ = 0;
};

std::unique_ptr<Op> create_nms(CreateCtx& c) { return std::make_unique<NmsOp>(c); }
CNNRT_REGISTER_OP("NonMaxSuppression", create_nms);

}  // namespace
}  // namespace cnnrt
