// conv_nhwc family, avx2 path: indirect GEMM (driver.inc) with a 6 x 16
// register tile (12 ymm accumulators, 2 weight vectors, 1 broadcast: 15 of
// the 16 registers); every row count 1..6 and panel width 8/16 is a template
// instance, the last vector of OC is masked.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>
#include <immintrin.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/simd/avx2.h"
#include "kernels/eltwise/math.inc"
typedef __m256i vmask;
static inline vmask vmask_first(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vload_mask(const float* p, vmask m) { return _mm256_maskload_ps(p, m); }
static inline void vstore_mask(float* p, vf v, vmask m) { _mm256_maskstore_ps(p, m, v); }
static inline vf vmaxf(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vminf(vf a, vf b) { return _mm256_min_ps(a, b); }
// v >= 0 ? v : v * alpha
static inline vf vleaky(vf v, vf alpha) {
  return _mm256_blendv_ps(v, _mm256_mul_ps(v, alpha), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
}

namespace tile_6x16 {
constexpr int kMR = 6;
constexpr int kNV = 2;
#include "kernels/conv_nhwc/driver.inc"
}  // namespace tile_6x16
}  // namespace

void fill_conv_nhwc(KernelTable& t) {
  t.conv_packed_size = &tile_6x16::conv_packed_size;
  t.conv_pack = &tile_6x16::conv_pack;
  t.conv_nhwc = &tile_6x16::conv_impl;
}
}  // namespace cnnrt::kernels::avx2
