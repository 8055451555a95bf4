// Window geometry shared by Conv and the pooling ops: kernel, strides, pads,
// dilations, auto_pad, ceil_mode -> output size, with every check named.
#pragma once
#include <vector>

#include "ops/op.h"

namespace cnnrt {

struct Window {
  int nd = 2;                        // spatial dims (1 or 2)
  std::vector<int64_t> kernel, stride, dilation, pad_begin, pad_end;
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
};

// Reads kernel_shape (or `kernel` when given), strides, dilations, pads and
// auto_pad from a node; fails on bad values. `nd` spatial dims.
Window read_window(const Node& n, int nd, const std::vector<int64_t>& kernel, bool fail_unsupported_rank = true);

// Output spatial dims for input spatial dims `in`; fills resolved pads.
std::vector<int64_t> window_output(const Window& w, const std::vector<int64_t>& in, std::vector<int64_t>& pb,
                                   std::vector<int64_t>& pe, const PlanCtx& ctx);

}  // namespace cnnrt
