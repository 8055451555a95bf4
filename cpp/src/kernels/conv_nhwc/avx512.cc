// conv_nhwc family, avx512 path: not yet specialised; the table keeps the entries it
// inherits from the lower level.
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx512 {
void fill_conv_nhwc(KernelTable&) {}
}  // namespace cnnrt::kernels::avx512
