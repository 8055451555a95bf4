// conv_nhwc family, avx2 path: indirect GEMM (driver.inc) with a 6 x 16
// register tile (12 ymm accumulators, 2 weight vectors, 1 broadcast: 15 of
// the 16 registers); every row count 1..6 and panel width 8/16 is a template
// instance, the last vector of OC is masked.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>
#include <immintrin.h>

#include "core/parallel.h"
#include "cpu/cpuinfo.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx2 {
namespace {
#include "kernels/simd/avx2.h"
#include "kernels/dw_nhwc/vec_avx2.inc"
#include "kernels/eltwise/math.inc"
#include "kernels/simd/vact.inc"

namespace tile_6x16 {
constexpr int kMR = 6;
constexpr int kNV = 2;
constexpr bool kKBlock = true;
// One-vector panels of direct 1x1 layers as 8-row tiles (driver.inc,
// run_tail8): in panel-outer runs, and on layers run pixel-block outer after
// every kTailBlocks blocks over their rows. Zen 3, 1 thread, as steps of the
// model (minima of 120-150 runs, two builds alternated 3-4 times):
// EfficientNet-B0's 28x28 144->40 and 240->40 projections (panel-outer)
// 0.1015 -> 0.099 and 0.170 -> 0.164 ms; the 56x56 96->24 and 144->24 ones
// of MobileNetV2 and EfficientNet-B0 (pixel-block outer at one thread: their
// rows outgrow kPanelOuterRows) 0.1935 -> 0.178 and 0.2735 -> 0.2555.
constexpr bool kTail8 = true;
#include "kernels/conv_nhwc/driver.inc"
}  // namespace tile_6x16
}  // namespace

void fill_conv_nhwc(KernelTable& t) {
  t.conv_packed_size = &tile_6x16::conv_packed_size;
  t.conv_pack = &tile_6x16::conv_pack;
  t.conv_nhwc = &tile_6x16::conv_impl;
  // Panels of kNR channels, each K x kNR floats; the depthwise kernel's
  // blocks of kVec channels (dw_nhwc/dwconv.inc) divide them. (AVX-512 picks
  // its tile from OC, so a slice could read another tile's layout: its
  // fill_conv_nhwc sets 0 again.)
  t.nhwc_slice_c = tile_6x16::kNR;
}
}  // namespace cnnrt::kernels::avx2
