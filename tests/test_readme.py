"""The README's op table lists exactly the ops the runtime registers (plus
Constant, which the importer turns into an initializer)."""
import os
import re

import pytest

import cnnrt

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_readme_op_table_matches_the_registry():
    if not os.path.exists(README):
        pytest.skip("README.md is not next to the tests (installed tests without the source tree)")
    text = open(README, encoding="utf-8").read()
    table = text.split("## Supported ops", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for line in table.splitlines():
        if line.startswith("| ") and not line.startswith("| op ") and not line.startswith("|---"):
            listed.update(re.findall(r"[A-Z][A-Za-z0-9]+", line.split("|")[1]))  # ReduceL1, ReduceL2
    assert listed == set(cnnrt.supported_ops()) | {"Constant"}
