// cnnrt's thread pool (see parallel.h for why it is not OpenMP).
//
// Jobs are heap objects shared with the helpers that join them, so a helper
// that wakes late only ever touches the job's counters: every task has been
// claimed by then, so it never calls into the caller's (finished) frame.
// Several callers (Python threads running sessions) may have jobs in flight
// at once; helpers serve whichever has unclaimed tasks and free helper slots.
#include "core/parallel.h"

#include "core/fpenv.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CNNRT_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define CNNRT_PAUSE() __asm__ __volatile__("yield")
#else
#define CNNRT_PAUSE() ((void)0)
#endif

namespace cnnrt {
namespace detail {
namespace {

// How long an idle helper spins before it sleeps, outside an inference
// (inside one, between begin_run and end_run, helpers do not sleep): short
// enough that nothing burns after a run returns.
constexpr auto kSpin = std::chrono::microseconds(100);
constexpr int kMaxHelpers = 1023;

struct Job {
  void (*task)(void*, int64_t, int) = nullptr;
  void* ctx = nullptr;
  int64_t n = 0;
  int max_helpers = 0;
  FpMode fp_mode = 0;  // the caller's floating-point mode, taken by every helper that joins
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<int> joined{0};
  // The first exception a task threw (on any thread), rethrown to the caller
  // once every task has finished: the caller's frame outlives all of them.
  std::mutex error_mu;
  std::exception_ptr error;
};

void work_on(Job& job, int tid) {
  for (;;) {
    const int64_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.n) return;
    try {
      job.task(job.ctx, i, tid);
    } catch (...) {
      std::lock_guard<std::mutex> lk(job.error_mu);
      if (!job.error) job.error = std::current_exception();
    }
    job.done.fetch_add(1, std::memory_order_release);
  }
}

class Pool {
 public:
  // While any inference runs (Session::run, through RunScope), idle helpers
  // keep spinning instead of sleeping, and begin_run wakes them up front: a
  // helper that slept through a stretch of single-threaded ops had to be
  // woken by the next parallel op, and under other load (kernel 6.18,
  // EEVDF) that wake-up came late enough that 2 threads ran no faster than
  // one. Outside inferences the 100 us spin limit applies as before.
  void begin_run(int threads) {
    grow(threads - 1);
    if (in_run_.fetch_add(1, std::memory_order_acq_rel) == 0) {
      std::lock_guard<std::mutex> lk(mu_);
      gen_.fetch_add(1, std::memory_order_release);
      if (sleepers_ > 0) cv_.notify_all();
    }
  }
  void end_run() { in_run_.fetch_sub(1, std::memory_order_acq_rel); }

  void run(int64_t n, int threads, void (*task)(void*, int64_t, int), void* ctx) {
    auto job = std::make_shared<Job>();
    job->task = task;
    job->ctx = ctx;
    job->n = n;
    job->fp_mode = fp_mode();
    job->max_helpers = static_cast<int>(std::min<int64_t>({int64_t(threads) - 1, n - 1, int64_t(kMaxHelpers)}));
    grow(job->max_helpers);
    {
      std::lock_guard<std::mutex> lk(mu_);
      active_.push_back(job);
      gen_.fetch_add(1, std::memory_order_release);
      if (sleepers_ > 0) cv_.notify_all();
    }
    work_on(*job, 0);
    // Wait for the tasks helpers claimed; absent helpers are not waited for.
    for (int spins = 0; job->done.load(std::memory_order_acquire) < n; ++spins) {
      if (spins < 4096)
        CNNRT_PAUSE();
      else
        std::this_thread::yield();
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      active_.erase(std::find(active_.begin(), active_.end(), job));
    }
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  void grow(int helpers) {
    if (started_.load(std::memory_order_acquire) >= helpers) return;
    std::lock_guard<std::mutex> lk(grow_mu_);
    while (started_.load(std::memory_order_relaxed) < helpers) {
      std::thread(&Pool::helper_loop, this).detach();  // the pool is never destroyed
      started_.fetch_add(1, std::memory_order_release);
    }
  }

  std::shared_ptr<Job> pick() {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& job : active_) {
      if (job->next.load(std::memory_order_relaxed) >= job->n) continue;
      int j = job->joined.load(std::memory_order_relaxed);
      while (j < job->max_helpers && !job->joined.compare_exchange_weak(j, j + 1)) {
      }
      if (j < job->max_helpers) {
        joined_tid_ = j + 1;
        return job;
      }
    }
    return nullptr;
  }

  void helper_loop() {
#if defined(__linux__)
    // Named, so that tools (top -H, /proc/PID/task/*/comm, the tests) can
    // tell cnnrt's helpers from other threads of the process.
    pthread_setname_np(pthread_self(), "cnnrt-pool");
#endif
    FlushDenormals::set_for_this_thread();
    uint64_t seen = 0;
    for (;;) {
      const auto start = std::chrono::steady_clock::now();
      int k = 0;
      while (gen_.load(std::memory_order_acquire) == seen) {
        CNNRT_PAUSE();
        if ((++k & 63) == 0 && in_run_.load(std::memory_order_relaxed) == 0 &&
            std::chrono::steady_clock::now() - start > kSpin) {
          std::unique_lock<std::mutex> lk(mu_);
          ++sleepers_;
          cv_.wait(lk, [&] { return gen_.load(std::memory_order_acquire) != seen; });
          --sleepers_;
          break;
        }
      }
      seen = gen_.load(std::memory_order_acquire);
      while (std::shared_ptr<Job> job = pick()) {
        set_fp_mode(job->fp_mode);
        work_on(*job, joined_tid_);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Job>> active_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> in_run_{0};
  int sleepers_ = 0;
  std::mutex grow_mu_;
  std::atomic<int> started_{0};
  static thread_local int joined_tid_;
};

thread_local int Pool::joined_tid_ = 0;

std::atomic<Pool*> g_pool{nullptr};
std::once_flag g_atfork_once;
std::mutex g_create_mu;

// After fork() the child has none of the parent's helper threads, and the
// pool's mutex may have been held at the moment of the fork: the child
// forgets the old pool (leaked on purpose) and starts a fresh one on demand.
// The lock that guards creating a pool is taken across the fork instead.
void lock_before_fork() { g_create_mu.lock(); }
void unlock_in_parent() { g_create_mu.unlock(); }
void reset_in_child() {
  g_pool.store(nullptr, std::memory_order_relaxed);
  g_create_mu.unlock();
}

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  std::call_once(g_atfork_once, [] { pthread_atfork(&lock_before_fork, &unlock_in_parent, &reset_in_child); });
  std::lock_guard<std::mutex> lk(g_create_mu);
  p = g_pool.load(std::memory_order_acquire);
  if (!p) {
    p = new Pool();
    g_pool.store(p, std::memory_order_release);
  }
  return *p;
}

}  // namespace

void run_parallel(int64_t n, int threads, void (*task)(void*, int64_t, int), void* ctx) {
  pool().run(n, threads, task, ctx);
}

thread_local bool tl_serial = false;

void begin_run(int threads) { pool().begin_run(threads); }
void end_run() { pool().end_run(); }

}  // namespace detail
}  // namespace cnnrt
