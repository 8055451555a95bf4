// conv_nhwc family, avx512 path: indirect GEMM (driver.inc) with two
// register tiles, chosen per layer from K = KH*KW*C at pack time (the packed
// layout follows the tile):
//   6 x 64 (24 zmm accumulators, 4 weight vectors, 1 broadcast) while a
//     64-wide weight panel is at most kWideMaxK x 64 floats (640 KiB);
//   12 x 32 (24 accumulators, 2 weight vectors) for deeper K, where the
//     panels stream from L3 and half the weight bytes per FMA matter, and
//     for OC <= 16 (12 accumulator chains rather than 6).
// Measured (1 thread, GFLOP/s, best of rounds on a shared 2-core Xeon,
// peak ~172): 56x56 64->64 1x1 157 vs 142 (6x64 vs 12x32); 56x56 256->64 1x1
// 168 vs 149; 7x7 3x3 512->512 120 vs 152; 7x7 1x1 4608->512 122 vs 148.
// Every row count 1..MR and panel width 16..NR is a template instance; the
// last vector of OC is masked.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>
#include <immintrin.h>

#include "core/parallel.h"
#include "cpu/cpuinfo.h"
#include "kernels/kernels.h"

namespace cnnrt::kernels::avx512 {
namespace {
#include "kernels/simd/avx512.h"
#include "kernels/dw_nhwc/vec_avx512.inc"
#include "kernels/eltwise/math.inc"
#include "kernels/simd/vact.inc"

namespace tile_6x64 {
constexpr int kMR = 6;
constexpr int kNV = 4;
constexpr bool kKBlock = false;
constexpr bool kTail8 = false;
#include "kernels/conv_nhwc/driver.inc"
}  // namespace tile_6x64
namespace tile_12x32 {
constexpr int kMR = 12;
constexpr int kNV = 2;
constexpr bool kKBlock = false;
constexpr bool kTail8 = false;
#include "kernels/conv_nhwc/driver.inc"
}  // namespace tile_12x32

constexpr int64_t kWideMaxK = 2560;
// The 12-row tile also takes OC <= 16: 6 rows x 1 vector would leave 6
// accumulator chains for 2 FMA ports of 4-cycle latency (measured 58-64% of
// peak on 32->16, 96->16, 192->16 1x1 layers).
static inline bool tall(int64_t OC, int64_t C, int64_t KH, int64_t KW) { return KH * KW * C > kWideMaxK || OC <= 16; }

size_t conv_packed_size(int64_t OC, int64_t C, int64_t KH, int64_t KW) {
  return tall(OC, C, KH, KW) ? tile_12x32::conv_packed_size(OC, C, KH, KW)
                             : tile_6x64::conv_packed_size(OC, C, KH, KW);
}
void conv_pack(const float* w, int64_t OC, int64_t C, int64_t KH, int64_t KW, float* dst) {
  if (tall(OC, C, KH, KW))
    tile_12x32::conv_pack(w, OC, C, KH, KW, dst);
  else
    tile_6x64::conv_pack(w, OC, C, KH, KW, dst);
}
void conv_nhwc(const ConvNhwcArgs& a) {
  if (tall(a.OC, a.C, a.KH, a.KW))
    tile_12x32::conv_impl(a);
  else
    tile_6x64::conv_impl(a);
}
}  // namespace

void fill_conv_nhwc(KernelTable& t) {
  t.conv_packed_size = &conv_packed_size;
  t.conv_pack = &conv_pack;
  t.conv_nhwc = &conv_nhwc;
  // Its tile follows OC (tall()), so a channel slice could be read with
  // another tile's layout than the whole layer was packed in: no slices (the
  // table was filled by AVX2's fill_conv_nhwc first, which sets 16).
  t.nhwc_slice_c = 0;
}
}  // namespace cnnrt::kernels::avx512
