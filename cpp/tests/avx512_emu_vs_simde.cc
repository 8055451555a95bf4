// cpp/src/kernels/simd/avx512_emu.h (the emulated-AVX-512 test build's stand-ins
// for the AVX-512 intrinsics the kernels call) against SIMDe, an independent,
// widely used portable implementation of the same intrinsics, bit for bit, over
// random and special inputs (NaN, +-0, +-inf, subnormals, huge values, ties).
// Built with -mavx2, SIMDe's lane-wise arithmetic runs on 256-bit halves as the
// emulation does, so those comparisons check the plumbing (halves, lane order,
// masks, immediates) more than the arithmetic; rounding, scalef and the mask
// operations are where the two are written differently.
// A developer's check, not part of the test run: SIMDe is not a dependency.
//   apt-get install libsimde-dev
//   g++ -std=c++17 -O2 -mavx2 -mfma -Icpp/src cpp/tests/avx512_emu_vs_simde.cc -o /tmp/emu_check && /tmp/emu_check
// SIMDe 0.7.4 (Debian 12) lacks the masked load and store and vcvtps2dq: those
// are checked against Intel's definition written out per lane. Where the two
// differ by definition it says so and compares where they agree:
// SIMDe's portable vscalefps flushes subnormal inputs and overflows 2^128 to inf
// (the instruction, and the emulation, compute a * 2^floor(b) exactly).
#include <simde/x86/avx512.h>

#include "kernels/simd/avx512_emu.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

namespace {

std::mt19937 rng(12345);

float special(int i) {
  static const float s[] = {0.f, -0.f, 1.f, -1.f, 0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 3.f,
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::denorm_min(), -1e-40f, 1e-38f, 3.4e38f, -3.4e38f, 8388608.5f,
                            16777217.f, 2147483520.f, 2147483648.f, -2147483904.f, 1e10f};
  return s[i % (sizeof(s) / sizeof(s[0]))];
}
float rnd_float(bool specials) {
  std::uniform_int_distribution<int> kind(0, 9);
  const int k = kind(rng);
  if (specials && k < 3) return special(static_cast<int>(rng() % 97));
  if (k < 5) return std::uniform_real_distribution<float>(-4.f, 4.f)(rng);
  if (k < 7) return std::round(std::uniform_real_distribution<float>(-130.f, 130.f)(rng)) + (k == 6 ? 0.5f : 0.f);
  uint32_t bits = static_cast<uint32_t>(rng());
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct V {
  alignas(64) float f[16];
};
V rnd_vec(bool specials) {
  V v;
  for (float& x : v.f) x = rnd_float(specials);
  return v;
}
simde__m512 to_simde(const V& v) { return simde_mm512_loadu_ps(v.f); }
__m512 to_emu(const V& v) { return _mm512_loadu_ps(v.f); }
V from_simde(simde__m512 x) {
  V v;
  simde_mm512_storeu_ps(v.f, x);
  return v;
}
V from_emu(__m512 x) {
  V v;
  _mm512_storeu_ps(v.f, x);
  return v;
}
V from_emu_i(__m512i x) { return from_emu(_mm512_castsi512_ps(x)); }

int failures = 0;
long checks = 0;
// NaN payloads are compared too (AVX2 and AVX-512 propagate the same operand).
void expect_same(const char* what, const V& want, const V& got, const V& a, const V& b) {
  ++checks;
  if (std::memcmp(want.f, got.f, 64) == 0) return;
  for (int i = 0; i < 16; ++i) {
    uint32_t w, g;
    std::memcpy(&w, &want.f[i], 4);
    std::memcpy(&g, &got.f[i], 4);
    if (w != g && failures++ < 20)
      std::printf("MISMATCH %s lane %d: a=%a b=%a simde=%a (%08x) emu=%a (%08x)\n", what, i, a.f[i], b.f[i], want.f[i], w,
                  got.f[i], g);
  }
}

}  // namespace

int main() {
  for (int iter = 0; iter < 20000; ++iter) {
    const V a = rnd_vec(true), b = rnd_vec(true), c = rnd_vec(true);
    const simde__m512 sa = to_simde(a), sb = to_simde(b), sc = to_simde(c);
    const __m512 ea = to_emu(a), eb = to_emu(b), ec = to_emu(c);
    expect_same("add", from_simde(simde_mm512_add_ps(sa, sb)), from_emu(_mm512_add_ps(ea, eb)), a, b);
    expect_same("sub", from_simde(simde_mm512_sub_ps(sa, sb)), from_emu(_mm512_sub_ps(ea, eb)), a, b);
    expect_same("mul", from_simde(simde_mm512_mul_ps(sa, sb)), from_emu(_mm512_mul_ps(ea, eb)), a, b);
    expect_same("div", from_simde(simde_mm512_div_ps(sa, sb)), from_emu(_mm512_div_ps(ea, eb)), a, b);
    expect_same("max", from_simde(simde_mm512_max_ps(sa, sb)), from_emu(_mm512_max_ps(ea, eb)), a, b);
    expect_same("min", from_simde(simde_mm512_min_ps(sa, sb)), from_emu(_mm512_min_ps(ea, eb)), a, b);
    expect_same("fmadd", from_simde(simde_mm512_fmadd_ps(sa, sb, sc)), from_emu(_mm512_fmadd_ps(ea, eb, ec)), a, b);
    expect_same("fnmadd", from_simde(simde_mm512_fnmadd_ps(sa, sb, sc)), from_emu(_mm512_fnmadd_ps(ea, eb, ec)), a, b);
    expect_same("set1", from_simde(simde_mm512_set1_ps(a.f[3])), from_emu(_mm512_set1_ps(a.f[3])), a, b);
    expect_same("setzero", from_simde(simde_mm512_setzero_ps()), from_emu(_mm512_setzero_ps()), a, b);
    const uint16_t k = static_cast<uint16_t>(rng());
    // Masked loads and stores (SIMDe 0.7.4 has neither): only the lanes in k
    // are read (the rest are 0) or written, per Intel's definition.
    {
      V want_load, dst_s = c, dst_e = c;
      for (int i = 0; i < 16; ++i) {
        want_load.f[i] = (k >> i) & 1 ? a.f[i] : 0.f;
        if ((k >> i) & 1) dst_s.f[i] = b.f[i];
      }
      expect_same("maskz_loadu", want_load, from_emu(_mm512_maskz_loadu_ps(k, a.f)), a, b);
      _mm512_mask_storeu_ps(dst_e.f, k, eb);
      expect_same("mask_storeu", dst_s, dst_e, b, c);
    }
    expect_same("mask_mul", from_simde(simde_mm512_mask_mul_ps(sc, k, sa, sb)), from_emu(_mm512_mask_mul_ps(ec, k, ea, eb)), a, b);
    {
      V ks, ke;
      const uint16_t ms = simde_mm512_cmp_ps_mask(sa, sb, SIMDE_CMP_LT_OQ), me = _mm512_cmp_ps_mask(ea, eb, _CMP_LT_OQ);
      const uint16_t ms2 = simde_mm512_cmp_ps_mask(sa, sb, SIMDE_CMP_NLE_UQ), me2 = _mm512_cmp_ps_mask(ea, eb, _CMP_NLE_UQ);
      for (int i = 0; i < 16; ++i) {
        ks.f[i] = static_cast<float>(((ms >> i) & 1) + 2 * ((ms2 >> i) & 1));
        ke.f[i] = static_cast<float>(((me >> i) & 1) + 2 * ((me2 >> i) & 1));
      }
      expect_same("cmp_ps_mask", ks, ke, a, b);
    }
    // The immediate in parentheses: SIMDe 0.7.4's macro shifts it unparenthesized
    // (imm8 >> 4), which reads TO_NEG_INF | NO_EXC as a scale of 2^1.
    expect_same("roundscale(floor)",
                from_simde(simde_mm512_roundscale_ps(sa, (SIMDE_MM_FROUND_TO_NEG_INF | SIMDE_MM_FROUND_NO_EXC))),
                from_emu(_mm512_roundscale_ps(ea, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)), a, b);
    expect_same("roundscale(nearest)",
                from_simde(simde_mm512_roundscale_ps(sa, (SIMDE_MM_FROUND_TO_NEAREST_INT | SIMDE_MM_FROUND_NO_EXC))),
                from_emu(_mm512_roundscale_ps(ea, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), a, b);
    // vcvtps2dq: finite inputs in int32 range (out of range both give 0x80000000,
    // but SIMDe's portable path is compiler-defined there).
    {
      V r = a;
      for (float& x : r.f)
        if (!(std::fabs(x) < 2.1e9f)) x = 7.5f;
      // SIMDe 0.7.4 has no _mm512_cvtps_epi32: the definition, round to
      // nearest even (the default MXCSR mode) per lane.
      V want;
      for (int i = 0; i < 16; ++i) {
        const int32_t q = static_cast<int32_t>(std::nearbyint(r.f[i]));
        std::memcpy(&want.f[i], &q, 4);
      }
      expect_same("cvtps_epi32", want, from_emu_i(_mm512_cvtps_epi32(to_emu(r))), r, b);
      V n;
      for (int i = 0; i < 16; ++i) n.f[i] = std::round(std::uniform_real_distribution<float>(-127.f, 128.f)(rng));
      // SIMDe's add and shift on the integers the definition gives.
      alignas(64) int32_t ni[16];
      for (int i = 0; i < 16; ++i) ni[i] = static_cast<int32_t>(n.f[i]);
      const simde__m512i si = simde_mm512_slli_epi32(simde_mm512_add_epi32(simde_mm512_loadu_si512(ni), simde_mm512_set1_epi32(127)), 23);
      const __m512i ei = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(to_emu(n)), _mm512_set1_epi32(127)), 23);
      expect_same("vpow2i chain", from_simde(simde_mm512_castsi512_ps(si)), from_emu(_mm512_castsi512_ps(ei)), n, b);
    }
    // vscalefps where SIMDe's portable definition and the instruction's agree:
    // normal a, floor(b) in [-126, 127] and a result that is a normal float.
    {
      V p = a, n = b;
      for (int i = 0; i < 16; ++i) {
        if (!std::isnormal(p.f[i]) || std::fabs(p.f[i]) > 1e4f || std::fabs(p.f[i]) < 1e-4f) p.f[i] = 1.25f;
        n.f[i] = std::uniform_real_distribution<float>(-110.f, 110.f)(rng);
        if (i % 3 == 0) n.f[i] = std::round(n.f[i]);
      }
      expect_same("scalef", from_simde(simde_mm512_scalef_ps(to_simde(p), to_simde(n))), from_emu(_mm512_scalef_ps(to_emu(p), to_emu(n))), p, n);
    }
  }
  // vscalefps where SIMDe is not the instruction: a result above 2^127 (2^128
  // overflows SIMDe's exp2) and subnormal results; the emulation must give the
  // exact product, computed here in double.
  {
    V p, n;
    for (int i = 0; i < 16; ++i) {
      p.f[i] = 0.75f + 0.03f * static_cast<float>(i);
      n.f[i] = i < 8 ? 128.f : -140.f - static_cast<float>(i);
    }
    const V got = from_emu(_mm512_scalef_ps(to_emu(p), to_emu(n)));
    V want;
    for (int i = 0; i < 16; ++i) want.f[i] = static_cast<float>(std::ldexp(static_cast<double>(p.f[i]), static_cast<int>(n.f[i])));
    expect_same("scalef (exact edges)", want, got, p, n);
    // A NaN b gives b's NaN (quiet), whatever a is.
    for (int i = 0; i < 16; ++i) n.f[i] = i % 2 ? std::numeric_limits<float>::quiet_NaN() : -std::numeric_limits<float>::quiet_NaN();
    const V got_nan = from_emu(_mm512_scalef_ps(to_emu(p), to_emu(n)));
    expect_same("scalef (NaN b)", n, got_nan, p, n);
  }
  std::printf("%ld comparisons, %d mismatched lanes\n", checks, failures);
  return failures ? 1 : 0;
}
