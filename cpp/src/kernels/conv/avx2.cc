// Depthwise convolution, avx2 path (shared direct loops, this file's ISA flags).
#include <cstdint>
#include <immintrin.h>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/eltwise/math.inc"
#include "kernels/conv/dwconv.inc"
}  // namespace
CNNRT_DEFINE_FILL_DWCONV
}  // namespace cnnrt::kernels::avx2
