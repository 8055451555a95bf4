// The AVX-512 intrinsics cnnrt's avx512*.cc kernels use, emulated on AVX2 +
// FMA, for the emulated-AVX-512 build (CMake -DCNNRT_AVX512_EMULATE=ON; never a
// release build). That build force-includes this header into the avx512*.cc
// files, which it compiles with -mavx2 -mfma in place of -mavx512*, and reports
// the avx512 path as available on any AVX2 + FMA CPU. So the AVX-512 path's
// source (its 16-lane panels, tile sizes, channel tails and masks, which are
// this project's code) runs and is tested on a CPU without AVX-512. Not tested
// this way: what the compiler makes of it for AVX-512 (register allocation, its
// own vectorisation of the scalar loops in these files, which is AVX2 code
// here). The intrinsics are stand-ins, each written from Intel's definition of
// the instruction:
//   - lane-wise arithmetic, min/max, compares, rounding and conversions are the
//     AVX2 instruction on each 256-bit half, so NaN, signed-zero, rounding-mode
//     (MXCSR) and DAZ/FTZ behaviour is that of the AVX-512 instruction;
//   - masked loads and stores touch only the lanes in the mask, one float at a
//     time (the real instructions do not fault on masked-off lanes; a
//     full-width load here could), so the guard-page tests see exactly the
//     bytes a kernel touches;
//   - vscalefps (a * 2^floor(b)) in double precision, one rounding to float
//     (scalef_half says which infinite b it leaves out).
// Only what the kernels call is here: a new _mm512_* in an avx512*.cc file
// fails to compile in the emulated build (an intrinsic that needs AVX-512
// enabled), which is the signal to add it.
#pragma once
#define CNNRT_AVX512_EMULATION_HEADER 1
#include <immintrin.h>

namespace cnnrt_emu512 {

// A 512-bit vector as two 256-bit halves: the kernels' __m512 and __m512i (the
// names are redefined below). GCC keeps such a struct in two ymm registers; its
// own 64-byte vector type, without AVX-512, compiles 10-20x slower here.
struct F512 {
  __m256 lo, hi;
};
struct I512 {
  __m256i lo, hi;
};
// Lane i of the result is all ones where bit i of k is set.
static inline F512 mask_lanes(__mmask16 k) {
  const __m256i bits_lo = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i bits_hi = _mm256_setr_epi32(256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
  const __m256i kk = _mm256_set1_epi32(k);
  return {_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(kk, bits_lo), bits_lo)),
          _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(kk, bits_hi), bits_hi))};
}

#define CNNRT_EMU512_BINARY(name, op) \
  static inline F512 name(F512 a, F512 b) { return F512{op(a.lo, b.lo), op(a.hi, b.hi)}; }
CNNRT_EMU512_BINARY(add_ps, _mm256_add_ps)
CNNRT_EMU512_BINARY(sub_ps, _mm256_sub_ps)
CNNRT_EMU512_BINARY(mul_ps, _mm256_mul_ps)
CNNRT_EMU512_BINARY(div_ps, _mm256_div_ps)
CNNRT_EMU512_BINARY(max_ps, _mm256_max_ps)
CNNRT_EMU512_BINARY(min_ps, _mm256_min_ps)
#undef CNNRT_EMU512_BINARY

static inline F512 fmadd_ps(F512 a, F512 b, F512 c) {
  return F512{_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}
static inline F512 fnmadd_ps(F512 a, F512 b, F512 c) {
  return F512{_mm256_fnmadd_ps(a.lo, b.lo, c.lo), _mm256_fnmadd_ps(a.hi, b.hi, c.hi)};
}
static inline F512 setzero_ps() { return F512{_mm256_setzero_ps(), _mm256_setzero_ps()}; }
static inline F512 set1_ps(float v) { return F512{_mm256_set1_ps(v), _mm256_set1_ps(v)}; }
static inline F512 loadu_ps(const void* p) {
  const float* f = static_cast<const float*>(p);
  return F512{_mm256_loadu_ps(f), _mm256_loadu_ps(f + 8)};
}
static inline void storeu_ps(void* p, F512 v) {
  float* f = static_cast<float*>(p);
  _mm256_storeu_ps(f, v.lo);
  _mm256_storeu_ps(f + 8, v.hi);
}
static inline F512 maskz_loadu_ps(__mmask16 k, const void* p) {
  alignas(64) float lanes[16];
  const float* f = static_cast<const float*>(p);
  for (int i = 0; i < 16; ++i) lanes[i] = (k >> i) & 1 ? f[i] : 0.f;
  return F512{_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)};
}
static inline void mask_storeu_ps(void* p, __mmask16 k, F512 v) {
  alignas(64) float lanes[16];
  _mm256_store_ps(lanes, v.lo);
  _mm256_store_ps(lanes + 8, v.hi);
  float* f = static_cast<float*>(p);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) f[i] = lanes[i];
}
static inline F512 mask_mul_ps(F512 src, __mmask16 k, F512 a, F512 b) {
  const F512 m = mask_lanes(k);
  return F512{_mm256_blendv_ps(src.lo, _mm256_mul_ps(a.lo, b.lo), m.lo),
              _mm256_blendv_ps(src.hi, _mm256_mul_ps(a.hi, b.hi), m.hi)};
}
// vcmpps into a mask register: AVX's vcmpps takes the same 32 predicates.
template <int kPred>
static inline __mmask16 cmp_ps_mask(F512 a, F512 b) {
  const int lo = _mm256_movemask_ps(_mm256_cmp_ps(a.lo, b.lo, kPred));
  const int hi = _mm256_movemask_ps(_mm256_cmp_ps(a.hi, b.hi, kPred));
  return static_cast<__mmask16>(lo | (hi << 8));
}
// vrndscaleps with a scale of 2^0 (imm bits 7:4 zero) is vroundps with the same
// imm bits 3:0 (rounding control, MXCSR select, precision-exception suppress).
template <int kImm>
static inline F512 roundscale_ps(F512 a) {
  static_assert((kImm & 0xF0) == 0, "emulated vrndscaleps: only a scale of 2^0");
  return F512{_mm256_round_ps(a.lo, kImm & 0xF), _mm256_round_ps(a.hi, kImm & 0xF)};
}
// vscalefps: a * 2^floor(b), rounded once to float (under MXCSR's rounding
// mode, FTZ and DAZ, as the instruction). floor(b) is clamped to [-400, 400],
// beyond which every nonzero finite float result is 0 or inf anyway; 2^n is then
// a normal double and the product in double is exact. A NaN b gives b's NaN, as
// the instruction. Not emulated: the instruction's NaN for b = +inf with a = 0
// and for b = -inf with a = +-inf (here 0 and +-inf); the kernels pass
// integer-valued b in [-126, 128].
static inline __m256 scalef_half(__m256 a, __m256 b) {
  const __m256 n = _mm256_min_ps(_mm256_max_ps(_mm256_floor_ps(b), _mm256_set1_ps(-400.f)), _mm256_set1_ps(400.f));
  const __m256i n32 = _mm256_cvtps_epi32(n);
  const __m128i ni[2] = {_mm256_castsi256_si128(n32), _mm256_extracti128_si256(n32, 1)};
  __m128 out[2];
  for (int h = 0; h < 2; ++h) {
    const __m256d ad = _mm256_cvtps_pd(h == 0 ? _mm256_castps256_ps128(a) : _mm256_extractf128_ps(a, 1));
    // 2^n as a double: exponent field n + 1023.
    const __m256d p2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(ni[h]), _mm256_set1_epi64x(1023)), 52));
    out[h] = _mm256_cvtpd_ps(_mm256_mul_pd(ad, p2));
  }
  const __m256 r = _mm256_set_m128(out[1], out[0]);
  return _mm256_blendv_ps(r, b, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
}
static inline F512 scalef_ps(F512 a, F512 b) {
  return F512{scalef_half(a.lo, b.lo), scalef_half(a.hi, b.hi)};
}
static inline I512 cvtps_epi32(F512 a) {
  return I512{_mm256_cvtps_epi32(a.lo), _mm256_cvtps_epi32(a.hi)};
}
static inline I512 add_epi32(I512 a, I512 b) {
  return I512{_mm256_add_epi32(a.lo, b.lo), _mm256_add_epi32(a.hi, b.hi)};
}
template <unsigned kCount>
static inline I512 slli_epi32(I512 a) {
  return I512{_mm256_slli_epi32(a.lo, kCount), _mm256_slli_epi32(a.hi, kCount)};
}
static inline I512 set1_epi32(int v) { return I512{_mm256_set1_epi32(v), _mm256_set1_epi32(v)}; }
static inline F512 castsi512_ps(I512 a) { return F512{_mm256_castsi256_ps(a.lo), _mm256_castsi256_ps(a.hi)}; }

}  // namespace cnnrt_emu512

// Every name a kernel file uses, after <immintrin.h> declared the real ones
// (#undef first: without optimisation GCC defines some of them as macros).
#define __m512 ::cnnrt_emu512::F512
#define __m512i ::cnnrt_emu512::I512
#undef _mm512_add_ps
#define _mm512_add_ps(a, b) ::cnnrt_emu512::add_ps(a, b)
#undef _mm512_sub_ps
#define _mm512_sub_ps(a, b) ::cnnrt_emu512::sub_ps(a, b)
#undef _mm512_mul_ps
#define _mm512_mul_ps(a, b) ::cnnrt_emu512::mul_ps(a, b)
#undef _mm512_div_ps
#define _mm512_div_ps(a, b) ::cnnrt_emu512::div_ps(a, b)
#undef _mm512_max_ps
#define _mm512_max_ps(a, b) ::cnnrt_emu512::max_ps(a, b)
#undef _mm512_min_ps
#define _mm512_min_ps(a, b) ::cnnrt_emu512::min_ps(a, b)
#undef _mm512_fmadd_ps
#define _mm512_fmadd_ps(a, b, c) ::cnnrt_emu512::fmadd_ps(a, b, c)
#undef _mm512_fnmadd_ps
#define _mm512_fnmadd_ps(a, b, c) ::cnnrt_emu512::fnmadd_ps(a, b, c)
#undef _mm512_setzero_ps
#define _mm512_setzero_ps() ::cnnrt_emu512::setzero_ps()
#undef _mm512_set1_ps
#define _mm512_set1_ps(v) ::cnnrt_emu512::set1_ps(v)
#undef _mm512_loadu_ps
#define _mm512_loadu_ps(p) ::cnnrt_emu512::loadu_ps(p)
#undef _mm512_storeu_ps
#define _mm512_storeu_ps(p, v) ::cnnrt_emu512::storeu_ps(p, v)
#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) ::cnnrt_emu512::maskz_loadu_ps(k, p)
#undef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps(p, k, v) ::cnnrt_emu512::mask_storeu_ps(p, k, v)
#undef _mm512_mask_mul_ps
#define _mm512_mask_mul_ps(s, k, a, b) ::cnnrt_emu512::mask_mul_ps(s, k, a, b)
#undef _mm512_cmp_ps_mask
#define _mm512_cmp_ps_mask(a, b, p) ::cnnrt_emu512::cmp_ps_mask<(p)>(a, b)
#undef _mm512_roundscale_ps
#define _mm512_roundscale_ps(a, imm) ::cnnrt_emu512::roundscale_ps<(imm)>(a)
#undef _mm512_scalef_ps
#define _mm512_scalef_ps(a, b) ::cnnrt_emu512::scalef_ps(a, b)
#undef _mm512_cvtps_epi32
#define _mm512_cvtps_epi32(a) ::cnnrt_emu512::cvtps_epi32(a)
#undef _mm512_add_epi32
#define _mm512_add_epi32(a, b) ::cnnrt_emu512::add_epi32(a, b)
#undef _mm512_slli_epi32
#define _mm512_slli_epi32(a, n) ::cnnrt_emu512::slli_epi32<(n)>(a)
#undef _mm512_set1_epi32
#define _mm512_set1_epi32(v) ::cnnrt_emu512::set1_epi32(v)
#undef _mm512_castsi512_ps
#define _mm512_castsi512_ps(a) ::cnnrt_emu512::castsi512_ps(a)
