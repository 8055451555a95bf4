// NHWC convolution, ref path: the oracle for the SIMD paths. Packed weights
// are [KH][KW][C][OC] (the input channel and tap major, output channel
// contiguous), so the inner loop runs along output channels.
#include <cstdint>
#include <cstring>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::ref {
namespace {
#include "kernels/eltwise/math.inc"

size_t conv_packed_size(int64_t OC, int64_t C, int64_t KH, int64_t KW) {
  return static_cast<size_t>(OC * C * KH * KW);
}

void conv_pack(const float* w, int64_t OC, int64_t C, int64_t KH, int64_t KW, float* dst) {
  for (int64_t oc = 0; oc < OC; ++oc)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw)
          dst[((kh * KW + kw) * C + c) * OC + oc] = w[((oc * C + c) * KH + kh) * KW + kw];
}

void conv_nhwc(const ConvNhwcArgs& a) {
  const int64_t rows = a.N * a.OH;
  const int threads = threads_for_work(rows * a.OW * a.OC * a.C * a.KH * a.KW, a.threads);
  parallel_for(rows, threads, [&](int64_t row) {
    const int64_t n = row / a.OH, oh = row % a.OH;
    for (int64_t ow = 0; ow < a.OW; ++ow) {
      float* y = a.y + ((n * a.OH + oh) * a.OW + ow) * a.y_stride;
      for (int64_t oc = 0; oc < a.OC; ++oc) y[oc] = 0.f;
      for (int64_t kh = 0; kh < a.KH; ++kh) {
        const int64_t ih = oh * a.SH - a.PH + kh * a.DH;
        if (ih < 0 || ih >= a.H) continue;
        for (int64_t kw = 0; kw < a.KW; ++kw) {
          const int64_t iw = ow * a.SW - a.PW + kw * a.DW;
          if (iw < 0 || iw >= a.W) continue;
          const float* x = a.x + ((n * a.H + ih) * a.W + iw) * a.x_stride;
          const float* w = a.w_packed + (kh * a.KW + kw) * a.C * a.OC;
          for (int64_t c = 0; c < a.C; ++c) {
            const float xv = x[c];
            const float* wr = w + c * a.OC;
            for (int64_t oc = 0; oc < a.OC; ++oc) y[oc] += xv * wr[oc];
          }
        }
      }
    }
    Epilogue ep = a.ep;
    ep.bias_m = nullptr;
    ep.alpha = 1.f;
    epilogue_tile(a.y + row * a.OW * a.y_stride, a.y_stride, row * a.OW, a.OW, 0, a.OC, ep);
  });
}

}  // namespace

void fill_conv_nhwc(KernelTable& t) {
  t.conv_packed_size = &conv_packed_size;
  t.conv_pack = &conv_pack;
  t.conv_nhwc = &conv_nhwc;
}
}  // namespace cnnrt::kernels::ref
