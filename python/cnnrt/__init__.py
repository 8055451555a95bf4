"""cnnrt: a CPU inference engine for convolutional neural networks.

    import cnnrt
    sess = cnnrt.load("model.onnx")
    y = sess.infer(x)
"""
from .errors import CnnrtError, InputError, ModelLoadError, UnsupportedOpError  # noqa: F401  (first: _core imports it)
from . import _core  # noqa: F401
from .api import IOInfo, Session, default_threads, infer, info, load, supported_ops

try:
    from importlib.metadata import version as _version

    __version__ = _version("cnnrt")
except Exception:  # pragma: no cover - running from a source tree
    __version__ = "0.1.0"

__all__ = [
    "load", "infer", "Session", "IOInfo", "info", "supported_ops", "default_threads",
    "CnnrtError", "ModelLoadError", "UnsupportedOpError", "InputError", "__version__",
]
