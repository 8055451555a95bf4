"""One adapter per runtime for bench_models.py: cnnrt, onnxruntime, OpenVINO
and ncnn are cnnrt's own (python/cnnrt/_bench/runtimes.py, shared with
`cnnrt bench`); MNN and LiteRT, whose converters need this folder's tooling,
are here. Each: its version, the conversion of the ONNX file into its own
format (cached in benchmarks/.cache), and a session whose `run(x)` takes the
NCHW float32 input and returns the first output as a float32 array in
ONNX's layout. Each adapter imports its library only when used, so that the
peak-RSS child process of one runtime loads no other.

    python benchmarks/runtimes.py rss RUNTIME ARTIFACT THREADS RUNS 1x3x224x224

is that child: it loads ARTIFACT (what prepare() returned), runs it RUNS
times and prints JSON with its peak RSS after the imports and at the end.

Never import MNN.tools: its telemetry module pip-installs a package that
downgrades protobuf below what onnx needs. The MNN converter is called as
`_tools.mnnconvert([...])` (the extension module itself) in a child process.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from _shared import load_shared

_rt = load_shared("runtimes")
Unavailable, Runtime, peak_rss_mib = _rt.Unavailable, _rt.Runtime, _rt.peak_rss_mib
_run, _derived_dir, _atomic_dir = _rt._run, _rt._derived_dir, _rt._atomic_dir

HERE = os.path.dirname(os.path.abspath(__file__))
_rt.CACHE = os.path.join(HERE, ".cache")
ALL = ["cnnrt", "onnxruntime", "openvino", "ncnn", "mnn", "litert"]
TFVENV = os.path.join(HERE, ".cache", "tfvenv")
# onnx2tf's limits: a model it cannot convert within them is "not available"
LITERT_CONVERT_SECONDS = int(os.environ.get("CNNRT_BENCH_ONNX2TF_SECONDS", 1800))
LITERT_CONVERT_MIB = int(os.environ.get("CNNRT_BENCH_ONNX2TF_MIB", 8192))


class Mnn(Runtime):
    name = "mnn"

    def version(self):
        try:
            import MNN
        except ImportError as e:
            raise Unavailable(f"not installed ({e})")
        return MNN.version()

    def prepare(self, onnx_path, input_shape):
        def build(tmp):
            out = os.path.join(tmp, "model.mnn")
            code = ("import sys, _tools; _tools.mnnconvert(['mnnconvert', '-f', 'ONNX', '--modelFile', sys.argv[1], "
                    "'--MNNModel', sys.argv[2], '--bizCode', 'cnnrt-bench'])")
            _run([sys.executable, "-c", code, os.path.abspath(onnx_path), out], "MNN convert")
            if not os.path.exists(out):
                raise Unavailable("the MNN converter wrote no model")

        return os.path.join(_atomic_dir(_derived_dir(onnx_path, "mnn"), build), "model.mnn")

    def session(self, artifact, threads, input_shape):
        import MNN

        it = MNN.Interpreter(artifact)
        sess = it.createSession({"backend": "CPU", "precision": "high", "numThread": threads})
        inp = it.getSessionInput(sess)
        out = it.getSessionOutput(sess)
        oshape = out.getShape()
        host = MNN.Tensor(oshape, MNN.Halide_Type_Float, np.zeros(oshape, np.float32),
                          MNN.Tensor_DimensionType_Caffe)

        def run(x):
            inp.copyFrom(MNN.Tensor(x.shape, MNN.Halide_Type_Float, x, MNN.Tensor_DimensionType_Caffe))
            it.runSession(sess)
            out.copyToHostTensor(host)
            return np.array(host.getNumpyData(), dtype=np.float32)

        run.keep = (it, sess)
        return run


class LiteRT(Runtime):
    """ai-edge-litert's interpreter (XNNPACK delegate) on a .tflite that
    onnx2tf converts from the ONNX file in a separate venv
    (benchmarks/.cache/tfvenv, see setup_tfvenv.sh), fed NHWC."""
    name = "litert"

    def version(self):
        try:
            from ai_edge_litert import interpreter  # noqa: F401
        except ImportError as e:
            raise Unavailable(f"ai-edge-litert not installed ({e})")
        from importlib.metadata import version

        if not os.path.exists(os.path.join(TFVENV, "bin", "onnx2tf")):
            raise Unavailable(f"no converter venv at {os.path.relpath(TFVENV, os.getcwd())} "
                              "(run benchmarks/setup_tfvenv.sh)")
        return version("ai-edge-litert")

    def prepare(self, onnx_path, input_shape):
        def build(tmp):
            _run([os.path.join(TFVENV, "bin", "python"), os.path.join(HERE, "tflite_convert.py"),
                  os.path.abspath(onnx_path), tmp], "onnx2tf", timeout=LITERT_CONVERT_SECONDS,
                 max_rss_mib=LITERT_CONVERT_MIB)
            if not os.path.exists(os.path.join(tmp, "model.tflite")):
                raise Unavailable("onnx2tf wrote no float32 .tflite")

        return os.path.join(_atomic_dir(_derived_dir(onnx_path, "litert"), build), "model.tflite")

    def session(self, artifact, threads, input_shape):
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=artifact, num_threads=threads)
        it.allocate_tensors()
        i = it.get_input_details()
        o = it.get_output_details()
        if len(i) != 1:
            raise Unavailable(f"{len(i)} inputs after conversion")
        iidx, oidx = i[0]["index"], o[0]["index"]

        def run(x):
            it.set_tensor(iidx, np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x)
            it.invoke()
            y = it.get_tensor(oidx)
            return y.transpose(0, 3, 1, 2) if y.ndim == 4 else y

        run.keep = it
        return run


RUNTIMES = dict(_rt.RUNTIMES)
RUNTIMES.update({r.name: r for r in (Mnn(), LiteRT())})


def rss_child(runtime, artifact, threads, runs, shape):
    _rt.rss_child(runtime, artifact, threads, runs, shape, RUNTIMES)


if __name__ == "__main__":
    _rt.main(sys.argv[1:], RUNTIMES, __doc__)
