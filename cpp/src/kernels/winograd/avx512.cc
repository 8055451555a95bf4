// Winograd F(4x4, 3x3), F(6x6, 3x3), F(2x2, 3x3) and F(2x2, 5x5) over NHWC, avx512 path: driver.inc with a
// 12 x 32 GEMM microkernel (12 tiles x 2 vectors of output channels: 24
// accumulators, broadcast A, vector B; 8 and 4 tiles for a block's last panel).
//
// F(4x4) by default, F(6x6) only where kernels.h's winograd6_better says
// (maps of 96x96 outputs and more), measured (a build of each, 1 thread,
// effective GFLOP/s = direct-convolution FLOPs / time, best of runs on this
// project's shared 2-vCPU Xeon; F(4) / F(6)):
//   resnet 56x56 64->64   408 / 293    vgg 224x224 64->64     334 / 339
//   resnet 28x28 128->128 365 / 355    vgg 112x112 128->128   304 / 351
//   resnet 14x14 256->256 309 /  82    vgg 28x28 512->512     247 / 205
//   googlenet 14x14 (4a-4e) 226-263 / 132-202
//   squeezenet 55x55, 27x27 (fire2-8) 217-280 / 220-346; a later F(4) run
//   gave 295-356, so these are within this machine's noise of each other
// F(6x6) does 1.27x fewer products but rounds maps up to multiples of 6
// (14x14 computes 18x18, 7x7 12x12: 1.65x and 2.9x the work), keeps 64
// products per tile (V and M 1.8x larger per tile) and has 2x the error
// (max|err| / max|y| 2.7e-5 vs 1.75e-5 at C = 512, N(0,1)): it only wins on
// 112x112-and-larger maps: kernels.h's winograd6_better runs it from 96x96
// outputs up (measured on Zen 3 at 112x112; 96-111 not measured here).
//
// Where the time goes (56x56 64->64, 1 thread): the 36 GEMMs run at ~160
// GFLOP/s (the microkernel alone, data in L1: 164), the input and output
// transforms take ~100 cycles per tile and 16 channels each (~25% of the
// total at 64 channels, ~8% at 256), giving ~400 GFLOP/s effective (2.3x the
// FMA probe's best, 175; 2.5x the direct kernel). Layers whose transformed weights (36 C OC
// floats) outgrow the caches stream them from memory (7x7 512->512: 37.7 MB
// for 49 pixels, ~50 GFLOP/s effective): winograd_worth_it (kernels.h)
// leaves those to direct convolution.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <immintrin.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx512 {
namespace {
#include "kernels/simd/avx512.h"
#include "kernels/eltwise/math.inc"
#include "kernels/winograd/transforms.inc"

static inline vf wg_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf wg_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf wg_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf wg_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf wg_load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p); }
static inline void wg_store_n(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v); }

constexpr int kMR = 12;
constexpr int kNV = 2;
#include "kernels/winograd/instances.inc"
}  // namespace
CNNRT_DEFINE_FILL_WINOGRAD
}  // namespace cnnrt::kernels::avx512
