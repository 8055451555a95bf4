"""The README's op table is generated from the runtime's registry
(cnnrt/optable.py): every registered op has a row, no row names an op the
runtime lacks (beyond what the importer handles), and the README holds
exactly the generated table."""
import os

import pytest

import cnnrt
from cnnrt import optable

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_every_registered_op_has_a_row():
    missing, extra = optable.drift(cnnrt.supported_ops())
    assert not missing, f"registered ops without a row in cnnrt/optable.py GROUPS: {missing}"
    assert not extra, f"rows for ops the runtime does not register: {extra}"


def test_each_op_listed_once():
    ops = optable.listed_ops()
    assert len(ops) == len(set(ops)), sorted(o for o in ops if ops.count(o) > 1)


def test_readme_holds_the_generated_table():
    if not os.path.exists(README):
        pytest.skip("README.md is not next to the tests (installed tests without the source tree)")
    text = open(README, encoding="utf-8").read()
    assert optable.BEGIN in text and optable.END in text
    table = text.split(optable.BEGIN, 1)[1].split(optable.END, 1)[0].strip()
    assert table == optable.markdown(), "README op table is stale: run python -m cnnrt.optable README.md"


def test_drift_is_detected():
    missing, extra = optable.drift(cnnrt.supported_ops() + ["FancyNewOp"])
    assert missing == ["FancyNewOp"] and not extra
