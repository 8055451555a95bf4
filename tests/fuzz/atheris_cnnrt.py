"""A coverage-guided (libFuzzer, through atheris) target for the .cnnrt
reader: `cnnrt.load(bytes)` of a compiled file + one `run`.

The reader is Python (cnnrt/fileformat.py) in front of the C++ session
(graph_from_py, prepacked_from_py in cpp/bindings/module.cc); atheris
instruments the Python side, so libFuzzer sees which of the reader's checks
an input reached. Its inputs come from two mutators, chosen per call:
libFuzzer's own byte mutator, and tests/fuzz/mutate_cnnrt.py's structured
ones, which redo offsets and CRC-32s and so get past the checksums.

    python -m tests.fuzz.atheris_cnnrt -max_total_time=3600 CORPUS_DIR
    python -m tests.fuzz.atheris_cnnrt -runs=2000          # what the test runs

CORPUS_DIR (optional) is seeded with the seeds compiled to .cnnrt when
empty. A crash is written by libFuzzer as crash-<sha1> in the working
folder; rename it to .cnnrt and keep it in tests/fuzz/regressions/.
Every input ends in a result or a cnnrt error; anything else is a finding
(the exception propagates and libFuzzer stops with it).
"""
from __future__ import annotations

import os
import random
import sys

import atheris

with atheris.instrument_imports(include=["cnnrt"]):
    import cnnrt
    import cnnrt.fileformat  # noqa: F401

if __package__:
    from . import mutate_cnnrt, seeds
    from .worker import MAX_MEMORY, _feeds
else:  # run as a file
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fuzz import mutate_cnnrt, seeds  # type: ignore[no-redef]
    from fuzz.worker import MAX_MEMORY, _feeds  # type: ignore[no-redef]

_COMPILED = seeds.serialized_cnnrt()


def test_one_input(data: bytes) -> None:
    try:
        sess = cnnrt.load(data, threads=1, max_memory=MAX_MEMORY)
    except cnnrt.CnnrtError:
        return
    r = random.Random(len(data))
    feeds = _feeds(sess, r)
    if feeds is None:
        return
    try:
        sess.run(None, feeds)
    except cnnrt.CnnrtError:
        return


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    r = random.Random(seed)
    if data[:8] != mutate_cnnrt.MAGIC or r.random() < 0.1:
        data = r.choice(_COMPILED)
    if r.random() < 0.3:
        return atheris.Mutate(data, max(len(data), max_size))
    try:
        out = mutate_cnnrt.mutate(data, r, _COMPILED)
    except Exception:  # noqa: BLE001 - a mutator bug must not end the run; libFuzzer's own mutator instead
        return atheris.Mutate(data, max(len(data), max_size))
    return out if len(out) <= max_size else out[:max_size]


def main(argv=None) -> None:
    argv = list(sys.argv if argv is None else argv)
    corpus = [a for a in argv[1:] if not a.startswith("-")]
    for d in corpus:
        if os.path.isdir(d) and not os.listdir(d):
            for k, blob in enumerate(_COMPILED):
                with open(os.path.join(d, f"seed-{k:02d}.cnnrt"), "wb") as f:
                    f.write(blob)
    if not any(a.startswith("-max_len") for a in argv):
        argv.append(f"-max_len={2 * max(len(b) for b in _COMPILED)}")
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
