// SGEMM, avx512 path: 8 x (2 x vector) microkernel over the shared packed-panel driver.
#include <cstdint>
#include <cstdlib>
#include <new>
#include <immintrin.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx512 {
namespace {
#include "kernels/simd/avx512.h"
#include "kernels/eltwise/math.inc"
constexpr int kMR = 8;
constexpr int kNV = 2;
#include "kernels/gemm/driver.inc"
}  // namespace
CNNRT_DEFINE_FILL_GEMM
}  // namespace cnnrt::kernels::avx512
