// conv_nhwc family, avx2 path: not yet specialised; the table keeps the entries it
// inherits from the lower level.
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
void fill_conv_nhwc(KernelTable&) {}
}  // namespace cnnrt::kernels::avx2
