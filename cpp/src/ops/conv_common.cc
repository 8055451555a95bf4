#include "ops/conv_common.h"

namespace cnnrt {

void check_window_attr(const std::string& where, const char* what, const std::vector<int64_t>& v) {
  for (auto x : v)
    if (x > kMaxWindowAttr) fail(ErrorKind::ModelLoad, where, ": ", what, " ", ints_str(v), " exceed 2^31 - 1");
}

Window read_window(const Node& n, int nd, const std::vector<int64_t>& kernel, bool) {
  Window w;
  w.nd = nd;
  w.kernel = kernel;
  auto where = n.where();
  if (static_cast<int>(w.kernel.size()) != nd) fail(ErrorKind::ModelLoad, where, ": kernel_shape has ", w.kernel.size(), " dims, expected ", nd);
  for (auto k : w.kernel)
    if (k <= 0) fail(ErrorKind::ModelLoad, where, ": kernel_shape must be positive, got ", ints_str(w.kernel));
  w.stride = n.ints("strides", std::vector<int64_t>(nd, 1));
  w.dilation = n.ints("dilations", std::vector<int64_t>(nd, 1));
  if (static_cast<int>(w.stride.size()) != nd) fail(ErrorKind::ModelLoad, where, ": strides has ", w.stride.size(), " values, expected ", nd);
  if (static_cast<int>(w.dilation.size()) != nd) fail(ErrorKind::ModelLoad, where, ": dilations has ", w.dilation.size(), " values, expected ", nd);
  for (auto s : w.stride)
    if (s <= 0) fail(ErrorKind::ModelLoad, where, ": strides must be positive, got ", ints_str(w.stride));
  for (auto d : w.dilation)
    if (d <= 0) fail(ErrorKind::ModelLoad, where, ": dilations must be positive, got ", ints_str(w.dilation));
  std::vector<int64_t> pads = n.ints("pads", std::vector<int64_t>(2 * nd, 0));
  if (static_cast<int>(pads.size()) != 2 * nd) fail(ErrorKind::ModelLoad, where, ": pads has ", pads.size(), " values, expected ", 2 * nd);
  for (auto p : pads)
    if (p < 0) fail(ErrorKind::ModelLoad, where, ": pads must be >= 0, got ", ints_str(pads));
  check_window_attr(where, "kernel_shape", w.kernel);
  check_window_attr(where, "strides", w.stride);
  check_window_attr(where, "dilations", w.dilation);
  check_window_attr(where, "pads", pads);
  w.pad_begin.assign(pads.begin(), pads.begin() + nd);
  w.pad_end.assign(pads.begin() + nd, pads.end());
  w.auto_pad = n.s("auto_pad", "NOTSET");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER" && w.auto_pad != "VALID")
    fail(ErrorKind::ModelLoad, where, ": auto_pad '", w.auto_pad, "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  w.ceil_mode = n.i("ceil_mode", 0) != 0;
  return w;
}

std::vector<int64_t> window_output(const Window& w, const std::vector<int64_t>& in, std::vector<int64_t>& pb,
                                   std::vector<int64_t>& pe, const PlanCtx& ctx) {
  std::vector<int64_t> out(w.nd);
  pb = w.pad_begin;
  pe = w.pad_end;
  for (int d = 0; d < w.nd; ++d) {
    const int64_t ext = checked_add(checked_mul(w.kernel[d] - 1, w.dilation[d]), 1);
    if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") {
      out[d] = (in[d] + w.stride[d] - 1) / w.stride[d];
      int64_t total = checked_add(checked_mul(out[d] - 1, w.stride[d]), ext) - in[d];
      if (!w.pool_same) total = std::max<int64_t>(0, total);
      pb[d] = w.auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
      pe[d] = total - pb[d];
      continue;
    }
    if (w.auto_pad == "VALID") {
      pb[d] = pe[d] = 0;
    }
    // A pooling pad beyond the input plus one window only adds windows that
    // lie wholly in the padding; onnxruntime refuses any pad >= the kernel.
    // cnnrt keeps the ONNX rule up to this bound, so that a crafted pad
    // (2^20 rows around an 8-row map) cannot buy minutes of work per run.
    if (w.pool_same && (pb[d] > checked_add(in[d], ext) || pe[d] > checked_add(in[d], ext)))
      ctx.fail("pads (", pb[d], ", ", pe[d], ") in spatial dim ", d, " exceed the input (", in[d],
               ") plus the window (extent ", ext, "): every window beyond lies wholly in the padding");
    const int64_t span = checked_add(checked_add(in[d], pb[d]), pe[d]) - ext;
    if (span < 0)
      ctx.fail("the window (extent ", ext, ") is larger than the padded input (", in[d] + pb[d] + pe[d], ") in spatial dim ", d);
    if (w.ceil_mode) {
      out[d] = (span + w.stride[d] - 1) / w.stride[d] + 1;
      // The last window must start inside the input or the left padding.
      if ((out[d] - 1) * w.stride[d] >= in[d] + pb[d]) out[d] -= 1;
    } else {
      out[d] = span / w.stride[d] + 1;
    }
  }
  return out;
}

}  // namespace cnnrt
