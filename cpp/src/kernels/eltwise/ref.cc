// Element-wise activations and binary ops, ref path: the shared loops in
// math.inc compiled with this file's ISA flags.
#include <cstdint>


#include "kernels/kernels.h"

namespace cnnrt::kernels::ref {
namespace {
#include "kernels/eltwise/eltwise.inc"
}  // namespace
CNNRT_DEFINE_FILL_ELTWISE
}  // namespace cnnrt::kernels::ref
