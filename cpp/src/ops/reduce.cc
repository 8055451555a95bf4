// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
// ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp.
//
// The importer (normalize.py) gives every opset one form: `keepdims`
// (default 1), `noop_with_empty_axes` (0 before it existed) and the axes as
// the `axes` attribute (before opset 13 for ReduceSum, 18 for the others) or
// as input 1, an int64 1-D tensor whose value must be known at plan time.
// No axes (or an empty list) reduces every axis, or, with
// noop_with_empty_axes = 1, none (each element is mapped on its own:
// ReduceSumSquare squares, ReduceL1 takes |x|, ...).
//
// Float32 for all; int64 for Sum/Max/Min/Prod; bool for Max/Min. An empty
// reduction gives the identity: 0 (Sum, L1, L2, SumSquare), 1 (Prod),
// -inf / +inf (Max / Min; INT64_MIN / INT64_MAX, false / true), NaN (Mean:
// 0/0), -inf (LogSum, LogSumExp).
//
// The input's dims are merged into alternating kept/reduced groups (size-1
// dims dropped). When the innermost group is reduced (the last axis, or H*W
// of NCHW: global average pooling in SE blocks), every output is a fold of
// contiguous rows by the kernel table's reduce_row; when it is kept, rows of
// the inner group are folded into a block of accumulators by reduce_acc.
// Both vectorise per ISA (kernels/eltwise/math.inc).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

enum class Red { Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp };
constexpr int kMaxGroups = 64;
constexpr int64_t kBlock = 256;  // inner accumulators per task (stack)

struct Odo {  // the reduced groups outside the innermost one
  int n = 0;
  int64_t size[kMaxGroups];
  int64_t stride[kMaxGroups];
};

// Calls f(offset) for every combination of the odometer's indices.
template <class F>
inline void odo_for(const Odo& d, int64_t base, const F& f) {
  int64_t cnt[kMaxGroups];
  for (int k = 0; k < d.n; ++k) cnt[k] = 0;
  int64_t off = base;
  for (;;) {
    f(off);
    int k = d.n - 1;
    for (; k >= 0; --k) {
      if (++cnt[k] < d.size[k]) {
        off += d.stride[k];
        break;
      }
      off -= d.stride[k] * (d.size[k] - 1);
      cnt[k] = 0;
    }
    if (k < 0) return;
  }
}

struct Layout {
  // Kept groups outside the innermost group (output order) with their input strides.
  int nk = 0;
  int64_t ksize[kMaxGroups];
  int64_t kstride[kMaxGroups];
  Odo red;
  bool inner_reduced = false;
  int64_t inner = 1;   // innermost group's size
  int64_t outer = 1;   // product of ksize
  int64_t count = 1;   // elements folded into each output
  bool empty_reduce = false;
  int64_t out_n = 0;
};

RedKind kernel_kind(Red r) {
  switch (r) {
    case Red::Max: return RedKind::Max;
    case Red::Min: return RedKind::Min;
    case Red::Prod: return RedKind::Prod;
    case Red::L1: return RedKind::SumAbs;
    case Red::L2:
    case Red::SumSquare: return RedKind::SumSquare;
    default: return RedKind::Sum;
  }
}

float finish(Red r, float acc, int64_t count) {
  switch (r) {
    case Red::Mean: return acc / static_cast<float>(count);
    case Red::L2: return std::sqrt(acc);
    case Red::LogSum: return std::log(acc);
    default: return acc;
  }
}

// Input offset of kept index o (row-major over the kept groups).
inline int64_t kept_offset(const Layout& L, int64_t o) {
  int64_t off = 0;
  for (int k = L.nk - 1; k >= 0; --k) {
    off += (o % L.ksize[k]) * L.kstride[k];
    o /= L.ksize[k];
  }
  return off;
}

void run_f32(const KernelTable& kt, Red red, const Layout& L, const float* x, float* y, int threads) {
  const RedKind kk = kernel_kind(red);
  const float ninf = -std::numeric_limits<float>::infinity();
  if (L.empty_reduce) {
    const int64_t n = L.out_n;
    float v = 0.f;
    if (red == Red::Prod) v = 1.f;
    if (red == Red::Max || red == Red::LogSum || red == Red::LogSumExp) v = ninf;
    if (red == Red::Min) v = std::numeric_limits<float>::infinity();
    if (red == Red::Mean) v = std::numeric_limits<float>::quiet_NaN();
    for (int64_t i = 0; i < n; ++i) y[i] = v;
    return;
  }
  if (L.inner_reduced) {
    const int64_t R = L.inner;
    const int64_t outs = L.outer;
    const int64_t per = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, L.count));
    const int64_t tasks = (outs + per - 1) / per;
    parallel_for(tasks, threads, [&](int64_t t) {
      const int64_t o1 = std::min(outs, (t + 1) * per);
      for (int64_t o = t * per; o < o1; ++o) {
        const int64_t base = kept_offset(L, o);
        if (red == Red::LogSumExp) {
          float m = ninf;
          odo_for(L.red, base, [&](int64_t off) {
            const float v = kt.reduce_row(RedKind::Max, x + off, R, 0.f);
            m = (v > m || v != v) ? v : m;
          });
          if (std::isinf(m) || std::isnan(m)) {  // all -inf: -inf; any +inf: +inf; NaN: NaN
            y[o] = m;
            continue;
          }
          float s = 0.f;
          odo_for(L.red, base, [&](int64_t off) { s += kt.reduce_row(RedKind::SumExp, x + off, R, m); });
          y[o] = m + std::log(s);
          continue;
        }
        float acc = 0.f;
        bool first = true;
        odo_for(L.red, base, [&](int64_t off) {
          const float v = kt.reduce_row(kk, x + off, R, 0.f);
          if (first) {
            acc = v;
            first = false;
          } else if (kk == RedKind::Prod) {
            acc *= v;
          } else if (kk == RedKind::Max) {
            acc = (v > acc || v != v) ? v : acc;
          } else if (kk == RedKind::Min) {
            acc = (v < acc || v != v) ? v : acc;
          } else {
            acc += v;
          }
        });
        y[o] = finish(red, acc, L.count);
      }
    });
    return;
  }
  // Innermost group kept: blocks of accumulators over it.
  const int64_t I = L.inner;
  const int64_t nblk = (I + kBlock - 1) / kBlock;
  const int64_t tasks = L.outer * nblk;
  const int th = threads_for_work(tasks * kBlock * L.count, threads);
  parallel_for(tasks, th, [&](int64_t t) {
    const int64_t o = t / nblk, j0 = (t % nblk) * kBlock;
    const int64_t nj = std::min(kBlock, I - j0);
    const int64_t base = kept_offset(L, o) + j0;
    float* dst = y + o * I + j0;
    float acc[kBlock];
    if (red == Red::LogSumExp) {
      float m[kBlock];
      for (int64_t j = 0; j < nj; ++j) m[j] = ninf;
      odo_for(L.red, base, [&](int64_t off) { kt.reduce_acc(RedKind::Max, m, x + off, nj, nullptr); });
      float mf[kBlock];  // the shift: 0 where the max is not finite (the result is then the max)
      for (int64_t j = 0; j < nj; ++j) {
        mf[j] = std::isfinite(m[j]) ? m[j] : 0.f;
        acc[j] = 0.f;
      }
      odo_for(L.red, base, [&](int64_t off) { kt.reduce_acc(RedKind::SumExp, acc, x + off, nj, mf); });
      for (int64_t j = 0; j < nj; ++j) dst[j] = std::isfinite(m[j]) ? mf[j] + std::log(acc[j]) : m[j];
      return;
    }
    const float init = kk == RedKind::Prod ? 1.f : kk == RedKind::Max ? ninf
                       : kk == RedKind::Min ? std::numeric_limits<float>::infinity() : 0.f;
    for (int64_t j = 0; j < nj; ++j) acc[j] = init;
    odo_for(L.red, base, [&](int64_t off) { kt.reduce_acc(kk, acc, x + off, nj, nullptr); });
    for (int64_t j = 0; j < nj; ++j) dst[j] = finish(red, acc[j], L.count);
  });
}

// int64 (Sum, Max, Min, Prod; wrapping arithmetic) and bool (Max = any, Min = all).
template <class T>
void run_int(Red red, const Layout& L, const T* x, T* y) {
  T init;
  if (red == Red::Sum) init = 0;
  else if (red == Red::Prod) init = 1;
  else if (red == Red::Max) init = std::numeric_limits<T>::lowest();
  else init = std::numeric_limits<T>::max();
  auto fold = [red](T a, T v) -> T {
    if constexpr (std::is_same_v<T, int64_t>) {
      if (red == Red::Sum) return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(v));
      if (red == Red::Prod) return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(v));
    }
    if (red == Red::Max) return v > a ? v : a;
    return v < a ? v : a;
  };
  const int64_t I = L.inner_reduced ? 1 : L.inner;
  const int64_t R = L.inner_reduced ? L.inner : 1;
  for (int64_t o = 0; o < L.outer; ++o) {
    const int64_t base = kept_offset(L, o);
    for (int64_t j = 0; j < I; ++j) {
      T acc = init;
      if (!L.empty_reduce)
        odo_for(L.red, base + j, [&](int64_t off) {
          for (int64_t i = 0; i < R; ++i) acc = fold(acc, x[off + i]);
        });
      y[o * I + j] = acc;
    }
  }
}

const char* red_name(Red r) {
  switch (r) {
    case Red::Sum: return "ReduceSum";
    case Red::Mean: return "ReduceMean";
    case Red::Max: return "ReduceMax";
    case Red::Min: return "ReduceMin";
    case Red::Prod: return "ReduceProd";
    case Red::L1: return "ReduceL1";
    case Red::L2: return "ReduceL2";
    case Red::SumSquare: return "ReduceSumSquare";
    case Red::LogSum: return "ReduceLogSum";
    case Red::LogSumExp: return "ReduceLogSumExp";
  }
  return "";
}

bool int64_ok(Red r) { return r == Red::Sum || r == Red::Max || r == Red::Min || r == Red::Prod; }
bool bool_ok(Red r) { return r == Red::Max || r == Red::Min; }

class ReduceOp : public Op {
 public:
  ReduceOp(const KernelTable& kt, Red red, bool has_axes, std::vector<int64_t> axes, bool keepdims, bool noop)
      : kt_(kt), red_(red), has_axes_(has_axes), axes_(std::move(axes)), keepdims_(keepdims), noop_(noop) {}

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    if (x.dtype == DType::I64 && !int64_ok(red_))
      ctx.fail("input 0 is int64; cnnrt computes ", red_name(red_), " on float32 (int64: ReduceSum/Max/Min/Prod)");
    if (x.dtype == DType::BOOL && !bool_ok(red_))
      ctx.fail("input 0 is bool; cnnrt computes ", red_name(red_), " on float32 (bool: ReduceMax/Min)");
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (r > kMaxGroups) ctx.fail("input rank ", r, " exceeds ", kMaxGroups);
    std::vector<int64_t> axes = axes_;
    if (ctx.has(1)) {
      const Tensor& t = ctx.value(1, "axes");
      if (t.dtype != DType::I64) ctx.fail("input 1 (axes) has dtype ", dtype_name(t.dtype), ", expected int64");
      if (t.shape.size() > 1) ctx.fail("input 1 (axes) must be 1-D, got shape ", shape_str(t.shape));
      axes.assign(t.ptr<int64_t>(), t.ptr<int64_t>() + t.numel());
    }
    std::vector<char> red(r, 0);
    // Empty axes with noop_with_empty_axes = 1 reduce nothing, but each
    // element still goes through the op's map and finish (ReduceSumSquare
    // squares, ReduceL1 takes |x|, ReduceLogSum the log), as onnx and
    // onnxruntime define it.
    if (axes.empty() && !noop_)
      for (int64_t k = 0; k < r; ++k) red[k] = 1;
    for (int64_t a : axes) {
      if (a < -r || a >= r) ctx.fail("axis ", a, " in axes ", ints_str(axes), " is out of range for input rank ", r,
                                     " (shape ", shape_str(x.shape), ")");
      const int64_t k = a < 0 ? a + r : a;
      if (red[k]) ctx.fail("axes ", ints_str(axes), " name dimension ", k, " twice");
      red[k] = 1;
    }
    Shape out;
    for (int64_t k = 0; k < r; ++k) {
      if (!red[k]) out.push_back(x.shape[k]);
      else if (keepdims_) out.push_back(1);
    }
    // Merge into groups.
    Layout L;
    int64_t gsize[kMaxGroups];
    char gred[kMaxGroups];
    int ng = 0;
    for (int64_t k = 0; k < r; ++k) {
      if (red[k] && x.shape[k] == 0) L.empty_reduce = true;
      if (x.shape[k] == 1) continue;
      if (ng > 0 && gred[ng - 1] == red[k]) {
        gsize[ng - 1] = checked_mul(gsize[ng - 1], x.shape[k]);
      } else {
        gsize[ng] = x.shape[k];
        gred[ng] = red[k];
        ++ng;
      }
    }
    int64_t gstride[kMaxGroups];
    int64_t s = 1;
    for (int g = ng - 1; g >= 0; --g) {
      gstride[g] = s;
      s = checked_mul(s, gsize[g]);
    }
    if (ng > 0) {
      L.inner_reduced = gred[ng - 1] != 0;
      L.inner = gsize[ng - 1];
    }
    for (int g = 0; g + 1 < ng; ++g) {
      if (gred[g]) {
        L.red.size[L.red.n] = gsize[g];
        L.red.stride[L.red.n] = gstride[g];
        ++L.red.n;
        L.count = checked_mul(L.count, gsize[g]);
      } else {
        L.ksize[L.nk] = gsize[g];
        L.kstride[L.nk] = gstride[g];
        ++L.nk;
        L.outer = checked_mul(L.outer, gsize[g]);
      }
    }
    if (L.inner_reduced) L.count = checked_mul(L.count, L.inner);
    if (L.empty_reduce) L.count = 0;
    const int64_t out_n = checked_numel(out);
    L.out_n = out_n;
    if (out_n == 0) {
      ctx.set_out(0, x.dtype, out);
      return [](const RunCtx&) {};
    }
    if (x.dtype != DType::F32 && x.value) {  // int64 shape arithmetic: at plan time
      Tensor& t = ctx.set_out_value(0, x.dtype, out);
      if (x.dtype == DType::I64) run_int<int64_t>(red_, L, x.value->ptr<int64_t>(), t.ptr<int64_t>());
      else run_int<uint8_t>(red_, L, x.value->ptr<uint8_t>(), t.ptr<uint8_t>());
    } else {
      ctx.set_out(0, x.dtype, out);
    }
    const Red rk = red_;
    if (x.dtype == DType::I64)
      return [rk, L](const RunCtx& rc) { run_int<int64_t>(rk, L, rc.i<int64_t>(0), rc.o<int64_t>(0)); };
    if (x.dtype == DType::BOOL)
      return [rk, L](const RunCtx& rc) { run_int<uint8_t>(rk, L, rc.i<uint8_t>(0), rc.o<uint8_t>(0)); };
    const KernelTable* kt = &kt_;
    const int th = ctx.threads_for(checked_mul(L.count, out_n));
    return [kt, rk, L, th](const RunCtx& rc) { run_f32(*kt, rk, L, rc.i<float>(0), rc.o<float>(0), th); };
  }

 private:
  const KernelTable& kt_;
  Red red_;
  bool has_axes_;
  std::vector<int64_t> axes_;
  bool keepdims_, noop_;
};

template <Red R>
std::unique_ptr<Op> create(CreateCtx& c) {
  const Node& n = c.node();
  const int64_t keep = n.i("keepdims", 1), noop = n.i("noop_with_empty_axes", 0);
  if (keep != 0 && keep != 1) c.fail("keepdims must be 0 or 1, got ", keep);
  if (noop != 0 && noop != 1) c.fail("noop_with_empty_axes must be 0 or 1, got ", noop);
  if (n.has("axes") && n.has_input(1)) c.fail("axes given both as attribute and as input 1");
  if (n.num_inputs() < 1 || !n.has_input(0)) c.fail("needs the data input (input 0)");
  const DType dt = c.info(0).dtype;
  if (dt == DType::I64 && !int64_ok(R))
    c.unsupported("int64 data: cnnrt computes ", red_name(R), " on float32 (int64 only for ReduceSum/Max/Min/Prod)");
  if (dt == DType::BOOL && !bool_ok(R))
    c.unsupported("bool data: cnnrt computes ", red_name(R), " on float32 (bool only for ReduceMax/Min)");
  return std::make_unique<ReduceOp>(c.kernels(), R, n.has("axes"), n.ints("axes"), keep == 1, noop == 1);
}

CNNRT_REGISTER_OP("ReduceSum", create<Red::Sum>);
CNNRT_REGISTER_OP("ReduceMean", create<Red::Mean>);
CNNRT_REGISTER_OP("ReduceMax", create<Red::Max>);
CNNRT_REGISTER_OP("ReduceMin", create<Red::Min>);
CNNRT_REGISTER_OP("ReduceProd", create<Red::Prod>);
CNNRT_REGISTER_OP("ReduceL1", create<Red::L1>);
CNNRT_REGISTER_OP("ReduceL2", create<Red::L2>);
CNNRT_REGISTER_OP("ReduceSumSquare", create<Red::SumSquare>);
CNNRT_REGISTER_OP("ReduceLogSum", create<Red::LogSum>);
CNNRT_REGISTER_OP("ReduceLogSumExp", create<Red::LogSumExp>);

}  // namespace
}  // namespace cnnrt
