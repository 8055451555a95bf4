// The one place that decides how work is split over threads.
//
// parallel_for(n, threads, fn) runs fn(i) for i in [0, n) on up to `threads`
// threads: the caller plus helpers from cnnrt's own pool (core/parallel.cc).
// Tasks are claimed one at a time from a shared counter and the caller works
// too, so a helper that is descheduled (another process, another runtime's
// spinning pool in the same process) delays nothing: the call returns as soon
// as every task is done, whether or not every helper showed up. OpenMP's
// fork/join waits for every team member at its barrier; measured in one
// process with onnxruntime interleaved, that made 2 threads 2-3x slower than
// one (light ResNet-50 and SqueezeNet, see the README's benchmark notes).
// Idle helpers spin briefly, then sleep: no CPU burnt after a run returns.
#pragma once
#include <cstdint>

namespace cnnrt {

// A fork/join costs microseconds, and far more when a worker has been
// descheduled: work below this many elementary operations per thread stays on
// the calling thread. 32K ops is ~5-20 us of work on one core, the same order
// as a wake-up.
constexpr int64_t kMinWorkPerThread = int64_t(1) << 15;

inline int threads_for_work(int64_t work, int threads) {
  const int64_t t = work / kMinWorkPerThread;
  if (t < 1) return 1;
  return t < threads ? static_cast<int>(t) : threads;
}

namespace detail {
// Runs task(ctx, i, tid) for every i in [0, n) on the caller and up to
// threads - 1 pool helpers; tid in [0, threads) is unique among concurrently
// running tasks of this call (the caller is 0).
void run_parallel(int64_t n, int threads, void (*task)(void*, int64_t, int), void* ctx);
void begin_run(int threads);
void end_run();
// Set for the length of a run that its session runs on the calling thread
// alone (SerialScope): parallel_for then runs every task inline.
extern thread_local bool tl_serial;
}  // namespace detail

// For the length of one inference that is faster on one thread than on its
// session's `threads` (a run of tens of microseconds, whose fork/joins cost
// more than they save: see Session::run): every parallel_for on this thread
// runs its tasks inline.
class SerialScope {
 public:
  explicit SerialScope(bool on) : prev_(detail::tl_serial) { detail::tl_serial = prev_ || on; }
  ~SerialScope() { detail::tl_serial = prev_; }
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  bool prev_;
};

// For the length of one inference on `threads` threads: the pool's helpers
// are woken now and do not sleep between ops until it ends (they spin, as
// onnxruntime's do; after the run they sleep within 100 us as always).
class RunScope {
 public:
  explicit RunScope(int threads) : active_(threads > 1) {
    if (active_) detail::begin_run(threads);
  }
  ~RunScope() {
    if (active_) detail::end_run();
  }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

 private:
  bool active_;
};

template <class F>
void parallel_for(int64_t n, int threads, const F& fn) {
  if (n <= 0) return;
  if (threads <= 1 || n == 1 || detail::tl_serial) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  detail::run_parallel(n, threads, [](void* c, int64_t i, int) { (*static_cast<const F*>(c))(i); },
                       const_cast<F*>(&fn));
}

}  // namespace cnnrt
