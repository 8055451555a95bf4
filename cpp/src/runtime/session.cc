#include "runtime/session.h"

#include "core/fpenv.h"
#include "core/parallel.h"
#include "cpu/cpuinfo.h"

#include <pthread.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_set>

namespace cnnrt {

// fork() safety. A child process has only the thread that forked; a lock that
// another thread held at that moment (a plan's arena pool while it ran, the
// plan cache while it built a plan) stays locked in the child for good, and
// the child's first run() on that session deadlocked (about 1 fork in 80 with
// a second Python thread running inference; tests/test_threads_fork.py). The
// forking thread takes every live session's locks before the fork and
// releases them after it, in the parent and in the child (as glibc does for
// malloc). Lock order: registry, then per session its cache, then the arena
// pools of the plans it caches; nothing else takes two of these at once.
// Plans that are no longer cached are reachable only from the stacks of
// threads the child does not have.
namespace {

std::mutex g_sessions_mu;
std::unordered_set<const Session*>& live_sessions() {
  static auto* s = new std::unordered_set<const Session*>();  // leaked: sessions may outlive static destructors
  return *s;
}

void fork_prepare() {
  g_sessions_mu.lock();
  for (const Session* s : live_sessions()) s->lock_for_fork();
}

void fork_release() {
  for (const Session* s : live_sessions()) s->unlock_after_fork();
  g_sessions_mu.unlock();
}

void register_session(const Session* s) {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(&fork_prepare, &fork_release, &fork_release); });
  std::lock_guard<std::mutex> lk(g_sessions_mu);
  live_sessions().insert(s);
}

}  // namespace

Session::~Session() {
  std::lock_guard<std::mutex> lk(g_sessions_mu);
  live_sessions().erase(this);
}

void Session::lock_for_fork() const {
  cache_mu_.lock();
  for (auto& e : lru_) e.second->pool_mu.lock();
}

void Session::unlock_after_fork() const {
  for (auto& e : lru_) e.second->pool_mu.unlock();
  cache_mu_.unlock();
}

BufferPtr Plan::acquire() {
  {
    std::lock_guard<std::mutex> lk(pool_mu);
    if (!pool.empty()) {
      BufferPtr b = std::move(pool.back());
      pool.pop_back();
      return b;
    }
  }
  return alloc_buffer(arena_bytes);
}

void Plan::release(BufferPtr b) {
  std::lock_guard<std::mutex> lk(pool_mu);
  if (pool.size() < 4) pool.push_back(std::move(b));
}

Session::Session(Graph graph, SessionOptions opt, std::unordered_map<int, std::vector<Prepacked>> prepacked)
    : graph_(std::move(graph)), opt_(opt) {
  graph_.validate();
  if (opt_.threads < 1) opt_.threads = 1;
  if (opt_.max_plans < 1) opt_.max_plans = 1;
  if (opt_.max_memory < 1) fail(ErrorKind::Input, "max_memory must be a positive number of bytes, got ", opt_.max_memory);
  kt_ = &kernel_table(opt_.isa);
  const int nv = static_cast<int>(graph_.values.size());
  const_meta_.resize(nv);
  is_const_.assign(nv, 0);
  for (const auto& kv : graph_.constants) {
    is_const_[kv.first] = 1;
    const_meta_[kv.first].dtype = kv.second.dtype;
    const_meta_[kv.first].shape = kv.second.shape;
  }
  // Every unsupported op, all at once.
  std::string missing;
  int n_missing = 0;
  for (const auto& n : graph_.nodes) {
    if (!find_op(n.op)) {
      missing += cat(n_missing ? ", " : "", n.where());
      ++n_missing;
    }
  }
  if (n_missing) fail(ErrorKind::Unsupported, "graph '", graph_.name, "': ", n_missing, " node(s) use ops cnnrt cannot run: ", missing);
  // A constant that every consumer packed into its own layout is freed as
  // soon as its last consumer is created, not after all ops: the originals and
  // the packed copies then never coexist beyond one layer (peak RSS on load).
  // Constants no node reads are freed too; graph outputs are kept.
  std::vector<int> taken(nv, 0), consumers(nv, 0), created(nv, 0);
  for (const auto& n : graph_.nodes)
    for (int id : n.inputs)
      if (id >= 0) consumers[id] += 1;
  std::vector<char> is_output(nv, 0);
  for (int id : graph_.outputs) is_output[id] = 1;
  // The packed copies, and the originals of 64 KiB and more, get pages of
  // their own (alloc_pages): freeing an original returns it to the OS. The
  // smaller ones are heap blocks, which glibc keeps as holes until a trim,
  // run here every 16 MiB freed (ResNet-50 peaked at 2x its weights during
  // load when every original was a heap block and nothing trimmed).
  size_t freed = 0;
  auto release_if_done = [&](int id) {
    if (is_const_[id] && !is_output[id] && created[id] == consumers[id] && taken[id] == consumers[id]) {
      auto it = graph_.constants.find(id);
      if (it == graph_.constants.end()) return;
      if (it->second.buf) freed += it->second.nbytes();  // null: an op adopted it
      graph_.constants.erase(it);
#if defined(__GLIBC__)
      if (freed >= (size_t(16) << 20)) {
        malloc_trim(0);
        freed = 0;
      }
#endif
    }
  };
  for (int id = 0; id < nv; ++id) release_if_done(id);  // unread constants
  // CreateCtx::adopt. use_count: a numpy array (the importer's weight
  // buffer) or another constant sharing the bytes keeps them read-only.
  const std::function<BufferPtr(int)> adopt = [&](int id) -> BufferPtr {
    if (!graph_.writable_constants.count(id) || consumers[id] != 1 || is_output[id]) return nullptr;
    auto it = graph_.constants.find(id);
    if (it == graph_.constants.end() || !it->second.buf || it->second.buf.use_count() != 1) return nullptr;
    return std::move(it->second.buf);
  };
  ops_.reserve(graph_.nodes.size());
  for (const auto& kv : prepacked)
    if (kv.first < 0 || static_cast<size_t>(kv.first) >= graph_.nodes.size())
      fail(ErrorKind::ModelLoad, "graph '", graph_.name, "': prepacked weights for node index ", kv.first, " of ",
           graph_.nodes.size());
  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni) {
    const Node& n = graph_.nodes[ni];
    auto pp = prepacked.find(static_cast<int>(ni));
    CreateCtx ctx(n, graph_, *kt_, taken, pp == prepacked.end() ? nullptr : &pp->second, &adopt);
    ops_.push_back(find_op(n.op)(ctx));
    if (pp != prepacked.end()) {
      for (const auto& p : pp->second)
        if (!p.used) fail(ErrorKind::ModelLoad, n.where(), ": prepacked weights '", p.tag, "' were not used (the op packs another layout)");
      prepacked.erase(pp);  // the op holds what it uses
    }
    for (int id : n.inputs)
      if (id >= 0) created[id] += 1;
    for (int id : n.inputs)
      if (id >= 0) release_if_done(id);
  }
  link_weight_prefetch();
  std::vector<int> input_of(nv, -1);
  for (size_t i = 0; i < graph_.inputs.size(); ++i) input_of[graph_.inputs[i]] = static_cast<int>(i);
  value_feed_.assign(graph_.inputs.size(), 0);
  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni)
    for (int k = 0; k < graph_.nodes[ni].num_inputs(); ++k) {
      const int id = graph_.nodes[ni].inputs[k];
      if (id >= 0 && input_of[id] >= 0 && ops_[ni]->value_input(k)) value_feed_[input_of[id]] = 1;
    }
  register_session(this);  // last: a constructor that throws leaves nothing registered
}

// Each op learns the weights of the next op in run order (steps run in node
// order) that holds packed weights; past ops whose weights are small (a
// depthwise layer's few KiB, a squeeze-excitation FC's: cheap to miss on,
// and too short a layer to hide the next fetch behind), up to kLookAhead
// ops, to the first whose weights are not: MobileNetV2's expansion 1x1
// prefetches its projection's. An op whose weights a first-bytes prefetch
// does not help (weights_read_first empty: Winograd) ends the search. At
// most a quarter of L2 is prefetched, so the layer's own working set stays:
// 512 KiB of a 2 MiB L2 (Sapphire Rapids), 128 KiB of a 512 KiB one (Zen 3).
size_t Session::weight_prefetch_cap() {
  const size_t cap = size_t(512) << 10;
  const int64_t l2 = cpu_features().l2_bytes;
  return l2 > 0 ? std::min(cap, std::max(size_t(64) << 10, static_cast<size_t>(l2) / 4)) : cap;
}

void Session::link_weight_prefetch() {
  constexpr size_t kSmallWeights = size_t(64) << 10;
  const size_t cap = weight_prefetch_cap();
  struct Target {
    int node = -1;  // -1: none (an op that is no target, e.g. Winograd: weights_read_first)
    const void* p = nullptr;
    size_t bytes = 0;
  };
  constexpr size_t kLookAhead = 4;  // ops with weights looked at past this one
  prefetch_links_.assign(ops_.size(), {-1, 0});
  std::vector<PackedOut> blobs;
  std::vector<Target> ahead;  // the next ops with packed weights, nearest last
  for (size_t ni = ops_.size(); ni-- > 0;) {
    // The first op ahead whose weights are not small, past small ones only;
    // else the nearest.
    const Target* t = ahead.empty() ? nullptr : &ahead.back();
    for (size_t k = ahead.size(); k-- > 0;) {
      if (ahead[k].node < 0) break;
      if (ahead[k].bytes >= kSmallWeights) {
        t = &ahead[k];
        break;
      }
    }
    const size_t bytes = t && t->p ? std::min(t->bytes, cap) : 0;
    if (ops_[ni]->set_next_weights(bytes ? t->p : nullptr, bytes)) prefetch_links_[ni] = {t->node, static_cast<int64_t>(bytes)};
    blobs.clear();
    ops_[ni]->export_packed(blobs);
    if (blobs.empty()) continue;  // no packed weights: look past it
    const std::pair<const void*, size_t> w = ops_[ni]->weights_read_first();
    if (ahead.size() == kLookAhead) ahead.erase(ahead.begin());
    ahead.push_back(w.first ? Target{static_cast<int>(ni), w.first, w.second} : Target{});
  }
}

uint64_t pack_signature(Isa isa) {
  const KernelTable& kt = kernel_table(isa);
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  std::vector<float> src(13 * 37 * 9), dst;
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) * 0.5f + 1.f;
  auto run = [&](size_t n, auto&& pack) {
    mix(n);
    dst.assign(n, -7.f);
    pack(dst.data());
    for (float f : dst) {
      uint32_t u;
      std::memcpy(&u, &f, 4);
      mix(u);
    }
  };
  run(kt.gemm_packed_a_size(13, 11), [&](float* d) { kt.gemm_pack_a(13, 11, src.data(), 11, false, d); });
  run(kt.gemm_packed_b_size(11, 37), [&](float* d) { kt.gemm_pack_b(11, 37, src.data(), 37, false, d); });
  run(kt.gemm_packed_b_size(11, 37), [&](float* d) { kt.gemm_pack_b(11, 37, src.data(), 11, true, d); });
  run(kt.conv_packed_size(13, 5, 3, 3), [&](float* d) { kt.conv_pack(src.data(), 13, 5, 3, 3, d); });
  run(kt.dw_packed_size(13, 3, 3), [&](float* d) { kt.dw_pack(src.data(), 13, 3, 3, d); });
  if (kt.winograd_pack) run(kt.winograd_packed_size(13, 5), [&](float* d) { kt.winograd_pack(src.data(), 13, 5, d); });
  if (kt.winograd5_pack)
    run(kt.winograd5_packed_size(13, 5), [&](float* d) { kt.winograd5_pack(src.data(), 13, 5, d); });
  if (kt.winograd6_pack)
    run(kt.winograd6_packed_size(13, 5), [&](float* d) { kt.winograd6_pack(src.data(), 13, 5, d); });
  if (kt.winograd2_pack)
    run(kt.winograd2_packed_size(13, 5), [&](float* d) { kt.winograd2_pack(src.data(), 13, 5, d); });
  for (int64_t c : {3, 16, 64, 256, 512, 1024})
    for (int64_t hw : {0, 7, 14, 28, 56, 112, 224}) {
      mix(winograd_worth_it(kt, c, c, hw, hw) ? 1 : 2);
      mix(winograd5_worth_it(kt, c, c, hw, hw) ? 3 : 4);
      mix(winograd6_better(kt, c, c, hw, hw) ? 5 : 6);
      mix(winograd2_better(kt, c, c, hw, hw) ? 7 : 8);
    }
  return h;
}

std::vector<std::pair<int, PackedOut>> Session::export_packed() const {
  std::vector<std::pair<int, PackedOut>> r;
  std::vector<PackedOut> blobs;
  for (size_t ni = 0; ni < ops_.size(); ++ni) {
    blobs.clear();
    ops_[ni]->export_packed(blobs);
    for (auto& b : blobs) r.emplace_back(static_cast<int>(ni), std::move(b));
  }
  return r;
}

size_t Session::constant_bytes() const {
  size_t n = 0;
  for (const auto& kv : graph_.constants) n += kv.second.nbytes();
  return n;
}

size_t Session::cached_plans() const {
  std::lock_guard<std::mutex> lk(cache_mu_);
  return lru_.size();
}

size_t PlanKeyHash::operator()(const PlanKey& k) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the words
  for (int64_t v : k) h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
  return static_cast<size_t>(h);
}

namespace {

// Bytes of a shape-like (int64/bool) feed: part of the key.
size_t value_bytes(const Feed& f) {
  int64_t n = 1;
  for (int k = 0; k < f.rank; ++k) n = checked_mul(n, f.dims[k]);
  return static_cast<size_t>(n) * dtype_size(f.dtype);
}

}  // namespace

PlanKey Session::plan_key(const Feed* feeds, size_t n) const {
  PlanKey key;
  for (size_t i = 0; i < n; ++i) {
    const Feed& f = feeds[i];
    key.push_back(static_cast<int64_t>(f.dtype));
    key.push_back(f.rank);
    key.insert(key.end(), f.dims, f.dims + f.rank);
    if (value_feed(i, f)) {  // shape-like inputs: the plan depends on their values
      const size_t bytes = value_bytes(f);
      key.push_back(static_cast<int64_t>(bytes));
      const size_t at = key.size();
      key.resize(at + (bytes + 7) / 8, 0);
      if (bytes) std::memcpy(&key[at], f.data, bytes);
    }
  }
  return key;
}

bool Session::key_matches(const PlanKey& key, const Feed* feeds, size_t n) const {
  size_t p = 0;
  const size_t end = key.size();
  for (size_t i = 0; i < n; ++i) {
    const Feed& f = feeds[i];
    if (p + 2 + f.rank > end || key[p] != static_cast<int64_t>(f.dtype) || key[p + 1] != f.rank) return false;
    p += 2;
    for (int k = 0; k < f.rank; ++k)
      if (key[p++] != f.dims[k]) return false;
    if (value_feed(i, f)) {
      const size_t bytes = value_bytes(f);
      if (p >= end || key[p] != static_cast<int64_t>(bytes)) return false;
      ++p;
      const size_t words = (bytes + 7) / 8;
      if (p + words > end) return false;
      const size_t full = bytes / 8;
      if (full && std::memcmp(&key[p], f.data, full * 8) != 0) return false;
      if (bytes % 8) {
        int64_t last = 0;
        std::memcpy(&last, static_cast<const char*>(f.data) + full * 8, bytes % 8);
        if (key[p + full] != last) return false;
      }
      p += words;
    }
  }
  return p == end;
}

std::shared_ptr<Plan> Session::cached_plan(const Feed* feeds, size_t n) const {
  std::lock_guard<std::mutex> lk(cache_mu_);
  if (lru_.empty()) return nullptr;
  if (key_matches(lru_.front().first, feeds, n)) return lru_.front().second;
  if (lru_.size() == 1) return nullptr;
  auto it = cache_.find(plan_key(feeds, n));
  if (it == cache_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

std::shared_ptr<Plan> Session::plan_for(const std::vector<Feed>& feeds) {
  if (feeds.size() != graph_.inputs.size())
    fail(ErrorKind::Input, "model '", graph_.name, "' expects ", graph_.inputs.size(), " input(s), got ", feeds.size());
  for (size_t i = 0; i < feeds.size(); ++i) {
    const ValueInfo& vi = graph_.values[graph_.inputs[i]];
    const Feed& f = feeds[i];
    if (f.dtype != vi.dtype)
      fail(ErrorKind::Input, "input '", vi.name, "': expected dtype ", dtype_name(vi.dtype), ", received ", dtype_name(f.dtype));
    for (int k = 0; k < f.rank; ++k)
      if (f.dims[k] < 0) fail(ErrorKind::Input, "input '", vi.name, "': negative dimension in ", shape_str(f.shape()));
    if (vi.has_shape) {
      if (static_cast<size_t>(f.rank) != vi.shape.size())
        fail(ErrorKind::Input, "input '", vi.name, "': expected rank ", vi.shape.size(), " (shape ", shape_str(vi.shape),
             "), received rank ", f.rank, " (shape ", shape_str(f.shape()), ")");
      for (int k = 0; k < f.rank; ++k)
        if (vi.shape[k] >= 0 && vi.shape[k] != f.dims[k])
          fail(ErrorKind::Input, "input '", vi.name, "': expected shape ", shape_str(vi.shape), ", received ", shape_str(f.shape()),
               " (dimension ", k, " must be ", vi.shape[k], ")");
    }
  }
  if (auto plan = cached_plan(feeds.data(), feeds.size())) return plan;
  std::shared_ptr<Plan> plan = build_plan(feeds);
  PlanKey key = plan_key(feeds.data(), feeds.size());
  std::lock_guard<std::mutex> lk(cache_mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second->second;
  lru_.emplace_front(key, plan);
  cache_[std::move(key)] = lru_.begin();
  while (lru_.size() > opt_.max_plans) {
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return plan;
}

namespace {

// Ops whose inputs and weights only ever meet in sums of products: denormal
// operands read as zero while they run (core/fpenv.h for why).
bool reads_denormals_as_zero(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
}

bool all_inputs_known(const Node& n, const std::vector<TensorMeta>& metas) {
  bool any = false;
  for (int id : n.inputs) {
    if (id < 0) continue;
    if (!metas[id].value) return false;
    any = true;
  }
  return any;
}

// Greedy best-fit by size over lifetimes (XNNPACK's memory planner): place the
// largest buffer first at the lowest offset that overlaps no live neighbour.
struct Interval {
  int64_t first, last;
  size_t bytes, offset;
};

size_t assign_offsets(std::vector<Interval>& bufs) {
  std::vector<size_t> order(bufs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return bufs[a].bytes > bufs[b].bytes; });
  std::vector<size_t> placed;
  size_t total = 0;
  for (size_t idx : order) {
    Interval& b = bufs[idx];
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t p : placed) {
      const Interval& o = bufs[p];
      if (o.last < b.first || b.last < o.first) continue;
      busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t off = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
    for (const auto& r : busy) {
      if (r.first >= off && r.first - off >= b.bytes && r.first - off < best_gap) {
        best = off;
        best_gap = r.first - off;
      }
      off = std::max(off, r.second);
    }
    b.offset = best != SIZE_MAX ? best : off;
    total = std::max(total, b.offset + b.bytes);
    placed.push_back(idx);
  }
  return total;
}

size_t round64(size_t n) { return (n + 63) / 64 * 64; }

std::string feeds_str(const std::vector<Feed>& feeds) {
  std::string r;
  for (size_t i = 0; i < feeds.size(); ++i) r += (i ? ", " : "") + shape_str(feeds[i].shape());
  return r;
}

}  // namespace

std::shared_ptr<Plan> Session::build_plan(const std::vector<Feed>& feeds) const {
  auto plan = std::make_shared<Plan>();
  const int nv = static_cast<int>(graph_.values.size());
  std::vector<TensorMeta>& metas = plan->metas;
  metas.resize(nv);
  for (int id = 0; id < nv; ++id)
    if (is_const_[id]) metas[id] = const_meta_[id];
  for (const auto& kv : graph_.constants) metas[kv.first].value = &kv.second;
  std::vector<int> feed_of(nv, -1);
  for (size_t i = 0; i < feeds.size(); ++i) {
    const int id = graph_.inputs[i];
    feed_of[id] = static_cast<int>(i);
    metas[id].dtype = feeds[i].dtype;
    metas[id].shape = feeds[i].shape();
    if (value_feed(i, feeds[i])) {  // shape-like: known at plan time (part of the key)
      auto t = std::make_unique<Tensor>(feeds[i].dtype, feeds[i].shape());
      if (t->nbytes()) std::memcpy(t->data(), feeds[i].data, t->nbytes());
      metas[id].value = t.get();
      plan->owned.push_back(std::move(t));
    }
  }

  // 1. Shapes, plan-time evaluation, kernels. planned_bytes: what the plan
  //    holds so far (values computed while planning), against max_memory.
  int64_t planned_bytes = 0;
  for (const auto& t : plan->owned) planned_bytes = checked_add(planned_bytes, static_cast<int64_t>(t->nbytes()));
  std::vector<char> wanted;
  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni) {
    const Node& n = graph_.nodes[ni];
    wanted.assign(n.outputs.size(), 0);
    for (size_t k = 0; k < n.outputs.size(); ++k) wanted[k] = n.outputs[k] >= 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int id = n.inputs[k];
      if (id >= 0 && metas[id].rows_bounded)
        fail(ErrorKind::Unsupported, n.where(), ": input ", k, " '", graph_.values[id].name,
             "' has a data-dependent number of rows (", shape_str(metas[id].shape),
             " at most); cnnrt returns such a tensor as a graph output but cannot feed it to another node");
    }
    PlanCtx ctx(n, metas, wanted, opt_.threads);
    ctx.set_memory_left(opt_.max_memory - planned_bytes);
    Kernel kernel = ops_[ni]->plan(ctx);
    for (auto& t : ctx.made()) {
      planned_bytes = checked_add(planned_bytes, static_cast<int64_t>(t->nbytes()));
      plan->owned.push_back(std::move(t));
    }
    bool bounded = false;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] < 0) continue;
      metas[n.outputs[k]].dtype = ctx.outs()[k].dtype;
      metas[n.outputs[k]].shape = ctx.outs()[k].shape;
      metas[n.outputs[k]].value = ctx.outs()[k].value;
      metas[n.outputs[k]].rows_bounded = ctx.outs()[k].rows_bounded;
      bounded = bounded || ctx.outs()[k].rows_bounded;
    }
    bool outputs_known = true;
    for (int id : n.outputs)
      if (id >= 0 && !metas[id].value) outputs_known = false;
    if (outputs_known) continue;  // the op computed its outputs itself (Shape)
    if (all_inputs_known(n, metas)) {
      std::vector<const void*> in(n.inputs.size(), nullptr);
      std::vector<void*> out(n.outputs.size(), nullptr);
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (n.inputs[k] >= 0) in[k] = metas[n.inputs[k]].value->data();
      std::vector<std::unique_ptr<Tensor>> made;
      int64_t eval_bytes = static_cast<int64_t>(ctx.workspace());
      for (size_t k = 0; k < n.outputs.size(); ++k)
        if (n.outputs[k] >= 0)
          eval_bytes = checked_add(eval_bytes, checked_mul(metas[n.outputs[k]].numel(),
                                                           static_cast<int64_t>(dtype_size(metas[n.outputs[k]].dtype))));
      if (eval_bytes > opt_.max_memory - planned_bytes)
        fail(ErrorKind::ModelLoad, n.where(), ": computing its outputs while planning needs ", eval_bytes,
             " bytes, more than the session's memory cap leaves (max_memory=", opt_.max_memory, ", ", planned_bytes,
             " bytes already planned)");
      planned_bytes += eval_bytes - static_cast<int64_t>(ctx.workspace());
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        if (n.outputs[k] < 0) continue;
        auto t = std::make_unique<Tensor>(metas[n.outputs[k]].dtype, metas[n.outputs[k]].shape);
        out[k] = t->data();
        made.push_back(std::move(t));
      }
      std::vector<int64_t> rows(n.outputs.size(), -1);
      BufferPtr ws = ctx.workspace() ? alloc_buffer(ctx.workspace()) : BufferPtr();
      RunCtx rc{in.data(), out.data(), 1, ws.get(), rows.data()};
      kernel(rc);
      size_t m = 0;
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        if (n.outputs[k] < 0) continue;
        TensorMeta& om = metas[n.outputs[k]];
        if (om.rows_bounded) {  // a plan-time value: its real shape from here on
          if (rows[k] < 0 || rows[k] > om.shape[0]) fail(ErrorKind::Internal, n.where(), ": output ", k, " reported ", rows[k], " rows");
          om.shape[0] = rows[k];
          made[m]->shape[0] = rows[k];
          om.rows_bounded = false;
        }
        om.value = made[m].get();
        plan->owned.push_back(std::move(made[m]));
        ++m;
      }
      continue;
    }
    Step st;
    st.node = static_cast<int>(ni);
    st.kernel = std::move(kernel);
    st.denormals_are_zero = reads_denormals_as_zero(graph_.nodes[ni].op);
    st.ws_bytes = ctx.workspace();
    if (bounded)
      for (size_t k = 0; k < n.outputs.size(); ++k)
        if (n.outputs[k] >= 0 && metas[n.outputs[k]].rows_bounded)
          for (size_t i = 0; i < graph_.outputs.size(); ++i)
            if (graph_.outputs[i] == n.outputs[k]) st.bounded.emplace_back(static_cast<int>(k), static_cast<int>(i));
    plan->steps.push_back(std::move(st));
  }

  // 2. Storage: graph outputs own their buffers; views alias; element-wise ops
  //    reuse a dying input's buffer; everything else gets an arena interval.
  const int ns = static_cast<int>(plan->steps.size());
  std::vector<int> out_index(nv, -1);
  for (size_t i = 0; i < graph_.outputs.size(); ++i)
    if (out_index[graph_.outputs[i]] < 0) out_index[graph_.outputs[i]] = static_cast<int>(i);
  std::vector<int64_t> last_use(nv, -1);
  for (int s = 0; s < ns; ++s)
    for (int id : graph_.nodes[plan->steps[s].node].inputs)
      if (id >= 0) last_use[id] = s;
  std::vector<int> buf_of(nv, -1);  // arena buffer id per value
  std::vector<Interval> bufs;
  std::vector<Loc> loc(nv);
  for (int id = 0; id < nv; ++id) {
    if (metas[id].value) {
      loc[id].kind = Loc::Fixed;
      loc[id].ptr = metas[id].value->data();
    } else if (feed_of[id] >= 0) {
      loc[id].kind = Loc::Input;
      loc[id].idx = feed_of[id];
    }
  }
  std::vector<int> ws_buf(ns, -1);
  for (int s = 0; s < ns; ++s) {
    const Node& n = graph_.nodes[plan->steps[s].node];
    const Op& op = *ops_[plan->steps[s].node];
    if (plan->steps[s].ws_bytes) {  // live during this step only
      ws_buf[s] = static_cast<int>(bufs.size());
      bufs.push_back(Interval{s, s, round64(plan->steps[s].ws_bytes), 0});
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const int id = n.outputs[k];
      if (id < 0) continue;
      const size_t bytes = metas[id].numel() * dtype_size(metas[id].dtype);
      if (out_index[id] >= 0) {
        loc[id].kind = Loc::Output;
        loc[id].idx = out_index[id];
        continue;
      }
      if (k == 0 && op.is_view() && n.has_input(0)) {
        const int src = n.inputs[0];
        if (loc[src].kind != Loc::Arena) {
          loc[id] = loc[src];  // a view of a feed, a constant or a graph output: read-only use
          continue;
        }
        loc[id] = loc[src];
        buf_of[id] = buf_of[src];
        bufs[buf_of[id]].last = std::max<int64_t>(bufs[buf_of[id]].last, std::max<int64_t>(last_use[id], s));
        continue;
      }
      const int ip = k == 0 ? op.inplace_input() : -1;
      if (ip >= 0 && n.has_input(ip)) {
        const int src = n.inputs[ip];
        // Not when another input of this node shares the buffer (the same
        // value, or a view of it): a convolution reading it as X would see
        // pixels it has already overwritten.
        bool shared = false;
        for (size_t j = 0; j < n.inputs.size(); ++j)
          if (static_cast<int>(j) != ip && n.inputs[j] >= 0 && loc[n.inputs[j]].kind == Loc::Arena &&
              buf_of[n.inputs[j]] == buf_of[src])
            shared = true;
        if (!shared && loc[src].kind == Loc::Arena && bufs[buf_of[src]].last <= s && metas[src].dtype == metas[id].dtype &&
            metas[src].numel() * dtype_size(metas[src].dtype) == bytes) {
          loc[id] = loc[src];
          buf_of[id] = buf_of[src];
          bufs[buf_of[id]].last = std::max<int64_t>(last_use[id], s);
          continue;
        }
      }
      buf_of[id] = static_cast<int>(bufs.size());
      bufs.push_back(Interval{s, std::max<int64_t>(last_use[id], s), round64(bytes), 0});
      loc[id].kind = Loc::Arena;
    }
  }
  plan->arena_bytes = assign_offsets(bufs);
  // The memory cap, before any arena or output is allocated: a graph that
  // plans to absurd sizes (each tensor legal, their sum not) stops here.
  int64_t total = checked_add(planned_bytes, static_cast<int64_t>(plan->arena_bytes));
  for (int id : graph_.outputs)
    total = checked_add(total, checked_mul(metas[id].numel(), static_cast<int64_t>(dtype_size(metas[id].dtype))));
  if (total > opt_.max_memory)
    fail(ErrorKind::ModelLoad, "graph '", graph_.name, "': the plan for input shapes ", feeds_str(feeds), " needs ", total,
         " bytes (activations ", plan->arena_bytes, ", plan-time values ", planned_bytes,
         ", outputs included), more than the session's memory cap max_memory=", opt_.max_memory, " bytes");
  for (int id = 0; id < nv; ++id)
    if (loc[id].kind == Loc::Arena) loc[id].idx = static_cast<int64_t>(bufs[buf_of[id]].offset);
  for (int s = 0; s < ns; ++s) {
    Step& st = plan->steps[s];
    const Node& n = graph_.nodes[st.node];
    if (ws_buf[s] >= 0) {
      st.ws.kind = Loc::Arena;
      st.ws.idx = static_cast<int64_t>(bufs[ws_buf[s]].offset);
    }
    st.in.resize(n.inputs.size());
    st.out.resize(n.outputs.size());
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (n.inputs[k] >= 0) st.in[k] = loc[n.inputs[k]];
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (n.outputs[k] >= 0) st.out[k] = loc[n.outputs[k]];
    plan->max_io = std::max<int>(plan->max_io, static_cast<int>(std::max(st.in.size(), st.out.size())));
  }
  // Graph outputs not written by a step directly (a feed, a constant, a
  // plan-time value, or listed twice) are copied after the steps.
  plan->out_src.resize(graph_.outputs.size());
  plan->out_copy.assign(graph_.outputs.size(), 0);
  for (size_t i = 0; i < graph_.outputs.size(); ++i) {
    const int id = graph_.outputs[i];
    if (loc[id].kind == Loc::Output && loc[id].idx == static_cast<int64_t>(i)) continue;
    plan->out_src[i] = loc[id];
    plan->out_copy[i] = 1;
  }
  return plan;
}

// Small plans on several threads: a plan whose run takes tens of
// microseconds loses more to fork/joins and waking the helpers than its
// threads gain (LeNet-5: 17.5 us on one thread, 23 us on two, and the helper
// still spinning after each run slowed whatever ran next). The first runs
// of a plan decide: run 0 warms up, run 1 is timed on all threads, and
// unless it took over kProbeNs, runs 2.. alternate one thread / all threads
// kProbes times each; the plan then keeps one of the two by their best runs.
// Both modes compute the same bits: kernels split their work (and any sum)
// by the session's thread count, fixed at plan time, and the one-thread mode
// runs those same tasks inline (SerialScope). All threads must win by
// kParallelGain: a run of tens of microseconds is at the mercy of one
// descheduled helper, and probes taken while other runtimes ran in the same
// process (bench_models' warm-up) picked all threads for LeNet-5 in 2 runs of
// 6, whose 2-thread median then read 31-34 us against 27-31 on one thread
// (interleaved with onnxruntime, Xeon). One thread also leaves the other
// cores alone after the run.
constexpr int64_t kProbeNs = 1000000;
constexpr int kProbes = 4;
constexpr double kParallelGain = 0.9;

bool Session::prefer_serial(int64_t best_serial_ns, int64_t best_parallel_ns) {
  return static_cast<double>(best_parallel_ns) >= kParallelGain * static_cast<double>(best_serial_ns);
}

int Session::choose_mode(Plan& plan, int& probe) const {
  probe = -1;
  if (opt_.threads <= 1) return Plan::Parallel;
  const int m = plan.thread_mode.load(std::memory_order_relaxed);
  if (m != Plan::Undecided) return m;
  const int k = plan.probes.fetch_add(1, std::memory_order_relaxed);
  if (k == 0) return Plan::Parallel;  // warm-up: page faults, first-touch
  if (k > 2 * kProbes) return Plan::Parallel;  // another thread is deciding
  probe = k;
  return k % 2 == 0 ? Plan::Serial : Plan::Parallel;
}

void Session::end_probe(Plan& plan, int probe, bool serial, int64_t ns) const {
  std::atomic<int64_t>& best = serial ? plan.best_serial_ns : plan.best_parallel_ns;
  int64_t cur = best.load(std::memory_order_relaxed);
  while (ns < cur && !best.compare_exchange_weak(cur, ns, std::memory_order_relaxed)) {
  }
  if (probe == 1 && ns > kProbeNs) {
    plan.thread_mode.store(Plan::Parallel, std::memory_order_relaxed);
  } else if (probe == 2 * kProbes) {
    const bool ser = prefer_serial(plan.best_serial_ns.load(std::memory_order_relaxed),
                                   plan.best_parallel_ns.load(std::memory_order_relaxed));
    plan.thread_mode.store(ser ? Plan::Serial : Plan::Parallel, std::memory_order_relaxed);
  }
}

void Session::run(Plan& plan, const Feed* feeds, void* const* outputs, int64_t* out_rows, int64_t* step_ns) const {
  int probe;
  const bool serial = choose_mode(plan, probe) == Plan::Serial;
  const auto start = probe >= 0 ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  run_steps(plan, feeds, outputs, out_rows, step_ns, serial);
  if (probe >= 0)
    end_probe(plan, probe, serial,
              std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
}

void Session::run_steps(Plan& plan, const Feed* feeds, void* const* outputs, int64_t* out_rows, int64_t* step_ns,
                        bool serial) const {
  const FlushDenormals ftz;
  const SerialScope one_thread(serial);
  const RunScope scope(serial ? 1 : opt_.threads);
  if (out_rows)
    for (size_t i = 0; i < graph_.outputs.size(); ++i) out_rows[i] = -1;
  BufferPtr arena = plan.arena_bytes ? plan.acquire() : BufferPtr();
  uint8_t* base = arena.get();
  auto resolve = [&](const Loc& l) -> void* {
    switch (l.kind) {
      case Loc::Arena: return base + l.idx;
      case Loc::Input: return const_cast<void*>(feeds[l.idx].data);
      case Loc::Output: return outputs[l.idx];
      case Loc::Fixed: return const_cast<void*>(l.ptr);
      case Loc::None: return nullptr;
    }
    return nullptr;
  };
  // Pointer tables on the stack for the usual node arity: no allocation per run.
  constexpr int kStackIo = 16;
  const void* in_stack[kStackIo];
  void* out_stack[kStackIo];
  std::vector<const void*> in_heap;
  std::vector<void*> out_heap;
  const void** in = in_stack;
  void** out = out_stack;
  if (plan.max_io > kStackIo) {
    in_heap.resize(plan.max_io);
    out_heap.resize(plan.max_io);
    in = in_heap.data();
    out = out_heap.data();
  }
  int64_t rows_stack[kStackIo];
  std::vector<int64_t> rows_heap;
  int64_t* rows = rows_stack;
  if (plan.max_io > kStackIo) {
    rows_heap.resize(plan.max_io);
    rows = rows_heap.data();
  }
  RunCtx rc{in, out, opt_.threads, nullptr, rows};
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& st = plan.steps[s];
    for (size_t k = 0; k < st.in.size(); ++k) in[k] = resolve(st.in[k]);
    for (size_t k = 0; k < st.out.size(); ++k) out[k] = resolve(st.out[k]);
    rc.ws = resolve(st.ws);
    const DenormalsAreZero daz(st.denormals_are_zero);
    if (step_ns) {
      const auto t0 = std::chrono::steady_clock::now();
      st.kernel(rc);
      step_ns[s] = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    } else {
      st.kernel(rc);
    }
    if (out_rows)
      for (const auto& b : st.bounded) out_rows[b.second] = rows[b.first];
  }
  for (size_t i = 0; i < plan.out_copy.size(); ++i) {
    if (!plan.out_copy[i]) continue;
    const int id = graph_.outputs[i];
    const size_t bytes = plan.metas[id].numel() * dtype_size(plan.metas[id].dtype);
    const void* src = resolve(plan.out_src[i]);
    if (bytes && src != outputs[i]) std::memcpy(outputs[i], src, bytes);
  }
  if (arena) plan.release(std::move(arena));
}

}  // namespace cnnrt
