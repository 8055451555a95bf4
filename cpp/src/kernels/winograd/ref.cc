// Winograd F(m x m, r x r) over NHWC (F(4x4, 3x3), F(6x6, 3x3), F(2x2, 3x3), F(2x2, 5x5)), ref path: the same transforms as the
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

// F(kM x kM, kR x kR): (4, 3), (6, 3), (2, 3) and (2, 5).
template <int kM, int kR>
struct RefWino {
using W = WinoMat<kM, kR>;
static constexpr int kN = W::N, kP = kN * kN;

static size_t winograd_packed_size(int64_t OC, int64_t C) { return static_cast<size_t>(kP * C * OC); }

static void winograd_pack(const float* w, int64_t OC, int64_t C, float* dst) {
  float u[kP];
  for (int64_t oc = 0; oc < OC; ++oc)
    for (int64_t c = 0; c < C; ++c) {
      wino_weight_tile<kM, kR>(w + (oc * C + c) * kR * kR, u);
      for (int p = 0; p < kP; ++p) dst[(p * C + c) * OC + oc] = u[p];
    }
}

struct Scratch {
  std::vector<float> v, m;  // V[p][C], M[p][OC] of one tile
};

static void conv_winograd(const ConvNhwcArgs& a) {
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
};

using Wg3 = RefWino<4, 3>;
using Wg6 = RefWino<6, 3>;
using Wg2 = RefWino<2, 3>;
using Wg5 = RefWino<2, 5>;

}  // namespace

void fill_winograd(KernelTable& t) {
  t.winograd_m = 4;
  t.winograd_packed_size = &Wg3::winograd_packed_size;
  t.winograd_pack = &Wg3::winograd_pack;
  t.conv_winograd = &Wg3::conv_winograd;
  t.winograd6_m = 6;
  t.winograd6_packed_size = &Wg6::winograd_packed_size;
  t.winograd6_pack = &Wg6::winograd_pack;
  t.conv_winograd6 = &Wg6::conv_winograd;
  t.winograd2_m = 2;
  t.winograd2_packed_size = &Wg2::winograd_packed_size;
  t.winograd2_pack = &Wg2::winograd_pack;
  t.conv_winograd2 = &Wg2::conv_winograd;
  t.winograd5_m = 2;
  t.winograd5_packed_size = &Wg5::winograd_packed_size;
  t.winograd5_pack = &Wg5::winograd_pack;
  t.conv_winograd5 = &Wg5::conv_winograd;
}
}  // namespace cnnrt::kernels::ref
