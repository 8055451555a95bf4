// Element-wise activations and binary ops, avx2 path: the shared loops in
// math.inc compiled with this file's ISA flags.
#include <cstdint>
#include <immintrin.h>

#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/eltwise/eltwise.inc"
}  // namespace
CNNRT_DEFINE_FILL_ELTWISE
}  // namespace cnnrt::kernels::avx2
