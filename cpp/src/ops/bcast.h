// N-input numpy broadcasting for element-wise ops that are not in the kernel
// table (comparisons, logic, Where, Min/Max/Mean, Pow): the output is
// collapsed into [outer..., inner] where, along inner, each input is read
// contiguously (stride 1) or repeats one element (stride 0). Adjacent dims
// are merged when every input agrees, so same-shape inputs are one run.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "cnnrt/status.h"
#include "cnnrt/tensor.h"
#include "core/parallel.h"

namespace cnnrt {

template <int K>
struct NBcast {
  std::vector<int64_t> dims;                // outer dims
  std::vector<std::array<int64_t, K>> st;   // per outer dim, each input's element stride
  int64_t inner = 1;
  std::array<int64_t, K> ist{};             // each input's stride along inner: 0 or 1
  int64_t numel = 0;
};

template <int K>
NBcast<K> make_nbcast(const Shape& out, const std::array<Shape, K>& in) {
  const size_t r = out.size();
  std::vector<std::array<int64_t, K>> st(r);
  for (int i = 0; i < K; ++i) {
    const Shape& s = in[i];
    int64_t acc = 1;
    for (size_t k = 0; k < r; ++k) st[k][i] = 0;
    for (size_t k = 0; k < s.size(); ++k) {
      const size_t d = s.size() - 1 - k, od = r - 1 - k;
      st[od][i] = s[d] == 1 ? 0 : acc;
      acc *= s[d];
    }
  }
  NBcast<K> b;
  b.numel = checked_numel(out);
  std::vector<int64_t> dims;
  std::vector<std::array<int64_t, K>> ss;
  for (size_t k = 0; k < r; ++k) {
    if (out[k] == 1) continue;
    if (!dims.empty()) {
      bool merge = true;
      for (int i = 0; i < K; ++i)
        if (ss.back()[i] != st[k][i] * out[k]) merge = false;
      if (merge) {
        dims.back() *= out[k];
        ss.back() = st[k];
        continue;
      }
    }
    dims.push_back(out[k]);
    ss.push_back(st[k]);
  }
  if (!dims.empty()) {
    b.inner = dims.back();
    b.ist = ss.back();
    dims.pop_back();
    ss.pop_back();
  } else {
    b.inner = b.numel;  // 1 (or 0 for an empty output)
    for (int i = 0; i < K; ++i) b.ist[i] = 0;
  }
  if (dims.size() > 64) fail(ErrorKind::ModelLoad, "broadcast of shape ", shape_str(out), " has more than 64 dimensions");
  b.dims = std::move(dims);
  b.st = std::move(ss);
  return b;
}

// f(out_offset, {input offsets}) for every outer row, in order.
template <int K, class F>
void nbcast_rows(const NBcast<K>& b, const F& f) {
  if (b.numel == 0) return;
  int64_t total = 1;
  for (int64_t d : b.dims) total *= d;
  const size_t nd = b.dims.size();
  int64_t idx[64] = {0};
  std::array<int64_t, K> off{};
  for (int64_t t = 0; t < total; ++t) {
    f(t * b.inner, off);
    for (size_t d = nd; d-- > 0;) {
      for (int i = 0; i < K; ++i) off[i] += b.st[d][i];
      if (++idx[d] < b.dims[d]) break;
      for (int i = 0; i < K; ++i) off[i] -= b.st[d][i] * b.dims[d];
      idx[d] = 0;
    }
  }
}

// y[i] = f(a[i], b[i]) over a two-input broadcast; the inner loop is
// specialised on the stride pattern so it vectorises. Same-shape (or
// scalar-broadcast) inputs over `threads` threads when large.
template <class A, class B, class Y, class F>
void binary_apply(const NBcast<2>& bc, const A* a, const B* b, Y* y, int threads, const F& f) {
  auto row = [&](Y* yy, const A* aa, const B* bb, int64_t n) {
    if (bc.ist[0] && bc.ist[1]) {
      for (int64_t j = 0; j < n; ++j) yy[j] = f(aa[j], bb[j]);
    } else if (bc.ist[0]) {
      const B v = bb[0];
      for (int64_t j = 0; j < n; ++j) yy[j] = f(aa[j], v);
    } else if (bc.ist[1]) {
      const A v = aa[0];
      for (int64_t j = 0; j < n; ++j) yy[j] = f(v, bb[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) yy[j] = f(aa[0], bb[0]);
    }
  };
  if (bc.dims.empty()) {
    const int64_t n = bc.inner;
    const int t = threads_for_work(n, threads);
    if (t <= 1) {
      row(y, a, b, n);
      return;
    }
    const int64_t chunks = int64_t(t) * 4;
    parallel_for(chunks, t, [&](int64_t c) {
      const int64_t j0 = n * c / chunks, j1 = n * (c + 1) / chunks;
      row(y + j0, a + (bc.ist[0] ? j0 : 0), b + (bc.ist[1] ? j0 : 0), j1 - j0);
    });
    return;
  }
  nbcast_rows<2>(bc, [&](int64_t oy, const std::array<int64_t, 2>& o) { row(y + oy, a + o[0], b + o[1], bc.inner); });
}

}  // namespace cnnrt
