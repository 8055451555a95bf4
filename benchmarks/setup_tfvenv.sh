#!/usr/bin/env bash
# The ONNX -> .tflite converter for bench_models.py's LiteRT runtime, in a venv
# of its own (benchmarks/.cache/tfvenv): onnx2tf and TensorFlow pin onnx,
# protobuf and numpy versions that the main environment must not get.
#   bash benchmarks/setup_tfvenv.sh [python]
# LiteRT itself (the interpreter that runs the .tflite) goes into the main
# environment: pip install ai-edge-litert (part of the `bench` extra).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.cache/tfvenv"
py="${1:-python3}"
mkdir -p "$here/.cache"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "tensorflow-cpu==2.21.*" "onnx2tf==1.28.8" onnx onnxruntime onnx-graphsurgeon \
    sng4onnx psutil tf-keras ai-edge-litert h5py
"$venv/bin/onnx2tf" -h > /dev/null
echo "onnx2tf ready in $venv"
