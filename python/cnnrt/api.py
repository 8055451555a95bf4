"""The public API: load a model, run it."""
from __future__ import annotations

import operator
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core, fileformat
from .errors import CnnrtError, InputError, ModelLoadError, UnsupportedOpError
from .lower import lower

# The ONNX front end (and onnx itself) is imported when an ONNX model is
# compiled, not by `import cnnrt`: a .cnnrt file loads without it.

if TYPE_CHECKING:  # for the annotations only: onnx is imported by the importer when it runs
    import onnx

_NP_OF = {1: np.dtype(np.float32), 7: np.dtype(np.int64), 9: np.dtype(np.bool_)}


def default_threads() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            n = max(1, min(n, int(int(quota) // max(1, int(period)))))
    except (OSError, ValueError):
        pass
    return max(1, n)


class IOInfo:
    """Name, shape (symbolic dims as str, unknown as None) and dtype of a model input or output."""

    __slots__ = ("name", "shape", "dtype")

    def __init__(self, name, shape, dtype):
        self.name = name
        self.shape = shape
        self.dtype = dtype

    def __repr__(self):
        return f"IOInfo(name={self.name!r}, shape={self.shape!r}, dtype={self.dtype})"

    def __eq__(self, other):
        return isinstance(other, IOInfo) and (self.name, self.shape, self.dtype) == (other.name, other.shape, other.dtype)


class Session:
    """A loaded model. Create with :func:`cnnrt.load`.

    ``run`` has onnxruntime's signature; ``infer`` takes arrays positionally.
    A session may be used from several Python threads at once.
    """

    def __init__(self, model, threads: Optional[int] = None, *, max_plans: int = 8, isa: Optional[str] = None,
                 max_memory: Optional[int] = None):
        self._threads = default_threads() if threads is None else _check_threads(threads)
        self._max_plans = _check_max_plans(max_plans)
        self._max_memory = _check_max_memory(max_memory)
        self._isa_option = isa
        self._compiled = None  # a .cnnrt's checked contents (fileformat.Compiled), kept for save and pickle
        self._source = None    # an ONNX model's source, compiled again by save (its weights before packing)
        if fileformat.is_compiled(model):
            self._init_compiled(model)
            return
        from .onnx_import import check_supported, open_model, to_ir
        from .passes import run_pipeline

        proto, _, label, weights = open_model(model)
        self._source = _source_of(model)
        known = set(_core.registered_ops())
        try:
            graph = to_ir(proto, label, runtime_ops=known, weights=weights)
        finally:
            if weights is not None:
                weights.close()
        del proto, weights
        graph = run_pipeline(graph)
        check_supported(graph, known)
        self._label = label
        self.inputs = [IOInfo(v.name, list(v.shape) if v.shape is not None else None, v.dtype) for v in graph.inputs]
        self.outputs = [IOInfo(v.name, list(v.shape) if v.shape is not None else None, v.dtype) for v in graph.outputs]
        self.passes_applied = list(dict.fromkeys(graph.applied))
        self.node_count = len(graph.nodes)
        lowered = lower(graph)
        del graph  # consts now hold the only references to the weights, and _core.Session empties it
        self._start(lowered)

    def _init_compiled(self, model):
        isa = self._isa_option or _core.isa_current()
        try:
            sig = _core.pack_signature(isa)
        except CnnrtError as e:
            raise type(e)(f"isa={isa!r}: {e}") from None
        c = fileformat.read(model, isa, sig, _version())
        m = c.meta
        # Messages name the file (a pickled session's bytes: the model's own label).
        self._label = c.label if c.label != "<bytes>" else m["label"]
        self.inputs = [IOInfo(n, s, fileformat.io_dtype(d)) for n, s, d in m["inputs"]]
        self.outputs = [IOInfo(n, s, fileformat.io_dtype(d)) for n, s, d in m["outputs"]]
        self.passes_applied = list(m["passes"])
        self.node_count = m["node_count"]
        self._compiled = c
        try:
            self._start((c.values, c.nodes, c.inputs, c.outputs, dict(c.consts)), borrow=True, prepacked=c.prepacked)
        except (TypeError, ValueError, RuntimeError) as e:  # a field of the wrong type the reader let through
            raise ModelLoadError(f"model '{c.label}': inconsistent .cnnrt graph: {e}") from None
        c.prepacked = None  # the runtime holds what it uses

    def _start(self, lowered, borrow: bool = False, prepacked=None):
        values, nodes, inputs, outputs, consts = lowered
        label = self._label
        self._node_key = _node_key(nodes)
        try:
            self._core = _core.Session(label, values, nodes, inputs, outputs, consts, self._threads,
                                       self._isa_option or "", self._max_plans, borrow, prepacked or {},
                                       self._max_memory)
            # Work happens in load: a model whose inputs are all float32 with
            # static shapes has one possible plan; build it now, so that an
            # inconsistent graph fails here and the first run is not slower.
            if (self.inputs and all(_static_float(i) for i in self.inputs)
                    and not any(self._core.value_inputs())):  # e.g. Resize scales fed at run time
                for i in self.inputs:  # the zeros below must not be the allocation the cap forbids
                    nbytes = 4 * _prod(i.shape)
                    if nbytes > self._max_memory:
                        raise ModelLoadError(f"input '{i.name}' of shape {i.shape} needs {nbytes} bytes, more than "
                                             f"the session's memory cap max_memory={self._max_memory} bytes")
                zeros = _planning_inputs(self.inputs, label)
                if zeros is not None:
                    self._core.output_shapes(zeros)
        except CnnrtError as e:
            raise _labelled(e, label) from None
        except MemoryError:
            raise ModelLoadError(f"model '{label}': out of memory planning the model's static input shapes") from None
        _core.release_free_memory()
        self._input_names = [i.name for i in self.inputs]
        self._output_index = {o.name: k for k, o in enumerate(self.outputs)}

    def _compiled_chunks(self) -> List[bytes]:
        if self._compiled is not None:  # loaded from a .cnnrt: its bytes as they are
            return [self._compiled.buffer]
        if self._source is None:
            raise CnnrtError(f"model '{self._label}': cannot save a session loaded from a "
                             "bytearray or memoryview (load it from a path, bytes or an onnx.ModelProto)")
        lowered = _recompile(self._source, self._label)
        packed = self._core.export_packed()
        if _node_key(lowered[1]) != self._node_key:  # e.g. a ModelProto edited since load
            raise CnnrtError(f"model '{self._label}': cannot save: the model compiles to another graph than "
                             "when it was loaded (was it changed?); load it again")
        isa = self.isa
        meta = {"label": self._label, "inputs": fileformat.io_to_meta(self.inputs),
                "outputs": fileformat.io_to_meta(self.outputs), "passes": self.passes_applied,
                "node_count": self.node_count}
        return fileformat.build(lowered, packed, meta, isa, _version(), _core.pack_signature(isa))

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the compiled model (lowered graph + packed weights) to a
        .cnnrt file, which :func:`cnnrt.load` opens without onnx. The file
        is written under a temporary name and renamed: never half-written."""
        fileformat.write_file(path, self._compiled_chunks())

    def to_bytes(self) -> bytes:
        """The .cnnrt file's bytes (what save writes, and what pickle carries)."""
        return b"".join(bytes(c) for c in self._compiled_chunks())

    def __reduce__(self):
        # Pickles to its compiled form: a worker loads it without onnx and
        # without the source file; under another ISA it repacks.
        return (_unpickle, (self.to_bytes(), self._threads, self._max_plans, self._isa_option, self._max_memory))

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def isa(self) -> str:
        return self._core.stats()["isa"]

    def _feeds(self, feeds: Dict[str, object]) -> List[np.ndarray]:
        if not isinstance(feeds, dict):
            raise InputError(f"model '{self._label}': feeds must be a dict of input name -> array, got {type(feeds).__name__}")
        unknown = [k for k in feeds if k not in self._input_names]
        if unknown:
            raise InputError(
                f"model '{self._label}': unknown input name(s) {unknown}; the model's inputs are {self._input_names}"
            )
        arrays = []
        for info in self.inputs:
            if info.name not in feeds:
                raise InputError(f"model '{self._label}': missing input '{info.name}' (expected {info.dtype}, shape {info.shape})")
            arrays.append(_convert(feeds[info.name], info, self._label))
        return arrays

    def run(self, output_names: Optional[Sequence[str]], feeds: Dict[str, object], run_options=None) -> List[np.ndarray]:
        """Runs the model. ``output_names`` None means all outputs, in the model's order."""
        try:
            # Arrays that need no conversion (dtype, layout, rank and static
            # dims as declared) run straight from the dict; anything else
            # returns None and takes the path that converts or explains.
            results = self._core.run_dict(feeds)
            if results is None:
                results = self._core.run(self._feeds(feeds))
        except CnnrtError as e:
            raise _labelled(e, self._label) from None
        except MemoryError:  # the outputs' arrays: a plan under max_memory, a machine with less free
            raise CnnrtError(f"model '{self._label}': out of memory allocating this run's outputs") from None
        if output_names is None:
            return results
        picked = []
        for name in output_names:
            if name not in self._output_index:
                raise InputError(
                    f"model '{self._label}': unknown output name '{name}'; outputs are {list(self._output_index)}"
                )
            picked.append(results[self._output_index[name]])
        return picked

    def profile(self, feeds: Dict[str, object], runs: int = 10) -> List[dict]:
        """Runs the model ``runs`` times and times every step of its plan.

        Returns one dict per step, in execution order: ``name`` (the node,
        or the conversion the compiler inserted), ``op``, ``median_ms`` and
        ``min_ms`` over the runs, ``share`` (of the sum of the medians) and
        ``times_ms`` (each run's time, in order).
        The steps are timed one by one, so their sum is a little above the
        time of a plain run."""
        if not isinstance(runs, int) or runs < 1:
            raise InputError(f"model '{self._label}': profile runs must be a positive int, got {runs!r}")
        try:
            steps = self._core.profile(self._feeds(feeds), runs)
        except CnnrtError as e:
            raise _labelled(e, self._label) from None
        rows = [{"name": n, "op": op, "median_ms": float(np.median(ns)) / 1e6, "min_ms": min(ns) / 1e6,
                 "times_ms": [t / 1e6 for t in ns]} for n, op, ns in steps]
        total = sum(r["median_ms"] for r in rows) or 1.0
        for r in rows:
            r["share"] = r["median_ms"] / total
        return rows

    def infer(self, *arrays: Any, **named: Any) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
        """One array per input, positionally or by name; returns the output,
        or a tuple of outputs when the model has several."""
        if arrays and named:
            raise InputError("pass inputs positionally or by name, not both")
        if arrays:
            if len(arrays) != len(self.inputs):
                raise InputError(
                    f"model '{self._label}': expects {len(self.inputs)} input(s) {self._input_names}, got {len(arrays)}"
                )
            feeds = dict(zip(self._input_names, arrays))
        else:
            feeds = named
        results = self.run(None, feeds)
        return results[0] if len(results) == 1 else tuple(results)

    def __repr__(self):
        return f"<cnnrt.Session {self._label!r} inputs={self.inputs} outputs={self.outputs} threads={self._threads}>"


def _unpickle(data: bytes, threads: int, max_plans: int, isa: Optional[str],
              max_memory: Optional[int] = None) -> "Session":
    return Session(data, threads, max_plans=max_plans, isa=isa, max_memory=max_memory)


def _node_key(nodes) -> int:
    return hash(tuple((op, name, tuple(ins), tuple(outs)) for op, name, ins, outs, _ in nodes))


def _version() -> str:
    from . import __version__

    return __version__


def _source_of(model):
    """What save needs to compile the model again (its weights before
    packing, which the runtime freed): a path with its size and mtime, or
    the bytes / ModelProto object itself (a reference, not a copy)."""
    if isinstance(model, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(model))
        st = os.stat(path)
        return ("path", path, st.st_size, st.st_mtime_ns)
    if isinstance(model, bytes):
        return ("obj", model)
    if type(model).__name__ == "ModelProto":
        return ("obj", model)
    return None


def _recompile(source, label):
    from .onnx_import import open_model, to_ir
    from .passes import run_pipeline

    if source[0] == "path":
        _, path, size, mtime = source
        try:
            st = os.stat(path)
        except OSError as e:
            raise CnnrtError(f"model '{label}': cannot save: the ONNX file is gone ({e.strerror})") from None
        if (st.st_size, st.st_mtime_ns) != (size, mtime):
            raise CnnrtError(f"model '{label}': cannot save: the ONNX file changed since it was loaded; load it again")
        model = path
    else:
        model = source[1]
    proto, _, lbl, weights = open_model(model)
    try:
        graph = to_ir(proto, lbl, runtime_ops=set(_core.registered_ops()), weights=weights)
    finally:
        if weights is not None:
            weights.close()
    return lower(run_pipeline(graph))


def _static_float(info: IOInfo) -> bool:
    return (info.dtype == np.float32 and info.shape is not None
            and all(isinstance(d, int) and d >= 0 for d in info.shape))


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# Load plans for the declared input shapes with zero-filled arrays of that
# size; above this (a declared shape no caller could feed in memory) the plan
# is made at the first run instead, from the caller's arrays.
_PLAN_AT_LOAD_MAX_BYTES = 1 << 30


def _planning_inputs(inputs: List[IOInfo], label: str) -> Optional[List[np.ndarray]]:
    arrays = []
    for info in inputs:
        nbytes = 4
        for d in info.shape:
            nbytes *= d
        if nbytes >= 1 << 63:
            raise ModelLoadError(f"model '{label}': input '{info.name}' declares shape {info.shape}, "
                                 f"over 2^63 bytes of float32")
        if nbytes > _PLAN_AT_LOAD_MAX_BYTES:
            return None
        try:
            arrays.append(np.zeros(info.shape, np.float32))
        except (MemoryError, ValueError):  # ValueError: numpy's "array is too big" (a dim of 0 beside 2^62s)
            return None
    return arrays


def _labelled(e: CnnrtError, label: str) -> CnnrtError:
    """The runtime's messages name the node; prefix the model, as every
    cnnrt message does."""
    msg = str(e)
    if f"'{label}'" in msg:
        return e
    msg = f"model '{label}': {msg}"
    if isinstance(e, UnsupportedOpError):
        return UnsupportedOpError(msg, e.nodes)
    return type(e)(msg)


DEFAULT_MAX_MEMORY = 16 << 30


def default_max_memory() -> int:
    """The memory cap of a session that names none: 16 GiB, or the
    machine's physical memory where that is less."""
    try:
        phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        phys = 0
    return min(DEFAULT_MAX_MEMORY, phys) if phys > 0 else DEFAULT_MAX_MEMORY


def _check_max_memory(max_memory) -> int:
    if max_memory is None:
        return default_max_memory()
    try:
        m = operator.index(max_memory)
    except TypeError:
        m = None
    if m is None or isinstance(max_memory, bool) or not 1 <= m < 1 << 63:
        raise ValueError(f"max_memory must be a positive number of bytes (an int), or None for the default; got {max_memory!r}")
    return m


def _check_max_plans(max_plans) -> int:
    try:
        m = operator.index(max_plans)
    except TypeError:
        m = None
    if m is None or isinstance(max_plans, bool) or not 1 <= m <= 1 << 20:
        raise ValueError(f"max_plans must be an integer in [1, 1048576]; got {max_plans!r}")
    return m


def _check_threads(threads) -> int:
    try:
        t = operator.index(threads)
    except TypeError:
        t = None
    if t is None or isinstance(threads, bool) or not 1 <= t <= 1024:
        raise ValueError(f"threads must be an integer in [1, 1024], or None for the CPUs this process may use; got {threads!r}")
    return t


def _convert(value, info: IOInfo, label: str) -> np.ndarray:
    if value is None:
        raise InputError(f"{_where(label, info)}: got None, expected an array of {info.dtype}")
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError, OverflowError) as e:  # a ragged list, ...
            raise InputError(f"{_where(label, info)}: cannot be read as an array ({e})") from None
    want = info.dtype
    got = arr.dtype
    if got == object or got.kind in "USVOcM":
        raise InputError(f"{_where(label, info)}: expected {want}, received an array of dtype {got}")
    if want == np.float32:
        if got.kind != "f":
            raise InputError(f"{_where(label, info)}: expected float32, received {got} (convert it explicitly if that is intended)")
        if got != np.float32:
            arr = arr.astype(np.float32)
    elif want == np.int64:
        if got.kind not in "iu":
            raise InputError(f"{_where(label, info)}: expected int64, received {got}")
        if got != np.int64:
            arr = arr.astype(np.int64)
    elif want == np.bool_:
        if got != np.bool_:
            raise InputError(f"{_where(label, info)}: expected bool, received {got}")
    if not arr.flags.c_contiguous or not arr.dtype.isnative:
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
    if info.shape is not None and arr.ndim != len(info.shape):
        raise InputError(f"{_where(label, info)}: expected rank {len(info.shape)} (shape {info.shape}), received rank {arr.ndim} (shape {list(arr.shape)})")
    if info.shape is not None:
        for k, (d, e) in enumerate(zip(arr.shape, info.shape)):
            if isinstance(e, int) and d != e:
                raise InputError(f"{_where(label, info)}: expected shape {info.shape}, received {list(arr.shape)} (dimension {k} must be {e})")
    return arr


def _where(label: str, info: IOInfo) -> str:  # built only for a message: run() calls _convert per input
    return f"model '{label}', input '{info.name}'"


def load(model: Union[str, "os.PathLike[str]", bytes, "onnx.ModelProto"], threads: Optional[int] = None,  # noqa: F821
         **options: Any) -> Session:
    """Load a model: an ONNX file or a compiled .cnnrt file (told apart by
    its first bytes, not its name), from a path or bytes, or an
    onnx.ModelProto."""
    return Session(model, threads, **options)


def infer(model: Union[str, "os.PathLike[str]", bytes, "onnx.ModelProto"], *arrays: Any,  # noqa: F821
          threads: Optional[int] = None, **named: Any) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
    """One-shot: load ``model`` and run it on the given input(s)."""
    return load(model, threads=threads).infer(*arrays, **named)


def supported_ops() -> List[str]:
    return sorted(_core.registered_ops())


def info() -> Dict[str, Any]:
    """Version, CPU and its features, L2 per core (l2_cache_bytes; it sizes
    cache blocks), ISA detected and chosen (isa_current),
    the thread pool and default threads, and the build (compiler, flags)."""
    d = dict(_core.info())
    if not d.get("version"):  # a CMake build outside scikit-build defines it empty
        from . import __version__

        d["version"] = __version__
    d["default_threads"] = default_threads()
    return d
