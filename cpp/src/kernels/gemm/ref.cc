// SGEMM, ref path: 4 x (8 x vector) microkernel over the shared packed-panel driver.
#include <cstdint>
#include <cstdlib>
#include <new>


#include "core/parallel.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::ref {
namespace {
#include "kernels/simd/ref.h"
#include "kernels/eltwise/math.inc"
constexpr int kMR = 4;
constexpr int kNV = 8;
#include "kernels/gemm/driver.inc"
}  // namespace
CNNRT_DEFINE_FILL_GEMM
}  // namespace cnnrt::kernels::ref
