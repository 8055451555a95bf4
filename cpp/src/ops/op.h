// The op interface (XNNPACK create/reshape/setup, MLAS Prepare/Run):
//  - create: from the Node and the constant inputs; validate attributes,
//    choose the algorithm, pack weights once (CreateCtx::take releases the
//    original constant when every consumer took it);
//  - plan: for concrete input shapes (and plan-time values of small int64
//    tensors), set output dtypes/shapes and return a Kernel;
//  - the Kernel runs with pointers only: no allocation, no exceptions.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cnnrt/graph.h"
#include "cnnrt/status.h"
#include "cnnrt/tensor.h"
#include "kernels/kernels.h"

namespace cnnrt {

struct TensorMeta {
  DType dtype = DType::F32;
  Shape shape;
  const Tensor* value = nullptr;  // known at plan time (constant or folded), else null
  // shape[0] is an upper bound; the kernel reports the real first dimension
  // (RunCtx::rows) when it runs: a data-dependent output (NonMaxSuppression).
  bool rows_bounded = false;
  int64_t numel() const { return checked_numel(shape); }
};

struct RunCtx {
  const void* const* in;  // one per node input; null for absent optional inputs
  void* const* out;       // one per node output; null for outputs not requested
  int threads;
  void* ws = nullptr;       // PlanCtx::set_workspace bytes, 64-byte aligned, this run's own
  int64_t* rows = nullptr;  // per output: the kernel writes the real first dim of a bounded output
  template <class T> const T* i(int k) const { return static_cast<const T*>(in[k]); }
  template <class T> T* o(int k) const { return static_cast<T*>(out[k]); }
};

using Kernel = std::function<void(const RunCtx&)>;

class PlanCtx {
 public:
  PlanCtx(const Node& node, std::vector<TensorMeta>& metas, const std::vector<char>& out_wanted, int threads)
      : node_(node), in_(metas), wanted_(out_wanted), threads_(threads), out_(node.outputs.size()) {}

  const Node& node() const { return node_; }
  int threads() const { return threads_; }
  // Threads worth using for `work` elementary operations (core/parallel.h).
  int threads_for(int64_t work) const;
  int num_inputs() const { return node_.num_inputs(); }
  bool has(int i) const { return node_.has_input(i); }
  const TensorMeta& in(int i) const;
  // The plan-time value of input i, or a ModelLoadError naming it.
  const Tensor& value(int i, const char* what) const;
  int num_outputs() const { return static_cast<int>(node_.outputs.size()); }
  bool out_wanted(int i) const { return i < num_outputs() && node_.outputs[i] >= 0; }
  void set_out(int i, DType dtype, Shape shape);
  const std::vector<TensorMeta>& outs() const { return out_; }
  // The session's memory cap (SessionOptions::max_memory): set_out refuses
  // a tensor larger than what is left of it.
  void set_memory_left(int64_t bytes) { mem_left_ = bytes; }
  // An output whose first dimension depends on the data: `shape` holds its
  // upper bound (the buffer's size); the kernel writes the real first
  // dimension to RunCtx::rows[i]. Such a tensor may only be a graph output
  // (the session trims it); a node reading it fails to plan.
  void set_out_bounded(int i, DType dtype, Shape shape);
  // Scratch memory the kernel needs while it runs (RunCtx::ws): an arena
  // interval live during this step only, so concurrent runs do not share it.
  void set_workspace(size_t bytes) { ws_bytes_ = bytes; }
  size_t workspace() const { return ws_bytes_; }
  // An output whose value the op computes while planning (Shape): allocate,
  // fill the returned tensor; the plan keeps it.
  Tensor& set_out_value(int i, DType dtype, Shape shape);
  std::vector<std::unique_ptr<Tensor>>& made() { return made_; }

  // Errors name the node.
  template <class... Args>
  [[noreturn]] void fail(Args&&... args) const {
    ::cnnrt::fail(ErrorKind::ModelLoad, node_.where(), ": ", std::forward<Args>(args)...);
  }
  // A limit of cnnrt's scope met while planning (UnsupportedOpError).
  template <class... Args>
  [[noreturn]] void unsupported(Args&&... args) const {
    ::cnnrt::fail(ErrorKind::Unsupported, node_.where(), ": ", std::forward<Args>(args)...);
  }
  // Checks input i is present with the given dtype and rank range.
  const TensorMeta& expect(int i, DType dtype, int min_rank = 0, int max_rank = 64) const;

 private:
  const Node& node_;
  std::vector<TensorMeta>& in_;
  const std::vector<char>& wanted_;
  int threads_;
  std::vector<TensorMeta> out_;
  std::vector<std::unique_ptr<Tensor>> made_;
  size_t ws_bytes_ = 0;
  int64_t mem_left_ = INT64_MAX;
};

// Packed weights handed to an op at create instead of packing (a .cnnrt
// file's blob, used in place from its memory map; docs/cnnrt-format.md).
struct Prepacked {
  std::string tag;  // the op's name for the layout, e.g. "conv.nhwc.winograd"
  BufferPtr keep;   // owns (or keeps mapped) the bytes
  const void* data = nullptr;
  size_t bytes = 0;
  bool used = false;
};

// Packed weights an op exports (Op::export_packed): valid while the op lives.
struct PackedOut {
  std::string tag;
  const void* data = nullptr;
  size_t bytes = 0;
};

class CreateCtx {
 public:
  // adopt: the session's CreateCtx::adopt (null: nothing is handed over).
  CreateCtx(const Node& node, const Graph& graph, const KernelTable& kt, std::vector<int>& taken,
            std::vector<Prepacked>* prepacked = nullptr, const std::function<BufferPtr(int)>* adopt = nullptr)
      : node_(node), graph_(graph), kt_(kt), taken_(taken), prepacked_(prepacked), adopt_(adopt) {}
  // The prepacked blob `tag` for this node, or null (then the op packs). A
  // blob of another size than the op's layout needs is a ModelLoadError.
  Prepacked* prepacked(const char* tag, size_t bytes);
  const Node& node() const { return node_; }
  const KernelTable& kernels() const { return kt_; }
  // Constant value of input i, or null when it is computed at run time.
  const Tensor* constant(int i) const;
  // The op keeps its own (packed) copy of constant input i; the original may
  // be freed once every consumer has taken it.
  void take(int i);
  // Constant input i's buffer, handed to the op to overwrite (a layout packed
  // in place: a large weight is then not held twice while loading), when
  // nothing else can see it: the runtime owns it (not a view on a .cnnrt
  // file), this node is its only reader, it is no graph output and no other
  // tensor or numpy array shares it. Null otherwise. constant(i) then has no
  // bytes; the op still calls take(i).
  BufferPtr adopt(int i);
  // What the graph knows of input i (shape and dtype hints); input i must be present.
  const ValueInfo& info(int i) const {
    if (!node_.has_input(i)) fail("input ", i, " is required but absent");
    return graph_.values[node_.inputs[i]];
  }
  template <class... Args>
  [[noreturn]] void fail(Args&&... args) const {
    ::cnnrt::fail(ErrorKind::ModelLoad, node_.where(), ": ", std::forward<Args>(args)...);
  }
  template <class... Args>
  [[noreturn]] void unsupported(Args&&... args) const {
    ::cnnrt::fail(ErrorKind::Unsupported, node_.where(), ": ", std::forward<Args>(args)...);
  }

 private:
  const Node& node_;
  const Graph& graph_;
  const KernelTable& kt_;
  std::vector<int>& taken_;
  std::vector<Prepacked>* prepacked_;
  const std::function<BufferPtr(int)>* adopt_;
};

// An op's packed weights: packed at create into its own storage or over a
// constant's own bytes (CreateCtx::adopt), or a prepacked blob borrowed in
// place (CreateCtx::prepacked).
class PackedBuf {
 public:
  PackedBuf() = default;
  PackedBuf(const PackedBuf&) = delete;  // p_ points into keep_
  PackedBuf& operator=(const PackedBuf&) = delete;
  // Returns where to pack n floats, or null when a prepacked blob `tag` of
  // that size was handed over and is now used instead.
  float* prepare(CreateCtx& c, const char* tag, size_t n);
  // The same, packing into `own` (n floats or more, 64-byte aligned, from
  // CreateCtx::adopt) instead of new pages where it is not null.
  float* prepare(CreateCtx& c, const char* tag, size_t n, BufferPtr own);
  const float* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  void export_to(std::vector<PackedOut>& out) const {
    if (n_) out.push_back({tag_, p_, n_ * sizeof(float)});
  }

 private:
  BufferPtr keep_;  // the packed floats (64-byte aligned; an adopted constant's buffer) or the prepacked blob's owner
  const float* p_ = nullptr;
  size_t n_ = 0;
  std::string tag_;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual Kernel plan(PlanCtx& ctx) const = 0;
  // Input whose buffer output 0 may overwrite (same size, element-wise), or -1.
  virtual int inplace_input() const { return -1; }
  // Output 0 is input 0's bytes under another shape (Reshape, Flatten, ...).
  virtual bool is_view() const { return false; }
  // Input i is read while planning (it sets the output's shape: Resize's
  // scales). A float32 graph input used so is known at plan time like an
  // int64 one: its values become part of the plan key.
  virtual bool value_input(int) const { return false; }
  // The packed weights the op holds, tagged by layout, for a .cnnrt file
  // (CreateCtx::prepacked hands them back on load under the same ISA).
  virtual void export_packed(std::vector<PackedOut>&) const {}
  // The kernel this op chose at load, named as in STYLE.md
  // ("avx512::f32_winograd_f4x4"), for `cnnrt info` and `cnnrt profile`;
  // empty: the op's own loops (or the table's element-wise kernels).
  virtual std::string describe() const { return {}; }
  // Cross-layer weight prefetch. A layer's first weights are cold: another
  // layer's stream (or another runtime's run) evicted them since the last
  // run. The session links each op to the next op in run order that holds
  // packed weights (past ones under kSmallWeights, a depthwise layer's), and
  // an op whose kernel can (conv_nhwc) prefetches that op's first bytes into
  // L2 while its own tiles run. weights_read_first: the bytes this op's
  // kernel reads first, in order ({nullptr, 0}: not a target, e.g. Winograd,
  // whose 36 x C x OC transformed weights a 512 KiB prefix barely starts;
  // as a source and a target it measured -3% to +28% on ResNets and
  // GoogLeNet in A/B runs on a noisy host, so it stays out until measured
  // on a quiet one).
  virtual std::pair<const void*, size_t> weights_read_first() const { return {nullptr, 0}; }
  // Returns whether this op's kernel prefetches them.
  virtual bool set_next_weights(const void*, size_t) { return false; }
};

using OpFactory = std::unique_ptr<Op> (*)(CreateCtx& ctx);
// Null when the runtime has no such op.
OpFactory find_op(const std::string& op_type);
std::vector<std::string> registered_ops();
bool register_op(const char* op_type, OpFactory factory);

// One line per op type, in the op's own file.
#define CNNRT_CONCAT_(a, b) a##b
#define CNNRT_CONCAT(a, b) CNNRT_CONCAT_(a, b)
#define CNNRT_REGISTER_OP(name, factory) \
  static const bool CNNRT_CONCAT(cnnrt_registered_, __LINE__) = ::cnnrt::register_op(name, factory)

// Helpers shared by ops.
int64_t normalize_axis(int64_t axis, int64_t rank, const PlanCtx& ctx, const char* what = "axis");
// numpy-style broadcast of two shapes; fails with the node name.
Shape broadcast_shapes(const Shape& a, const Shape& b, const PlanCtx& ctx);
// Plan-time int64 list from input i (a 0-D or 1-D int64 tensor known when the
// plan is built), or a ModelLoadError naming the node and input.
std::vector<int64_t> plan_ints(const PlanCtx& ctx, int i, const char* what);
// No tensor may be larger than this (a hostile or broken graph asking for
// 1e12 elements gets a ModelLoadError at planning, never an allocation).
constexpr int64_t kMaxTensorBytes = int64_t(1) << 36;  // 64 GiB
// Kernel moving the elements of a tensor of `shape` into the order `perm`
// (Transpose's tiled kernel; perm is checked by the caller).
Kernel transpose_kernel(const Shape& shape, DType dtype, const std::vector<int64_t>& perm, const PlanCtx& ctx);

}  // namespace cnnrt
