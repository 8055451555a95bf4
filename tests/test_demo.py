"""`cnnrt demo`: the bundled LeNet-5 on the held-out digits."""
from __future__ import annotations

import re
import subprocess
import sys

from cnnrt.demo import run_demo


def test_demo_command_line():
    r = subprocess.run([sys.executable, "-m", "cnnrt", "demo", "--threads", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    m = re.search(r"accuracy \(batch\)\s*:\s*([0-9.]+)%", r.stdout)
    assert m, f"no accuracy line in:\n{r.stdout}"
    assert float(m.group(1)) >= 95.0
    assert "Traceback" not in r.stderr


def test_demo_command_line_default_threads():
    r = subprocess.run([sys.executable, "-m", "cnnrt", "demo"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "accuracy" in r.stdout


def test_run_demo_function():
    lines = []
    res = run_demo(out=lines.append)
    assert res["accuracy"] >= 0.95
    assert res["n"] == 450
    assert res["cnnrt_ms"] > 0
    assert any("accuracy" in s for s in lines)
    assert not any("WARNING" in s for s in lines), lines
