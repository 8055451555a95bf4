// CPUID + XCR0: a feature counts only when the CPU has it AND the OS saves
// its registers on context switch.
#include "cpu/cpuinfo.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <unistd.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define CNNRT_X86 1
#endif

namespace cnnrt {

namespace {

#if CNNRT_X86
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if CNNRT_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  unsigned max_leaf = a;
  __get_cpuid(1, &a, &b, &c, &d);
  bool osxsave = (c >> 27) & 1;
  bool avx = (c >> 28) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  if (osxsave) {
    uint64_t xcr0 = read_xcr0();
    f.os_avx = avx && ((xcr0 & 0x6) == 0x6);                // XMM + YMM state
    f.os_avx512 = f.os_avx && ((xcr0 & 0xe0) == 0xe0);      // opmask + ZMM_Hi256 + Hi16_ZMM
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = f.os_avx && ((b >> 5) & 1);
    f.avx512f = f.os_avx512 && ((b >> 16) & 1);
    f.avx512dq = f.os_avx512 && ((b >> 17) & 1);
    f.avx512bw = f.os_avx512 && ((b >> 30) & 1);
    f.avx512vl = f.os_avx512 && ((b >> 31) & 1);
  }
  f.fma = f.fma && f.os_avx;
  unsigned ext = 0;  // __get_cpuid leaves it unwritten where the leaf is not supported
  __get_cpuid(0x80000000, &ext, &b, &c, &d);
  if (ext >= 0x80000004) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; ++i) {
      unsigned r[4];
      __get_cpuid(0x80000002 + i, &r[0], &r[1], &r[2], &r[3]);
      std::memcpy(brand + 16 * i, r, 16);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
    size_t p = f.brand.find_first_not_of(' ');
    if (p != std::string::npos) f.brand = f.brand.substr(p);
  }
#endif
#if defined(_SC_LEVEL2_CACHE_SIZE)
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l2 > 0) f.l2_bytes = l2;
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

int64_t conv_nc_block_bytes() {
  static const int64_t b = [] {
    const int64_t cap = int64_t(512) << 10, l2 = cpu_features().l2_bytes;
    return l2 > 0 ? std::max(int64_t(64) << 10, std::min(cap, l2 / 2)) : cap;
  }();
  return b;
}

}  // namespace cnnrt
