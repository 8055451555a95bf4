#include "ops/op.h"

#include <unistd.h>

#include "core/parallel.h"

namespace cnnrt {

int PlanCtx::threads_for(int64_t work) const { return threads_for_work(work, threads_); }

const TensorMeta& PlanCtx::in(int i) const {
  if (!has(i)) fail("input ", i, " is required but absent");
  return in_[node_.inputs[i]];
}

const Tensor& PlanCtx::value(int i, const char* what) const {
  const TensorMeta& m = in(i);
  if (!m.value) fail("input ", i, " (", what, ") must be known when the plan is built (a constant or computed from shapes)");
  return *m.value;
}

void PlanCtx::set_out(int i, DType dtype, Shape shape) {
  for (int64_t d : shape)
    if (d < 0) fail("computed a negative output dimension: ", shape_str(shape));
  int64_t n = 1, nz = 1;  // nz: the product of the non-zero dims
  for (int64_t d : shape) {
    if (d != 0 && nz > INT64_MAX / d)
      fail("output ", i, " would have shape ", shape_str(shape), ": more elements than int64 counts, far more than this machine's memory");
    n *= d;
    if (d != 0) nz *= d;
  }
  // An empty tensor whose other dims multiply past the limit (a 0 beside
  // 2^40s): no memory, but numpy refuses to make such an array, and no
  // model means it.
  if (n == 0 && nz > kMaxTensorBytes / static_cast<int64_t>(dtype_size(dtype)))
    fail("output ", i, " of shape ", shape_str(shape), " is empty, but its other dims multiply past cnnrt's ",
         kMaxTensorBytes >> 30, " GiB tensor limit");
  // The memory check: an output larger than this machine's memory is a bad
  // model (a huge Resize scale, a ConvTranspose output_shape, an absurd
  // Range or Expand...), refused here rather than attempted; and no tensor
  // beyond cnnrt's limit even where memory is larger.
  static const int64_t phys = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : INT64_MAX;
  }();
  if (n > phys / static_cast<int64_t>(dtype_size(dtype)))
    fail("output ", i, " would have shape ", shape_str(shape), " (", n, " elements of ", dtype_name(dtype),
         "), more than this machine's memory (", phys, " bytes), the size limit");
  if (n > kMaxTensorBytes / static_cast<int64_t>(dtype_size(dtype)))
    fail("output ", i, " of shape ", shape_str(shape), " (", n, " elements of ", dtype_name(dtype), ") is larger than cnnrt's ",
         kMaxTensorBytes >> 30, " GiB tensor limit");
  if (n > mem_left_ / static_cast<int64_t>(dtype_size(dtype)))
    fail("output ", i, " of shape ", shape_str(shape), " (", n, " elements of ", dtype_name(dtype),
         ") does not fit in the session's memory cap (max_memory: ", mem_left_, " bytes left)");
  out_.at(i).dtype = dtype;
  out_.at(i).shape = std::move(shape);
}

void PlanCtx::set_out_bounded(int i, DType dtype, Shape shape) {
  if (shape.empty()) fail("a data-dependent output needs rank >= 1");
  set_out(i, dtype, std::move(shape));
  out_.at(i).rows_bounded = true;
}

Tensor& PlanCtx::set_out_value(int i, DType dtype, Shape shape) {
  set_out(i, dtype, shape);
  made_.push_back(std::make_unique<Tensor>(dtype, std::move(shape)));
  out_.at(i).value = made_.back().get();
  return *made_.back();
}

const TensorMeta& PlanCtx::expect(int i, DType dtype, int min_rank, int max_rank) const {
  const TensorMeta& m = in(i);
  if (m.dtype != dtype) fail("input ", i, " has dtype ", dtype_name(m.dtype), ", expected ", dtype_name(dtype));
  const int r = static_cast<int>(m.shape.size());
  if (r < min_rank || r > max_rank)
    fail("input ", i, " has rank ", r, " (shape ", shape_str(m.shape), "), expected rank ",
         min_rank == max_rank ? std::to_string(min_rank) : cat(min_rank, "..", max_rank));
  return m;
}

const Tensor* CreateCtx::constant(int i) const {
  if (!node_.has_input(i)) return nullptr;
  auto it = graph_.constants.find(node_.inputs[i]);
  return it == graph_.constants.end() ? nullptr : &it->second;
}

void CreateCtx::take(int i) {
  if (node_.has_input(i) && constant(i)) taken_[node_.inputs[i]] += 1;
}

BufferPtr CreateCtx::adopt(int i) {
  if (!adopt_ || !node_.has_input(i) || !constant(i)) return nullptr;
  return (*adopt_)(node_.inputs[i]);
}

Prepacked* CreateCtx::prepacked(const char* tag, size_t bytes) {
  if (!prepacked_) return nullptr;
  for (auto& p : *prepacked_) {
    if (p.tag != tag) continue;
    if (p.used) fail("prepacked weights '", tag, "' given twice");
    if (p.bytes != bytes) fail("prepacked weights '", tag, "' have ", p.bytes, " bytes, the layout needs ", bytes);
    p.used = true;
    return &p;
  }
  return nullptr;
}

float* PackedBuf::prepare(CreateCtx& c, const char* tag, size_t n) { return prepare(c, tag, n, nullptr); }

float* PackedBuf::prepare(CreateCtx& c, const char* tag, size_t n, BufferPtr own) {
  tag_ = tag;
  n_ = n;
  if (Prepacked* p = c.prepacked(tag, n * sizeof(float))) {
    keep_ = p->keep;
    p_ = static_cast<const float*>(p->data);
    return nullptr;
  }
  if (own) {
    keep_ = std::move(own);
    float* d = reinterpret_cast<float*>(keep_.get());
    p_ = d;
    return d;
  }
  // Aligned pages (alloc_pages): a std::vector's block sat 16 bytes past a
  // page, so every 64-byte weight vector the kernels load spanned two cache
  // lines (7x7 512->2048 + residual: 803 us in a session against 645 for the
  // same kernel on aligned weights).
  keep_ = alloc_pages(n * sizeof(float));
  float* d = reinterpret_cast<float*>(keep_.get());
  p_ = d;
  return d;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const PlanCtx& ctx, const char* what) {
  if (axis < -rank || axis >= (rank == 0 ? 1 : rank)) ctx.fail(what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> plan_ints(const PlanCtx& ctx, int i, const char* what) {
  const Tensor& t = ctx.value(i, what);
  if (t.dtype != DType::I64) ctx.fail("input ", i, " (", what, ") has dtype ", dtype_name(t.dtype), ", expected int64");
  if (t.shape.size() > 1) ctx.fail("input ", i, " (", what, ") must be 1-D, got shape ", shape_str(t.shape));
  const int64_t n = t.numel();
  return std::vector<int64_t>(t.ptr<int64_t>(), t.ptr<int64_t>() + n);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const PlanCtx& ctx) {
  const size_t r = a.size() > b.size() ? a.size() : b.size();
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da == db || db == 1)
      out[k] = da;
    else if (da == 1)
      out[k] = db;
    else
      ctx.fail("shapes ", shape_str(a), " and ", shape_str(b), " cannot be broadcast together");
  }
  return out;
}

}  // namespace cnnrt
