// Element-wise activations and binary ops, avx2 path: the shared loops in
// math.inc compiled with this file's ISA flags; Sigmoid and SiLU from
// simd/vact.inc (see eltwise.inc).
#include <cstdint>
#include <immintrin.h>

#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/simd/avx2.h"
#include "kernels/dw_nhwc/vec_avx2.inc"
#include "kernels/simd/vact.inc"
#define CNNRT_ELTWISE_VACT 1
#include "kernels/eltwise/eltwise.inc"
}  // namespace
CNNRT_DEFINE_FILL_ELTWISE
}  // namespace cnnrt::kernels::avx2
