// Data movement shared by Slice, Split, Tile, Expand (and Pad's interior):
// a strided gather written as runs. The output is contiguous; output element
// [i_0, ..., i_k, j] comes from input element
//   base + sum_d i_d * stride[d] + j * inner_stride.
// Plan time merges dimensions (size-1 dims dropped, contiguous neighbours
// joined) so the run is as long as possible; a run with inner_stride 1 is one
// memcpy, inner_stride 0 a fill (broadcast), anything else an element loop.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cnnrt/tensor.h"

namespace cnnrt {

constexpr size_t kCopyMaxDims = 64;

struct StridedCopy {
  std::vector<int64_t> dims;    // outer dims (output order)
  std::vector<int64_t> stride;  // input element stride per outer dim (0 or negative allowed)
  int64_t base = 0;             // input element offset of output element 0
  int64_t inner = 1;            // elements per run
  int64_t inner_stride = 1;     // input element stride inside a run
  size_t es = 4;                // bytes per element
  int64_t numel = 0;            // output elements
};

// out: the output dims; stride: the input element stride of each output dim.
StridedCopy make_strided_copy(const Shape& out, const std::vector<int64_t>& stride, int64_t base, size_t es);
// Threads: up to `threads` when the copy is large (rows split evenly).
void run_strided_copy(const StridedCopy& c, const void* in, void* out, int threads);

// Row-major element strides of a shape.
std::vector<int64_t> contiguous_strides(const Shape& s);

}  // namespace cnnrt
