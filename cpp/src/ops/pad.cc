// Pad: modes constant, reflect, edge and wrap, any dtype the runtime has.
// The importer leaves opset < 11's `pads`/`value` attributes as they are; from
// opset 11 pads (int64, known when the plan is built) and constant_value (a
// scalar of the data's dtype, read at run time) are inputs, and from opset 18
// `axes` (input 3, negative allowed) says which dims the pads are for.
// Negative pads crop: the input is cut first, then padded (as onnxruntime).
//
// Plan: dims after the last padded one join the "inner" block; along the last
// padded dim the output row is a short list of pieces (a run of consecutive
// source blocks copied with one memcpy, or a constant fill), and the dims
// before it map each output index to a source index (or to the constant).
// Rows are split over threads when the output is large.
#include <algorithm>
#include <array>
#include <cstring>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

enum class PadMode { Constant, Reflect, Edge, Wrap };
constexpr size_t kMaxPadDims = 64;

struct Piece {
  int64_t count;  // output blocks
  int64_t src;    // first source block, -1: constant
};

struct PadPlan {
  std::vector<int64_t> odims;             // output dims before the last padded one
  std::vector<std::vector<int64_t>> map;  // per outer dim: output index -> source index or -1
  std::vector<int64_t> istride;           // input element stride per outer dim
  std::vector<Piece> pieces;              // along the last padded dim
  int64_t in_row = 0;                     // input elements per outer row
  int64_t out_row = 0;                    // output elements per outer row
  int64_t block = 1;                      // elements per block (the unpadded inner dims)
  int64_t numel = 0;
  size_t es = 4;
};

int64_t map_index(int64_t t, int64_t m, PadMode mode) {
  // t: position relative to the cropped input's start; m: its size (> 0).
  switch (mode) {
    case PadMode::Edge: return std::max<int64_t>(0, std::min(t, m - 1));
    case PadMode::Wrap: return ((t % m) + m) % m;
    case PadMode::Reflect: {
      if (m == 1) return 0;
      const int64_t p = 2 * (m - 1);
      int64_t u = ((t % p) + p) % p;
      return u < m ? u : p - u;
    }
    default: return t >= 0 && t < m ? t : -1;
  }
}

template <size_t E>
void fill(uint8_t* dst, int64_t n, const uint8_t* v) {
  if (E == 1) {
    std::memset(dst, *v, static_cast<size_t>(n));
  } else if (E == 4) {
    uint32_t x;
    std::memcpy(&x, v, 4);
    std::fill_n(reinterpret_cast<uint32_t*>(dst), n, x);
  } else {
    uint64_t x;
    std::memcpy(&x, v, 8);
    std::fill_n(reinterpret_cast<uint64_t*>(dst), n, x);
  }
}

template <size_t E>
void run_pad(const PadPlan& p, const uint8_t* in, uint8_t* out, const uint8_t* value, int threads) {
  const size_t nd = p.odims.size();
  int64_t rows = 1;
  for (int64_t d : p.odims) rows *= d;
  const int t = threads_for_work(p.numel, threads);
  const int64_t chunks = t > 1 ? std::min<int64_t>(rows, int64_t(t) * 4) : 1;
  const int64_t bb = p.block * static_cast<int64_t>(E);
  parallel_for(chunks, t, [&](int64_t ch) {
    const int64_t r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
    std::array<int64_t, kMaxPadDims> idx{};
    int64_t rem = r0;
    for (size_t d = nd; d-- > 0;) {
      idx[d] = rem % p.odims[d];
      rem /= p.odims[d];
    }
    uint8_t* o = out + r0 * p.out_row * static_cast<int64_t>(E);
    for (int64_t r = r0; r < r1; ++r) {
      int64_t off = 0;
      bool inside = true;
      for (size_t d = 0; d < nd; ++d) {
        const int64_t s = p.map[d][idx[d]];
        if (s < 0) {
          inside = false;
          break;
        }
        off += s * p.istride[d];
      }
      if (!inside) {
        fill<E>(o, p.out_row, value);
        o += p.out_row * static_cast<int64_t>(E);
      } else {
        const uint8_t* src = in + off * static_cast<int64_t>(E);
        for (const Piece& pc : p.pieces) {
          if (pc.src < 0)
            fill<E>(o, pc.count * p.block, value);
          else
            std::memcpy(o, src + pc.src * bb, static_cast<size_t>(pc.count * bb));
          o += pc.count * bb;
        }
      }
      for (size_t d = nd; d-- > 0;) {
        if (++idx[d] < p.odims[d]) break;
        idx[d] = 0;
      }
    }
  });
}

class PadOp : public Op {
 public:
  PadOp(PadMode mode, bool attr_form, std::vector<int64_t> pads, float value)
      : mode_(mode), attr_form_(attr_form), pads_(std::move(pads)), value_(value) {}

  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> pads = attr_form_ ? pads_ : std::vector<int64_t>();
    if (!attr_form_) {
      if (ctx.num_inputs() < 2 || !ctx.has(1)) ctx.fail("needs the pads input (input 1)");
      pads = plan_ints(ctx, 1, "pads");
    }
    std::vector<int64_t> axes;
    if (!attr_form_ && ctx.num_inputs() > 3 && ctx.has(3)) {
      axes = plan_ints(ctx, 3, "axes");
    } else {
      for (int64_t k = 0; k < r; ++k) axes.push_back(k);
    }
    const int64_t na = static_cast<int64_t>(axes.size());
    if (static_cast<int64_t>(pads.size()) != 2 * na)
      ctx.fail("pads ", ints_str(pads), " has ", pads.size(), " entries; expected 2 x ", na, " (input shape ", shape_str(x.shape), ")");
    std::vector<int64_t> b(r, 0), e(r, 0);
    std::vector<char> seen(r, 0);
    for (int64_t k = 0; k < na; ++k) {
      int64_t a = axes[k];
      if (a < -r || a >= r) ctx.fail("axis ", a, " in axes ", ints_str(axes), " is out of range for rank ", r);
      if (a < 0) a += r;
      if (seen[a]) ctx.fail("axes ", ints_str(axes), " name dimension ", a, " twice");
      seen[a] = 1;
      b[a] = pads[k];
      e[a] = pads[na + k];
    }
    Shape out(r);
    for (int64_t k = 0; k < r; ++k) {
      out[k] = checked_add(checked_add(x.shape[k], b[k]), e[k]);
      if (out[k] < 0)
        ctx.fail("pads ", ints_str(pads), " crop more than the size ", x.shape[k], " of axis ", k, " (input shape ", shape_str(x.shape), ")");
    }
    // Value input: a scalar of the data's dtype.
    const bool value_input = !attr_form_ && ctx.num_inputs() > 2 && ctx.has(2);
    if (value_input) {
      const TensorMeta& v = ctx.in(2);
      if (v.dtype != x.dtype) ctx.fail("input 2 (constant_value) has dtype ", dtype_name(v.dtype), ", the data has ", dtype_name(x.dtype));
      if (v.numel() != 1) ctx.fail("input 2 (constant_value) must hold one value, got shape ", shape_str(v.shape));
    }
    ctx.set_out(0, x.dtype, out);

    PadPlan p;
    p.es = dtype_size(x.dtype);
    p.numel = checked_numel(out);
    if (p.numel == 0) return [](const RunCtx&) {};
    int64_t last = -1;
    for (int64_t k = 0; k < r; ++k)
      if (b[k] != 0 || e[k] != 0) last = k;
    const int64_t bytes = p.numel * static_cast<int64_t>(p.es);
    if (last < 0) {
      return [bytes](const RunCtx& rc) {
        if (rc.out[0] != rc.in[0]) std::memcpy(rc.out[0], rc.in[0], static_cast<size_t>(bytes));
      };
    }
    const std::vector<int64_t> is = [&] {
      std::vector<int64_t> s(r, 1);
      for (int64_t k = r - 1; k > 0; --k) s[k - 1] = s[k] * x.shape[k];
      return s;
    }();
    if (last > static_cast<int64_t>(kMaxPadDims)) ctx.fail("rank ", r, " is more than Pad handles (", kMaxPadDims, ")");
    // Source index of output index o along dim k, or -1 (constant).
    auto src_of = [&](int64_t k, int64_t o) -> int64_t {
      const int64_t dim = x.shape[k];
      if (mode_ == PadMode::Constant) {
        const int64_t i = o - b[k];
        return i >= 0 && i < dim ? i : -1;
      }
      const int64_t lo = std::max<int64_t>(0, -b[k]), hi = dim - std::max<int64_t>(0, -e[k]);
      return lo + map_index(o - std::max<int64_t>(0, b[k]), hi - lo, mode_);
    };
    if (mode_ != PadMode::Constant)
      for (int64_t k = 0; k < r; ++k) {
        const int64_t m = x.shape[k] - std::max<int64_t>(0, -b[k]) - std::max<int64_t>(0, -e[k]);
        if (m <= 0 && out[k] > 0 && (b[k] > 0 || e[k] > 0))
          ctx.fail("cannot pad axis ", k, " in this mode: nothing of it is left to copy (input shape ", shape_str(x.shape), ", pads ",
                   ints_str(pads), ")");
      }
    for (int64_t k = 0; k < last; ++k) {
      p.odims.push_back(out[k]);
      p.istride.push_back(is[k]);
      std::vector<int64_t> m(out[k]);
      for (int64_t o = 0; o < out[k]; ++o) m[o] = src_of(k, o);
      p.map.push_back(std::move(m));
    }
    for (int64_t k = last + 1; k < r; ++k) p.block *= x.shape[k];
    p.in_row = x.shape[last] * p.block;
    p.out_row = out[last] * p.block;
    for (int64_t o = 0; o < out[last]; ++o) {
      const int64_t s = src_of(last, o);
      if (!p.pieces.empty()) {
        Piece& pc = p.pieces.back();
        if ((s < 0 && pc.src < 0) || (s >= 0 && pc.src >= 0 && s == pc.src + pc.count)) {
          ++pc.count;
          continue;
        }
      }
      p.pieces.push_back(Piece{1, s});
    }
    // Fill value: the attribute (opset < 11) or zero now; input 2 at run time.
    uint64_t fixed = 0;
    if (attr_form_) {
      if (x.dtype == DType::F32) {
        std::memcpy(&fixed, &value_, 4);
      } else if (x.dtype == DType::I64) {
        const int64_t v = static_cast<int64_t>(value_);
        std::memcpy(&fixed, &v, 8);
      } else {
        fixed = value_ != 0.f;
      }
    }
    const size_t es = p.es;
    return [p, fixed, value_input, es](const RunCtx& rc) {
      uint8_t v[8];
      std::memcpy(v, &fixed, 8);
      if (value_input && rc.in[2]) std::memcpy(v, rc.in[2], es);
      const auto* in = static_cast<const uint8_t*>(rc.in[0]);
      auto* out = static_cast<uint8_t*>(rc.out[0]);
      switch (es) {
        case 1: run_pad<1>(p, in, out, v, rc.threads); break;
        case 4: run_pad<4>(p, in, out, v, rc.threads); break;
        default: run_pad<8>(p, in, out, v, rc.threads); break;
      }
    };
  }

 private:
  PadMode mode_;
  bool attr_form_;
  std::vector<int64_t> pads_;
  float value_;
};

std::unique_ptr<Op> create_pad(CreateCtx& c) {
  const Node& n = c.node();
  const std::string m = n.s("mode", "constant");
  PadMode mode;
  if (m == "constant")
    mode = PadMode::Constant;
  else if (m == "reflect")
    mode = PadMode::Reflect;
  else if (m == "edge")
    mode = PadMode::Edge;
  else if (m == "wrap")
    mode = PadMode::Wrap;
  else
    c.fail("mode must be 'constant', 'reflect', 'edge' or 'wrap', got '", m, "'");
  const bool attr_form = n.has("pads");
  return std::make_unique<PadOp>(mode, attr_form, n.ints("pads"), n.f("value", 0.f));
}

CNNRT_REGISTER_OP("Pad", create_pad);

}  // namespace
}  // namespace cnnrt
