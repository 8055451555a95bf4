"""Runs every conformance case and prints the ones that fail, grouped by a
proposed skip reason, as a draft for skip_manifest.json.

    PYTHONPATH=python python tests/conformance/regen_manifest.py [--json] [--all]

The proposals come from the error (UnsupportedOpError messages, dtype names)
and are only proposals: a case belongs in the manifest only when the reason
is a real limit of cnnrt's scope (a dtype it does not compute, 3-D
convolution, training mode...). Wrong numbers, crashes and ModelLoadErrors on
valid models are bugs and are printed under "LOOKS LIKE A BUG"; never put
those in the manifest.

--json   print the proposed manifest (current entries kept where the case
         still fails, new failures added with their proposed reason)
--all    also list passing cases and those outside the op set
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import cnnrt  # noqa: E402
from conformance_cases import MANIFEST_PATH, all_cases, installed_onnx_version, load_manifest, run_case  # noqa: E402

_NP_NAMES = {
    "float64": "float64", "double": "float64", "float16": "float16", "bfloat16": "bfloat16",
    "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16",
    "uint32": "uint32", "uint64": "uint64", "str": "string", "object": "string",
}


def _case_dtypes(case):
    """Non-runtime dtypes among the case's inputs and expected outputs."""
    found = set()
    for ins, outs in case.data_sets():
        for a in list(ins) + list(outs):
            dt = np.asarray(a).dtype
            if dt not in (np.float32, np.int64, np.bool_):
                found.add(_NP_NAMES.get(dt.name, dt.name))
    return sorted(found)


def propose(case, exc) -> tuple:
    """(proposed reason, is_bug)"""
    msg = str(exc)
    if isinstance(exc, cnnrt.UnsupportedOpError):
        reasons = [r for _, _, r in exc.nodes] if exc.nodes else [msg]
        missing = sorted({op for _, op, r in exc.nodes if r == "op not implemented"})
        if missing:
            return (f"op(s) {', '.join(missing)} not registered in the runtime (in cnnrt's op list: merge or fix)", True)
        dts = _case_dtypes(case)
        named = sorted(set(re.findall(r"dtype (float64|float16|bfloat16|int32|int16|int8|uint\d+|object|string)", msg)))
        if dts or named:
            return (f"{'/'.join(dts or named)} data: cnnrt computes float32, int64 and bool", False)
        m = re.search(r"ONNX opset (\d+) is older than cnnrt supports \(opset (\d+)", msg)
        if m:
            return (f"ONNX opset {m.group(1)} model: cnnrt imports opset {m.group(2)} and newer", False)
        m = re.search(r"type (sequence|optional|map|sparse tensor|opaque)", msg)
        if m:
            return (f"{m.group(1)}-typed graph input/output: cnnrt runs tensors only", False)
        if "training_mode" in msg:
            op = "Dropout" if "Dropout" in msg else "BatchNormalization" if "BatchNormalization" in msg else "op"
            return (f"{op} training_mode=1: cnnrt is an inference runtime", False)
        if re.search(r"3-D (convolution|pooling)", msg):
            return ("3-D " + re.search(r"3-D (convolution|pooling)", msg).group(1) + ": cnnrt runs 1-D and 2-D", False)
        # Drop the "model '...', node '...' (Op): " prefix: the reason is what follows.
        short = sorted({re.sub(r"^.*?\((\w+)\): ", r"\1: ", r) for r in reasons})
        return ("; ".join(short)[:200], False)
    if isinstance(exc, cnnrt.InputError):
        dts = _case_dtypes(case)
        if dts:
            return (f"{'/'.join(dts)} data: cnnrt computes float32, int64 and bool", False)
        return (f"BUG? InputError: {msg[:160]}", True)
    if isinstance(exc, AssertionError):
        first = msg.strip().splitlines()[0] if msg.strip() else "assertion"
        if "dtype" in first:
            return (f"BUG? output dtype differs: {first[:160]}", True)
        if "shape" in first:
            return (f"BUG? output shape differs: {first[:160]}", True)
        return ("BUG? wrong values (outside rtol/atol)", True)
    if isinstance(exc, cnnrt.ModelLoadError):
        return (f"BUG? ModelLoadError on a valid model: {msg[:160]}", True)
    return (f"BUG? {type(exc).__name__}: {msg[:160]}", True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--all", action="store_true")
    args = ap.parse_args(argv)

    manifest = load_manifest() if os.path.exists(MANIFEST_PATH) else {}
    groups = defaultdict(list)
    bugs = defaultdict(list)
    passed, outside, errors = [], [], {}
    for case in all_cases():
        outs = case.outside_ops()
        if outs:
            outside.append((case.id, outs))
            continue
        try:
            run_case(case)
        except BaseException as e:  # noqa: BLE001 - classify everything
            if isinstance(e, KeyboardInterrupt):
                raise
            reason, is_bug = propose(case, e)
            errors[case.id] = (reason, e)
            (bugs if is_bug else groups)[reason].append(case.id)
        else:
            passed.append(case.id)

    total = len(passed) + len(outside) + len(errors)
    out = sys.stderr if args.json else sys.stdout
    print(f"{total} cases: {len(passed)} pass, {len(errors)} fail, {len(outside)} use ops outside the op set", file=out)
    stale = sorted(k for k in manifest if k in passed)
    missing = sorted(k for k in manifest if k not in errors and k not in passed and k not in dict(outside))
    if stale:
        print("\nIN THE MANIFEST BUT NOW PASSING (remove):", file=out)
        for k in stale:
            print(f"  {k}", file=out)
    if missing:
        print("\nIN THE MANIFEST BUT NO SUCH CASE (remove):", file=out)
        for k in missing:
            print(f"  {k}", file=out)
    for title, table in (("PROPOSED SKIPS (check each reason)", groups), ("LOOKS LIKE A BUG (fix, do not skip)", bugs)):
        if not table:
            continue
        print(f"\n{title}:", file=out)
        for reason, ids in sorted(table.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print(f"\n  [{len(ids)}] {reason}", file=out)
            for k in sorted(ids):
                mark = "  (in manifest)" if k in manifest else ""
                print(f"      {k}{mark}", file=out)
                if title.startswith("LOOKS"):
                    e = errors[k][1]
                    detail = "".join(traceback.format_exception_only(type(e), e)).strip().splitlines()
                    for line in detail[:6]:
                        print(f"          {line[:200]}", file=out)
    if args.all:
        print("\nPASS:", file=out)
        for k in passed:
            print(f"  {k}", file=out)
        print("\nOUTSIDE THE OP SET:", file=out)
        for k, ops in outside:
            print(f"  {k}: {', '.join(ops)}", file=out)
    if args.json:
        proposal = {}
        bug_ids = {k for ids in bugs.values() for k in ids}
        for k, (reason, _) in sorted(errors.items()):
            if k not in bug_ids:
                proposal[k] = manifest.get(k, reason)
        # Entries for cases that cannot run yet (an op of cnnrt's list not
        # registered) are kept: their reason is judged once the op is there.
        for k in sorted(manifest):
            if k in bug_ids:
                proposal[k] = manifest[k]
        about = []
        if os.path.exists(MANIFEST_PATH):
            with open(MANIFEST_PATH) as f:
                about = json.load(f).get("about", [])
        json.dump({"about": about, "onnx": installed_onnx_version(), "skips": dict(sorted(proposal.items()))},
                  sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
