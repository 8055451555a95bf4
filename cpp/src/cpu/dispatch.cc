// Fill each level's KernelTable from ref, then upgrade per ISA; CNNRT_ISA caps
// the level at start-up; isa_set() lets tests switch paths in one process.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cnnrt/status.h"
#include "cpu/cpuinfo.h"
#include "kernels/kernels.h"

namespace cnnrt {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Ref: return "ref";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa isa_from_name(const char* name) {
  std::string s(name ? name : "");
  if (s == "ref") return Isa::Ref;
  if (s == "avx2") return Isa::Avx2;
  if (s == "avx512") return Isa::Avx512;
  fail(ErrorKind::Input, "unknown ISA level '", s, "' (expected ref, avx2 or avx512)");
}

Isa isa_detected() {
  static const Isa level = [] {
    const auto& f = cpu_features();
#if defined(CNNRT_HAVE_X86_KERNELS)
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma) return Isa::Avx512;
#if defined(CNNRT_AVX512_EMULATED)
    // The emulated-AVX-512 test build (CMakeLists.txt, CNNRT_AVX512_EMULATE):
    // its avx512 kernels need only AVX2 + FMA.
    if (f.avx2 && f.fma) return Isa::Avx512;
#endif
    if (f.avx2 && f.fma) return Isa::Avx2;
#else
    (void)f;
#endif
    return Isa::Ref;
  }();
  return level;
}

namespace {

Isa initial_level() {
  Isa lvl = isa_detected();
  const char* env = std::getenv("CNNRT_ISA");
  if (env && *env) {
    Isa cap;
    try {
      cap = isa_from_name(env);
    } catch (const Error&) {
      return lvl;  // an unknown value leaves the detected level; cnnrt.info() shows it
    }
    if (static_cast<int>(cap) < static_cast<int>(lvl)) lvl = cap;
  }
  return lvl;
}

std::atomic<int>& current_level() {
  static std::atomic<int> lvl{static_cast<int>(initial_level())};
  return lvl;
}

struct Tables {
  KernelTable t[3];
  Tables() {
    for (int i = 0; i < 3; ++i) {
      t[i].isa = Isa::Ref;
      kernels::ref::fill_gemm(t[i]);
      kernels::ref::fill_eltwise(t[i]);
      kernels::ref::fill_dwconv(t[i]);
      kernels::ref::fill_conv_nhwc(t[i]);
      kernels::ref::fill_winograd(t[i]);
      kernels::ref::fill_dw_nhwc(t[i]);
      kernels::ref::fill_pool_nhwc(t[i]);
    }
#if defined(CNNRT_HAVE_X86_KERNELS)
    for (int i = 1; i < 3; ++i) {
      t[i].isa = Isa::Avx2;
      kernels::avx2::fill_gemm(t[i]);
      kernels::avx2::fill_eltwise(t[i]);
      kernels::avx2::fill_dwconv(t[i]);
      kernels::avx2::fill_conv_nhwc(t[i]);
      kernels::avx2::fill_winograd(t[i]);
      kernels::avx2::fill_dw_nhwc(t[i]);
      kernels::avx2::fill_pool_nhwc(t[i]);
    }
    t[2].isa = Isa::Avx512;
    kernels::avx512::fill_gemm(t[2]);
    kernels::avx512::fill_eltwise(t[2]);
    kernels::avx512::fill_dwconv(t[2]);
    kernels::avx512::fill_conv_nhwc(t[2]);
    kernels::avx512::fill_winograd(t[2]);
    kernels::avx512::fill_dw_nhwc(t[2]);
    kernels::avx512::fill_pool_nhwc(t[2]);
#endif
  }
};

}  // namespace

Isa isa_current() { return static_cast<Isa>(current_level().load()); }

void isa_set(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(isa_detected()))
    fail(ErrorKind::Input, "ISA level '", isa_name(isa), "' is not available on this CPU (detected: ", isa_name(isa_detected()), ")");
  current_level().store(static_cast<int>(isa));
}

const KernelTable& kernel_table(Isa isa) {
  static const Tables tables;
  if (static_cast<int>(isa) > static_cast<int>(isa_detected()))
    fail(ErrorKind::Input, "ISA level '", isa_name(isa), "' is not available on this CPU");
  return tables.t[static_cast<int>(isa)];
}

}  // namespace cnnrt
