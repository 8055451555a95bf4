// The one place that says "omp". parallel_for runs fn(i) for i in [0, n);
// a single task, or threads <= 1, runs inline on the calling thread.
#pragma once
#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace cnnrt {

// A fork/join costs microseconds, and far more when a worker has been
// descheduled (another process, another runtime's spinning pool): work below
// this many elementary operations per thread stays on the calling thread.
// 32K ops is ~5-20 us of work on one core, the same order as a wake-up.
constexpr int64_t kMinWorkPerThread = int64_t(1) << 15;

inline int threads_for_work(int64_t work, int threads) {
  const int64_t t = work / kMinWorkPerThread;
  if (t < 1) return 1;
  return t < threads ? static_cast<int>(t) : threads;
}

inline int thread_index() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

template <class F>
void parallel_for(int64_t n, int threads, const F& fn) {
  if (n <= 0) return;
  if (threads <= 1 || n == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
#if defined(_OPENMP)
  int t = static_cast<int>(n < threads ? n : threads);
#pragma omp parallel for num_threads(t) schedule(static)
  for (int64_t i = 0; i < n; ++i) fn(i);
#else
  for (int64_t i = 0; i < n; ++i) fn(i);
#endif
}

// Same, but fn(i, tid) also gets the worker index in [0, threads) for
// per-thread workspace.
template <class F>
void parallel_for_tid(int64_t n, int threads, const F& fn) {
  if (n <= 0) return;
  if (threads <= 1 || n == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
#if defined(_OPENMP)
  int t = static_cast<int>(n < threads ? n : threads);
#pragma omp parallel for num_threads(t) schedule(static)
  for (int64_t i = 0; i < n; ++i) fn(i, omp_get_thread_num());
#else
  for (int64_t i = 0; i < n; ++i) fn(i, 0);
#endif
}

}  // namespace cnnrt
