// The kernel table: every entry is filled from `ref` first, then upgraded per
// ISA (nothing is ever null). Kernels know nothing of graphs or ONNX: raw
// pointers, strides, counts and an Epilogue POD.
//
// This header holds only declarations, PODs and constexpr: ISA translation
// units include it (see STYLE.md, "ODR trap").
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cnnrt {

enum class Isa : int { Ref = 0, Avx2 = 1, Avx512 = 2 };
const char* isa_name(Isa isa);

// Element-wise float kinds: the activations a Conv/Gemm epilogue may apply
// (None .. ThresholdedRelu) and the unary math ops that share their loops.
// Codes are part of the lowered graph (cnnrt_act): append only.
enum class Act : int32_t {
  None = 0, Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, Elu, Selu, Silu,
  Gelu, GeluTanh, Mish, Softplus, Softsign, Celu, ThresholdedRelu,
  Erf, Exp, Log, Sqrt, Abs, Neg, Reciprocal, Floor, Ceil, Round, Sign
};
constexpr int kActLast = static_cast<int>(Act::Sign);

// LeakyRelu: a = alpha. Clip: a = min, b = max. HardSigmoid: a = alpha, b = beta.
// Elu: a = alpha. Selu: a = alpha, b = gamma. Silu: x * sigmoid(x) (SiLU/Swish).
// Gelu: 0.5 x (1 + erf(x / sqrt 2)); GeluTanh: Gelu's approximate='tanh' form.
// Mish: x tanh(softplus(x)). Celu: a = alpha. ThresholdedRelu: a = alpha.
// Round: half to even. Sign: -1, 0 or 1 (NaN stays NaN).
struct ActParams {
  Act kind = Act::None;
  float a = 0.f, b = 0.f;
};

// out = act(alpha * acc + bias_m[row] + bias_n[col] + residual[row, col])
struct Epilogue {
  float alpha = 1.f;
  const float* bias_m = nullptr;
  const float* bias_n = nullptr;
  const float* residual = nullptr;
  int64_t ldr = 0;
  ActParams act;
};

// Implicit im2col source of a GEMM's B operand: one image, one group, CHW.
// Row k of B is (c, kh, kw); column n is (oh, ow).
struct ConvGeom {
  const float* input = nullptr;
  int64_t C = 0, H = 0, W = 0;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1, PH = 0, PW = 0;
  int64_t OH = 0, OW = 0;
};

// C[M, N] = epilogue(op(A)[M, K] * op(B)[K, N]).
// A: prepacked (a_packed, from gemm_pack_a) or raw row-major (a, lda, trans_a).
// B: prepacked (b_packed), raw (b, ldb, trans_b), or implicit im2col (conv).
struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  const float* a_packed = nullptr;
  const float* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const float* b_packed = nullptr;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  const ConvGeom* conv = nullptr;
  float* c = nullptr;
  int64_t ldc = 0;
  Epilogue ep;
  int threads = 1;
};

// Depthwise convolution, one channel multiplier, CHW planes.
struct DwConvArgs {
  const float* input = nullptr;   // [C, H, W] (one image)
  const float* weight = nullptr;  // [C, KH, KW]
  float* output = nullptr;        // [C, OH, OW]
  int64_t C = 0, H = 0, W = 0;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1, PH = 0, PW = 0;
  int64_t OH = 0, OW = 0;
  Epilogue ep;  // bias_m = per channel; residual [C, OH, OW] with ldr = OH*OW
  int threads = 1;
};

// ---- NHWC (channels-last) families: the layout the layout pass gives 2-D
// feature maps. A tensor [N, H, W, C] may be a channel slice of a wider one:
// pixel (n, h, w) starts at ((n * H + h) * W + w) * stride, stride >= C; this
// is how grouped convolutions read their group and how a convolution writes
// straight into its slice of a channel Concat.

// Convolution over NHWC (one group). Weights are packed at load by the same
// table's pack function, from ONNX's [OC, C, KH, KW]; the packed layout is
// private to the ISA. Padding end is implied by OH/OW.
// y[n, oh, ow, oc] = act(sum x * w + bias_n[oc] + residual[n, oh, ow, oc]),
// the residual read at ((n * OH + oh) * OW + ow) * ep.ldr + oc.
// Tasks of conv_nhwc run K-blocked (its SIMD paths, see kKBlockBytes in
// conv_nhwc/driver.inc) since the process started: for the tests, which
// check that the layers meant to take that path do.
inline std::atomic<int64_t> g_conv_k_blocked_tasks{0};
// Runs of a fused 1x1 -> depthwise layer (ops/conv_pwdw.cc) whose threads
// took groups of channels rather than ranges of rows, since the process
// started: for the tests.
inline std::atomic<int64_t> g_pwdw_channel_split_runs{0};

struct ConvNhwcArgs {
  const float* x = nullptr;
  int64_t N = 1, H = 0, W = 0, C = 0, x_stride = 0;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1, PH = 0, PW = 0;
  int64_t OH = 0, OW = 0, OC = 0;
  const float* w_packed = nullptr;
  float* y = nullptr;
  int64_t y_stride = 0;
  Epilogue ep;  // alpha unused (1); bias_m unused
  int threads = 1;
  // The next layer's first packed weights, prefetched into L2 while this
  // layer's tiles run (conv_nhwc's SIMD paths; null: none). Set by the
  // session (Session::link_weight_prefetch); a hint only: any range is safe.
  const void* pf_next = nullptr;
  int64_t pf_next_bytes = 0;
};

enum class PoolKind : int32_t { Max = 0, Avg = 1 };

// Max/average pooling over NHWC. PHE/PWE: end padding (OH/OW include
// ceil_mode windows). Average: divisor = taps inside the input
// (count_include_pad = false) or taps before the end of the end padding
// (true), as ONNX and onnxruntime define it. Max ignores padding.
struct PoolNhwcArgs {
  const float* x = nullptr;
  int64_t N = 1, H = 0, W = 0, C = 0, x_stride = 0;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1, PH = 0, PW = 0, PHE = 0, PWE = 0;
  int64_t OH = 0, OW = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
  PoolKind kind = PoolKind::Max;
  bool count_include_pad = false;
  int threads = 1;
};

// Reductions of float rows (ReduceSum/Mean/L1/L2/SumSquare/Prod/Max/Min/
// LogSum/LogSumExp). SumExp sums exp(x - m): LogSumExp's second pass.
enum class RedKind : int32_t { Sum = 0, SumAbs, SumSquare, Prod, Max, Min, SumExp };

enum class BinOp : int32_t { Add = 0, Sub, Mul, Div, PRelu };
// y[i] = a[i] op b[i] (mode 0), a[i] op b[0] (mode 1), a[0] op b[i] (mode 2)
enum class BinMode : int32_t { VV = 0, VS = 1, SV = 2 };

struct KernelTable {
  Isa isa = Isa::Ref;
  int gemm_mr = 1, gemm_nr = 1;
  // Packed sizes, in floats. Layouts: A in MR-row panels, B in NR-column
  // panels, each panel k-major over the full K, zero-padded at the edge.
  size_t (*gemm_packed_a_size)(int64_t M, int64_t K) = nullptr;
  void (*gemm_pack_a)(int64_t M, int64_t K, const float* a, int64_t lda, bool trans, float* dst) = nullptr;
  size_t (*gemm_packed_b_size)(int64_t K, int64_t N) = nullptr;
  void (*gemm_pack_b)(int64_t K, int64_t N, const float* b, int64_t ldb, bool trans, float* dst) = nullptr;
  void (*gemm)(const GemmArgs& args) = nullptr;
  // Peak probe: `iters` steps of 12 independent vector FMA chains; returns
  // the FLOPs done (the value it computes is kept in *sink).
  double (*fma_probe)(int64_t iters, float* sink) = nullptr;
  void (*act)(float* y, const float* x, int64_t n, const ActParams& p) = nullptr;
  void (*binary)(BinOp op, BinMode mode, float* y, const float* a, const float* b, int64_t n) = nullptr;
  void (*dwconv)(const DwConvArgs& args) = nullptr;
  // Reductions: reduce_row folds one contiguous row of n floats into one
  // value (init: Sum 0, Prod 1, Max -inf, Min +inf; NaN propagates through
  // Max/Min; m is SumExp's shift); reduce_acc folds a row into n
  // accumulators, acc[j] = acc[j] (op) f(x[j]) (m: SumExp's shifts, one per j).
  float (*reduce_row)(RedKind kind, const float* x, int64_t n, float m) = nullptr;
  void (*reduce_acc)(RedKind kind, float* acc, const float* x, int64_t n, const float* m) = nullptr;

  // NHWC convolution by (indirect) GEMM: any KH/KW/stride/dilation/padding.
  size_t (*conv_packed_size)(int64_t OC, int64_t C, int64_t KH, int64_t KW) = nullptr;
  void (*conv_pack)(const float* w, int64_t OC, int64_t C, int64_t KH, int64_t KW, float* dst) = nullptr;
  void (*conv_nhwc)(const ConvNhwcArgs& a) = nullptr;
  // Channel slices of packed weights (0: none). Where nonzero, for c0 and c1
  // multiples of it (or c1 = OC), output channels [c0, c1) of conv_nhwc's
  // packed weights are a packed weight of c1 - c0 channels at w + c0 * KH *
  // KW * C, and channels [c0, c1) of dw_pack's likewise at w + c0 * KH * KW:
  // a thread can run its share of a layer's channels (ops/conv_pwdw.cc).
  int64_t nhwc_slice_c = 0;
  // Winograd F(4x4, 3x3) (winograd_m = 4) for 3x3 stride-1 dilation-1
  // convolutions (any padding) over NHWC; 0 = this table has none. Weights
  // transformed and packed at load. Error bound: see tests/kernels.
  int winograd_m = 0;
  size_t (*winograd_packed_size)(int64_t OC, int64_t C) = nullptr;
  void (*winograd_pack)(const float* w, int64_t OC, int64_t C, float* dst) = nullptr;
  void (*conv_winograd)(const ConvNhwcArgs& a) = nullptr;
  // Winograd F(6x6, 3x3) likewise (winograd6_m = 6; 0: none): 8x8 tiles, 1.27x
  // fewer products than F(4x4) but maps rounded up to multiples of 6 and
  // twice the error bound; winograd6_better says where it runs.
  int winograd6_m = 0;
  size_t (*winograd6_packed_size)(int64_t OC, int64_t C) = nullptr;
  void (*winograd6_pack)(const float* w, int64_t OC, int64_t C, float* dst) = nullptr;
  void (*conv_winograd6)(const ConvNhwcArgs& a) = nullptr;
  // Winograd F(2x2, 3x3) likewise (winograd2_m = 2; 0: none): 4x4 tiles, 16
  // transformed weights per tap set; winograd2_better says where it runs.
  int winograd2_m = 0;
  size_t (*winograd2_packed_size)(int64_t OC, int64_t C) = nullptr;
  void (*winograd2_pack)(const float* w, int64_t OC, int64_t C, float* dst) = nullptr;
  void (*conv_winograd2)(const ConvNhwcArgs& a) = nullptr;
  // Winograd F(2x2, 5x5) for 5x5 stride-1 dilation-1 convolutions, NHWC, on
  // the same 6x6 tiles (winograd5_m = 2; 0: none); packed weights as above
  // with the 25-tap filter transformed.
  int winograd5_m = 0;
  size_t (*winograd5_packed_size)(int64_t OC, int64_t C) = nullptr;
  void (*winograd5_pack)(const float* w, int64_t OC, int64_t C, float* dst) = nullptr;
  void (*conv_winograd5)(const ConvNhwcArgs& a) = nullptr;
  // Depthwise convolution over NHWC (channel multiplier 1, OC == C); weights
  // [C, 1, KH, KW] packed at load.
  size_t (*dw_packed_size)(int64_t C, int64_t KH, int64_t KW) = nullptr;
  void (*dw_pack)(const float* w, int64_t C, int64_t KH, int64_t KW, float* dst) = nullptr;
  void (*dwconv_nhwc)(const ConvNhwcArgs& a) = nullptr;
  // Pooling over NHWC; global pooling: y[n, c] over the H*W pixels of x
  // ([N, HW, C], contiguous).
  void (*pool_nhwc)(const PoolNhwcArgs& a) = nullptr;
  void (*global_pool_nhwc)(PoolKind kind, const float* x, int64_t N, int64_t HW, int64_t C, float* y,
                           int threads) = nullptr;
};

// Whether the table's conv_winograd should replace its conv_nhwc for a 3x3,
// stride 1, dilation 1 convolution with C -> OC channels and an OH x OW
// output (per image). Measured against the NHWC direct kernel on this
// project's Xeon (AVX-512 and AVX2, 2 MiB L2; the table is in
// kernels/winograd/avx512.cc):
//  * C >= 16 and OC >= 16: thinner GEMMs leave the transforms dominant
//    (C = 4 stays under 100 GFLOP/s effective at any size, C = 8 gains
//    1.3x at best over a good direct kernel);
//  * OH * OW >= 49, with at least 60% of the computed tile outputs inside
//    the image (F(4): 9x9 -> 56%, no faster than direct; 5x5, 6x6 slower);
//  * OH * OW * 1024 >= C * OC: the transformed weights (m+2)^2 / 9 times
//    the direct ones (4x for F(4)) are streamed once per image and must be
//    amortised over its pixels: 7x7 512->512 (37.7 MB for 49 pixels) runs at
//    ~40-60 GFLOP/s effective against ~140 direct, 7x7 256->256 ties.
//    On AVX2, whose FMA rate is half AVX-512's, the stream is amortised
//    over half the pixels from 14x14 up. Zen 3 (AMD EPYC, 1 / 2 threads,
//    best of 4 alternated rounds, Winograd / direct): 14x14 512->512 (VGG's
//    conv5) 6.7 / 10.8 ms and 4.0 / 6.2 ms; 7x7 256->256 0.55 / 0.74 ms but
//    0.58 / 0.49 ms at 2 threads, so 7x7 maps keep the AVX-512 rule.
// Where it holds, Winograd measured 1.4-3x the direct kernel's speed. The
// ref table never selects it: direct convolution is the plain oracle there.
// (static: no ODR merging between ISA translation units.)
static inline bool winograd_worth_it(const KernelTable& kt, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
  const int64_t m = kt.winograd_m;
  if (m == 0 || kt.isa == Isa::Ref) return false;
  if (C < 16 || OC < 16 || OH * OW < 49) return false;
  const int64_t tiles = ((OH + m - 1) / m) * ((OW + m - 1) / m);
  if (OH * OW * 10 < tiles * m * m * 6) return false;
  if (OH * OW * 1024 >= C * OC) return true;
  return kt.isa == Isa::Avx2 && OH * OW >= 196 && OH * OW * 2048 >= C * OC;
}

// Whether a 3x3 layer that winograd_worth_it gives to Winograd should run
// F(6x6) (conv_winograd6) rather than F(4x4). F(6x6) does 1.27x fewer
// products per output but has 1.8x the transformed weights (64 C OC floats)
// and rounds maps up to multiples of 6. Zen 3 (AVX2), kernel alone, 1
// thread, F(6) / F(4) time, both in one process, alternated rounds: VGG-16's
// 112x112 layers 64->128 0.81-0.86 and 128->128 0.83-0.88 (2 threads
// 0.85-0.99), 224x224 128->128 0.95, 64->64 0.98-1.00 alone but 1.03-1.05
// as a step of VGG-16 (where the 112x112 ones keep their 0.84 and 0.81);
// 56x56 and smaller maps 0.94-1.45 (256->256 at 56x56 1.11-1.13, 14x14
// 512->512 1.36-1.45: the transformed weights outgrow the caches, 16.8 and
// 67 MB). The Xeon (AVX-512) run behind winograd/avx512.cc's header agrees:
// 112x112 128->128 1.15x faster with F(6), 224x224 64->64 level, 56x56 and
// smaller slower. So: maps of at least 96x96 outputs, C >= 64, OC >= 128,
// and F(6)'s transformed weights within 16 MiB (C x OC <= 64K).
static inline bool winograd6_better(const KernelTable& kt, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
  if (kt.winograd6_m == 0 || !winograd_worth_it(kt, C, OC, OH, OW)) return false;
  return OH * OW >= 96 * 96 && C >= 64 && OC >= 128 && C * OC <= 65536;
}

// Whether a 3x3 layer that winograd_worth_it leaves to direct convolution
// should run F(2x2) (conv_winograd2): small maps with many channels, where
// F(4x4)'s 36 C OC transformed weights cost more to stream than its products
// save, and F(2x2)'s 16 C OC still pay for 2.25x fewer products (7x7 maps
// compute 8x8 outputs, 1.3x the work). Zen 3 (AVX2), as steps of the
// networks (cold weights, minima of 30-40 runs, two builds alternated 3
// times), direct -> F(2x2): ResNet-18's three 7x7 512->512 layers 2.45-2.54
// -> 1.59-1.62 ms each at 1 thread, 1.23-1.24 -> 0.86-1.07 at 2; GoogLeNet's
// 7x7 160->320 and 192->384 0.50 -> 0.33-0.34 and 0.70-0.72 -> 0.46 ms
// (2 threads 0.25 -> 0.19-0.20, 0.36 -> 0.25). AVX2 only: on AVX-512 the
// FMA rate doubles against the same weight stream, unmeasured there. Only
// where F(4x4) was turned down for its weight stream (OH x OW x 1024 < C x
// OC), on the 7x7 and 8x8 maps measured (8x8 tiles of outputs), C and OC
// >= 64, and C x OC up to 512 x 512.
static inline bool winograd2_better(const KernelTable& kt, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
  if (kt.winograd2_m == 0 || kt.isa != Isa::Avx2 || winograd_worth_it(kt, C, OC, OH, OW)) return false;
  if (OH < 7 || OW < 7 || OH > 8 || OW > 8) return false;
  return C >= 64 && OC >= 64 && C * OC <= 512 * 512 && OH * OW * 1024 < C * OC;
}

// Whether conv_winograd5 (F(2x2, 5x5)) should replace conv_nhwc for a 5x5,
// stride 1, dilation 1 convolution: measured against the direct kernel in
// kernels/winograd/avx2.cc's header. Never on the ref table.
static inline bool winograd5_worth_it(const KernelTable& kt, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
  if (kt.winograd5_m == 0 || kt.isa == Isa::Ref) return false;
  return C >= 16 && OC >= 16 && OH * OW >= 49;
}

// Detected level, current level (min of detected and CNNRT_ISA), and the
// table for a level (throws if this CPU lacks it).
Isa isa_detected();
Isa isa_current();
void isa_set(Isa isa);
Isa isa_from_name(const char* name);  // throws on unknown
const KernelTable& kernel_table(Isa isa);

namespace kernels {
#define CNNRT_DECLARE_FILL(isa)                \
  namespace isa {                              \
  void fill_gemm(KernelTable& t);              \
  void fill_eltwise(KernelTable& t);           \
  void fill_dwconv(KernelTable& t);            \
  void fill_conv_nhwc(KernelTable& t);         \
  void fill_winograd(KernelTable& t);          \
  void fill_dw_nhwc(KernelTable& t);           \
  void fill_pool_nhwc(KernelTable& t);         \
  }
CNNRT_DECLARE_FILL(ref)
CNNRT_DECLARE_FILL(avx2)
CNNRT_DECLARE_FILL(avx512)
#undef CNNRT_DECLARE_FILL
}  // namespace kernels

}  // namespace cnnrt
