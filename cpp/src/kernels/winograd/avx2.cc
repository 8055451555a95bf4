// Winograd F(4 x 4, 3 x 3), F(6 x 6, 3 x 3), F(2 x 2, 3 x 3) and F(2 x 2, 5 x 5) over
// NHWC, avx2 path:
// driver.inc with a 6 x 16 GEMM microkernel (6 tiles x 2 vectors of output
// channels: 12 of the 16 ymm registers accumulate), compiled once per (m, r).
//
// F(2x2, 5x5) against the direct kernel (conv_nhwc), Zen 3, kernel alone,
// best of 3 x 5 runs, 1 thread (2 threads), ms, Winograd / direct:
//   64x27x27 -> 192 (AlexNet's conv2)  2.19 / 4.69  (1.54 / 2.76)
//   16x14x14 -> 32                     0.046 / 0.076
//   32x28x28 -> 64                     0.64 / 0.97  (0.41 / 0.56)
//   128x14x14 -> 128                   1.03 / 2.06  (0.60 / 1.10)
//   256x7x7 -> 256                     1.85 / 2.06  (0.79 / 0.92)
//   48x56x56 -> 64                     3.58 / 6.11  (1.39 / 2.70)
//   512x14x14 -> 512                   17.2 / 28.2  (11.2 / 15.3)
// 36 products per 4 outputs against 25 per output: faster everywhere from
// 7x7 maps and 16 channels up (winograd5_worth_it).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <immintrin.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/simd/avx2.h"
#include "kernels/eltwise/math.inc"
#include "kernels/winograd/transforms.inc"

static inline vf wg_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf wg_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf wg_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf wg_min(vf a, vf b) { return _mm256_min_ps(a, b); }
// Lane i of the mask is set when i < n.
static inline __m256i wg_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf wg_load_n(const float* p, int n) { return _mm256_maskload_ps(p, wg_mask(n)); }
static inline void wg_store_n(float* p, vf v, int n) { _mm256_maskstore_ps(p, wg_mask(n), v); }

constexpr int kMR = 6;
constexpr int kNV = 2;
#include "kernels/winograd/instances.inc"
}  // namespace
CNNRT_DEFINE_FILL_WINOGRAD
}  // namespace cnnrt::kernels::avx2
