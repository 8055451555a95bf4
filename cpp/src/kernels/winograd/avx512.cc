// Winograd F(m x m, 3 x 3) over NHWC, avx512 path: driver.inc with a
// 12 x 32 GEMM microkernel (12 tiles x 2 vectors of output channels: 24
// accumulators, broadcast A, vector B).
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
#include "kernels/winograd/driver.inc"
}  // namespace
CNNRT_DEFINE_FILL_WINOGRAD
}  // namespace cnnrt::kernels::avx512
