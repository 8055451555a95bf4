// Depthwise convolution over NHWC, ref path: the oracle for the SIMD paths.
// Packed weights are [KH][KW][C]: one tap's weights for every channel
// together, as the channel-vectorised kernels read them.
#include <cstdint>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::ref {
namespace {
#include "kernels/eltwise/math.inc"

size_t dw_packed_size(int64_t C, int64_t KH, int64_t KW) { return static_cast<size_t>(C * KH * KW); }

void dw_pack(const float* w, int64_t C, int64_t KH, int64_t KW, float* dst) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < KH * KW; ++t) dst[t * C + c] = w[c * KH * KW + t];
}

void dwconv_nhwc(const ConvNhwcArgs& a) {
  const int64_t rows = a.N * a.OH;
  const int threads = threads_for_work(rows * a.OW * a.C * a.KH * a.KW, a.threads);
  parallel_for(rows, threads, [&](int64_t row) {
    const int64_t n = row / a.OH, oh = row % a.OH;
    for (int64_t ow = 0; ow < a.OW; ++ow) {
      float* y = a.y + ((n * a.OH + oh) * a.OW + ow) * a.y_stride;
      for (int64_t c = 0; c < a.C; ++c) y[c] = 0.f;
      for (int64_t kh = 0; kh < a.KH; ++kh) {
        const int64_t ih = oh * a.SH - a.PH + kh * a.DH;
        if (ih < 0 || ih >= a.H) continue;
        for (int64_t kw = 0; kw < a.KW; ++kw) {
          const int64_t iw = ow * a.SW - a.PW + kw * a.DW;
          if (iw < 0 || iw >= a.W) continue;
          const float* x = a.x + ((n * a.H + ih) * a.W + iw) * a.x_stride;
          const float* w = a.w_packed + (kh * a.KW + kw) * a.C;
          for (int64_t c = 0; c < a.C; ++c) y[c] += x[c] * w[c];
        }
      }
    }
    Epilogue ep = a.ep;
    ep.bias_m = nullptr;
    ep.alpha = 1.f;
    epilogue_tile(a.y + row * a.OW * a.y_stride, a.y_stride, row * a.OW, a.OW, 0, a.C, ep);
  });
}

}  // namespace

void fill_dw_nhwc(KernelTable& t) {
  t.dw_packed_size = &dw_packed_size;
  t.dw_pack = &dw_pack;
  t.dwconv_nhwc = &dwconv_nhwc;
}
}  // namespace cnnrt::kernels::ref
