// Pooling over NHWC, avx512 path: the channel-vectorised kernels of pool.inc
// with this file's ISA flags.
#include <cstdint>
#include <immintrin.h>
#include <limits>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx512 {
namespace {
#include "kernels/simd/avx512.h"
#include "kernels/dw_nhwc/vec_avx512.inc"
#include "kernels/eltwise/math.inc"
#include "kernels/dw_nhwc/common.inc"
#include "kernels/pool_nhwc/pool.inc"
}  // namespace
CNNRT_DEFINE_FILL_POOL_NHWC
}  // namespace cnnrt::kernels::avx512
