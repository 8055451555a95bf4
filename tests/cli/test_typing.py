"""The public API is typed (py.typed, annotations, _core.pyi): mypy checks a
small user script against it, and finds the mistake in a wrong one."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import cnnrt

GOOD = '''
from typing import Dict, List, Tuple, Union

import numpy as np

import cnnrt


def classify(path: str, x: np.ndarray) -> int:
    sess: cnnrt.Session = cnnrt.load(path, threads=1)
    names: List[str] = [i.name for i in sess.inputs]
    outs: List[np.ndarray] = sess.run(None, {names[0]: x})
    y: Union[np.ndarray, Tuple[np.ndarray, ...]] = sess.infer(x)
    z = cnnrt.infer(path, x, threads=2)
    assert isinstance(y, np.ndarray) and isinstance(z, np.ndarray)
    rows = sess.profile({names[0]: x}, runs=2)
    total: float = sum(r["median_ms"] for r in rows)
    info: Dict[str, object] = cnnrt.info()
    threads: int = sess.threads
    ops: List[str] = cnnrt.supported_ops()
    print(total, info["version"], threads, ops, cnnrt.__version__)
    return int(outs[0].argmax())


try:
    classify("m.onnx", np.zeros((1, 3, 8, 8), np.float32))
except cnnrt.UnsupportedOpError as e:
    print([n for n in e.nodes])
except (cnnrt.ModelLoadError, cnnrt.InputError, cnnrt.CnnrtError) as e:
    print(e)
'''

BAD = '''
import cnnrt

sess = cnnrt.load("m.onnx", threads="two")
n: str = sess.threads
sess.run(None, [1, 2])
'''


def _mypy(tmp_path, code):
    pytest.importorskip("mypy", reason="mypy is in the test extra")
    src = tmp_path / "user.py"
    src.write_text(textwrap.dedent(code))
    env = dict(os.environ)
    # mypy finds an installed package by its py.typed (and refuses site-packages
    # in MYPYPATH); a source tree (PYTHONPATH=python) is given by MYPYPATH
    root = os.path.dirname(os.path.dirname(cnnrt.__file__))
    if os.path.basename(root) not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = root
    p = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
                        "--follow-imports=silent", "--ignore-missing-imports", str(src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path, timeout=600)
    return [ln for ln in p.stdout.splitlines() if ln.startswith(str(src)) or ln.startswith("user.py")], p.stdout


def test_mypy_accepts_a_user_script(tmp_path):
    errors, out = _mypy(tmp_path, GOOD)
    assert errors == [], out


def test_mypy_finds_the_mistakes(tmp_path):
    errors, out = _mypy(tmp_path, BAD)
    text = "\n".join(errors)
    assert ':4: error' in text and ':5: error' in text and ':6: error' in text, out
