// Depthwise convolution over NHWC, avx2 path: the channel-vectorised kernels
// of dwconv.inc with this file's ISA flags (8 lanes, maskload/maskstore channel tail).
#include <cstdint>
#include <immintrin.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/simd/avx2.h"
#include "kernels/dw_nhwc/vec_avx2.inc"
#include "kernels/eltwise/math.inc"
#include "kernels/dw_nhwc/common.inc"
// Output pixels per register tile: 8 accumulators (+ KW weights + 1 input)
// fit both register files (16 ymm, 32 zmm) and cover the FMA latency x ports.
constexpr int kDwR = 8;
#include "kernels/dw_nhwc/dwconv.inc"
}  // namespace
CNNRT_DEFINE_FILL_DW_NHWC
}  // namespace cnnrt::kernels::avx2
