// A session owns the lowered graph, one created Op per node (weights packed),
// and a bounded cache of plans keyed by input shapes (and the values of small
// int64/bool inputs, which shape computations depend on).
#pragma once
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cnnrt/graph.h"
#include "kernels/kernels.h"
#include "ops/op.h"

namespace cnnrt {

struct SessionOptions {
  int threads = 1;
  size_t max_plans = 8;
  // Bytes one plan may use: its arena (activations and workspace), its
  // graph outputs and the values it computes while planning. A plan over the
  // cap is a ModelLoadError before anything is allocated.
  int64_t max_memory = int64_t(16) << 30;
  Isa isa = Isa::Ref;
};

// A caller's input: pointers into its array (dims included), valid while the
// call that received it runs. No copy of the shape: one per call was a
// measurable share of a small model's run.
struct Feed {
  const void* data = nullptr;
  DType dtype = DType::F32;
  const int64_t* dims = nullptr;
  int rank = 0;
  Shape shape() const { return Shape(dims, dims + rank); }
};

// Plan cache key: per feed its dtype, rank and dims, and for int64/bool feeds
// (whose values shape computations read) the byte count and the bytes.
using PlanKey = std::vector<int64_t>;
struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const;
};

// Where a tensor lives while a plan runs.
struct Loc {
  enum Kind : int8_t { None, Arena, Input, Output, Fixed } kind = None;
  int64_t idx = 0;            // arena byte offset / feed index / output index
  const void* ptr = nullptr;  // Fixed: plan-time value or constant
};

struct Step {
  int node = 0;
  Kernel kernel;
  std::vector<Loc> in, out;
  bool denormals_are_zero = false;  // a Conv/Gemm/MatMul/ConvTranspose: DAZ while it runs (core/fpenv.h)
  size_t ws_bytes = 0;  // workspace (PlanCtx::set_workspace), at ws in the arena
  Loc ws;
  // Outputs with a data-dependent first dim: (output k, graph output index).
  std::vector<std::pair<int, int>> bounded;
};

struct Plan {
  std::vector<TensorMeta> metas;                // per value id
  std::vector<std::unique_ptr<Tensor>> owned;   // plan-time values
  std::vector<Step> steps;
  std::vector<Loc> out_src;                      // per graph output: where its bytes are
  std::vector<char> out_copy;                    // graph output filled by a copy after the steps
  size_t arena_bytes = 0;
  int max_io = 0;

  // With threads > 1: whether runs of this plan go on the calling thread
  // alone, chosen from timed runs (Session::run).
  enum ThreadMode : int { Undecided = 0, Parallel = 1, Serial = 2 };
  std::atomic<int> thread_mode{Undecided};
  std::atomic<int> probes{0};
  std::atomic<int64_t> best_parallel_ns{INT64_MAX}, best_serial_ns{INT64_MAX};

  // Arenas for concurrent runs of this plan.
  std::mutex pool_mu;
  std::vector<BufferPtr> pool;
  BufferPtr acquire();
  void release(BufferPtr b);
};

// A fingerprint of the packed layouts of the kernel table for `isa`: its
// pack functions run on small probes, and the Winograd cut-over decisions,
// hashed. Packed weights saved under one signature are used in place only
// under the same one (docs/cnnrt-format.md); otherwise they are repacked.
uint64_t pack_signature(Isa isa);

class Session {
 public:
  // prepacked: per node index, packed weights to use instead of packing
  // (a .cnnrt file's, same ISA); every one must be taken by its op.
  Session(Graph graph, SessionOptions opt, std::unordered_map<int, std::vector<Prepacked>> prepacked = {});
  // Every op's packed weights, as (node index, blob); valid while the session lives.
  std::vector<std::pair<int, PackedOut>> export_packed() const;
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  const Graph& graph() const { return graph_; }
  const SessionOptions& options() const { return opt_; }

  // Checks the feeds against the graph inputs (InputError) and returns the
  // plan for their shapes, building and caching it on first use.
  std::shared_ptr<Plan> plan_for(const std::vector<Feed>& feeds);
  // The cached plan for feeds already checked against the graph inputs, or
  // null: no allocation, one short lock; the most recent plan is tried first.
  std::shared_ptr<Plan> cached_plan(const Feed* feeds, size_t n) const;
  // Runs the plan; feeds[i] is graph input i, outputs[i] points to a buffer
  // of the planned shape and dtype of graph output i. Does not touch Python;
  // safe to call concurrently. out_rows (optional, one per graph output):
  // -1, or the real first dimension of an output the plan bounds
  // (TensorMeta::rows_bounded); its buffer holds that many leading rows.
  // step_ns, when given, receives each step's wall time in nanoseconds
  // (plan.steps.size() entries; the profiler).
  void run(Plan& plan, const Feed* feeds, void* const* outputs, int64_t* out_rows = nullptr,
           int64_t* step_ns = nullptr) const;
  size_t cached_plans() const;
  // Graph input i's values are read while planning (part of the plan key).
  bool value_input(size_t i) const {
    return graph_.values[graph_.inputs[i]].dtype != DType::F32 || (i < value_feed_.size() && value_feed_[i]);
  }
  size_t constant_bytes() const;
  // The created op of node i (Op::describe: the kernel it chose).
  const Op& op(size_t node) const { return *ops_[node]; }
  // Per node: the node whose first weights it prefetches and how many bytes
  // ({-1, 0}: none; link_weight_prefetch).
  const std::vector<std::pair<int, int64_t>>& prefetch_links() const { return prefetch_links_; }

  // fork(): every live session's locks are taken before the fork and released
  // after it in both processes (pthread_atfork, session.cc), so that a child
  // forked while another thread was inside run() finds them free.
  void lock_for_fork() const;
  void unlock_after_fork() const;

  // The mode a small plan keeps after its probes (see session.cc): one
  // thread unless all threads' best run beats its best by kParallelGain.
  static bool prefer_serial(int64_t best_serial_ns, int64_t best_parallel_ns);
  // The most bytes of the next layer's weights a layer prefetches into L2
  // (link_weight_prefetch): a quarter of this CPU's L2, within 64-512 KiB.
  static size_t weight_prefetch_cap();

 private:
  // One thread or all for this run of `plan` (see session.cc); probe >= 0
  // marks a timed run, which the caller hands to end_probe.
  int choose_mode(Plan& plan, int& probe) const;
  void end_probe(Plan& plan, int probe, bool serial, int64_t ns) const;
  void run_steps(Plan& plan, const Feed* feeds, void* const* outputs, int64_t* out_rows, int64_t* step_ns,
                 bool serial) const;
  std::shared_ptr<Plan> build_plan(const std::vector<Feed>& feeds) const;
  void link_weight_prefetch();
  PlanKey plan_key(const Feed* feeds, size_t n) const;
  bool key_matches(const PlanKey& key, const Feed* feeds, size_t n) const;
  // Feed i's values are known at plan time (part of the plan key): int64 and
  // bool feeds, and float32 ones that an op reads while planning (Op::value_input).
  bool value_feed(size_t i, const Feed& f) const { return f.dtype != DType::F32 || (i < value_feed_.size() && value_feed_[i]); }

  Graph graph_;
  SessionOptions opt_;
  const KernelTable* kt_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<std::pair<int, int64_t>> prefetch_links_;
  std::vector<TensorMeta> const_meta_;  // dtype/shape of every constant (value may be freed)
  std::vector<char> is_const_;
  std::vector<char> value_feed_;  // per graph input: a float32 input some op reads while planning

  mutable std::mutex cache_mu_;
  mutable std::list<std::pair<PlanKey, std::shared_ptr<Plan>>> lru_;  // most recent first
  std::unordered_map<PlanKey, std::list<std::pair<PlanKey, std::shared_ptr<Plan>>>::iterator, PlanKeyHash> cache_;
};

}  // namespace cnnrt
