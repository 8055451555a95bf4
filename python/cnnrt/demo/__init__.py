"""Bundled demo: LeNet-5 classifying scikit-learn's 8x8 digits (upsampled).

Files shipped in this directory:

* ``lenet5_digits.onnx`` - LeNet-5, input ``input`` float32 [batch,1,32,32],
  output ``logits`` float32 [batch,10] (raw logits; argmax is the class).
* ``digits_test.npz``    - 450 held-out images (``images`` float32
  [N,1,32,32], values 0..1) and their ``labels`` (int64 [N]).
* ``train_lenet.py``     - the script that re-creates both (needs torch and
  scikit-learn, which are *not* dependencies of cnnrt).

Usage::

    import cnnrt.demo
    cnnrt.demo.run_demo()             # prints a report, returns a dict
"""
import os
import statistics
import time

import numpy as np

__all__ = ["run_demo", "model_path", "data_path", "load_test_data"]

_HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_FILE = "lenet5_digits.onnx"
DATA_FILE = "digits_test.npz"

_WARMUP = 10


def model_path():
    """Absolute path of the bundled ONNX model."""
    return os.path.join(_HERE, MODEL_FILE)


def data_path():
    """Absolute path of the bundled held-out test set."""
    return os.path.join(_HERE, DATA_FILE)


def load_test_data():
    """Return ``(images float32 [N,1,32,32], labels int64 [N])``."""
    with np.load(data_path()) as d:
        images = np.ascontiguousarray(d["images"], dtype=np.float32)
        labels = np.asarray(d["labels"], dtype=np.int64)
    return images, labels


def _first(result):
    """``Session.infer`` returns an ndarray, or a tuple if several outputs."""
    return result[0] if isinstance(result, (tuple, list)) else result


def run_demo(threads=None, out=print):
    """Classify the held-out digits with cnnrt and report accuracy/latency.

    Parameters
    ----------
    threads : int or None
        Passed to ``cnnrt.load(..., threads=threads)``; when given, it is also
        used as onnxruntime's ``intra_op_num_threads`` so the comparison uses
        the same thread count.  ``None`` means each runtime's default.
    out : callable
        Called with each line of the report (``print`` by default; pass
        ``lambda s: None`` to silence it).

    Returns
    -------
    dict with keys ``accuracy`` (fraction 0..1), ``cnnrt_ms`` (median
    per-image latency of batch-1 calls, milliseconds), ``ort_ms`` (same for
    onnxruntime, or ``None`` if onnxruntime is not installed) and ``n``
    (number of images).
    """
    import cnnrt

    images, labels = load_test_data()
    n = len(labels)
    sess = cnnrt.load(model_path(), threads=threads)

    # 1) whole test set as one batch -> accuracy
    logits = np.asarray(sess.run(None, {"input": images})[0])
    preds = logits.argmax(axis=1)
    acc = float((preds == labels).mean())

    # optional reference runtime
    ort_sess = None
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        so = ort.SessionOptions()
        if threads is not None:
            so.intra_op_num_threads = int(threads)
        ort_sess = ort.InferenceSession(model_path(), so,
                                        providers=["CPUExecutionProvider"])
        ort_in = ort_sess.get_inputs()[0].name

    # 2) per-image latency, batch-1 calls, interleaved with onnxruntime
    singles = [images[i:i + 1] for i in range(n)]
    for i in range(min(_WARMUP, n)):
        sess.infer(singles[i])
        if ort_sess is not None:
            ort_sess.run(None, {ort_in: singles[i]})
    t_cnnrt, t_ort = [], []
    single_preds = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    for i, x in enumerate(singles):
        t0 = clock()
        y = sess.infer(x)
        t1 = clock()
        t_cnnrt.append(t1 - t0)
        single_preds[i] = int(np.asarray(_first(y)).argmax())
        if ort_sess is not None:
            t0 = clock()
            ort_sess.run(None, {ort_in: x})
            t1 = clock()
            t_ort.append(t1 - t0)
    cnnrt_ms = statistics.median(t_cnnrt) / 1e6
    ort_ms = statistics.median(t_ort) / 1e6 if t_ort else None
    mismatch = int((single_preds != preds).sum())

    # report
    out("cnnrt demo: LeNet-5 on scikit-learn digits (8x8 upsampled to 32x32)")
    out(f"  threads          : {'default' if threads is None else threads}")
    out(f"  images           : {n}")
    out(f"  accuracy (batch) : {acc * 100:.2f}%  "
        f"({int((preds == labels).sum())}/{n} correct)")
    if mismatch:
        out(f"  WARNING: batch-1 and batched predictions differ on "
            f"{mismatch} image(s)")
    out(f"  cnnrt latency    : {cnnrt_ms * 1e3:.1f} us/image "
        f"(median of {n} batch-1 calls)")
    k = min(8, n)
    out(f"  first {k} (pred/true): " + " ".join(
        f"{p}/{t}" for p, t in zip(preds[:k].tolist(), labels[:k].tolist())))
    if ort_ms is not None:
        out(f"  onnxruntime      : {ort_ms * 1e3:.1f} us/image "
            f"(v{ort.__version__}, same images, interleaved)")
        out(f"  ratio ort/cnnrt  : {ort_ms / cnnrt_ms:.2f}x "
            f"(> 1 means cnnrt is faster)")
    else:
        out("  onnxruntime not installed; skipping the comparison")

    return {"accuracy": acc, "cnnrt_ms": cnnrt_ms, "ort_ms": ort_ms, "n": n}
