// Gather: data of any dtype (rank >= 1), int64 indices of any rank (a scalar
// included), along `axis` (negative allowed). output = data[:axis] +
// indices.shape + data[axis+1:]; out[o, j, :] = data[o, idx[j], :].
// Negative indices count from the end. Indices known at plan time (the
// normal case: constants and shape arithmetic) are checked and normalised
// then, and an out-of-range one is a ModelLoadError naming the node; indices
// computed at run time are checked by the kernel, which writes zeros for an
// out-of-range index rather than read outside the data.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/op.h"

namespace cnnrt {
namespace {

constexpr int64_t kParallelBytes = 1 << 16;

class GatherOp : public Op {
 public:
  explicit GatherOp(int64_t axis) : axis_(axis) {}
  Kernel plan(PlanCtx& ctx) const override {
    const TensorMeta& x = ctx.in(0);
    const TensorMeta& ind = ctx.expect(1, DType::I64);
    const int64_t r = static_cast<int64_t>(x.shape.size());
    if (r < 1) ctx.fail("input 0 (data) is a scalar; Gather needs rank >= 1");
    if (axis_ < -r || axis_ >= r) ctx.fail("axis ", axis_, " is out of range for data rank ", r, " (shape ", shape_str(x.shape), ")");
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    Shape out(x.shape.begin(), x.shape.begin() + axis);
    out.insert(out.end(), ind.shape.begin(), ind.shape.end());
    out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
    ctx.set_out(0, x.dtype, out);

    const int64_t dim = x.shape[axis];
    const int64_t nidx = ind.numel();
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < axis; ++k) outer *= x.shape[k];
    for (int64_t k = axis + 1; k < r; ++k) inner *= x.shape[k];
    const size_t es = dtype_size(x.dtype);
    const size_t row = static_cast<size_t>(inner) * es;  // bytes per gathered slice
    const int64_t total = checked_mul(checked_mul(outer, nidx), static_cast<int64_t>(row));
    const bool par = total >= kParallelBytes;

    std::vector<int64_t> idx;  // normalised, when known now
    const bool known = ind.value != nullptr;
    if (known) {
      const int64_t* v = ind.value->ptr<int64_t>();
      idx.resize(nidx);
      for (int64_t j = 0; j < nidx; ++j) {
        const int64_t i = v[j];
        if (i < -dim || i >= dim)
          ctx.fail("index ", i, " (input 1, indices, position ", j, ") is out of range for axis ", axis, " of size ", dim,
                   " (data shape ", shape_str(x.shape), ")");
        idx[j] = i < 0 ? i + dim : i;
      }
    }
    if (total == 0) return [](const RunCtx&) {};
    return [idx, known, dim, nidx, outer, row, par](const RunCtx& rc) {
      const auto* src = static_cast<const uint8_t*>(rc.in[0]);
      auto* dst = static_cast<uint8_t*>(rc.out[0]);
      const int64_t* live = rc.i<int64_t>(1);
      const int64_t items = outer * nidx;
      const int64_t chunks = par && rc.threads > 1 ? std::min<int64_t>(items, int64_t(rc.threads) * 4) : 1;
      parallel_for(chunks, chunks > 1 ? rc.threads : 1, [&](int64_t c) {
        const int64_t t0 = items * c / chunks, t1 = items * (c + 1) / chunks;
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t o = t / nidx, j = t - o * nidx;
          uint8_t* d = dst + static_cast<size_t>(t) * row;
          int64_t i;
          if (known) {
            i = idx[j];
          } else {
            i = live[j];
            if (i < 0) i += dim;
            if (i < 0 || i >= dim) {
              std::memset(d, 0, row);
              continue;
            }
          }
          std::memcpy(d, src + static_cast<size_t>(o * dim + i) * row, row);
        }
      });
    };
  }

 private:
  int64_t axis_;
};

std::unique_ptr<Op> create_gather(CreateCtx& c) { return std::make_unique<GatherOp>(c.node().i("axis", 0)); }

CNNRT_REGISTER_OP("Gather", create_gather);

}  // namespace
}  // namespace cnnrt
