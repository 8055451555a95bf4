// Winograd F(m x m, 3 x 3) over NHWC, ref path: the same transforms as the
// SIMD paths written as plain matrix loops over one tile at a time, so it is
// the oracle for their factorised transforms (see transforms.inc for the
// matrices and tests/kernels/test_winograd.py for the declared error bound).
// Packed weights: U[p][c][oc], p = the N*N tile positions, oc contiguous.
// Float arithmetic as in the SIMD paths (weights transformed in double).
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::ref {
namespace {
#include "kernels/eltwise/math.inc"
#include "kernels/winograd/transforms.inc"

using W = WinoMat<kWinoM>;
constexpr int kM = kWinoM, kN = kWinoN, kP = kWinoP;

size_t winograd_packed_size(int64_t OC, int64_t C) { return static_cast<size_t>(kP * C * OC); }

void winograd_pack(const float* w, int64_t OC, int64_t C, float* dst) {
  float u[kP];
  for (int64_t oc = 0; oc < OC; ++oc)
    for (int64_t c = 0; c < C; ++c) {
      wino_weight_tile(w + (oc * C + c) * 9, u);
      for (int p = 0; p < kP; ++p) dst[(p * C + c) * OC + oc] = u[p];
    }
}

struct Scratch {
  std::vector<float> v, m;  // V[p][C], M[p][OC] of one tile
};

void conv_winograd(const ConvNhwcArgs& a) {
  const int64_t th = (a.OH + kM - 1) / kM, tw = (a.OW + kM - 1) / kM, tiles = a.N * th * tw;
  const int threads = threads_for_work(tiles * kP * a.C * a.OC, a.threads);
  parallel_for(tiles, threads, [&](int64_t tile) {
    static thread_local Scratch s;
    if (s.v.size() < static_cast<size_t>(kP * a.C)) s.v.resize(kP * a.C);
    if (s.m.size() < static_cast<size_t>(kP * a.OC)) s.m.resize(kP * a.OC);
    const int64_t n = tile / (th * tw), ty = tile / tw % th, tx = tile % tw;
    const int64_t ih0 = ty * kM - a.PH, iw0 = tx * kM - a.PW;
    // V[p][c] = (B^T d B)[p], d the tile of channel c with zeros outside the image.
    for (int64_t c = 0; c < a.C; ++c) {
      float d[kN][kN], t[kN][kN];
      for (int i = 0; i < kN; ++i)
        for (int j = 0; j < kN; ++j) {
          const int64_t ih = ih0 + i, iw = iw0 + j;
          d[i][j] = (ih >= 0 && ih < a.H && iw >= 0 && iw < a.W) ? a.x[((n * a.H + ih) * a.W + iw) * a.x_stride + c] : 0.f;
        }
      for (int i = 0; i < kN; ++i)
        for (int j = 0; j < kN; ++j) {
          float acc = 0.f;
          for (int k = 0; k < kN; ++k) acc += static_cast<float>(W::BT[i][k]) * d[k][j];
          t[i][j] = acc;
        }
      for (int i = 0; i < kN; ++i)
        for (int j = 0; j < kN; ++j) {
          float acc = 0.f;
          for (int k = 0; k < kN; ++k) acc += t[i][k] * static_cast<float>(W::BT[j][k]);
          s.v[(i * kN + j) * a.C + c] = acc;
        }
    }
    // M[p][oc] = sum_c V[p][c] U[p][c][oc]: kP independent products.
    for (int p = 0; p < kP; ++p) {
      float* mrow = s.m.data() + p * a.OC;
      for (int64_t oc = 0; oc < a.OC; ++oc) mrow[oc] = 0.f;
      for (int64_t c = 0; c < a.C; ++c) {
        const float vv = s.v[p * a.C + c];
        const float* u = a.w_packed + (p * a.C + c) * a.OC;
        for (int64_t oc = 0; oc < a.OC; ++oc) mrow[oc] += vv * u[oc];
      }
    }
    // Y = A^T M A, only the pixels inside the output, then the epilogue.
    Epilogue ep = a.ep;
    ep.bias_m = nullptr;
    ep.alpha = 1.f;
    for (int64_t oc = 0; oc < a.OC; ++oc) {
      float t[kM][kN];
      for (int i = 0; i < kM; ++i)
        for (int j = 0; j < kN; ++j) {
          float acc = 0.f;
          for (int k = 0; k < kN; ++k) acc += static_cast<float>(W::AT[i][k]) * s.m[(k * kN + j) * a.OC + oc];
          t[i][j] = acc;
        }
      for (int i = 0; i < kM; ++i)
        for (int j = 0; j < kM; ++j) {
          const int64_t oh = ty * kM + i, ow = tx * kM + j;
          if (oh >= a.OH || ow >= a.OW) continue;
          float acc = 0.f;
          for (int k = 0; k < kN; ++k) acc += t[i][k] * static_cast<float>(W::AT[j][k]);
          a.y[((n * a.OH + oh) * a.OW + ow) * a.y_stride + oc] = acc;
        }
    }
    for (int i = 0; i < kM; ++i)
      for (int j = 0; j < kM; ++j) {
        const int64_t oh = ty * kM + i, ow = tx * kM + j;
        if (oh >= a.OH || ow >= a.OW) continue;
        const int64_t pix = (n * a.OH + oh) * a.OW + ow;
        epilogue_tile(a.y + pix * a.y_stride, a.y_stride, pix, 1, 0, a.OC, ep);
      }
  });
}

}  // namespace

void fill_winograd(KernelTable& t) {
  t.winograd_m = kWinoM;
  t.winograd_packed_size = &winograd_packed_size;
  t.winograd_pack = &winograd_pack;
  t.conv_winograd = &conv_winograd;
}
}  // namespace cnnrt::kernels::ref
