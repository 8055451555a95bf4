#pragma once
#include <string>

namespace cnnrt {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool os_avx = false, os_avx512 = false;  // XCR0 says the OS saves the registers
  std::string brand;
};

const CpuFeatures& cpu_features();

}  // namespace cnnrt
