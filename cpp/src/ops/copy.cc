#include "ops/copy.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/parallel.h"

namespace cnnrt {

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t k = s.size(); k-- > 1;) st[k - 1] = st[k] * s[k];
  return st;
}

StridedCopy make_strided_copy(const Shape& out, const std::vector<int64_t>& stride, int64_t base, size_t es) {
  StridedCopy c;
  c.es = es;
  c.base = base;
  c.numel = checked_numel(out);
  std::vector<int64_t> dims, st;
  for (size_t k = 0; k < out.size(); ++k)
    if (out[k] != 1) {
      dims.push_back(out[k]);
      st.push_back(stride[k]);
    }
  if (c.numel == 0 || dims.empty()) {
    c.inner = c.numel;
    c.inner_stride = 1;
    return c;
  }
  // Innermost run: grow outwards while the next dim continues it.
  c.inner = dims.back();
  c.inner_stride = st.back();
  dims.pop_back();
  st.pop_back();
  while (!dims.empty() && st.back() == c.inner_stride * c.inner) {
    c.inner *= dims.back();
    dims.pop_back();
    st.pop_back();
  }
  // Outer dims: merge neighbours that are contiguous with each other.
  for (size_t k = 0; k < dims.size(); ++k) {
    if (!c.dims.empty() && c.stride.back() == st[k] * dims[k]) {
      c.dims.back() *= dims[k];
      c.stride.back() = st[k];
    } else {
      c.dims.push_back(dims[k]);
      c.stride.push_back(st[k]);
    }
  }
  if (c.dims.size() > kCopyMaxDims)
    fail(ErrorKind::ModelLoad, "a copy of shape ", shape_str(out), " has more than ", kCopyMaxDims, " non-contiguous dimensions");
  return c;
}

namespace {

template <size_t E>
void copy_run(uint8_t* dst, const uint8_t* src, int64_t n, int64_t s) {
  if (s == 1) {
    std::memcpy(dst, src, static_cast<size_t>(n) * E);
  } else if (s == 0) {
    if (E == 1) {
      std::memset(dst, *src, static_cast<size_t>(n));
    } else if (E == 4) {
      uint32_t v;
      std::memcpy(&v, src, 4);
      std::fill_n(reinterpret_cast<uint32_t*>(dst), n, v);
    } else {
      uint64_t v;
      std::memcpy(&v, src, 8);
      std::fill_n(reinterpret_cast<uint64_t*>(dst), n, v);
    }
  } else {
    const int64_t sb = s * static_cast<int64_t>(E);
    for (int64_t j = 0; j < n; ++j) std::memcpy(dst + j * E, src + j * sb, E);
  }
}

template <size_t E>
void run(const StridedCopy& c, const uint8_t* in, uint8_t* out, int threads) {
  const size_t nd = c.dims.size();
  int64_t rows = 1;
  for (int64_t d : c.dims) rows *= d;
  const int64_t run_bytes = c.inner * static_cast<int64_t>(E);
  const int t = threads_for_work(c.numel, threads);
  const int64_t chunks = t > 1 ? std::min<int64_t>(rows, int64_t(t) * 4) : 1;
  parallel_for(chunks, t, [&](int64_t ch) {
    const int64_t r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
    if (r0 >= r1) return;
    std::array<int64_t, kCopyMaxDims> idx{};
    int64_t rem = r0, off = c.base;
    for (size_t d = nd; d-- > 0;) {
      idx[d] = rem % c.dims[d];
      rem /= c.dims[d];
      off += idx[d] * c.stride[d];
    }
    uint8_t* o = out + r0 * run_bytes;
    for (int64_t r = r0; r < r1; ++r) {
      copy_run<E>(o, in + off * static_cast<int64_t>(E), c.inner, c.inner_stride);
      o += run_bytes;
      for (size_t d = nd; d-- > 0;) {
        off += c.stride[d];
        if (++idx[d] < c.dims[d]) break;
        off -= c.stride[d] * c.dims[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace

void run_strided_copy(const StridedCopy& c, const void* in, void* out, int threads) {
  if (c.numel == 0) return;
  const auto* i = static_cast<const uint8_t*>(in);
  auto* o = static_cast<uint8_t*>(out);
  switch (c.es) {
    case 1: run<1>(c, i, o, threads); break;
    case 4: run<4>(c, i, o, threads); break;
    default: run<8>(c, i, o, threads); break;
  }
}

}  // namespace cnnrt
