// Pooling over NHWC, ref path: the oracle for the SIMD paths.
#include <cstdint>
#include <limits>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::ref {
namespace {

// Taps j in [0, k) of a window starting at `start` (dilation d) that fall in [lo, hi).
inline void taps(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi, int64_t& j0, int64_t& j1) {
  j0 = 0;
  while (j0 < k && start + j0 * d < lo) ++j0;
  j1 = k;
  while (j1 > j0 && start + (j1 - 1) * d >= hi) --j1;
}

void pool_nhwc(const PoolNhwcArgs& a) {
  const int64_t rows = a.N * a.OH;
  const int threads = threads_for_work(rows * a.OW * a.C * a.KH * a.KW, a.threads);
  parallel_for(rows, threads, [&](int64_t row) {
    const int64_t n = row / a.OH, oh = row % a.OH;
    const int64_t hs = oh * a.SH - a.PH;
    int64_t h0, h1, hp0, hp1;
    taps(hs, a.KH, a.DH, 0, a.H, h0, h1);
    taps(hs, a.KH, a.DH, -a.PH, a.H + a.PHE, hp0, hp1);
    for (int64_t ow = 0; ow < a.OW; ++ow) {
      const int64_t ws = ow * a.SW - a.PW;
      int64_t w0, w1, wp0, wp1;
      taps(ws, a.KW, a.DW, 0, a.W, w0, w1);
      taps(ws, a.KW, a.DW, -a.PW, a.W + a.PWE, wp0, wp1);
      float* y = a.y + ((n * a.OH + oh) * a.OW + ow) * a.y_stride;
      const bool is_max = a.kind == PoolKind::Max;
      // Max starts from the lowest float, as onnxruntime and ops/pool.cc do:
      // a window with no tap inside the input (pads >= kernel) gives it.
      for (int64_t c = 0; c < a.C; ++c) y[c] = is_max ? std::numeric_limits<float>::lowest() : 0.f;
      for (int64_t kh = h0; kh < h1; ++kh)
        for (int64_t kw = w0; kw < w1; ++kw) {
          const float* x = a.x + ((n * a.H + hs + kh * a.DH) * a.W + ws + kw * a.DW) * a.x_stride;
          if (is_max)
            for (int64_t c = 0; c < a.C; ++c) y[c] = x[c] > y[c] ? x[c] : y[c];
          else
            for (int64_t c = 0; c < a.C; ++c) y[c] += x[c];
        }
      if (!is_max) {
        const int64_t cnt = a.count_include_pad ? (hp1 - hp0) * (wp1 - wp0) : (h1 - h0) * (w1 - w0);
        const float inv = cnt > 0 ? 1.f / static_cast<float>(cnt) : 0.f;
        for (int64_t c = 0; c < a.C; ++c) y[c] *= inv;
      }
    }
  });
}

void global_pool_nhwc(PoolKind kind, const float* x, int64_t N, int64_t HW, int64_t C, float* y, int threads) {
  parallel_for(N, threads_for_work(N * HW * C, threads), [&](int64_t n) {
    const float* xn = x + n * HW * C;
    float* yn = y + n * C;
    if (kind == PoolKind::Max) {
      for (int64_t c = 0; c < C; ++c) yn[c] = -std::numeric_limits<float>::infinity();
      for (int64_t p = 0; p < HW; ++p)
        for (int64_t c = 0; c < C; ++c) yn[c] = xn[p * C + c] > yn[c] ? xn[p * C + c] : yn[c];
    } else {
      for (int64_t c = 0; c < C; ++c) yn[c] = 0.f;
      for (int64_t p = 0; p < HW; ++p)
        for (int64_t c = 0; c < C; ++c) yn[c] += xn[p * C + c];
      const float inv = HW > 0 ? 1.f / static_cast<float>(HW) : 0.f;
      for (int64_t c = 0; c < C; ++c) yn[c] *= inv;
    }
  });
}

}  // namespace

void fill_pool_nhwc(KernelTable& t) {
  t.pool_nhwc = &pool_nhwc;
  t.global_pool_nhwc = &global_pool_nhwc;
}
}  // namespace cnnrt::kernels::ref
