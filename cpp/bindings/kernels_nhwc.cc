// cnnrt._core.kernels: test hooks for the NHWC families (convolution by
// GEMM, Winograd, depthwise; pooling), each on one ISA's table.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <new>
#include <limits>
#include <string>
#include <vector>

#include "bindings/common.h"
#include "kernels/kernels.h"

namespace py = pybind11;
using namespace cnnrt;

namespace {

using farr = py::array_t<float, py::array::c_style | py::array::forcecast>;

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  return (in + pb + pe - (k - 1) * d - 1) / s + 1;
}

// Kernel, strides, begin pads and dilations of a hook's Conv/Pool args from
// its Python lists (pads: top, left, bottom, right).
template <class Args>
void set_window(Args& a, int64_t kh, int64_t kw, const std::vector<int64_t>& strides, const std::vector<int64_t>& pads,
                const std::vector<int64_t>& dilations) {
  a.KH = kh;
  a.KW = kw;
  a.SH = strides.at(0);
  a.SW = strides.at(1);
  a.PH = pads.at(0);
  a.PW = pads.at(1);
  a.DH = dilations.at(0);
  a.DW = dilations.at(1);
}

// Packed weights on a 64-byte boundary, as the runtime allocates tensors: a
// std::vector's 16-byte alignment would split every 64-byte weight row over
// two cache lines and time a slower kernel than the one that runs.
struct AlignedFloats {
  float* p = nullptr;
  AlignedFloats() = default;
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  ~AlignedFloats() { std::free(p); }
  void resize(size_t n) {
    std::free(p);
    p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64));
    if (!p) throw std::bad_alloc();
  }
  float* data() { return p; }
};

double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double cpu_now(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

void register_kernels_nhwc(py::module_& m) {
  // y = conv(x [N,H,W,C], w [OC, C, KH, KW]) in NHWC, algo "gemm" | "winograd" |
  // "winograd6" (F(6x6, 3x3)) | "winograd2" (F(2x2, 3x3)) | "dw"
  // (depthwise: w [C, 1, KH, KW]); bias [OC], residual [N, OH, OW, OC].
  // pads = [top, left, bottom, right]. Returns y [N, OH, OW, OC]; with
  // reps > 0, (y, [seconds per run]) over reps runs (weights packed once;
  // undisturbed: +inf for a run that another process preempted, for
  // best-of timings on a busy machine). Slices: x_off >= 0 reads channels [x_off, x_off + C) of a wider
  // x (C from w); y_stride > 0 returns y [N, OH, OW, y_stride] with the result
  // in channels [y_off, y_off + OC) and NaN elsewhere; a residual wider than
  // OC is read with its own pixel stride.
  m.def(
      "conv_nhwc",
      [](const std::string& isa, const std::string& algo, farr x, farr w, py::object bias, py::object residual,
         std::vector<int64_t> strides, std::vector<int64_t> pads, std::vector<int64_t> dilations, int act, float p0,
         float p1, int threads, int reps, bool undisturbed, int64_t x_off, int64_t y_stride,
         int64_t y_off, py::object out, py::object prefetch) -> py::object {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        if (x.ndim() != 4 || w.ndim() != 4) fail(ErrorKind::Input, "conv_nhwc: x is [N,H,W,C], w is [OC,C,KH,KW]");
        farr pf;  // the next layer's weights, as a session links them (ConvNhwcArgs::pf_next)
        if (!prefetch.is_none()) pf = prefetch.cast<farr>();
        ConvNhwcArgs a;
        a.N = x.shape(0);
        a.H = x.shape(1);
        a.W = x.shape(2);
        a.C = x.shape(3);
        a.x_stride = a.C;
        a.OC = w.shape(0);
        if (x_off >= 0) {  // x is a wider tensor: read channels [x_off, x_off + C) of each pixel
          a.C = algo == "dw" ? w.shape(0) : w.shape(1);
          if (x_off + a.C > a.x_stride) fail(ErrorKind::Input, "conv_nhwc: x_off + C exceeds x's channels");
        }
        set_window(a, w.shape(2), w.shape(3), strides, pads, dilations);
        a.OH = out_size(a.H, a.KH, a.SH, a.DH, a.PH, pads.at(2));
        a.OW = out_size(a.W, a.KW, a.SW, a.DW, a.PW, pads.at(3));
        a.y_stride = a.OC;
        if (y_stride > 0) {  // y is a wider tensor: write channels [y_off, y_off + OC), NaN elsewhere
          if (y_off < 0 || y_off + a.OC > y_stride) fail(ErrorKind::Input, "conv_nhwc: y_off + OC exceeds y_stride");
          a.y_stride = y_stride;
        }
        AlignedFloats packed;  // 64-byte aligned, as the runtime's tensors (core/tensor.cc)
        if (algo == "gemm") {
          if (w.shape(1) != a.C) fail(ErrorKind::Input, "conv_nhwc: channel mismatch");
          packed.resize(kt.conv_packed_size(a.OC, a.C, a.KH, a.KW));
          kt.conv_pack(w.data(), a.OC, a.C, a.KH, a.KW, packed.data());
        } else if (algo == "winograd6" || algo == "winograd2") {  // F(6, 3) or F(2, 3), 3x3 weights only
          const bool six = algo == "winograd6";
          const char* f = six ? "F(6x6)" : "F(2x2)";
          if ((six ? kt.winograd6_m : kt.winograd2_m) == 0)
            fail(ErrorKind::Input, "conv_nhwc: this ISA has no Winograd ", f, " kernel");
          if (w.shape(1) != a.C) fail(ErrorKind::Input, "conv_nhwc: channel mismatch");
          if (a.KH != 3 || a.KW != 3 || a.SH != 1 || a.SW != 1 || a.DH != 1 || a.DW != 1)
            fail(ErrorKind::Input, "conv_nhwc: Winograd ", f, " needs 3x3, stride 1, dilation 1");
          packed.resize((six ? kt.winograd6_packed_size : kt.winograd2_packed_size)(a.OC, a.C));
          (six ? kt.winograd6_pack : kt.winograd2_pack)(w.data(), a.OC, a.C, packed.data());
        } else if (algo == "winograd") {  // F(4, 3) for 3x3 weights, F(2, 5) for 5x5
          if (kt.winograd_m == 0) fail(ErrorKind::Input, "conv_nhwc: this ISA has no Winograd kernel");
          if (w.shape(1) != a.C) fail(ErrorKind::Input, "conv_nhwc: channel mismatch");
          if (!((a.KH == 3 && a.KW == 3) || (a.KH == 5 && a.KW == 5)) || a.SH != 1 || a.SW != 1 || a.DH != 1 ||
              a.DW != 1)
            fail(ErrorKind::Input, "conv_nhwc: Winograd needs 3x3 or 5x5, stride 1, dilation 1");
          if (a.KH == 5) {
            packed.resize(kt.winograd5_packed_size(a.OC, a.C));
            kt.winograd5_pack(w.data(), a.OC, a.C, packed.data());
          } else {
            packed.resize(kt.winograd_packed_size(a.OC, a.C));
            kt.winograd_pack(w.data(), a.OC, a.C, packed.data());
          }
        } else if (algo == "dw") {
          if (w.shape(1) != 1 || a.OC != a.C) fail(ErrorKind::Input, "conv_nhwc: depthwise needs w [C,1,KH,KW]");
          packed.resize(kt.dw_packed_size(a.C, a.KH, a.KW));
          kt.dw_pack(w.data(), a.C, a.KH, a.KW, packed.data());
        } else {
          fail(ErrorKind::Input, "conv_nhwc: unknown algo '", algo, "'");
        }
        a.w_packed = packed.data();
        farr y = bindings::out_array(out, {a.N, a.OH, a.OW, a.y_stride}, "conv_nhwc");
        if (a.y_stride != a.OC)
          for (py::ssize_t i = 0; i < y.size(); ++i) y.mutable_data()[i] = std::numeric_limits<float>::quiet_NaN();
        farr bb, rr;
        if (!bias.is_none()) {
          bb = bias.cast<farr>();
          if (bb.size() != a.OC) fail(ErrorKind::Input, "conv_nhwc: bias must have OC elements");
          a.ep.bias_n = bb.data();
        }
        if (!residual.is_none()) {
          rr = residual.cast<farr>();
          // [N, OH, OW, OC], or [N, OH, OW, R > OC]: channels [0, OC) of a wider tensor
          const bool wider = rr.ndim() == 4 && rr.shape(0) == a.N && rr.shape(1) == a.OH && rr.shape(2) == a.OW &&
                             rr.shape(3) > a.OC;
          if (!wider && rr.size() != a.N * a.OH * a.OW * a.OC)
            fail(ErrorKind::Input, "conv_nhwc: residual must be [N,OH,OW,OC] (or wider in channels)");
          a.ep.residual = rr.data();
          a.ep.ldr = wider ? rr.shape(3) : a.OC;
        }
        a.ep.act.kind = static_cast<Act>(act);
        a.ep.act.a = p0;
        a.ep.act.b = p1;
        a.x = x.data() + (x_off > 0 ? x_off : 0);
        a.y = y.mutable_data() + (y_stride > 0 ? y_off : 0);
        a.threads = threads;
        if (pf.size() > 0) {
          a.pf_next = pf.data();
          a.pf_next_bytes = static_cast<int64_t>(pf.size()) * static_cast<int64_t>(sizeof(float));
        }
        std::vector<double> secs;
        {
          py::gil_scoped_release nogil;
          // undisturbed: a run whose threads were not all on a CPU all along
          // (their CPU time short of threads x wall) reads +inf, so that a
          // best-of on a shared machine only sees runs nothing preempted.
          const clockid_t clk = threads > 1 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_THREAD_CPUTIME_ID;
          for (int r = 0; r < (reps > 0 ? reps : 1); ++r) {
            const double c0 = undisturbed ? cpu_now(clk) : 0.0, t0 = wall_now();
            if (algo == "gemm")
              kt.conv_nhwc(a);
            else if (algo == "winograd")
              (a.KH == 5 ? kt.conv_winograd5 : kt.conv_winograd)(a);
            else if (algo == "winograd6")
              kt.conv_winograd6(a);
            else if (algo == "winograd2")
              kt.conv_winograd2(a);
            else
              kt.dwconv_nhwc(a);
            const double dt = wall_now() - t0;
            const bool whole = !undisturbed || cpu_now(clk) - c0 >= 0.97 * (threads > 1 ? threads : 1) * dt;
            secs.push_back(whole ? dt : std::numeric_limits<double>::infinity());
          }
        }
        if (reps > 0) return py::make_tuple(y, secs);
        return std::move(y);
      },
      py::arg("isa"), py::arg("algo"), py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
      py::arg("residual") = py::none(), py::arg("strides") = std::vector<int64_t>{1, 1},
      py::arg("pads") = std::vector<int64_t>{0, 0, 0, 0}, py::arg("dilations") = std::vector<int64_t>{1, 1},
      py::arg("act") = 0, py::arg("p0") = 0.f, py::arg("p1") = 0.f, py::arg("threads") = 1, py::arg("reps") = 0,
      py::arg("undisturbed") = false, py::arg("x_off") = -1, py::arg("y_stride") = 0, py::arg("y_off") = 0,
      py::arg("out") = py::none(), py::arg("prefetch") = py::none());
  m.def("winograd_m", [](const std::string& isa) { return kernel_table(isa_from_name(isa.c_str())).winograd_m; });
  m.def("winograd6_m", [](const std::string& isa) { return kernel_table(isa_from_name(isa.c_str())).winograd6_m; });
  m.def("winograd2_m", [](const std::string& isa) { return kernel_table(isa_from_name(isa.c_str())).winograd2_m; });
  m.def("winograd2_better", [](const std::string& isa, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
    return winograd2_better(kernel_table(isa_from_name(isa.c_str())), C, OC, OH, OW);
  });
  m.def("winograd6_better", [](const std::string& isa, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
    return winograd6_better(kernel_table(isa_from_name(isa.c_str())), C, OC, OH, OW);
  });
  m.def("conv_k_blocked_tasks", [] { return g_conv_k_blocked_tasks.load(std::memory_order_relaxed); });
  m.def("pwdw_channel_split_runs", [] { return g_pwdw_channel_split_runs.load(std::memory_order_relaxed); });
  m.def("nhwc_slice_c", [](const std::string& isa) { return kernel_table(isa_from_name(isa.c_str())).nhwc_slice_c; });
  m.def("winograd5_worth_it", [](const std::string& isa, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
    return winograd5_worth_it(kernel_table(isa_from_name(isa.c_str())), C, OC, OH, OW);
  });
  m.def("winograd_worth_it", [](const std::string& isa, int64_t C, int64_t OC, int64_t OH, int64_t OW) {
    return winograd_worth_it(kernel_table(isa_from_name(isa.c_str())), C, OC, OH, OW);
  });
  // y = pool(x [N,H,W,XS]), kind "max" | "avg"; pads = [top, left, bottom, right];
  // out = [OH, OW] (from the op's ceil_mode arithmetic). channels: C pooled
  // (0 = XS; fewer reads x as a slice of a wider tensor); y_stride: the
  // output's pixel stride (0 = C; lanes past C are NaN, checked untouched).
  // With reps > 0, (y, [seconds per run]).
  m.def(
      "pool_nhwc",
      [](const std::string& isa, const std::string& kind, farr x, std::vector<int64_t> kernel,
         std::vector<int64_t> strides, std::vector<int64_t> pads, std::vector<int64_t> dilations,
         std::vector<int64_t> out, bool count_include_pad, int threads, int64_t channels, int64_t y_stride,
         int reps, py::object out_arr) -> py::object {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        if (x.ndim() != 4) fail(ErrorKind::Input, "pool_nhwc: x is [N,H,W,C]");
        PoolNhwcArgs a;
        a.N = x.shape(0);
        a.H = x.shape(1);
        a.W = x.shape(2);
        a.x_stride = x.shape(3);
        a.C = channels > 0 ? channels : a.x_stride;
        if (a.C > a.x_stride) fail(ErrorKind::Input, "pool_nhwc: channels > x's last dimension");
        set_window(a, kernel.at(0), kernel.at(1), strides, pads, dilations);
        a.PHE = pads.at(2);
        a.PWE = pads.at(3);
        a.OH = out.at(0);
        a.OW = out.at(1);
        a.y_stride = y_stride > 0 ? y_stride : a.C;
        if (a.y_stride < a.C) fail(ErrorKind::Input, "pool_nhwc: y_stride < channels");
        a.kind = kind == "max" ? PoolKind::Max : PoolKind::Avg;
        a.count_include_pad = count_include_pad;
        a.threads = threads;
        farr y = bindings::out_array(out_arr, {a.N, a.OH, a.OW, a.y_stride}, "pool_nhwc");
        if (a.y_stride > a.C) std::fill(y.mutable_data(), y.mutable_data() + y.size(), std::nanf(""));
        a.x = x.data();
        a.y = y.mutable_data();
        std::vector<double> secs;
        {
          py::gil_scoped_release nogil;
          for (int r = 0; r < (reps > 0 ? reps : 1); ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            kt.pool_nhwc(a);
            secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          }
        }
        if (reps > 0) return py::make_tuple(y, secs);
        return std::move(y);
      },
      py::arg("isa"), py::arg("kind"), py::arg("x"), py::arg("kernel"), py::arg("strides"), py::arg("pads"),
      py::arg("dilations"), py::arg("out"), py::arg("count_include_pad") = false, py::arg("threads") = 1,
      py::arg("channels") = 0, py::arg("y_stride") = 0, py::arg("reps") = 0, py::arg("out_arr") = py::none());
  // With reps > 0, (y, [seconds per run]).
  m.def(
      "global_pool_nhwc",
      [](const std::string& isa, const std::string& kind, farr x, int threads, int reps, py::object out) -> py::object {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        if (x.ndim() != 3) fail(ErrorKind::Input, "global_pool_nhwc: x is [N, HW, C]");
        farr y = bindings::out_array(out, {x.shape(0), x.shape(2)}, "global_pool_nhwc");
        std::vector<double> secs;
        {
          py::gil_scoped_release nogil;
          for (int r = 0; r < (reps > 0 ? reps : 1); ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            kt.global_pool_nhwc(kind == "max" ? PoolKind::Max : PoolKind::Avg, x.data(), x.shape(0), x.shape(1),
                                x.shape(2), y.mutable_data(), threads);
            secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          }
        }
        if (reps > 0) return py::make_tuple(y, secs);
        return std::move(y);
      },
      py::arg("isa"), py::arg("kind"), py::arg("x"), py::arg("threads") = 1, py::arg("reps") = 0,
      py::arg("out") = py::none());
  // Depthwise NHWC on strided tensors: x [N,H,W,XS] read as its first
  // `channels` channels (0 = XS), w [C,1,KH,KW], residual [N,OH,OW,LDR]
  // (LDR >= C, its last dimension), y [N,OH,OW,y_stride] (0 = C; lanes past
  // C are NaN, checked untouched). pads = [top, left, bottom, right].
  m.def(
      "dwconv_nhwc",
      [](const std::string& isa, farr x, farr w, py::object bias, py::object residual, std::vector<int64_t> strides,
         std::vector<int64_t> pads, std::vector<int64_t> dilations, int act, float p0, float p1, int64_t channels,
         int64_t y_stride, int threads, py::object out) {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        if (x.ndim() != 4 || w.ndim() != 4) fail(ErrorKind::Input, "dwconv_nhwc: x is [N,H,W,XS], w is [C,1,KH,KW]");
        ConvNhwcArgs a;
        a.N = x.shape(0);
        a.H = x.shape(1);
        a.W = x.shape(2);
        a.x_stride = x.shape(3);
        a.C = channels > 0 ? channels : a.x_stride;
        if (a.C > a.x_stride || w.shape(0) != a.C || w.shape(1) != 1)
          fail(ErrorKind::Input, "dwconv_nhwc: needs w [C,1,KH,KW] with C <= x's last dimension");
        a.OC = a.C;
        set_window(a, w.shape(2), w.shape(3), strides, pads, dilations);
        a.OH = out_size(a.H, a.KH, a.SH, a.DH, a.PH, pads.at(2));
        a.OW = out_size(a.W, a.KW, a.SW, a.DW, a.PW, pads.at(3));
        a.y_stride = y_stride > 0 ? y_stride : a.C;
        if (a.y_stride < a.C) fail(ErrorKind::Input, "dwconv_nhwc: y_stride < channels");
        std::vector<float> packed(kt.dw_packed_size(a.C, a.KH, a.KW));
        kt.dw_pack(w.data(), a.C, a.KH, a.KW, packed.data());
        a.w_packed = packed.data();
        farr y = bindings::out_array(out, {a.N, a.OH, a.OW, a.y_stride}, "dwconv_nhwc");
        if (a.y_stride > a.C) std::fill(y.mutable_data(), y.mutable_data() + y.size(), std::nanf(""));
        farr bb, rr;
        if (!bias.is_none()) {
          bb = bias.cast<farr>();
          if (bb.size() != a.C) fail(ErrorKind::Input, "dwconv_nhwc: bias must have C elements");
          a.ep.bias_n = bb.data();
        }
        if (!residual.is_none()) {
          rr = residual.cast<farr>();
          if (rr.ndim() != 4 || rr.shape(0) != a.N || rr.shape(1) != a.OH || rr.shape(2) != a.OW || rr.shape(3) < a.C)
            fail(ErrorKind::Input, "dwconv_nhwc: residual must be [N,OH,OW,LDR], LDR >= C");
          a.ep.residual = rr.data();
          a.ep.ldr = rr.shape(3);
        }
        a.ep.act.kind = static_cast<Act>(act);
        a.ep.act.a = p0;
        a.ep.act.b = p1;
        a.x = x.data();
        a.y = y.mutable_data();
        a.threads = threads;
        {
          py::gil_scoped_release nogil;
          kt.dwconv_nhwc(a);
        }
        return y;
      },
      py::arg("isa"), py::arg("x"), py::arg("w"), py::arg("bias") = py::none(), py::arg("residual") = py::none(),
      py::arg("strides") = std::vector<int64_t>{1, 1}, py::arg("pads") = std::vector<int64_t>{0, 0, 0, 0},
      py::arg("dilations") = std::vector<int64_t>{1, 1}, py::arg("act") = 0, py::arg("p0") = 0.f,
      py::arg("p1") = 0.f, py::arg("channels") = 0, py::arg("y_stride") = 0, py::arg("threads") = 1,
      py::arg("out") = py::none());
}
