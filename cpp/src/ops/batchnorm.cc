// BatchNormalization, inference form (the importer refuses training_mode=1
// and spatial=0), any rank >= 2 with channels on dim 1:
//   y = scale * (x - mean) / sqrt(var + epsilon) + B = x * a[c] + b[c],
//   a = scale / sqrt(var + epsilon), b = B - mean * a (onnxruntime's order).
// When scale, B, mean and var are all constants a and b are computed once at
// create; otherwise per channel at run time. momentum is ignored.
// cnnrt_layout = 1 (the layout pass): X is NHWC, channels on the last dim.
#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

const char* const kParamNames[5] = {"X", "scale", "B", "input_mean", "input_var"};

inline void channel_affine(float scale, float bias, float mean, float var, float eps, float& a, float& b) {
  a = scale * (1.f / std::sqrt(var + eps));
  b = bias - mean * a;
}

class BatchNormOp : public Op {
 public:
  explicit BatchNormOp(CreateCtx& c) {
    const Node& n = c.node();
    eps_ = n.f("epsilon", 1e-5f);
    nhwc_ = n.i("cnnrt_layout", 0) == 1;
    for (int i = 1; i <= 4; ++i)
      if (!n.has_input(i)) c.fail("input ", i, " (", kParamNames[i], ") is required");
    const Tensor* p[5] = {nullptr, c.constant(1), c.constant(2), c.constant(3), c.constant(4)};
    if (!(p[1] && p[2] && p[3] && p[4])) return;
    const int64_t C = p[1]->numel();
    for (int i = 1; i <= 4; ++i) {
      if (p[i]->dtype != DType::F32) c.fail("input ", i, " (", kParamNames[i], ") must be float32, got ", dtype_name(p[i]->dtype));
      if (p[i]->numel() != C)
        c.fail("input ", i, " (", kParamNames[i], ") has shape ", shape_str(p[i]->shape), " but scale has ", C,
               " elements; every parameter needs one value per channel");
    }
    a_.resize(C);
    b_.resize(C);
    for (int64_t k = 0; k < C; ++k)
      channel_affine(p[1]->ptr<float>()[k], p[2]->ptr<float>()[k], p[3]->ptr<float>()[k], p[4]->ptr<float>()[k], eps_,
                     a_[k], b_[k]);
    folded_ = true;
    for (int i = 1; i <= 4; ++i) c.take(i);
  }

  int inplace_input() const override { return 0; }

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.expect(0, DType::F32, nhwc_ ? 4 : 2, nhwc_ ? 4 : 64);
    // NHWC: N*H*W rows of C channels, the [N, C] form below.
    const int64_t C = nhwc_ ? x.shape[3] : x.shape[1];
    const int64_t N = nhwc_ ? checked_mul(checked_mul(x.shape[0], x.shape[1]), x.shape[2]) : x.shape[0];
    if (folded_) {
      if (static_cast<int64_t>(a_.size()) != C)
        ctx.fail("the parameters have ", a_.size(), " channels but input X has ", C, " (shape ", shape_str(x.shape), ")");
    } else {
      for (int i = 1; i <= 4; ++i) {
        const TensorMeta& m = ctx.expect(i, DType::F32);
        if (m.numel() != C)
          ctx.fail("input ", i, " (", kParamNames[i], ") has shape ", shape_str(m.shape), " but input X has ", C,
                   " channels (shape ", shape_str(x.shape), ")");
      }
    }
    ctx.set_out(0, DType::F32, x.shape);
    int64_t S = 1;
    for (size_t d = 2; d < x.shape.size() && !nhwc_; ++d) S *= x.shape[d];
    const BatchNormOp* self = this;
    const int threads = ctx.threads_for(2 * N * C * S);
    const float eps = eps_;
    return [self, N, C, S, eps, threads](const RunCtx& r) {
      const float* x = r.i<float>(0);
      float* y = r.o<float>(0);
      const float* pa = self->folded_ ? self->a_.data() : nullptr;
      const float* pb = self->folded_ ? self->b_.data() : nullptr;
      const float *sc = nullptr, *bi = nullptr, *mu = nullptr, *va = nullptr;
      if (!self->folded_) sc = r.i<float>(1), bi = r.i<float>(2), mu = r.i<float>(3), va = r.i<float>(4);
      auto affine = [&](int64_t c, float& a, float& b) {
        if (pa)
          a = pa[c], b = pb[c];
        else
          channel_affine(sc[c], bi[c], mu[c], va[c], eps, a, b);
      };
      if (S == 1) {  // [N, C]: rows of C channels, in blocks of rows
        const int64_t blocks = std::min<int64_t>(N, 4 * static_cast<int64_t>(threads));
        parallel_for(blocks, threads, [&](int64_t k) {
          for (int64_t n = N * k / blocks; n < N * (k + 1) / blocks; ++n) {
            const float* xr = x + n * C;
            float* yr = y + n * C;
            if (pa) {
              for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * pa[c] + pb[c];
              continue;
            }
            for (int64_t c = 0; c < C; ++c) {
              float a, b;
              affine(c, a, b);
              yr[c] = xr[c] * a + b;
            }
          }
        });
        return;
      }
      parallel_for(N * C, threads, [&](int64_t p) {
        float a, b;
        affine(p % C, a, b);
        const float* xp = x + p * S;
        float* yp = y + p * S;
        for (int64_t i = 0; i < S; ++i) yp[i] = xp[i] * a + b;
      });
    };
  }

 private:
  float eps_ = 1e-5f;
  bool folded_ = false, nhwc_ = false;
  std::vector<float> a_, b_;
};

std::unique_ptr<Op> create_batchnorm(CreateCtx& c) { return std::make_unique<BatchNormOp>(c); }
CNNRT_REGISTER_OP("BatchNormalization", create_batchnorm);

}  // namespace
}  // namespace cnnrt
