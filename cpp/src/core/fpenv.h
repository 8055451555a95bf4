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
//
// Convolutions and matrix products also treat denormal *operands* as zero
// (DAZ, DenormalsAreZero below, around those steps only): a denormal input
// or weight is an FMA operand there, and FTZ alone does not spare the assist.
// A 1x1 or stride-2 conv (GEMM path) with denormal inputs ran 90-160x
// slower, one with denormal weights 90-150x (benchmarks/bench_soak.py). A
// denormal's contribution to a sum of products is below 1.2e-38 per term,
// so nothing a convolution computes changes beyond float32 rounding; the
// ops where a denormal keeps a meaning (Sqrt, Log, Sign, ...) run without DAZ.
//
// The pool's helpers take the calling thread's mode (FpMode) with every
// job they join: the rounding direction and DAZ of the caller's share and
// of theirs are the same, so the bytes do not depend on who ran what.
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

  static constexpr unsigned kFlushBit = 0x8000, kDazBit = 0x0040;

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
  static constexpr unsigned kFtz = kFlushBit;
  unsigned saved_;
#else
  unsigned long long saved_ = 0;
#endif
};

// The calling thread's floating-point control word (MXCSR / FPCR), to set
// in another thread (the pool's helpers, per job).
#if defined(CNNRT_FPENV_X86)
using FpMode = unsigned;
inline FpMode fp_mode() { return _mm_getcsr(); }
inline void set_fp_mode(FpMode m) {
  // The six low bits are sticky exception flags, not a mode: not copied.
  if ((_mm_getcsr() ^ m) & ~0x3fu) _mm_setcsr((_mm_getcsr() & 0x3fu) | (m & ~0x3fu));
}
#elif defined(__aarch64__)
using FpMode = unsigned long long;
inline FpMode fp_mode() {
  unsigned long long v;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
  return v;
}
inline void set_fp_mode(FpMode m) {
  if (fp_mode() != m) __asm__ __volatile__("msr fpcr, %0" ::"r"(m));
}
#else
using FpMode = unsigned;
inline FpMode fp_mode() { return 0; }
inline void set_fp_mode(FpMode) {}
#endif

// Denormal operands read as zero for the length of one step (a Conv, Gemm,
// MatMul or ConvTranspose; see the top of this file). On aarch64 FZ, which
// FlushDenormals sets, already flushes operands too.
class DenormalsAreZero {
 public:
  explicit DenormalsAreZero(bool on) : on_(on) {
#if defined(CNNRT_FPENV_X86)
    if (on_) {
      saved_ = _mm_getcsr();
      _mm_setcsr(saved_ | FlushDenormals::kDazBit);
    }
#endif
  }
  ~DenormalsAreZero() {
#if defined(CNNRT_FPENV_X86)
    if (on_) _mm_setcsr(saved_);
#endif
  }
  DenormalsAreZero(const DenormalsAreZero&) = delete;
  DenormalsAreZero& operator=(const DenormalsAreZero&) = delete;

 private:
  bool on_;
  unsigned saved_ = 0;
};

}  // namespace cnnrt
