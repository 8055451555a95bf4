"""FLOPs and convolution layer shapes of an ONNX graph: cnnrt's own
python/cnnrt/_bench/onnx_stats.py, shared with `cnnrt info`/`bench`/`profile`."""
from _shared import load_shared

_m = load_shared("onnx_stats")
conv_layers, gflop = _m.conv_layers, _m.gflop
