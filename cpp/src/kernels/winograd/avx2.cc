// Winograd F(m x m, 3 x 3) over NHWC, avx2 path: driver.inc with a 6 x 16
// GEMM microkernel (6 tiles x 2 vectors of output channels: 12 of the 16
// ymm registers accumulate).
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
#include "kernels/winograd/driver.inc"
}  // namespace
CNNRT_DEFINE_FILL_WINOGRAD
}  // namespace cnnrt::kernels::avx2
