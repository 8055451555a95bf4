"""One adapter per runtime for bench_models.py: its version, the conversion
of the ONNX file into its own format (cached beside the ONNX file), and a
session whose `run(x)` takes the NCHW float32 input and returns the first
output as a float32 array in ONNX's layout. Each adapter imports its library
only when used, so that the peak-RSS child process of one runtime loads no
other.

    python benchmarks/runtimes.py rss RUNTIME ARTIFACT THREADS RUNS 1x3x224x224

is that child: it loads ARTIFACT (what prepare() returned), runs it RUNS
times and prints JSON with its peak RSS after the imports and at the end.

Never import MNN.tools: its telemetry module pip-installs a package that
downgrades protobuf below what onnx needs. The MNN converter is called as
`_tools.mnnconvert([...])` (the extension module itself) in a child process.
"""
from __future__ import annotations

import abc
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ALL = ["cnnrt", "onnxruntime", "openvino", "ncnn", "mnn", "litert"]
TFVENV = os.path.join(HERE, ".cache", "tfvenv")
# onnx2tf's limits: a model it cannot convert within them is "not available"
LITERT_CONVERT_SECONDS = int(os.environ.get("CNNRT_BENCH_ONNX2TF_SECONDS", 1800))
LITERT_CONVERT_MIB = int(os.environ.get("CNNRT_BENCH_ONNX2TF_MIB", 8192))


class Unavailable(Exception):
    """The runtime is not installed, or cannot convert or run this model; the
    message is the reason shown in the results."""


def _rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _run(cmd, what, timeout=3600, max_rss_mib=None, **kw):
    """Runs a converter; its failure, a time-out or (with max_rss_mib) a
    resident size past that cap ends it and raises Unavailable with the
    reason. The cap protects a shared machine: onnx2tf on VGG-16 grows past
    11 GiB."""
    with tempfile.TemporaryFile("w+") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, **kw)
        t0, peak, why = time.time(), 0.0, None
        while p.poll() is None:
            time.sleep(0.5)
            peak = max(peak, _rss_mib(p.pid))
            if max_rss_mib is not None and peak > max_rss_mib:
                why = f"stopped at {peak / 1024:.1f} GiB resident (the cap is {max_rss_mib / 1024:.0f} GiB)"
            elif time.time() - t0 > timeout:
                why = f"stopped after {timeout} s"
            if why:
                p.kill()
                p.wait()
                raise Unavailable(f"{what} {why}")
        log.seek(0)
        out = log.read()
    if p.returncode != 0:
        tail = " | ".join(line.strip() for line in out.strip().splitlines()[-3:])
        raise Unavailable(f"{what} failed (exit {p.returncode}): {tail}")
    return out


def _derived_dir(onnx_path, kind):
    """benchmarks/.cache/<kind>/<stem>-<hash of the ONNX file's size and mtime>/"""
    st = os.stat(onnx_path)
    key = hashlib.sha1(f"{os.path.abspath(onnx_path)}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:10]
    stem = os.path.splitext(os.path.basename(onnx_path))[0]
    return os.path.join(HERE, ".cache", kind, f"{stem}-{key}")


def _atomic_dir(final, build):
    """Runs build(tmpdir) and renames tmpdir to final: a failed or interrupted
    conversion leaves no half-written cache entry. A conversion that failed
    (Unavailable) is remembered in final + ".failed" and not tried again
    until that file is deleted: some take many minutes to fail."""
    if os.path.isdir(final):
        return final
    failed = final + ".failed"
    if os.path.exists(failed):
        with open(failed) as f:
            raise Unavailable(f"{f.read().strip()} (remembered: delete {os.path.relpath(failed)} to retry)")
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        build(tmp)
    except Unavailable as e:
        shutil.rmtree(tmp, ignore_errors=True)
        with open(failed, "w") as f:
            f.write(str(e))
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.rename(tmp, final)
    return final


class Runtime(abc.ABC):
    name = ""

    @abc.abstractmethod
    def version(self):
        """The version string; raises Unavailable when not installed."""

    def prepare(self, onnx_path, input_shape):
        """Converts (cached) and returns what session() loads."""
        return onnx_path

    @abc.abstractmethod
    def session(self, artifact, threads, input_shape):
        """Returns run(x) -> first output (float32, ONNX layout)."""


class Cnnrt(Runtime):
    name = "cnnrt"

    def version(self):
        try:
            import cnnrt
        except ImportError as e:
            raise Unavailable(f"not installed ({e})")
        info = cnnrt.info()
        return f"{info['version']} ({info['isa_current']})"

    def session(self, artifact, threads, input_shape):
        import cnnrt

        sess = cnnrt.load(artifact, threads=threads)
        name = sess.inputs[0].name
        return lambda x: sess.run(None, {name: x})[0]


class OnnxRuntime(Runtime):
    name = "onnxruntime"

    def version(self):
        try:
            import onnxruntime
        except ImportError as e:
            raise Unavailable(f"not installed ({e})")
        return onnxruntime.__version__

    def session(self, artifact, threads, input_shape):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(artifact, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return lambda x: sess.run(None, {name: x})[0]


class OpenVINO(Runtime):
    name = "openvino"

    def version(self):
        try:
            import openvino
        except ImportError as e:
            raise Unavailable(f"not installed ({e})")
        return openvino.__version__.split("-")[0]

    def session(self, artifact, threads, input_shape):
        import openvino as ov

        core = ov.Core()
        # f32: on CPUs with AVX512-BF16/AMX OpenVINO computes in bf16 by default
        compiled = core.compile_model(core.read_model(artifact), "CPU", {
            "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
        req = compiled.create_infer_request()

        def run(x):
            req.infer({0: x})
            return req.get_output_tensor(0).data.copy()

        return run


def _pnnx_binary():
    """The pnnx executable inside the pnnx package, found without importing
    the package (its __init__ imports torch, which would count in ncnn's RSS)."""
    import importlib.util

    spec = importlib.util.find_spec("pnnx")
    if spec is None or not spec.submodule_search_locations:
        return None
    exe = os.path.join(list(spec.submodule_search_locations)[0], "pnnx")
    return exe if os.access(exe, os.X_OK) else None


class Ncnn(Runtime):
    name = "ncnn"

    def version(self):
        try:
            import ncnn
        except ImportError as e:
            raise Unavailable(f"not installed ({e})")
        if _pnnx_binary() is None:
            raise Unavailable("pnnx (the ONNX -> ncnn converter) not installed: pip install pnnx")
        return ncnn.__version__

    def prepare(self, onnx_path, input_shape):
        def build(tmp):
            src = os.path.join(tmp, "model.onnx")
            os.symlink(os.path.abspath(onnx_path), src)
            shape = "[" + ",".join(map(str, input_shape)) + "]"
            _run([_pnnx_binary(), src, f"inputshape={shape}", "fp16=0",
                  "device=cpu"], "pnnx", cwd=tmp)
            for f in os.listdir(tmp):
                if f not in ("model.ncnn.param", "model.ncnn.bin"):
                    os.remove(os.path.join(tmp, f))
            if not os.path.exists(os.path.join(tmp, "model.ncnn.param")):
                raise Unavailable("pnnx wrote no model.ncnn.param")

        d = _atomic_dir(_derived_dir(onnx_path, "ncnn"), build)
        return os.path.join(d, "model.ncnn")

    def session(self, artifact, threads, input_shape):
        import ncnn

        net = ncnn.Net()
        opt = net.opt
        opt.use_vulkan_compute = False
        for k in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage",
                  "use_bf16_packed"):
            setattr(opt, k, False)
        opt.num_threads = threads
        if net.load_param(artifact + ".param") != 0 or net.load_model(artifact + ".bin") != 0:
            raise Unavailable("ncnn could not load the converted model")
        names = (net.input_names(), net.output_names())
        if len(names[0]) != 1:
            raise Unavailable(f"{len(names[0])} inputs after conversion")

        def run(x):
            ex = net.create_extractor()
            ex.input(names[0][0], ncnn.Mat(x[0]))
            ret, out = ex.extract(names[1][0])
            return np.array(out)

        run.net = net  # keeps the Net alive with the closure
        return run


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


RUNTIMES = {r.name: r for r in (Cnnrt(), OnnxRuntime(), OpenVINO(), Ncnn(), Mnn(), LiteRT())}


def peak_rss_mib():
    """This process image's peak RSS. Linux's ru_maxrss would do, except that
    it carries the forking parent's RSS across exec (the kernel keeps the max
    of the pre-exec mm), so a child of a 1 GiB harness reports >= 1 GiB;
    /proc/self/status VmHWM is the high-water mark of the new image alone."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def rss_child(runtime, artifact, threads, runs, shape):
    """Loads, runs `runs` times, prints the peak RSS (MiB) after the imports and at the end."""
    rt = RUNTIMES[runtime]
    rt.version()  # imports the library
    base = peak_rss_mib()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    run = rt.session(artifact, threads, shape)
    for _ in range(runs):
        run(x)
    print(json.dumps({"base_mib": base, "peak_mib": peak_rss_mib()}))


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "rss":
        rss_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                  tuple(int(d) for d in sys.argv[6].split("x")))
    else:
        sys.exit(__doc__)
