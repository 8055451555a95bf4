// Denormal results flushed to zero while cnnrt computes (DESIGN: "denormal
// inputs or weights do not slow kernels"). On x86 an FMA with a denormal
// result or operand takes a microcode assist of ~100+ cycles: ResNet-50's
// deepest 3x3 layer (512x14x14, random BatchNorm-folded weights) ran 7.1 ms
// instead of 1.9 ms in the network on a Xeon (Sapphire Rapids class) before
// this guard. Only results are flushed (FTZ), not inputs (DAZ): with results
// flushed no layer makes denormals for the next one, and a denormal the
// caller passes in keeps its IEEE meaning (Sqrt, Log and Sign of 1e-40 as
// onnxruntime computes them; DAZ made them 0, -inf and 0).
// The caller's floating-point state is restored when the guard ends; the
// pool's helper threads are cnnrt's own and keep the flush mode for good.
#pragma once
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define CNNRT_FPENV_X86 1
#endif

namespace cnnrt {

class FlushDenormals {
 public:
  FlushDenormals() {
#if defined(CNNRT_FPENV_X86)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFtz);
#elif defined(__aarch64__)
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_));
    const unsigned long long v = saved_ | (1ull << 24);  // FZ
    __asm__ __volatile__("msr fpcr, %0" ::"r"(v));
#endif
  }
  ~FlushDenormals() {
#if defined(CNNRT_FPENV_X86)
    _mm_setcsr(saved_);
#elif defined(__aarch64__)
    __asm__ __volatile__("msr fpcr, %0" ::"r"(saved_));
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

  // For threads that only ever run cnnrt's work (the pool's helpers).
  static void set_for_this_thread() {
#if defined(CNNRT_FPENV_X86)
    _mm_setcsr(_mm_getcsr() | kFtz);
#elif defined(__aarch64__)
    unsigned long long v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    v |= 1ull << 24;
    __asm__ __volatile__("msr fpcr, %0" ::"r"(v));
#endif
  }

 private:
#if defined(CNNRT_FPENV_X86)
  static constexpr unsigned kFtz = 0x8000, kDaz = 0x0040;
  unsigned saved_;
#else
  unsigned long long saved_ = 0;
#endif
};

}  // namespace cnnrt
