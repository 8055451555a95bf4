// Pooling over NHWC, avx2 path: the channel-vectorised kernels of pool.inc
// with this file's ISA flags.
#include <cstdint>
#include <immintrin.h>
#include <limits>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/simd/avx2.h"
#include "kernels/dw_nhwc/vec_avx2.inc"
#include "kernels/eltwise/math.inc"
#include "kernels/dw_nhwc/common.inc"
#include "kernels/pool_nhwc/pool.inc"
}  // namespace
CNNRT_DEFINE_FILL_POOL_NHWC
}  // namespace cnnrt::kernels::avx2
