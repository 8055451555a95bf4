#pragma once
#include <cstdint>
#include <string>

namespace cnnrt {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool os_avx = false, os_avx512 = false;  // XCR0 says the OS saves the registers
  std::string brand;
  int64_t l2_bytes = 0;  // L2 per core (sysconf; 0: unknown)
};

const CpuFeatures& cpu_features();

// The weight bytes of one NC block of the NHWC convolution (see
// kernels/conv_nhwc/driver.inc): half of L2, at most 512 KiB (and 512 KiB
// where L2 is unknown). Measured, 1 thread, 1x1 layers with 0.6-4 MiB of
// weights at 7x7 and 14x14: on the Xeon (2 MiB L2, AVX-512) 512 KiB beat
// 1 MiB and 256 KiB (7x7 2048->512 / 512->2048: 162 / 162 GFLOP/s against
// 122 / 134 and 139 / 167); on Zen 3 (512 KiB L2, AVX2) 256 KiB beat
// 512 KiB (best of 2-3 alternated rounds: 7x7 2048->512 96 vs 85, 512->2048
// 97 vs 84, 14x14 1024->256 99 vs 82 GFLOP/s), 128 KiB tied 256.
int64_t conv_nc_block_bytes();

}  // namespace cnnrt
