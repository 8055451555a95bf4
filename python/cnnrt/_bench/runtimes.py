"""One adapter per runtime, shared by `cnnrt bench` and benchmarks/ (whose
runtimes.py adds MNN and LiteRT): its version, the conversion of the ONNX file
into its own format (cached, see CACHE), and a session whose `run(x)` takes
the NCHW float32 input and returns the first output as a float32 array in
ONNX's layout. Each adapter imports its library only when used, so that the
peak-RSS child process of one runtime loads no other; this module imports
nothing from cnnrt for the same reason.

    python .../cnnrt/_bench/runtimes.py rss RUNTIME ARTIFACT THREADS RUNS 1x3x224x224

is that child: it loads ARTIFACT (what prepare() returned), runs it RUNS
times and prints JSON with its peak RSS after the imports and at the end.
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

ALL = ["cnnrt", "onnxruntime", "openvino", "ncnn"]
# Where converted models are cached (benchmarks/runtimes.py sets its own
# benchmarks/.cache); CNNRT_BENCH_CACHE overrides the default.
CACHE = os.environ.get("CNNRT_BENCH_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "cnnrt", "bench")


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
    """CACHE/<kind>/<stem>-<hash of the ONNX file's size and mtime>/"""
    st = os.stat(onnx_path)
    key = hashlib.sha1(f"{os.path.abspath(onnx_path)}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:10]
    stem = os.path.splitext(os.path.basename(onnx_path))[0]
    return os.path.join(CACHE, kind, f"{stem}-{key}")


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
    # OpenVINO computes in bf16 by default on CPUs with AVX512-BF16/AMX;
    # True leaves it its default (`cnnrt bench --allow-bf16`).
    allow_bf16 = False

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
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        if not self.allow_bf16:
            config = {"INFERENCE_PRECISION_HINT": "f32", **config}
        compiled = core.compile_model(core.read_model(artifact), "CPU", config)
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


RUNTIMES = {r.name: r for r in (Cnnrt(), OnnxRuntime(), OpenVINO(), Ncnn())}


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


def rss_child(runtime, artifact, threads, runs, shape, runtimes=None):
    """Loads, runs `runs` times, prints the peak RSS (MiB) after the imports and at the end."""
    rt = (runtimes or RUNTIMES)[runtime]
    rt.version()  # imports the library
    base = peak_rss_mib()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    run = rt.session(artifact, threads, shape)
    for _ in range(runs):
        run(x)
    print(json.dumps({"base_mib": base, "peak_mib": peak_rss_mib()}))


def main(argv, runtimes=None, doc=__doc__):
    if len(argv) == 6 and argv[0] == "rss":
        rss_child(argv[1], argv[2], int(argv[3]), int(argv[4]), tuple(int(d) for d in argv[5].split("x")), runtimes)
    else:
        sys.exit(doc)


if __name__ == "__main__":
    main(sys.argv[1:])
