// cnnrt._core.kernels: direct calls into one ISA's kernel table, for the
// kernel tests (each path against numpy / the ref path).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/common.h"
#include "core/parallel.h"
#include "kernels/kernels.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace py = pybind11;
using namespace cnnrt;

namespace {

using farr = py::array_t<float, py::array::c_style | py::array::forcecast>;

ActParams act_params(int kind, float a, float b) {
  ActParams p;
  p.kind = static_cast<Act>(kind);
  p.a = a;
  p.b = b;
  return p;
}

}  // namespace

namespace cnnrt::bindings {
farr out_array(const py::object& out, const std::vector<py::ssize_t>& shape, const char* hook) {
  if (out.is_none()) return farr(shape);
  if (!py::array_t<float, py::array::c_style>::check_(out))
    fail(ErrorKind::Input, hook, ": out must be a C-contiguous float32 array");
  farr y = py::reinterpret_borrow<farr>(out);
  if (!y.writeable() || static_cast<size_t>(y.ndim()) != shape.size() ||
      !std::equal(shape.begin(), shape.end(), y.shape()))
    fail(ErrorKind::Input, hook, ": out must be writeable, of the output's shape");
  return y;
}
}  // namespace cnnrt::bindings

void register_kernels(py::module_& mod) {
  py::module_ m = mod.def_submodule("kernels", "kernel-table test hooks");
  register_kernels_nhwc(m);
  m.def("gemm_tile", [](const std::string& isa) {
    const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
    return py::make_tuple(kt.gemm_mr, kt.gemm_nr);
  });
  // C = act(alpha * op(A) op(B) + bias_m + bias_n + residual); A/B optionally prepacked.
  m.def(
      "gemm",
      [](const std::string& isa, farr a, farr b, bool trans_a, bool trans_b, bool pack_a, bool pack_b, float alpha,
         py::object bias_m, py::object bias_n, py::object residual, int act, float p0, float p1, int threads,
         py::object out) {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        if (a.ndim() != 2 || b.ndim() != 2) fail(ErrorKind::Input, "gemm: A and B must be 2-D");
        const int64_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
        const int64_t Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
        if (K != Kb) fail(ErrorKind::Input, "gemm: K mismatch ", K, " vs ", Kb);
        farr c = bindings::out_array(out, {M, N}, "gemm");
        std::vector<float> pa, pb;
        GemmArgs g;
        g.M = M;
        g.N = N;
        g.K = K;
        if (pack_a) {
          pa.resize(kt.gemm_packed_a_size(M, K));
          kt.gemm_pack_a(M, K, a.data(), a.shape(1), trans_a, pa.data());
          g.a_packed = pa.data();
        } else {
          g.a = a.data();
          g.lda = a.shape(1);
          g.trans_a = trans_a;
        }
        if (pack_b) {
          pb.resize(kt.gemm_packed_b_size(K, N));
          kt.gemm_pack_b(K, N, b.data(), b.shape(1), trans_b, pb.data());
          g.b_packed = pb.data();
        } else {
          g.b = b.data();
          g.ldb = b.shape(1);
          g.trans_b = trans_b;
        }
        farr bm, bn, res;
        if (!bias_m.is_none()) {
          bm = bias_m.cast<farr>();
          if (bm.size() != M) fail(ErrorKind::Input, "gemm: bias_m must have M elements");
          g.ep.bias_m = bm.data();
        }
        if (!bias_n.is_none()) {
          bn = bias_n.cast<farr>();
          if (bn.size() != N) fail(ErrorKind::Input, "gemm: bias_n must have N elements");
          g.ep.bias_n = bn.data();
        }
        if (!residual.is_none()) {
          res = residual.cast<farr>();
          if (res.size() != M * N) fail(ErrorKind::Input, "gemm: residual must be M x N");
          g.ep.residual = res.data();
          g.ep.ldr = N;
        }
        g.ep.alpha = alpha;
        g.ep.act = act_params(act, p0, p1);
        g.c = c.mutable_data();
        g.ldc = N;
        g.threads = threads;
        {
          py::gil_scoped_release nogil;
          kt.gemm(g);
        }
        return c;
      },
      py::arg("isa"), py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
      py::arg("pack_a") = false, py::arg("pack_b") = false, py::arg("alpha") = 1.f, py::arg("bias_m") = py::none(),
      py::arg("bias_n") = py::none(), py::arg("residual") = py::none(), py::arg("act") = 0, py::arg("p0") = 0.f,
      py::arg("p1") = 0.f, py::arg("threads") = 1, py::arg("out") = py::none());
  // Peak GFLOP/s of this ISA's FMA units on `threads` threads at once.
  m.def(
      "fma_peak",
      [](const std::string& isa, int threads, double seconds) {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        py::gil_scoped_release nogil;
        int64_t iters = 1 << 16;
        for (;;) {
          std::vector<float> sink(64 * static_cast<size_t>(threads));
          std::vector<double> flops(static_cast<size_t>(threads));
          const auto t0 = std::chrono::steady_clock::now();
          parallel_for(threads, threads, [&](int64_t i) { flops[i] = kt.fma_probe(iters, &sink[64 * i]); });
          const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (dt >= seconds || iters > (int64_t(1) << 40)) {
            double total = 0;
            for (double f : flops) total += f;
            return total / dt / 1e9;
          }
          iters *= 2;
        }
      },
      py::arg("isa"), py::arg("threads") = 1, py::arg("seconds") = 0.2);
  m.def(
      "act",
      [](const std::string& isa, farr x, int kind, float a, float b, py::object out) {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        farr y = bindings::out_array(out, std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()), "act");
        kt.act(y.mutable_data(), x.data(), x.size(), act_params(kind, a, b));
        return y;
      },
      py::arg("isa"), py::arg("x"), py::arg("kind"), py::arg("a") = 0.f, py::arg("b") = 0.f,
      py::arg("out") = py::none());
  m.def(
      "binary",
      [](const std::string& isa, int op, int mode, farr a, farr b, py::object out) {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        const int64_t n = mode == 2 ? b.size() : a.size();
        if (mode == 0 && a.size() != b.size()) fail(ErrorKind::Input, "binary: sizes differ");
        farr y = bindings::out_array(out, {n}, "binary");
        kt.binary(static_cast<BinOp>(op), static_cast<BinMode>(mode), y.mutable_data(), a.data(), b.data(), n);
        return y;
      },
      py::arg("isa"), py::arg("op"), py::arg("mode"), py::arg("a"), py::arg("b"), py::arg("out") = py::none());
  m.def(
      "dwconv",
      [](const std::string& isa, farr x, farr w, py::object bias, std::vector<int64_t> strides,
         std::vector<int64_t> pads, std::vector<int64_t> dilations, int act, float p0, float p1, int threads) {
        const KernelTable& kt = kernel_table(isa_from_name(isa.c_str()));
        if (x.ndim() != 3 || w.ndim() != 3) fail(ErrorKind::Input, "dwconv: x is [C,H,W], w is [C,KH,KW]");
        DwConvArgs a;
        a.C = x.shape(0);
        a.H = x.shape(1);
        a.W = x.shape(2);
        a.KH = w.shape(1);
        a.KW = w.shape(2);
        a.SH = strides.at(0);
        a.SW = strides.at(1);
        a.PH = pads.at(0);
        a.PW = pads.at(1);
        a.DH = dilations.at(0);
        a.DW = dilations.at(1);
        const int64_t PHe = pads.at(2), PWe = pads.at(3);
        a.OH = (a.H + a.PH + PHe - (a.KH - 1) * a.DH - 1) / a.SH + 1;
        a.OW = (a.W + a.PW + PWe - (a.KW - 1) * a.DW - 1) / a.SW + 1;
        farr y({a.C, a.OH, a.OW});
        farr bb;
        if (!bias.is_none()) {
          bb = bias.cast<farr>();
          a.ep.bias_m = bb.data();
        }
        a.ep.act = act_params(act, p0, p1);
        a.input = x.data();
        a.weight = w.data();
        a.output = y.mutable_data();
        a.threads = threads;
        kt.dwconv(a);
        return y;
      },
      py::arg("isa"), py::arg("x"), py::arg("w"), py::arg("bias") = py::none(), py::arg("strides"), py::arg("pads"),
      py::arg("dilations"), py::arg("act") = 0, py::arg("p0") = 0.f, py::arg("p1") = 0.f, py::arg("threads") = 1);
}
