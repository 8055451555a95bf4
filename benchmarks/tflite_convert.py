"""ONNX -> float32 .tflite with onnx2tf, run by the converter venv's python
(benchmarks/.cache/tfvenv, made by setup_tfvenv.sh), never by the main one:

    .cache/tfvenv/bin/python benchmarks/tflite_convert.py MODEL.onnx OUT_DIR

Writes OUT_DIR/model.tflite (NHWC input). onnx2tf downloads a 20-image
sample (calibration_image_sample_data_20x128x128x3_float32.npy) for its
check inference of 3-channel image models unless that file is in the working
directory: a seeded random stand-in is put there instead, so the conversion
needs no network.
"""
import os
import shutil
import sys

import numpy as np


def main(onnx_path, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    # onnx2tf rewrites the ONNX file it is given (its optimised graph saved
    # over the input), and that file is what every other runtime loads: a copy
    src = os.path.join(out_dir, "input.onnx")
    shutil.copyfile(onnx_path, src)
    os.chdir(out_dir)
    sample = "calibration_image_sample_data_20x128x128x3_float32.npy"
    np.save(sample, np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))
    import onnx2tf

    work = os.path.join(out_dir, "saved_model")
    onnx2tf.convert(input_onnx_file_path=src, output_folder_path=work, non_verbose=True)
    found = [f for f in os.listdir(work) if f.endswith("_float32.tflite")]
    if not found:
        sys.exit(f"onnx2tf wrote no *_float32.tflite in {work}: {os.listdir(work)}")
    shutil.move(os.path.join(work, found[0]), os.path.join(out_dir, "model.tflite"))
    shutil.rmtree(work)
    os.remove(sample)
    os.remove(src)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
