// A C++-only test of the core (no Python): builds lowered graphs by hand,
// creates sessions, plans and runs Conv+ReLU, MaxPool, Flatten and Gemm, and
// walks error paths (a bad graph, a bad attribute, a wrong feed). Built with
// -DCNNRT_SANITIZE=ON it runs under LeakSanitizer (detect_leaks=1): every
// buffer, plan and thrown error must be freed. Exit status 0 = all checks
// passed (LSan turns a leak into a non-zero exit).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/session.h"

using namespace cnnrt;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    ++failures;
  }
}

Attr ints(std::vector<int64_t> v) {
  Attr a;
  a.kind = Attr::Ints;
  a.ints = std::move(v);
  return a;
}
Attr int1(int64_t v) {
  Attr a;
  a.kind = Attr::Int;
  a.i = v;
  return a;
}

Tensor filled(Shape s, float scale) {
  Tensor t(DType::F32, std::move(s));
  float* p = t.ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = scale * static_cast<float>((i * 7) % 13 - 6);
  return t;
}

// x [1,3,8,8] -> Conv 3x3 pad 1 (+bias, ReLU) -> MaxPool 2x2/2 -> Flatten -> Gemm (transB) -> y [1,10]
Graph lenet_like() {
  Graph g;
  g.name = "leak_check";
  auto value = [&](const char* name, Shape s) {
    ValueInfo v;
    v.name = name;
    v.shape = std::move(s);
    v.has_shape = !v.shape.empty();
    g.values.push_back(v);
    return static_cast<int>(g.values.size()) - 1;
  };
  const int x = value("x", {1, 3, 8, 8}), w = value("w", {4, 3, 3, 3}), b = value("b", {4}),
            gw = value("gw", {10, 64}), gb = value("gb", {10}), r = value("r", {1, 4, 8, 8}),
            p = value("p", {1, 4, 4, 4}), f = value("f", {1, 64}), y = value("y", {});
  g.constants.emplace(w, filled({4, 3, 3, 3}, 0.1f));
  g.constants.emplace(b, filled({4}, 0.5f));
  g.constants.emplace(gw, filled({10, 64}, 0.05f));
  g.constants.emplace(gb, filled({10}, 1.f));
  Node conv;
  conv.op = "Conv";
  conv.name = "conv";
  conv.inputs = {x, w, b};
  conv.outputs = {r};
  conv.attrs["kernel_shape"] = ints({3, 3});
  conv.attrs["pads"] = ints({1, 1, 1, 1});
  conv.attrs["cnnrt_act"] = int1(1);
  Node pool;
  pool.op = "MaxPool";
  pool.name = "pool";
  pool.inputs = {r};
  pool.outputs = {p};
  pool.attrs["kernel_shape"] = ints({2, 2});
  pool.attrs["strides"] = ints({2, 2});
  Node flat;
  flat.op = "Flatten";
  flat.name = "flatten";
  flat.inputs = {p};
  flat.outputs = {f};
  Node gemm;
  gemm.op = "Gemm";
  gemm.name = "gemm";
  gemm.inputs = {f, gw, gb};
  gemm.outputs = {y};
  gemm.attrs["transB"] = int1(1);
  g.nodes = {conv, pool, flat, gemm};
  g.inputs = {x};
  g.outputs = {y};
  return g;
}

template <class F>
bool throws(F&& fn, ErrorKind kind, const char* what) {
  try {
    fn();
  } catch (const Error& e) {
    if (e.kind() != kind) std::fprintf(stderr, "%s: wrong error kind: %s\n", what, e.what());
    return e.kind() == kind;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: not a cnnrt::Error: %s\n", what, e.what());
    return false;
  }
  std::fprintf(stderr, "%s: no error\n", what);
  return false;
}

std::vector<float> run_once(Session& s, const Shape& xs, int threads_note) {
  (void)threads_note;
  Tensor x = filled(xs, 0.25f);
  Feed feed;
  feed.data = x.data();
  feed.dtype = DType::F32;
  feed.dims = x.shape.data();
  feed.rank = static_cast<int>(x.shape.size());
  auto plan = s.plan_for({feed});
  const TensorMeta& m = plan->metas[s.graph().outputs[0]];
  std::vector<float> y(static_cast<size_t>(checked_numel(m.shape)));
  void* outs[1] = {y.data()};
  s.run(*plan, &feed, outs);
  return y;
}

}  // namespace

int main() {
  for (Isa isa : {Isa::Ref, isa_detected()}) {
    for (int threads : {1, 2}) {
      SessionOptions opt;
      opt.threads = threads;
      opt.isa = isa;
      opt.max_plans = 2;
      Session s(lenet_like(), opt);
      const std::vector<float> a = run_once(s, {1, 3, 8, 8}, threads);
      const std::vector<float> b = run_once(s, {1, 3, 8, 8}, threads);
      check(a.size() == 10 && a == b, "two runs give the same 10 outputs");
      bool finite = true;
      for (float v : a) finite = finite && std::isfinite(v);
      check(finite, "outputs are finite");
      // Error paths: a feed of the wrong shape, of the wrong dtype.
      Tensor bad = filled({1, 3, 9, 8}, 1.f);
      Feed feed;
      feed.data = bad.data();
      feed.dims = bad.shape.data();
      feed.rank = 4;
      check(throws([&] { s.plan_for({feed}); }, ErrorKind::Input, "wrong input shape"), "wrong input shape -> InputError");
      feed.dtype = DType::I64;
      check(throws([&] { s.plan_for({feed}); }, ErrorKind::Input, "wrong input dtype"), "wrong input dtype -> InputError");
      check(throws([&] { s.plan_for({}); }, ErrorKind::Input, "missing input"), "missing input -> InputError");
    }
  }
  // Load-time errors: a dangling value id, a node that reads a value before it is produced,
  // a Conv whose kernel does not match its weight, an unknown op.
  {
    Graph g = lenet_like();
    g.nodes[1].inputs = {999};
    check(throws([&] { Session s(std::move(g), SessionOptions{}); }, ErrorKind::ModelLoad, "dangling id"),
          "dangling value id -> ModelLoadError");
  }
  {
    Graph g = lenet_like();
    std::swap(g.nodes[0], g.nodes[1]);
    check(throws([&] { Session s(std::move(g), SessionOptions{}); }, ErrorKind::ModelLoad, "use before def"),
          "use before definition -> ModelLoadError");
  }
  {
    Graph g = lenet_like();
    g.nodes[0].attrs["kernel_shape"] = ints({5, 5});
    check(throws(
              [&] {
                Session s(std::move(g), SessionOptions{});
                run_once(s, {1, 3, 8, 8}, 1);
              },
              ErrorKind::ModelLoad, "kernel mismatch"),
          "kernel_shape vs weight mismatch -> ModelLoadError");
  }
  {
    Graph g = lenet_like();
    g.nodes[2].op = "NoSuchOp";
    check(throws([&] { Session s(std::move(g), SessionOptions{}); }, ErrorKind::Unsupported, "unknown op"),
          "unknown op -> UnsupportedOpError");
  }
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("leak_check: all checks passed\n");
  return 0;
}
