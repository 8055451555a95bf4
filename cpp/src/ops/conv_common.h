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
  // Pooling's SAME rule (onnxruntime and the ONNX reference agree): the total
  // pad (out-1)*stride + extent - in is not clamped at 0, so a kernel smaller
  // than the stride gives a negative pad that shifts the windows right; the
  // begin pad is total/2 (SAME_UPPER) or (total+1)/2 (SAME_LOWER), truncated.
  // Conv clamps the total at 0.
  bool pool_same = false;
};

// Reads kernel_shape (or `kernel` when given), strides, dilations, pads and
// auto_pad from a node; fails on bad values. `nd` spatial dims.
// Kernel sizes, strides, dilations and pads beyond 2^31 describe no real
// network; bounding them at load keeps every later sum and product of a
// window with a tensor dim (itself bounded by kMaxTensorBytes) inside int64_t.
constexpr int64_t kMaxWindowAttr = (int64_t(1) << 31) - 1;
void check_window_attr(const std::string& where, const char* what, const std::vector<int64_t>& v);

Window read_window(const Node& n, int nd, const std::vector<int64_t>& kernel, bool fail_unsupported_rank = true);

// Output spatial dims for input spatial dims `in`; fills resolved pads (a
// pooling window's SAME pads may be negative, see Window::pool_same).
std::vector<int64_t> window_output(const Window& w, const std::vector<int64_t>& in, std::vector<int64_t>& pb,
                                   std::vector<int64_t>& pe, const PlanCtx& ctx);

// The 2-D window fields shared by ConvNhwcArgs and PoolNhwcArgs (kernel,
// strides, dilations, begin pads, output size) from a resolved Window.
template <class Args>
void fill_window_2d(Args& a, const Window& w, int64_t kh, int64_t kw, const std::vector<int64_t>& pb,
                    const std::vector<int64_t>& out) {
  a.KH = kh;
  a.KW = kw;
  a.SH = w.stride[0];
  a.SW = w.stride[1];
  a.DH = w.dilation[0];
  a.DW = w.dilation[1];
  a.PH = pb[0];
  a.PW = pb[1];
  a.OH = out[0];
  a.OW = out[1];
}

// A 1x1 convolution fused with the depthwise one after it (Conv with
// cnnrt_pw = 1, passes/fuse_pw_dw.py), in ops/conv_pwdw.cc.
std::unique_ptr<Op> create_pwdw(CreateCtx& c);

}  // namespace cnnrt
