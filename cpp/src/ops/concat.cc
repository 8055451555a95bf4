// Concat: any number of inputs of one dtype and rank (>= 1), joined along
// `axis` (negative from opset 11). Each input is an [outer, row_i] block of
// bytes written at column offset off_i of the [outer, sum row_i] output; the
// copy is split, at plan time, into byte ranges of about equal size so large
// concatenations use every thread whatever the axis (a batch-axis Concat of
// two inputs has outer = 1 and would otherwise give two tasks).
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

// Below this many bytes the copy runs on one thread.
constexpr int64_t kParallelBytes = 1 << 16;

struct Piece {
  int input;
  int64_t begin, end;  // byte range in the input
};

class ConcatOp : public Op {
 public:
  explicit ConcatOp(int64_t axis) : axis_(axis) {}
  Kernel plan(PlanCtx& ctx) const override {
    const int n = ctx.num_inputs();
    if (n < 1) ctx.fail("needs at least one input");
    const TensorMeta& x0 = ctx.in(0);
    const int64_t r = static_cast<int64_t>(x0.shape.size());
    if (r < 1) ctx.fail("input 0 is a scalar (shape []); Concat needs rank >= 1");
    if (axis_ < -r || axis_ >= r) ctx.fail("axis ", axis_, " is out of range for rank ", r);
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    Shape out = x0.shape;
    out[axis] = 0;
    for (int i = 0; i < n; ++i) {
      const TensorMeta& xi = ctx.in(i);
      if (xi.dtype != x0.dtype) ctx.fail("input ", i, " has dtype ", dtype_name(xi.dtype), ", input 0 has ", dtype_name(x0.dtype));
      if (static_cast<int64_t>(xi.shape.size()) != r)
        ctx.fail("input ", i, " has shape ", shape_str(xi.shape), " (rank ", xi.shape.size(), "), input 0 has shape ",
                 shape_str(x0.shape), " (rank ", r, ")");
      for (int64_t k = 0; k < r; ++k)
        if (k != axis && xi.shape[k] != x0.shape[k])
          ctx.fail("input ", i, " has shape ", shape_str(xi.shape), ", input 0 has shape ", shape_str(x0.shape),
                   ": dimension ", k, " differs (only axis ", axis, " may)");
      out[axis] = checked_add(out[axis], xi.shape[axis]);
    }
    ctx.set_out(0, x0.dtype, out);

    const int64_t es = static_cast<int64_t>(dtype_size(x0.dtype));
    int64_t outer = 1, inner = es;
    for (int64_t k = 0; k < axis; ++k) outer *= out[k];
    for (int64_t k = axis + 1; k < r; ++k) inner *= out[k];
    std::vector<int64_t> row(n), off(n);
    int64_t out_row = 0;
    for (int i = 0; i < n; ++i) {
      row[i] = ctx.in(i).shape[axis] * inner;
      off[i] = out_row;
      out_row += row[i];
    }
    const int64_t total = outer * out_row;
    // Pieces: each input's bytes, cut into ranges of about total / (4 * threads).
    const int threads = ctx.threads();
    const bool par = total >= kParallelBytes;
    const int64_t target = par && threads > 1 ? std::max<int64_t>(total / (4 * threads), 4096) : total;
    std::vector<Piece> pieces;
    for (int i = 0; i < n; ++i) {
      const int64_t bytes = outer * row[i];
      if (bytes == 0) continue;
      const int64_t k = std::max<int64_t>(1, bytes / std::max<int64_t>(target, 1));
      for (int64_t j = 0; j < k; ++j) pieces.push_back(Piece{i, bytes * j / k, bytes * (j + 1) / k});
    }
    return [pieces, row, off, out_row, par](const RunCtx& rc) {
      auto* dst = static_cast<uint8_t*>(rc.out[0]);
      const int64_t np = static_cast<int64_t>(pieces.size());
      parallel_for(np, par ? rc.threads : 1, [&](int64_t p) {
        const Piece& pc = pieces[p];
        const auto* src = static_cast<const uint8_t*>(rc.in[pc.input]);
        const int64_t rw = row[pc.input], o = off[pc.input];
        int64_t a = pc.begin;
        while (a < pc.end) {
          const int64_t q = a / rw, c = a - q * rw;
          const int64_t len = std::min(rw - c, pc.end - a);
          std::memcpy(dst + q * out_row + o + c, src + a, static_cast<size_t>(len));
          a += len;
        }
      });
    };
  }

 private:
  int64_t axis_;
};

std::unique_ptr<Op> create_concat(CreateCtx& c) {
  if (!c.node().has("axis")) c.fail("needs the 'axis' attribute");
  return std::make_unique<ConcatOp>(c.node().i("axis", 0));
}

CNNRT_REGISTER_OP("Concat", create_concat);

}  // namespace
}  // namespace cnnrt
