// winograd family, ref path: not yet specialised; the table keeps the entries it
// inherits from the lower level.
#include "kernels/kernels.h"

namespace cnnrt::kernels::ref {
void fill_winograd(KernelTable&) {}
}  // namespace cnnrt::kernels::ref
