"""ONNX conformance: the operator cases the onnx wheel generates in memory for
every op in cnnrt's op list, and the model cases in its data folders
(pytorch-converted, pytorch-operator, simple), each run on cnnrt on every
kernel path this CPU has (ref/avx2/avx512) and compared with the case's
expected outputs: number of outputs, shape, dtype, then values with the
case's own rtol/atol (np.testing.assert_allclose).

A case is skipped only
- when its model uses an op outside cnnrt's op set (reason computed from the
  model: the op names), or
- when skip_manifest.json lists it with a reason; the case must then still
  raise cnnrt.UnsupportedOpError: one that passes fails with "remove from
  manifest", one that fails any other way fails as the bug it is.
Any other failing case is a real failure.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cnnrt  # noqa: E402
from conformance_cases import (  # noqa: E402
    OP_SET, all_cases, installed_onnx_version, load_manifest, manifest_onnx_version, missing_ops, op_set, run_case,
)

CASES = all_cases()
MANIFEST = load_manifest()
BY_ID = {c.id: c for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case):
    outside = case.outside_ops()
    if outside:
        pytest.skip(f"uses op(s) {', '.join(outside)} outside cnnrt's op set")
    reason = MANIFEST.get(case.id)
    if reason is None:
        run_case(case)
        return
    try:
        run_case(case)
    except cnnrt.UnsupportedOpError as e:
        missing = missing_ops(e)
        if missing:
            pytest.fail(
                f"{case.id}: op(s) {', '.join(missing)} of cnnrt's op list are not registered in the runtime, "
                f"so the manifest reason ('{reason}') cannot be checked: {e}"
            )
        pytest.skip(reason)
    except Exception as e:  # noqa: BLE001 - anything but UnsupportedOpError is a bug, not a scope limit
        pytest.fail(
            f"{case.id} is in the manifest ('{reason}') but fails with {type(e).__name__} instead of "
            f"cnnrt.UnsupportedOpError: a bug to fix, not a scope limit to skip: {e}"
        )
    else:
        pytest.fail(f"{case.id} now passes: remove from manifest (skip_manifest.json, reason was '{reason}')")


def test_manifest_has_no_stale_entries():
    want, have = manifest_onnx_version(), installed_onnx_version()
    if want != have:
        pytest.skip(f"skip_manifest.json lists the cases of onnx {want}; the installed onnx {have} generates another set")
    unknown = sorted(k for k in MANIFEST if k not in BY_ID)
    assert not unknown, f"skip_manifest.json lists cases that do not exist (remove them): {unknown}"
    auto = sorted(k for k in MANIFEST if BY_ID[k].outside_ops())
    assert not auto, (
        "skip_manifest.json lists cases already skipped because they use ops outside cnnrt's op set "
        f"(remove them): {auto}"
    )


def test_manifest_reasons_are_scope_limits():
    banned = ("not implemented", "todo", "not yet", "fixme", "later", "wip")
    bad = {k: v for k, v in MANIFEST.items() if any(b in v.lower() for b in banned)}
    assert not bad, f"manifest reasons must state a limit of cnnrt's scope, not missing work: {bad}"


def test_every_listed_op_has_cases():
    """Each op of the list contributes generated cases (a renamed or dropped
    onnx case module would otherwise silently shrink the suite)."""
    ops = {c.op for c in CASES if c.op}
    assert ops == set(OP_SET), f"no generated cases for {sorted(set(OP_SET) - ops)}"
    assert set(cnnrt.supported_ops()) <= op_set()
