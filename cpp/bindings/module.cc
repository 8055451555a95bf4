// cnnrt._core: the private C++ half. Reads like a table of contents:
//   errors    -> cnnrt.errors classes
//   Session   -> runtime/session.h (lowered graph in, plans, run without the GIL)
//   info      -> cpu/cpuinfo.h, kernels/kernels.h (ISA detected / chosen)
//   kernels   -> register_kernels.cc (test hooks into the kernel table)
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "bindings/common.h"
#include "cpu/cpuinfo.h"
#include "kernels/kernels.h"
#include "ops/op.h"
#include "runtime/session.h"

namespace py = pybind11;
using namespace cnnrt;

#ifndef CNNRT_VERSION
#define CNNRT_VERSION "dev"
#endif

namespace cnnrt::bindings {

DType dtype_of(const py::array& a) {
  // By value: a dtype that went through pickle, or np.longlong, is a
  // different Python object than numpy's canonical one.
  const py::dtype dt = a.dtype();
  const bool native = dt.byteorder() == '=' || dt.byteorder() == '|' ||
                      (dt.byteorder() == '<') == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  if (native && dt.kind() == 'f' && dt.itemsize() == 4) return DType::F32;
  if (native && dt.kind() == 'i' && dt.itemsize() == 8) return DType::I64;
  if (dt.kind() == 'b' && dt.itemsize() == 1) return DType::BOOL;
  fail(ErrorKind::Input, "unsupported array dtype ", std::string(py::str(dt)), " (cnnrt computes with float32, int64 and bool)");
}

py::dtype np_dtype(DType t) {
  switch (t) {
    case DType::F32: return py::dtype::of<float>();
    case DType::I64: return py::dtype::of<int64_t>();
    case DType::BOOL: return py::dtype::of<bool>();
    default: fail(ErrorKind::Internal, "no numpy dtype for ", dtype_name(t));
  }
}

// On pages of its own (alloc_pages), as packed weights are: an op may adopt
// the copy of a constant as its packed B (CreateCtx::adopt).
Tensor tensor_from_array(const py::array& a) {
  if (!(a.flags() & py::array::c_style)) fail(ErrorKind::Input, "array must be C-contiguous");
  Tensor t;
  t.dtype = dtype_of(a);
  t.shape.assign(a.shape(), a.shape() + a.ndim());
  t.buf = alloc_pages(t.nbytes());
  if (t.nbytes()) std::memcpy(t.data(), a.data(), t.nbytes());
  return t;
}

}  // namespace cnnrt::bindings

namespace {

using namespace cnnrt::bindings;

Attr attr_from_py(const std::string& where, const std::string& key, const py::handle& v) {
  Attr a;
  if (py::isinstance<py::bool_>(v) || py::isinstance<py::int_>(v)) {
    a.kind = Attr::Int;
    a.i = v.cast<int64_t>();
  } else if (py::isinstance<py::float_>(v)) {
    a.kind = Attr::Float;
    a.f = v.cast<float>();
  } else if (py::isinstance<py::str>(v) || py::isinstance<py::bytes>(v)) {
    a.kind = Attr::String;
    a.s = v.cast<std::string>();
  } else if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    py::sequence seq = v.cast<py::sequence>();
    bool all_int = true;
    for (auto item : seq)
      if (!(py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item))) all_int = false;
    if (all_int) {
      a.kind = Attr::Ints;
      for (auto item : seq) a.ints.push_back(item.cast<int64_t>());
    } else {
      a.kind = Attr::Floats;
      for (auto item : seq) a.floats.push_back(item.cast<float>());
    }
  } else {
    fail(ErrorKind::ModelLoad, where, ": attribute '", key, "' has a type the runtime does not take");
  }
  return a;
}

static_assert(sizeof(py::ssize_t) == sizeof(int64_t), "numpy dims are read in place as int64");

// Views on the caller's arrays, kept alive in `keep` while they are used; the
// shapes are copied (another Python thread may reshape an array in place
// while the GIL is released).
struct Feeds {
  std::vector<py::array> keep;
  std::vector<Shape> shapes;
  std::vector<Feed> feeds;
};

void feeds_from(const py::list& arrays, Feeds& r) {
  const size_t n = arrays.size();
  r.keep.reserve(n);
  r.shapes.reserve(n);
  r.feeds.reserve(n);
  for (auto a : arrays) {
    py::array arr = a.cast<py::array>();
    if (!(arr.flags() & py::array::c_style)) fail(ErrorKind::Input, "input arrays must be C-contiguous");
    Feed f;
    f.dtype = dtype_of(arr);
    r.shapes.emplace_back(arr.shape(), arr.shape() + arr.ndim());
    f.dims = r.shapes.back().data();
    f.rank = static_cast<int>(arr.ndim());
    f.data = arr.data();
    r.feeds.push_back(f);
    r.keep.push_back(std::move(arr));
  }
}

// The numpy type number a graph input of this dtype takes as is; -1: none.
int exact_typenum(DType t) {
  using api = py::detail::npy_api;
  switch (t) {
    case DType::F32: return api::NPY_FLOAT_;
    case DType::I64: return api::NPY_INT64_;
    case DType::BOOL: return api::NPY_BOOL_;
    default: return -1;
  }
}

// A tensor buffer that is a view on a numpy array (a .cnnrt file's memory
// map), kept alive by a reference the deleter drops under the GIL. Null when
// the array does not qualify (64-byte aligned, C-contiguous, native order).
BufferPtr borrow_buffer(const py::array& arr) {
  if (!(arr.flags() & py::array::c_style) || reinterpret_cast<uintptr_t>(arr.data()) % 64 != 0) return nullptr;
  auto* ref = new py::object(arr);
  std::shared_ptr<void> keep(ref, [](void* p) {
    if (!Py_IsInitialized()) return;  // interpreter gone: the mapping goes with the process
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
  return BufferPtr(keep, static_cast<uint8_t*>(const_cast<void*>(arr.data())));
}

// The ONNX importer's weight arrays (_core.weight_buffer): numpy views on
// pages a capsule owns. The runtime takes such an array's bytes as they are,
// with no copy, so that a large initializer is in memory once while loading
// (read from the file straight into it), and an op that is its only reader
// may pack into it in place (CreateCtx::adopt).
struct WeightBuffer {
  BufferPtr buf;
  size_t bytes;
};
constexpr const char* kWeightCapsule = "cnnrt.weight_buffer";

py::array weight_buffer(int64_t bytes) {
  if (bytes < 0) fail(ErrorKind::Input, "weight_buffer: negative size ", bytes);
  auto* w = new WeightBuffer{alloc_pages(static_cast<size_t>(bytes)), static_cast<size_t>(bytes)};
  PyObject* cap = PyCapsule_New(w, kWeightCapsule, [](PyObject* o) {
    delete static_cast<WeightBuffer*>(PyCapsule_GetPointer(o, kWeightCapsule));
  });
  if (!cap) {
    delete w;
    throw py::error_already_set();
  }
  py::object owner = py::reinterpret_steal<py::object>(cap);
  return py::array(py::dtype("uint8"), {static_cast<py::ssize_t>(bytes)}, {}, w->buf.get(), owner);
}

// The bytes of `arr` as a buffer that shares the WeightBuffer's ownership,
// or null when arr is not a view on one (or not an aligned, C-contiguous one).
BufferPtr weight_buffer_view(const py::array& arr) {
  if (!(arr.flags() & py::array::c_style) || reinterpret_cast<uintptr_t>(arr.data()) % 64 != 0) return nullptr;
  py::handle h = arr;
  for (int depth = 0; depth < 32 && py::isinstance<py::array>(h); ++depth)
    h = py::reinterpret_borrow<py::array>(h).base();
  if (!h || !PyCapsule_IsValid(h.ptr(), kWeightCapsule)) return nullptr;
  const auto* w = static_cast<const WeightBuffer*>(PyCapsule_GetPointer(h.ptr(), kWeightCapsule));
  const auto* p = static_cast<const uint8_t*>(arr.data());
  const uint8_t* begin = w->buf.get();
  if (p < begin || static_cast<size_t>(p - begin) > w->bytes ||
      static_cast<size_t>(arr.nbytes()) > w->bytes - static_cast<size_t>(p - begin))
    return nullptr;
  return BufferPtr(w->buf, const_cast<uint8_t*>(p));
}

class PySession {
 public:
  // borrow: the constant and prepacked arrays are used in place (views on a
  // .cnnrt file's mapping) where aligned, instead of copied. prepacked: node
  // index -> [(tag, uint8 array)], Session's prepacked weights.
  PySession(const std::string& name, const py::list& values, const py::list& nodes, const std::vector<int>& inputs,
            const std::vector<int>& outputs, const py::dict& constants, int threads, const std::string& isa,
            int max_plans, bool borrow, const py::dict& prepacked, int64_t max_memory) {
    Graph g;
    std::unordered_map<int, std::vector<Prepacked>> pre;
    try {
      graph_from_py(g, name, values, nodes, inputs, outputs, constants, borrow);
      pre = prepacked_from_py(prepacked);
    } catch (const py::cast_error& e) {  // a value that does not fit the field (an int beyond int64, ...)
      fail(ErrorKind::ModelLoad, "graph '", name, "': malformed lowered graph (", e.what(), ")");
    }
    SessionOptions opt;
    opt.threads = threads;
    opt.isa = isa.empty() ? isa_current() : isa_from_name(isa.c_str());
    opt.max_plans = static_cast<size_t>(max_plans);
    opt.max_memory = max_memory;
    {
      py::gil_scoped_release nogil;
      sess_ = std::make_unique<Session>(std::move(g), opt, std::move(pre));
    }
    for (int id : sess_->graph().inputs) input_names_.emplace_back(sess_->graph().values[id].name);
  }

  // The compiler's tuples -> Graph. Every dtype code, dim and id is checked
  // here or in Graph::validate: the runtime trusts nothing it is handed.
  static void graph_from_py(Graph& g, const std::string& name, const py::list& values, const py::list& nodes,
                            const std::vector<int>& inputs, const std::vector<int>& outputs, const py::dict& constants,
                            bool borrow) {
    g.name = name;
    for (auto v : values) {
      auto t = v.cast<py::tuple>();
      ValueInfo vi;
      vi.name = t[0].cast<std::string>();
      const int32_t code = t[1].cast<int32_t>();
      if (!dtype_supported(code)) fail(ErrorKind::ModelLoad, "graph '", name, "': value '", vi.name, "' has dtype code ", code);
      vi.dtype = static_cast<DType>(code);
      if (!t[2].is_none()) {
        vi.has_shape = true;
        vi.shape = t[2].cast<std::vector<int64_t>>();
        for (int64_t d : vi.shape)
          if (d < -1) fail(ErrorKind::ModelLoad, "graph '", name, "': value '", vi.name, "' declares dimension ", d);
      }
      g.values.push_back(std::move(vi));
    }
    for (auto n : nodes) {
      auto t = n.cast<py::tuple>();
      Node node;
      node.op = t[0].cast<std::string>();
      node.name = t[1].cast<std::string>();
      node.inputs = t[2].cast<std::vector<int>>();
      node.outputs = t[3].cast<std::vector<int>>();
      for (auto kv : t[4].cast<py::dict>()) {
        std::string key = kv.first.cast<std::string>();
        node.attrs[key] = attr_from_py(node.where(), key, kv.second);
      }
      g.nodes.push_back(std::move(node));
    }
    g.inputs = inputs;
    g.outputs = outputs;
    // The constants move into the runtime: each array is dropped from
    // `constants` (which ends up empty) right away, and taken as is (a
    // weight_buffer view; with `borrow`, an aligned view on a .cnnrt file)
    // or copied into an aligned tensor, so that the caller's and the
    // runtime's copies of the weights never coexist beyond one tensor.
    for (const auto& k : py::list(constants.attr("keys")())) {
      const int id = k.cast<int>();
      py::array arr = py::array::ensure(constants.attr("pop")(k), py::array::c_style);
      if (!arr) throw py::error_already_set();
      if (id < 0 || static_cast<size_t>(id) >= g.values.size())
        fail(ErrorKind::ModelLoad, "graph '", name, "': constant id ", id, " out of range");
      Tensor t;
      try {
        BufferPtr view = weight_buffer_view(arr);
        bool writable = static_cast<bool>(view);  // not borrow_buffer's: a .cnnrt file's read-only mapping
        if (!view && borrow) view = borrow_buffer(arr);
        if (view) {
          t.dtype = dtype_of(arr);
          t.shape.assign(arr.shape(), arr.shape() + arr.ndim());
          t.buf = std::move(view);
        } else {
          t = tensor_from_array(arr);
          writable = true;
        }
        if (writable) g.writable_constants.insert(id);
      } catch (const Error& e) {  // dtype_of's InputError: here the model is at fault
        fail(ErrorKind::ModelLoad, "constant '", g.values[id].name, "': ", e.what());
      }
      g.constants.emplace(id, std::move(t));
    }
  }

  // node index -> [(tag, uint8 array)]: a .cnnrt file's packed weights,
  // borrowed where aligned, else copied into aligned buffers.
  static std::unordered_map<int, std::vector<Prepacked>> prepacked_from_py(const py::dict& prepacked) {
    std::unordered_map<int, std::vector<Prepacked>> pre;
    for (auto kv : prepacked) {
      auto& list = pre[kv.first.cast<int>()];
      for (auto item : kv.second.cast<py::list>()) {
        auto t = item.cast<py::tuple>();
        Prepacked p;
        p.tag = t[0].cast<std::string>();
        py::array arr = t[1].cast<py::array>();
        p.bytes = static_cast<size_t>(arr.nbytes());
        p.keep = borrow_buffer(arr);
        if (!p.keep) {  // not aligned: a copy, aligned
          p.keep = alloc_buffer(p.bytes);
          if (p.bytes) std::memcpy(p.keep.get(), arr.data(), p.bytes);
        }
        p.data = p.keep.get();
        list.push_back(std::move(p));
      }
    }
    return pre;
  }

  // Positional arrays, already converted by the caller (api.py's slow path,
  // passes/_eval.py): every check, then plan (cached or built) and run.
  py::list run(const py::list& arrays) {
    Feeds f;
    feeds_from(arrays, f);
    std::shared_ptr<Plan> plan;
    {
      py::gil_scoped_release nogil;
      plan = sess_->plan_for(f.feeds);
    }
    return execute(*plan, f.feeds.data());
  }

  // Session.run's fast path: feeds is the caller's dict. When it maps exactly
  // the graph's input names to C-contiguous arrays of the input's dtype (native
  // byte order) and declared rank and static dims, runs and returns the
  // outputs; otherwise returns None and the caller takes the path that
  // converts and explains (api.py _feeds). Per call, a small model's cost was
  // mostly the Python-side checks and the plan key's strings.
  py::object run_dict(py::handle feeds) {
    constexpr size_t kMaxFast = 8;
    constexpr int kMaxRank = 8;
    constexpr char kForeignOrder = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? '>' : '<';
    const size_t n = input_names_.size();
    PyObject* d = feeds.ptr();
    if (n > kMaxFast || !PyDict_CheckExact(d) || static_cast<size_t>(PyDict_Size(d)) != n) return py::none();
    const auto& api = py::detail::npy_api::get();
    const Graph& g = sess_->graph();
    Feed fs[kMaxFast];
    py::object keep[kMaxFast];  // the arrays stay alive without the GIL even if the dict changes
    int64_t dims[kMaxFast][kMaxRank];  // and their shapes stay as they were
    for (size_t i = 0; i < n; ++i) {
      PyObject* a = PyDict_GetItemWithError(d, input_names_[i].ptr());  // borrowed
      if (!a) {
        if (PyErr_Occurred()) throw py::error_already_set();
        return py::none();
      }
      if (!api.PyArray_Check_(a)) return py::none();
      const auto* arr = py::detail::array_proxy(a);
      const auto* descr = py::detail::array_descriptor_proxy(arr->descr);
      const ValueInfo& vi = g.values[g.inputs[i]];
      if (descr->type_num != exact_typenum(vi.dtype) || descr->byteorder == kForeignOrder ||
          !(arr->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) || arr->nd > kMaxRank)
        return py::none();
      if (vi.has_shape && static_cast<size_t>(arr->nd) != vi.shape.size()) return py::none();
      for (int k = 0; k < arr->nd; ++k) {
        dims[i][k] = arr->dimensions[k];
        if (vi.has_shape && vi.shape[k] >= 0 && vi.shape[k] != dims[i][k]) return py::none();
      }
      fs[i].data = arr->data;
      fs[i].dtype = vi.dtype;
      fs[i].dims = dims[i];
      fs[i].rank = arr->nd;
      keep[i] = py::reinterpret_borrow<py::object>(a);
    }
    std::shared_ptr<Plan> plan = sess_->cached_plan(fs, n);
    if (!plan) {
      std::vector<Feed> v(fs, fs + n);
      py::gil_scoped_release nogil;
      plan = sess_->plan_for(v);
    }
    return execute(*plan, fs);
  }

  // Per graph input: whether its values (not only its shape) shape the plan:
  // int64/bool inputs and float32 ones an op reads while planning.
  py::list value_inputs() const {
    py::list r;
    const Graph& g = sess_->graph();
    for (size_t i = 0; i < g.inputs.size(); ++i) r.append(sess_->value_input(i));
    return r;
  }

  // Output dtypes and shapes for these input shapes (plans, does not run).
  py::list output_shapes(const py::list& arrays) {
    Feeds f;
    feeds_from(arrays, f);
    auto plan = sess_->plan_for(f.feeds);
    py::list r;
    for (int id : sess_->graph().outputs) r.append(py::make_tuple(static_cast<int>(plan->metas[id].dtype), plan->metas[id].shape));
    return r;
  }

  py::dict stats() const {
    py::dict d;
    d["cached_plans"] = sess_->cached_plans();
    d["constant_bytes"] = sess_->constant_bytes();
    d["threads"] = sess_->options().threads;
    d["isa"] = isa_name(sess_->options().isa);
    return d;
  }

  // Runs `runs` times and returns, per plan step, (node name, op type,
  // [ns of each run]): the per-node profile (Session.profile in api.py).
  py::list profile(const py::list& arrays, int runs) {
    if (runs < 1) fail(ErrorKind::Input, "profile: runs must be >= 1, got ", runs);
    Feeds f;
    feeds_from(arrays, f);
    std::shared_ptr<Plan> plan;
    {
      py::gil_scoped_release nogil;
      plan = sess_->plan_for(f.feeds);
    }
    const size_t n_steps = plan->steps.size();
    std::vector<int64_t> ns(n_steps * static_cast<size_t>(runs));
    for (int r = 0; r < runs; ++r) execute(*plan, f.feeds.data(), ns.data() + static_cast<size_t>(r) * n_steps);
    const Graph& g = sess_->graph();
    py::list out;
    for (size_t s = 0; s < n_steps; ++s) {
      const Node& node = g.nodes[plan->steps[s].node];
      py::list times;
      for (int r = 0; r < runs; ++r) times.append(ns[static_cast<size_t>(r) * n_steps + s]);
      out.append(py::make_tuple(node.name, node.op, times));
    }
    return out;
  }

  // [(node index, tag, read-only memoryview of the op's packed weights)];
  // the views are valid while this session lives (a .cnnrt writer's input).
  py::list export_packed() const {
    py::list r;
    for (const auto& kv : sess_->export_packed())
      r.append(py::make_tuple(kv.first, kv.second.tag,
                              py::memoryview::from_memory(const_cast<void*>(kv.second.data), static_cast<py::ssize_t>(kv.second.bytes), true)));
    return r;
  }

  // Per node, in graph order: (name, op type, the kernel it chose at load
  // or "" for the op's own loops, [output value names]): `cnnrt info`,
  // `cnnrt profile`, and `cnnrt check` (which values exist in both graphs).
  py::list kernels() const {
    py::list r;
    const Graph& g = sess_->graph();
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      py::list outs;
      for (int id : g.nodes[i].outputs)
        if (id >= 0) outs.append(g.values[id].name);
      r.append(py::make_tuple(g.nodes[i].name, g.nodes[i].op, sess_->op(i).describe(), outs));
    }
    return r;
  }

  // Per node (node order): (name of the node whose first weights it
  // prefetches, bytes), or None.
  py::list prefetch_links() const {
    py::list r;
    const Graph& g = sess_->graph();
    for (const auto& l : sess_->prefetch_links()) {
      if (l.first < 0)
        r.append(py::none());
      else
        r.append(py::make_tuple(g.nodes[l.first].name, l.second));
    }
    return r;
  }

  size_t arena_bytes(const py::list& arrays) {
    Feeds f;
    feeds_from(arrays, f);
    return sess_->plan_for(f.feeds)->arena_bytes;
  }

  // The plan's choice of one thread or all (Session::run): "undecided",
  // "parallel" or "serial"; `set` (tests) fixes it.
  std::string thread_mode(const py::list& arrays, const std::string& set) {
    Feeds f;
    feeds_from(arrays, f);
    std::shared_ptr<Plan> plan = sess_->plan_for(f.feeds);
    if (!set.empty()) {
      if (set != "parallel" && set != "serial") fail(ErrorKind::Input, "thread_mode: 'parallel' or 'serial', got '", set, "'");
      plan->thread_mode.store(set == "serial" ? Plan::Serial : Plan::Parallel);
    }
    const int m = plan->thread_mode.load();
    return m == Plan::Serial ? "serial" : m == Plan::Parallel ? "parallel" : "undecided";
  }

 private:
  // Allocates the outputs as numpy arrays and runs the plan into them,
  // without the GIL.
  py::list execute(Plan& plan, const Feed* feeds, int64_t* step_ns = nullptr) {
    const Graph& g = sess_->graph();
    const auto& api = py::detail::npy_api::get();
    const size_t n_out = g.outputs.size();
    py::list result(n_out);
    void* outs_stack[8];
    std::vector<void*> outs_heap;
    void** outs = outs_stack;
    if (n_out > 8) {
      outs_heap.resize(n_out);
      outs = outs_heap.data();
    }
    for (size_t i = 0; i < n_out; ++i) {
      const TensorMeta& m = plan.metas[g.outputs[i]];
      PyObject* descr = out_descr(m.dtype);
      Py_INCREF(descr);  // stolen by PyArray_NewFromDescr
      PyObject* a = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, static_cast<int>(m.shape.size()),
                                              reinterpret_cast<Py_intptr_t*>(const_cast<int64_t*>(m.shape.data())),
                                              nullptr, nullptr, 0, nullptr);
      if (!a) {
        if (!PyErr_ExceptionMatches(PyExc_MemoryError)) throw py::error_already_set();
        PyErr_Clear();  // as a std::bad_alloc in the runtime: a cnnrt error, naming the output
        fail(ErrorKind::Internal, "out of memory: graph output '", g.values[g.outputs[i]].name, "' of shape ",
             shape_str(m.shape), " cannot be allocated");
      }
      outs[i] = py::detail::array_proxy(a)->data;
      PyList_SET_ITEM(result.ptr(), static_cast<py::ssize_t>(i), a);  // steals
    }
    int64_t rows_stack[8];
    std::vector<int64_t> rows_heap;
    int64_t* rows = rows_stack;
    if (n_out > 8) {
      rows_heap.resize(n_out);
      rows = rows_heap.data();
    }
    {
      py::gil_scoped_release nogil;
      sess_->run(plan, feeds, outs, rows, step_ns);
    }
    // Data-dependent outputs (NonMaxSuppression): the leading rows the op
    // reported, copied out of the planned (upper-bound) buffer so that the
    // bound's bytes are not kept alive.
    for (size_t i = 0; i < n_out; ++i) {
      if (rows[i] < 0) continue;
      py::object a = result[i];
      result[i] = a[py::slice(0, rows[i], 1)].attr("copy")();
    }
    return result;
  }

  PyObject* out_descr(DType t) {
    switch (t) {
      case DType::F32: return f32_.ptr();
      case DType::I64: return i64_.ptr();
      case DType::BOOL: return bool_.ptr();
      default: fail(ErrorKind::Internal, "no numpy dtype for ", dtype_name(t));
    }
  }

  std::unique_ptr<Session> sess_;
  std::vector<py::str> input_names_;  // graph input names, for the dict lookups of run_dict
  py::dtype f32_ = np_dtype(DType::F32), i64_ = np_dtype(DType::I64), bool_ = np_dtype(DType::BOOL);
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "cnnrt C++ runtime (private; use the cnnrt package)";

  // Leaked on purpose: must outlive interpreter finalisation.
  static py::handle errors = py::module_::import("cnnrt.errors").release();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      const char* cls = "CnnrtError";
      switch (e.kind()) {
        case ErrorKind::ModelLoad: cls = "ModelLoadError"; break;
        case ErrorKind::Unsupported: cls = "UnsupportedOpError"; break;
        case ErrorKind::Input: cls = "InputError"; break;
        case ErrorKind::Internal: cls = "CnnrtError"; break;
      }
      PyErr_SetString(errors.attr(cls).ptr(), e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(errors.attr("CnnrtError").ptr(), "out of memory");
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's own (cast_error, index_error, ...): its translation
    } catch (const std::exception& e) {  // a library exception (std::length_error ...): still a cnnrt error
      PyErr_SetString(errors.attr("CnnrtError").ptr(), (std::string("internal error: ") + e.what()).c_str());
    }
  });

  py::class_<PySession>(m, "Session")
      .def(py::init<const std::string&, const py::list&, const py::list&, const std::vector<int>&, const std::vector<int>&,
                    const py::dict&, int, const std::string&, int, bool, const py::dict&, int64_t>(),
           py::arg("name"), py::arg("values"), py::arg("nodes"), py::arg("inputs"), py::arg("outputs"),
           py::arg("constants"), py::arg("threads"), py::arg("isa") = "", py::arg("max_plans") = 8,
           py::arg("borrow") = false, py::arg("prepacked") = py::dict(), py::arg("max_memory") = int64_t(16) << 30)
      .def("export_packed", &PySession::export_packed)
      .def("run", &PySession::run)
      .def("run_dict", &PySession::run_dict)
      .def("profile", &PySession::profile)
      .def("output_shapes", &PySession::output_shapes)
      .def("value_inputs", &PySession::value_inputs)
      .def("arena_bytes", &PySession::arena_bytes)
      .def("thread_mode", &PySession::thread_mode, py::arg("arrays"), py::arg("set") = "")
      .def("kernels", &PySession::kernels)
      .def("prefetch_links", &PySession::prefetch_links)
      .def("stats", &PySession::stats);

  // Load frees the original weights as it packs them, leaving holes in the
  // heap that malloc keeps (ResNet-50: ~100 MiB of RSS); returns them to the OS.
  m.def("release_free_memory", [] {
#if defined(__GLIBC__)
    py::gil_scoped_release nogil;
    malloc_trim(0);
#endif
  });
  m.def("weight_buffer", &weight_buffer, py::arg("nbytes"),
        "A uint8 array of nbytes on pages of their own, for the importer to read a weight into: "
        "a session takes the bytes of arrays viewing it without a copy.");
  m.def("isa_detected", [] { return std::string(isa_name(isa_detected())); });
  m.def("isa_current", [] { return std::string(isa_name(isa_current())); });
  m.def("set_isa", [](const std::string& name) { isa_set(isa_from_name(name.c_str())); });
  m.def("registered_ops", &registered_ops);
  // Test hook: the mode a small plan keeps from its probes' best times.
  m.def("thread_mode_choice", [](int64_t best_serial_ns, int64_t best_parallel_ns) {
    return std::string(Session::prefer_serial(best_serial_ns, best_parallel_ns) ? "serial" : "parallel");
  });
  // Test hook: the most bytes of the next layer's weights a layer prefetches.
  m.def("weight_prefetch_cap", [] { return Session::weight_prefetch_cap(); });
  m.def("pack_signature", [](const std::string& isa) { return pack_signature(isa_from_name(isa.c_str())); });
  m.def("info", [] {
    py::dict d;
    const auto& f = cpu_features();
    d["version"] = CNNRT_VERSION;
    d["build"] = CNNRT_BUILD_INFO;
    d["cpu"] = f.brand;
    d["isa_detected"] = isa_name(isa_detected());
    d["isa_current"] = isa_name(isa_current());
    py::dict feats;
    feats["avx2"] = f.avx2;
    feats["fma"] = f.fma;
    feats["avx512f"] = f.avx512f;
    feats["avx512bw"] = f.avx512bw;
    feats["avx512vl"] = f.avx512vl;
    feats["avx512dq"] = f.avx512dq;
    d["cpu_features"] = feats;
    d["l2_cache_bytes"] = f.l2_bytes;
    d["thread_pool"] = "cnnrt: caller + helper threads, tasks claimed dynamically; idle helpers spin 100 us, then sleep";
    py::list isas;
    for (int i = 0; i <= static_cast<int>(isa_detected()); ++i) isas.append(isa_name(static_cast<Isa>(i)));
    d["isa_available"] = isas;
#if defined(CNNRT_AVX512_EMULATED)
    d["avx512_emulated"] = true;  // CNNRT_AVX512_EMULATE: a test build, AVX-512 intrinsics emulated on AVX2
#else
    d["avx512_emulated"] = false;
#endif
    return d;
  });
  register_kernels(m);
}
