// LRN across channels (NCHW, any rank >= 2; dim 1 is the channel):
//   y[c] = x[c] / (bias + alpha / size * sum(x[c']^2))^beta,
//   c' in [c - floor((size-1)/2), c + ceil((size-1)/2)] inside [0, C).
// onnxruntime runs only odd sizes on 4-D inputs; the ONNX definition (even
// sizes, other ranks) is followed here.
// cnnrt_layout = 1 (the layout pass): X is NHWC, the channels of a pixel
// contiguous; each pixel's window sums run along them (vectorised over c),
// adding the same terms in the same order as the NCHW path.
#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

constexpr int64_t kBlock = 256;  // spatial positions per task (stack accumulator)

class LrnOp : public Op {
 public:
  explicit LrnOp(CreateCtx& c) {
    const Node& n = c.node();
    if (!n.has("size")) c.fail("attribute size is required");
    size_ = n.i("size", 1);
    if (size_ <= 0) c.fail("size must be positive, got ", size_);
    alpha_ = n.f("alpha", 1e-4f);
    beta_ = n.f("beta", 0.75f);
    bias_ = n.f("bias", 1.f);
    nhwc_ = n.i("cnnrt_layout", 0) == 1;
  }

  Kernel plan_nhwc(PlanCtx& ctx) const {
    const TensorMeta& x = ctx.expect(0, DType::F32, 4, 4);
    ctx.set_out(0, DType::F32, x.shape);
    const int64_t P = checked_mul(checked_mul(x.shape[0], x.shape[1]), x.shape[2]), C = x.shape[3];
    const int64_t lo = (size_ - 1) / 2, size = size_;
    const float scale = alpha_ / static_cast<float>(size_), bias = bias_, beta = beta_;
    // Terms d outside [lo - C + 1, lo + C) touch no channel: a hostile size
    // (INT64_MAX) loops over the channels only, and the work estimate saturates.
    const int64_t d0 = std::max<int64_t>(0, lo - C + 1), d1 = std::min<int64_t>(size, lo + C);
    const int threads = ctx.threads_for(checked_mul(checked_mul(P, C), std::min<int64_t>(size_, 2 * C + 1) + 4));
    return [P, C, lo, d0, d1, scale, bias, beta, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      float* y = r.o<float>(0);
      const int64_t blocks = std::min<int64_t>(P, 4 * static_cast<int64_t>(threads));
      parallel_for(blocks, threads, [&](int64_t k) {
        for (int64_t p = P * k / blocks; p < P * (k + 1) / blocks; ++p) {
          const float* xp = x + p * C;
          float* yp = y + p * C;  // the window sums, then the output
          for (int64_t c = 0; c < C; ++c) yp[c] = 0.f;
          // Term d of channel c is channel c - lo + d, d increasing: the
          // NCHW path's order.
          for (int64_t d = d0; d < d1; ++d) {
            const int64_t c0 = std::max<int64_t>(0, lo - d), c1 = std::min<int64_t>(C, C + lo - d);
            const float* xs = xp - lo + d;
            for (int64_t c = c0; c < c1; ++c) yp[c] += xs[c] * xs[c];
          }
          if (beta == 0.75f) {
            for (int64_t c = 0; c < C; ++c) {
              const float b = bias + scale * yp[c], s = std::sqrt(b);
              yp[c] = xp[c] / (s * std::sqrt(s));
            }
          } else {
            for (int64_t c = 0; c < C; ++c) yp[c] = xp[c] * std::pow(bias + scale * yp[c], -beta);
          }
        }
      });
    };
  }

  Kernel plan(PlanCtx& ctx) const override {
    if (nhwc_) return plan_nhwc(ctx);
    const TensorMeta& x = ctx.expect(0, DType::F32, 2);
    ctx.set_out(0, DType::F32, x.shape);
    const int64_t N = x.shape[0], C = x.shape[1];
    int64_t S = 1;
    for (size_t d = 2; d < x.shape.size(); ++d) S *= x.shape[d];
    const int64_t lo = (size_ - 1) / 2, hi = size_ - 1 - lo;
    const float scale = alpha_ / static_cast<float>(size_), bias = bias_, beta = beta_;
    const int threads = ctx.threads_for(checked_mul(checked_mul(N * C, S), std::min<int64_t>(size_, 2 * C + 1) + 4));
    return [N, C, S, lo, hi, scale, bias, beta, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      float* y = r.o<float>(0);
      const int64_t nb = (S + kBlock - 1) / kBlock;
      parallel_for(N * nb, threads, [&](int64_t t) {
        const int64_t n = t / nb, p0 = (t % nb) * kBlock, len = std::min(kBlock, S - p0);
        const float* xn = x + n * C * S + p0;
        float* yn = y + n * C * S + p0;
        float acc[kBlock];
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t j = 0; j < len; ++j) acc[j] = 0.f;
          const int64_t c0 = std::max<int64_t>(0, c - lo), c1 = std::min<int64_t>(C - 1, c + hi);
          for (int64_t k = c0; k <= c1; ++k) {
            const float* xk = xn + k * S;
            for (int64_t j = 0; j < len; ++j) acc[j] += xk[j] * xk[j];
          }
          const float* xc = xn + c * S;
          float* yc = yn + c * S;
          if (beta == 0.75f) {  // the common AlexNet/GoogLeNet value: t^-0.75 by square roots, vectorised
            for (int64_t j = 0; j < len; ++j) {
              const float b = bias + scale * acc[j], s = std::sqrt(b);
              yc[j] = xc[j] / (s * std::sqrt(s));
            }
          } else {
            for (int64_t j = 0; j < len; ++j) yc[j] = xc[j] * std::pow(bias + scale * acc[j], -beta);
          }
        }
      });
    };
  }

 private:
  int64_t size_ = 1;
  float alpha_ = 1e-4f, beta_ = 0.75f, bias_ = 1.f;
  bool nhwc_ = false;
};

std::unique_ptr<Op> create_lrn(CreateCtx& c) { return std::make_unique<LrnOp>(c); }
CNNRT_REGISTER_OP("LRN", create_lrn);

}  // namespace
}  // namespace cnnrt
