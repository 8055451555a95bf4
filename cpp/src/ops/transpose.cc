// Transpose: any rank, any dtype (elements are moved as 1-, 4- or 8-byte
// words). Plan time simplifies the permutation: dimensions of size 1 are
// dropped and input dimensions that stay adjacent and in order in the output
// are merged, so e.g. NCHW->NHWC becomes a batch of [C, H*W] -> [H*W, C]
// matrix transposes. Then either
//  - the innermost dimension is unchanged: a copy of contiguous rows, or
//  - it moves: tiles of the two innermost dimensions (the input's and the
//    output's), so both reads and writes stay in cache.
#include <algorithm>
#include <array>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

constexpr int kMaxDims = 64;
constexpr int64_t kTile = 32;
// Below this many bytes a copy runs on one thread: the fork/join costs more.
constexpr int64_t kParallelBytes = 1 << 16;

struct TransposePlan {
  int m = 0;                         // dims after simplification (output order)
  std::array<int64_t, kMaxDims> size{};   // output dim sizes
  std::array<int64_t, kMaxDims> istride{};  // input element stride of each output dim
  std::array<int64_t, kMaxDims> ostride{};  // output element stride of each output dim
  int64_t numel = 0;
  size_t esize = 1;
};

// Rows: output dims [0, m-1) iterate, dim m-1 is a contiguous row in both.
template <size_t E>
void copy_rows(const TransposePlan& p, const uint8_t* in, uint8_t* out, int threads) {
  const int no = p.m - 1;
  const int64_t row = p.size[p.m - 1];
  const size_t row_bytes = static_cast<size_t>(row) * E;
  const int64_t rows = p.numel / row;
  const int64_t total_bytes = p.numel * static_cast<int64_t>(E);
  int64_t chunks = total_bytes >= kParallelBytes && threads > 1 ? std::min<int64_t>(rows, int64_t(threads) * 4) : 1;
  parallel_for(chunks, threads, [&](int64_t c) {
    const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
    std::array<int64_t, kMaxDims> idx;
    int64_t t = r0, ioff = 0;
    for (int d = no - 1; d >= 0; --d) {
      idx[d] = t % p.size[d];
      t /= p.size[d];
      ioff += idx[d] * p.istride[d];
    }
    uint8_t* o = out + static_cast<size_t>(r0) * row_bytes;
    for (int64_t rr = r0; rr < r1; ++rr) {
      std::memcpy(o, in + static_cast<size_t>(ioff) * E, row_bytes);
      o += row_bytes;
      for (int d = no - 1; d >= 0; --d) {
        ioff += p.istride[d];
        if (++idx[d] < p.size[d]) break;
        ioff -= p.istride[d] * p.size[d];
        idx[d] = 0;
      }
    }
  });
}

// One tile: element (a, b) is at src[a * sa + b] and goes to dst[b * ob + a].
// SSE2 (every x86-64) moves 4x4 blocks of 4-byte and 2x2 blocks of 8-byte
// elements through registers; shuffles move bits, so float NaN payloads and
// int64 values pass unchanged. Elsewhere, and at the edges, plain copies.
// Measured on (1, 64, 112, 112) float32 NCHW->NHWC, one thread: the scalar
// loop ran 2-3x slower than onnxruntime, the 4x4 blocks about even.
template <size_t E>
void tile(const uint8_t* src, uint8_t* dst, int64_t na, int64_t nb, int64_t sa, int64_t ob) {
  int64_t b = 0;
#if defined(__SSE2__)
  if (E == 4) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    for (; b + 4 <= nb; b += 4) {
      int64_t a = 0;
      for (; a + 4 <= na; a += 4) {
        const float* p = s + a * sa + b;
        __m128 r0 = _mm_loadu_ps(p), r1 = _mm_loadu_ps(p + sa), r2 = _mm_loadu_ps(p + 2 * sa), r3 = _mm_loadu_ps(p + 3 * sa);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        float* q = d + b * ob + a;
        _mm_storeu_ps(q, r0);
        _mm_storeu_ps(q + ob, r1);
        _mm_storeu_ps(q + 2 * ob, r2);
        _mm_storeu_ps(q + 3 * ob, r3);
      }
      for (; a < na; ++a)
        for (int64_t j = 0; j < 4; ++j) std::memcpy(d + (b + j) * ob + a, s + a * sa + b + j, 4);
    }
  } else if (E == 8) {
    for (; b + 2 <= nb; b += 2) {
      int64_t a = 0;
      for (; a + 2 <= na; a += 2) {
        const uint8_t* p = src + (a * sa + b) * 8;
        const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + sa * 8));
        uint8_t* q = dst + (b * ob + a) * 8;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm_unpacklo_epi64(r0, r1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + ob * 8), _mm_unpackhi_epi64(r0, r1));
      }
      for (; a < na; ++a)
        for (int64_t j = 0; j < 2; ++j) std::memcpy(dst + ((b + j) * ob + a) * 8, src + (a * sa + b + j) * 8, 8);
    }
  }
#endif
  for (; b < nb; ++b) {
    const uint8_t* p = src + b * static_cast<int64_t>(E);
    uint8_t* q = dst + b * ob * static_cast<int64_t>(E);
    for (int64_t a = 0; a < na; ++a) {
      std::memcpy(q, p, E);
      q += E;
      p += sa * static_cast<int64_t>(E);
    }
  }
}

// Tiles: output dim m-1 (a, strided in the input) against output dim kb (b,
// the input's contiguous dim); the other dims iterate outside. Tiles are
// 32 x 32 elements (4 KiB of float32 read, in L1), widened along b when a is
// short (e.g. 3 channels) so each tile still moves about 1024 elements.
template <size_t E>
void copy_tiles(const TransposePlan& p, int kb, const uint8_t* in, uint8_t* out, int threads) {
  const int ka = p.m - 1;
  const int64_t na = p.size[ka], nb = p.size[kb];
  const int64_t sa = p.istride[ka];    // input stride along a
  const int64_t ob = p.ostride[kb];    // output stride along b
  const int64_t tile_a = kTile;
  const int64_t tile_b = na >= kTile ? kTile : std::max<int64_t>(kTile, (kTile * kTile / na + 3) / 4 * 4);
  const int64_t ta = (na + tile_a - 1) / tile_a, tb = (nb + tile_b - 1) / tile_b;
  const int64_t outer = p.numel / (na * nb);
  const int64_t items = outer * ta * tb;
  const int64_t total_bytes = p.numel * static_cast<int64_t>(E);
  const int64_t chunks = total_bytes >= kParallelBytes && threads > 1 ? std::min<int64_t>(items, int64_t(threads) * 4) : 1;
  parallel_for(chunks, threads, [&](int64_t c) {
    const int64_t i0 = items * c / chunks, i1 = items * (c + 1) / chunks;
    for (int64_t it = i0; it < i1; ++it) {
      int64_t t = it;
      const int64_t jb = t % tb;
      t /= tb;
      const int64_t ja = t % ta;
      t /= ta;
      int64_t ioff = 0, ooff = 0;
      for (int d = ka - 1; d >= 0; --d) {
        if (d == kb) continue;
        const int64_t x = t % p.size[d];
        t /= p.size[d];
        ioff += x * p.istride[d];
        ooff += x * p.ostride[d];
      }
      const int64_t a0 = ja * tile_a, b0 = jb * tile_b;
      tile<E>(in + (ioff + a0 * sa + b0) * static_cast<int64_t>(E), out + (ooff + b0 * ob + a0) * static_cast<int64_t>(E),
              std::min(tile_a, na - a0), std::min(tile_b, nb - b0), sa, ob);
    }
  });
}

// ---- A batch of 2-D transposes of 4-byte elements with a narrow side: per
// image, src [A, B] (row stride B) -> dst [B, A], A <= 4 or B <= 4. The
// layout pass's conversion of a model's input image (NCHW -> NHWC, A = 3
// colour planes) and of few-channel outputs (NHWC -> NCHW, B = C) are such:
// copy_tiles' 4x4 blocks do not apply and its per-element copies ran 2.5x
// slower. Measured, one thread, Xeon (noisy shared VM, min of many runs):
// [1, 3, 224, 224] -> NHWC 90 -> 37 us (memcpy of the same bytes 16 us);
// [1, 224, 224, 3] -> NCHW 76 -> 52 us; [4, 3, 224, 224] 400 -> 190 us.
// (Wider transposes keep copy_tiles: a variant through a local tile buffer
// measured no better.)
struct Narrow2D {
  int64_t batch = 0, A = 0, B = 0;
};

// Few rows (A <= 4, e.g. the 3 colour planes of an input image -> NHWC):
// each destination row is A consecutive values, one from each source row.
// SSE2 interleaves 4 columns at a time in registers (shuffles move bits:
// NaN payloads and int32 values pass unchanged). Measured, Zen 3, one thread,
// [1, 3, 224, 224] -> NHWC as the first step of MobileNetV2 (minima of 200
// runs, two builds alternated): 0.057-0.063 ms element by element, 0.046-0.058
// interleaved (1.2 MB moved: about L3 speed).
template <int64_t NA>
void narrow_rows(const float* src, float* dst, int64_t B, int64_t b0, int64_t b1) {
  int64_t b = b0;
#if defined(__SSE2__)
  if constexpr (NA == 3) {
    const float *r = src, *g = src + B, *bl = src + 2 * B;
    for (; b + 4 <= b1; b += 4) {
      const __m128 vr = _mm_loadu_ps(r + b), vg = _mm_loadu_ps(g + b), vb = _mm_loadu_ps(bl + b);
      const __m128 lo = _mm_unpacklo_ps(vr, vg);  // r0 g0 r1 g1
      const __m128 hi = _mm_unpackhi_ps(vr, vg);  // r2 g2 r3 g3
      const __m128 t0 = _mm_shuffle_ps(vb, lo, _MM_SHUFFLE(2, 2, 0, 0));  // b0 b0 r1 r1
      const __m128 t1 = _mm_shuffle_ps(lo, vb, _MM_SHUFFLE(1, 1, 3, 3));  // g1 g1 b1 b1
      const __m128 t2 = _mm_shuffle_ps(vb, hi, _MM_SHUFFLE(2, 2, 2, 2));  // b2 b2 r3 r3
      const __m128 t3 = _mm_shuffle_ps(hi, vb, _MM_SHUFFLE(3, 3, 3, 3));  // g3 g3 b3 b3
      float* d = dst + b * 3;
      _mm_storeu_ps(d, _mm_shuffle_ps(lo, t0, _MM_SHUFFLE(2, 0, 1, 0)));      // r0 g0 b0 r1
      _mm_storeu_ps(d + 4, _mm_shuffle_ps(t1, hi, _MM_SHUFFLE(1, 0, 2, 0)));  // g1 b1 r2 g2
      _mm_storeu_ps(d + 8, _mm_shuffle_ps(t2, t3, _MM_SHUFFLE(2, 0, 2, 0)));  // b2 r3 g3 b3
    }
  } else if constexpr (NA == 4) {
    for (; b + 4 <= b1; b += 4) {
      __m128 r0 = _mm_loadu_ps(src + b), r1 = _mm_loadu_ps(src + B + b), r2 = _mm_loadu_ps(src + 2 * B + b),
             r3 = _mm_loadu_ps(src + 3 * B + b);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      float* d = dst + b * 4;
      _mm_storeu_ps(d, r0);
      _mm_storeu_ps(d + 4, r1);
      _mm_storeu_ps(d + 8, r2);
      _mm_storeu_ps(d + 12, r3);
    }
  } else if constexpr (NA == 2) {
    for (; b + 4 <= b1; b += 4) {
      const __m128 v0 = _mm_loadu_ps(src + b), v1 = _mm_loadu_ps(src + B + b);
      _mm_storeu_ps(dst + b * 2, _mm_unpacklo_ps(v0, v1));
      _mm_storeu_ps(dst + b * 2 + 4, _mm_unpackhi_ps(v0, v1));
    }
  }
#endif
  for (; b < b1; ++b)
    for (int64_t a = 0; a < NA; ++a) dst[b * NA + a] = src[a * B + b];
}

// Few columns (B <= 4, e.g. an NHWC image with 3 channels -> NCHW).
template <int64_t NB>
void narrow_cols(const float* src, float* dst, int64_t A, int64_t a0, int64_t a1) {
  for (int64_t a = a0; a < a1; ++a)
    for (int64_t b = 0; b < NB; ++b) dst[b * A + a] = src[a * NB + b];
}

void run_narrow_2d(const Narrow2D& t, const float* src, float* dst, int threads) {
  const int64_t A = t.A, B = t.B, img = A * B;
  const bool par = t.batch * img * 4 >= kParallelBytes && threads > 1;
  // The long side of every image, one after the other, cut into equal
  // ranges (many small images, e.g. ShuffleNet's per-pixel channel shuffle,
  // or one big one).
  const int64_t len = A <= 4 ? B : A, total = t.batch * len;
  const int64_t chunks = par ? std::min<int64_t>(total, int64_t(threads) * 4) : 1;
  parallel_for(chunks, par ? threads : 1, [&](int64_t c) {
    const int64_t t0 = total * c / chunks, t1 = total * (c + 1) / chunks;
    for (int64_t n = t0 / len; n * len < t1; ++n) {
      const int64_t r0 = std::max(t0 - n * len, int64_t(0)), r1 = std::min(t1 - n * len, len);
      const float* s = src + n * img;
      float* d = dst + n * img;
      if (A <= 4) {
        switch (A) {
          case 1: narrow_rows<1>(s, d, B, r0, r1); break;
          case 2: narrow_rows<2>(s, d, B, r0, r1); break;
          case 3: narrow_rows<3>(s, d, B, r0, r1); break;
          default: narrow_rows<4>(s, d, B, r0, r1); break;
        }
      } else {
        switch (B) {
          case 1: narrow_cols<1>(s, d, A, r0, r1); break;
          case 2: narrow_cols<2>(s, d, A, r0, r1); break;
          case 3: narrow_cols<3>(s, d, A, r0, r1); break;
          default: narrow_cols<4>(s, d, A, r0, r1); break;
        }
      }
    }
  });
}

template <size_t E>
void run_transpose(const TransposePlan& p, int kb, const void* in, void* out, int threads) {
  const auto* i = static_cast<const uint8_t*>(in);
  auto* o = static_cast<uint8_t*>(out);
  if (kb < 0)
    copy_rows<E>(p, i, o, threads);
  else
    copy_tiles<E>(p, kb, i, o, threads);
}

}  // namespace

Kernel transpose_kernel(const Shape& shape, DType dtype, const std::vector<int64_t>& perm, const PlanCtx& ctx) {
  const int r = static_cast<int>(shape.size());
  TransposePlan p;
  p.numel = checked_numel(shape);
  p.esize = dtype_size(dtype);
  const size_t bytes = static_cast<size_t>(p.numel) * p.esize;
  if (p.numel == 0) return [](const RunCtx&) {};
  // Input strides, then keep only dims of size > 1, in output order, merging
  // an output dim into the one before it when they are contiguous in the input.
  std::vector<int64_t> istr(r, 1);
  for (int k = r - 2; k >= 0; --k) istr[k] = istr[k + 1] * shape[k + 1];
  std::vector<int64_t> dims, strides;
  for (int k = 0; k < r; ++k) {
    const int64_t d = perm[k];
    if (shape[d] == 1) continue;
    if (!strides.empty() && strides.back() == istr[d] * shape[d]) {
      dims.back() *= shape[d];
      strides.back() = istr[d];
    } else {
      dims.push_back(shape[d]);
      strides.push_back(istr[d]);
    }
  }
  p.m = static_cast<int>(dims.size());
  if (p.m <= 1) {  // the permutation only moves dims of size 1: a plain copy
    return [bytes](const RunCtx& rc) {
      if (rc.out[0] != rc.in[0]) std::memcpy(rc.out[0], rc.in[0], bytes);
    };
  }
  if (p.m > kMaxDims) ctx.fail("rank ", p.m, " after merging dimensions is more than ", kMaxDims);
  int64_t acc = 1;
  for (int k = p.m - 1; k >= 0; --k) {
    p.size[k] = dims[k];
    p.istride[k] = strides[k];
    p.ostride[k] = acc;
    acc *= dims[k];
  }
  int kb = -1;  // output dim that is the input's contiguous one, if it moved
  if (p.istride[p.m - 1] != 1)
    for (int k = 0; k < p.m; ++k)
      if (p.istride[k] == 1) kb = k;
  const size_t es = p.esize;
  // A batch of 2-D transposes of 4-byte elements with a narrow side.
  Narrow2D b2;
  if (es == 4 && p.m == 2 && kb == 0) {
    b2 = {1, p.size[1], p.size[0]};
  } else if (es == 4 && p.m == 3 && kb == 1 && p.istride[0] == p.size[1] * p.size[2]) {
    b2 = {p.size[0], p.size[2], p.size[1]};
  }
  if (b2.batch > 0 && (b2.A <= 4 || b2.B <= 4)) {
    return [b2](const RunCtx& rc) {
      run_narrow_2d(b2, static_cast<const float*>(rc.in[0]), static_cast<float*>(rc.out[0]), rc.threads);
    };
  }
  return [p, kb, es](const RunCtx& rc) {
    switch (es) {
      case 1: run_transpose<1>(p, kb, rc.in[0], rc.out[0], rc.threads); break;
      case 2: run_transpose<2>(p, kb, rc.in[0], rc.out[0], rc.threads); break;
      case 4: run_transpose<4>(p, kb, rc.in[0], rc.out[0], rc.threads); break;
      default: run_transpose<8>(p, kb, rc.in[0], rc.out[0], rc.threads); break;
    }
  };
}

namespace {

class TransposeOp : public Op {
 public:
  TransposeOp(bool has_perm, std::vector<int64_t> perm) : has_perm_(has_perm), perm_(std::move(perm)) {}
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int r = static_cast<int>(x.shape.size());
    std::vector<int64_t> perm = perm_;
    if (!has_perm_) {
      perm.resize(r);
      for (int k = 0; k < r; ++k) perm[k] = r - 1 - k;
    }
    if (static_cast<int>(perm.size()) != r)
      ctx.fail("perm ", shape_str(perm), " has ", perm.size(), " entries but the input ", shape_str(x.shape), " has rank ", r);
    std::vector<char> seen(r, 0);
    for (int64_t v : perm) {
      if (v < 0 || v >= r) ctx.fail("perm ", shape_str(perm), " is not a permutation of 0..", r - 1, " (entry ", v, ")");
      if (seen[v]) ctx.fail("perm ", shape_str(perm), " is not a permutation of 0..", r - 1, " (", v, " appears twice)");
      seen[v] = 1;
    }
    Shape out(r);
    for (int k = 0; k < r; ++k) out[k] = x.shape[perm[k]];
    ctx.set_out(0, x.dtype, out);

    return transpose_kernel(x.shape, x.dtype, perm, ctx);
  }

 private:
  bool has_perm_;
  std::vector<int64_t> perm_;
};

std::unique_ptr<Op> create_transpose(CreateCtx& c) {
  return std::make_unique<TransposeOp>(c.node().has("perm"), c.node().ints("perm"));
}

CNNRT_REGISTER_OP("Transpose", create_transpose);

}  // namespace
}  // namespace cnnrt
