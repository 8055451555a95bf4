"""ONNX conformance cases for cnnrt, shared by the tests and regen_manifest.py.

Two sources, both from the installed ``onnx`` wheel:
- node cases, generated in memory by ``onnx.backend.test.case.node``: one
  single-node model per case (plus its ``_expanded`` function-body variant
  where the op has one), with inputs, expected outputs and tolerances;
- model cases from the wheel's data folders (``pytorch-converted``,
  ``pytorch-operator``, ``simple``): ``model.onnx`` and
  ``test_data_set_N/{input,output}_N.pb``.

A case whose model uses an op outside cnnrt's op set is skipped with that
reason, computed from the model; every other case cnnrt does not run is
listed, with its reason, in skip_manifest.json.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import numpy_helper

import cnnrt

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST_PATH = os.path.join(HERE, "skip_manifest.json")

# The op types cnnrt runs (the project's op list). Constant is folded by the
# importer. A case using any other op is outside cnnrt's scope.
OP_SET = (
    "Conv MaxPool AveragePool GlobalAveragePool GlobalMaxPool Relu LeakyRelu PRelu Elu Selu Sigmoid Tanh "
    "HardSigmoid HardSwish Clip Softmax LogSoftmax BatchNormalization LRN Gemm MatMul Flatten Reshape Transpose "
    "Concat Add Sub Mul Div Sum Dropout Identity Constant ConstantOfShape Shape Gather Unsqueeze Squeeze "
    "Pad Slice Split Tile Expand Range Cast Where Equal Greater Less GreaterOrEqual LessOrEqual Not And Or Xor "
    "Min Max Mean Pow DepthToSpace SpaceToDepth "
    "Sqrt Exp Log Abs Neg Reciprocal Floor Ceil Round Sign Erf Gelu Mish Softplus Softsign Celu ThresholdedRelu "
    "ReduceMean ReduceMax ReduceMin ReduceSum ReduceProd ReduceL1 ReduceL2 ReduceSumSquare ReduceLogSum "
    "ReduceLogSumExp ArgMax ArgMin TopK LpNormalization "
    "ConvTranspose Resize Upsample "
    "InstanceNormalization LayerNormalization GroupNormalization LSTM GRU NonMaxSuppression"
).split()

DATA_KINDS = ("pytorch-converted", "pytorch-operator", "simple")

# The onnx backend test runner's defaults (onnx/backend/test/loader: a
# case's data.json may override them).
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-7


def op_set() -> set:
    """The project's op list plus anything the runtime registers beyond it."""
    return set(OP_SET) | set(cnnrt.supported_ops())


@dataclass
class Case:
    id: str                      # "node/<name>" or "<kind>/<name>": the manifest key
    op: Optional[str]            # the op under test (node cases), None for data-folder models
    rtol: float
    atol: float
    _model: Callable[[], onnx.ModelProto]
    _data: Callable[[], List[Tuple[Sequence[np.ndarray], Sequence[np.ndarray]]]]
    ops: Tuple[str, ...] = field(default=())  # every op type the model uses (subgraphs included)

    def model(self) -> onnx.ModelProto:
        return self._model()

    def data_sets(self):
        return self._data()

    def outside_ops(self) -> List[str]:
        """Ops the model uses that are outside cnnrt's op set (sorted)."""
        known = op_set()
        return sorted({o for o in self.ops if o not in known})


def _graph_ops(g: onnx.GraphProto, acc: set) -> None:
    for n in g.node:
        acc.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}")
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _graph_ops(a.g, acc)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sg in a.graphs:
                    _graph_ops(sg, acc)


def model_ops(m: onnx.ModelProto) -> Tuple[str, ...]:
    acc: set = set()
    _graph_ops(m.graph, acc)
    return tuple(sorted(acc))


# ----------------------------------------------------------------- node cases

def _base_name(name: str) -> str:
    i = name.find("_expanded")
    return name if i < 0 else name[:i]


def node_cases() -> List[Case]:
    """The generated cases of every op in OP_SET, expanded variants included
    (exactly what ``collect_testcases(op)`` yields for each op)."""
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    # collect_testcases registers cases while importing the case modules, so
    # only the first call in a process sees them all: collect everything once
    # and attribute each case to the op of its single-node base case.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        every = list(collect_testcases(None))
    op_of: Dict[str, str] = {}
    for tc in every:
        if "_expanded" not in tc.name and len(tc.model.graph.node) == 1:
            op_of[tc.name] = tc.model.graph.node[0].op_type
    wanted = set(OP_SET)
    out = []
    for tc in every:
        op = op_of.get(_base_name(tc.name))
        if op not in wanted:
            continue
        out.append(Case(
            id=f"node/{tc.name}", op=op, rtol=tc.rtol, atol=tc.atol,
            _model=(lambda m=tc.model: m), _data=(lambda d=tc.data_sets: list(d)),
            ops=model_ops(tc.model),
        ))
    out.sort(key=lambda c: c.id)
    return out


# ---------------------------------------------------------- data-folder cases

def data_dir() -> str:
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def _read_tensor(path: str) -> np.ndarray:
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def _load_data_sets(case_dir: str):
    sets = []
    for d in sorted(glob.glob(os.path.join(case_dir, "test_data_set*"))):
        n_in = len(glob.glob(os.path.join(d, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(d, "output_*.pb")))
        ins = [_read_tensor(os.path.join(d, f"input_{i}.pb")) for i in range(n_in)]
        outs = [_read_tensor(os.path.join(d, f"output_{i}.pb")) for i in range(n_out)]
        sets.append((ins, outs))
    return sets


def data_cases() -> List[Case]:
    out = []
    for kind in DATA_KINDS:
        root = os.path.join(data_dir(), kind)
        if not os.path.isdir(root):
            continue
        for name in sorted(os.listdir(root)):
            case_dir = os.path.join(root, name)
            path = os.path.join(case_dir, "model.onnx")
            if not os.path.isfile(path):
                continue
            rtol, atol = DEFAULT_RTOL, DEFAULT_ATOL
            meta = os.path.join(case_dir, "data.json")
            if os.path.isfile(meta):
                with open(meta) as f:
                    d = json.load(f)
                rtol, atol = d.get("rtol", rtol), d.get("atol", atol)
            m = onnx.load(path, load_external_data=False)
            out.append(Case(
                id=f"{kind}/{name}", op=None, rtol=rtol, atol=atol,
                _model=(lambda p=path: onnx.load(p, load_external_data=False)),
                _data=(lambda c=case_dir: _load_data_sets(c)),
                ops=model_ops(m),
            ))
    return out


def all_cases() -> List[Case]:
    return node_cases() + data_cases()


# ------------------------------------------------------------------- running

def feeds_for(model: onnx.ModelProto, inputs: Sequence[np.ndarray]) -> Dict[str, np.ndarray]:
    """input_i belongs to the i-th graph input that is not an initializer, as
    in the onnx runner (node cases list only real inputs)."""
    inits = {t.name for t in model.graph.initializer}
    names = [vi.name for vi in model.graph.input if vi.name not in inits]
    if len(inputs) > len(names):
        # Some IR-3 data sets also hold the initializer-backed inputs.
        names = [vi.name for vi in model.graph.input]
    return {n: np.asarray(a) for n, a in zip(names, inputs)}


def isa_paths() -> List[str]:
    """Every kernel path this CPU runs (ref, avx2, avx512...)."""
    return list(cnnrt._core.info()["isa_available"])


def run_case(case: Case, isas: Optional[Sequence[str]] = None) -> None:
    """Loads the case's model into cnnrt once per kernel path (every path
    this CPU has, unless ``isas`` names some) and checks every data set:
    number of outputs, shape, dtype, then values with the case's rtol/atol
    (np.testing.assert_allclose). Raises AssertionError or a cnnrt error."""
    model = case.model()
    data = case.data_sets()
    for isa in (isas or isa_paths()):
        sess = cnnrt.load(model, isa=isa)
        for k, (inputs, expected) in enumerate(data):
            got = sess.run(None, feeds_for(model, inputs))
            where = f"{case.id} (isa {isa}) data set {k}"
            assert len(got) == len(expected), f"{where}: {len(got)} outputs, expected {len(expected)}"
            for i, (g, e) in enumerate(zip(got, expected)):
                e = np.asarray(e)
                g = np.asarray(g)
                assert g.shape == e.shape, f"{where}, output {i}: shape {g.shape}, expected {e.shape}"
                assert g.dtype == e.dtype, f"{where}, output {i}: dtype {g.dtype}, expected {e.dtype}"
                np.testing.assert_allclose(g, e, rtol=case.rtol, atol=case.atol, err_msg=f"{where}, output {i}")


def manifest_onnx_version(path: str = MANIFEST_PATH) -> str:
    """The onnx release (major.minor) whose cases the manifest lists."""
    with open(path) as f:
        return str(json.load(f).get("onnx", ""))


def installed_onnx_version() -> str:
    return ".".join(onnx.__version__.split(".")[:2])


def load_manifest(path: str = MANIFEST_PATH) -> Dict[str, str]:
    """{case id: reason}. The file is JSON: {"about": [...], "onnx": "<major.minor>",
    "skips": {"<case id>": "<reason>", ...}}; a key listed twice or an empty reason is an error."""
    def no_duplicates(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise ValueError(f"{path}: '{k}' is listed twice")
            seen[k] = v
        return seen

    with open(path) as f:
        data = json.load(f, object_pairs_hook=no_duplicates)
    skips = data.get("skips", {})
    for k, v in skips.items():
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"{path}: entry '{k}' has no reason")
    return dict(skips)


def missing_ops(exc: BaseException) -> List[str]:
    """Ops of the model that the runtime has not registered, from an
    UnsupportedOpError raised by the importer (empty for any other error)."""
    if not isinstance(exc, cnnrt.UnsupportedOpError):
        return []
    return sorted({op for _, op, reason in exc.nodes if reason == "op not implemented"})
