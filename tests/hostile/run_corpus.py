"""Runs the hostile-model corpus (make_corpus.py) in worker processes.

    python tests/hostile/run_corpus.py [--workers 2] [case ids...]

Each worker is a child process with an address-space limit that runs many
cases one after the other and prints one JSON line when a case starts and one
when it ends (outcome, message, peak RSS, seconds). The parent watches: a case
that runs longer than the timeout is a hang (the worker is killed), a worker
that dies (a signal, an abort) is reported with the case it was running; in
both cases a fresh worker goes on with the remaining cases. So one crash fails
one case, not the run.
"""
from __future__ import annotations

import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
CASE_TIMEOUT_S = float(os.environ.get("CNNRT_HOSTILE_TIMEOUT", "5"))
ADDRESS_SPACE = int(os.environ.get("CNNRT_HOSTILE_AS", str(4 << 30)))
RSS_LIMIT = 1 << 30
CORPUS_MAX_MEMORY = 512 << 20


def _peak_rss_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (Linux >= 4.0)
    except OSError:
        pass


def _peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _default_feeds(sess):
    import numpy as np
    feeds = {}
    for i in sess.inputs:
        shape = [d if isinstance(d, int) else 1 for d in (i.shape or [])]
        feeds[i.name] = np.zeros(shape, i.dtype)
    return feeds


def worker(ids):
    sys.path.insert(0, HERE)
    import numpy as np  # noqa: F401
    import cnnrt
    import make_corpus

    out = sys.stdout
    root = tempfile.mkdtemp(prefix="cnnrt-hostile-")
    for cid in ids:
        c = make_corpus.BY_ID[cid]
        out.write(json.dumps({"start": cid}) + "\n")
        out.flush()
        d = os.path.join(root, cid)
        os.makedirs(d)
        _peak_rss_reset()
        t0 = time.monotonic()
        res = {"done": cid}
        try:
            src, run = c.build(d)
            res["label"] = src if isinstance(src, str) else None
            # The corpus runs under a 512 MiB memory cap (a case may set its own).
            sess = cnnrt.load(src, **{"max_memory": CORPUS_MAX_MEMORY, **c.load_kwargs})
            if run == "default":
                sess.run(None, _default_feeds(sess))
            elif run is not None:
                run(sess)
            res["cls"] = None
        except cnnrt.CnnrtError as e:
            res.update(cls=type(e).__name__, msg=str(e), cnnrt=True)
        except BaseException as e:  # noqa: B902 - everything else is the finding
            res.update(cls=type(e).__name__, msg=traceback.format_exc()[-3000:], cnnrt=False)
        res["secs"] = time.monotonic() - t0
        res["rss"] = _peak_rss()
        sess = src = run = None
        out.write(json.dumps(res) + "\n")
        out.flush()


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _spawn(ids):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", *ids], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_limit, env=env, text=True, bufsize=1)


def run_all(ids, workers=2, timeout=CASE_TIMEOUT_S):
    """{case id: result dict}. A result has cls/msg/cnnrt/secs/rss, or
    'died' (what killed the worker) for a crash or a hang."""
    results = {}
    queues = [ids[k::workers] for k in range(workers)]
    procs = {}  # fd -> [proc, remaining ids, current id, started at, line buffer]
    retried = set()

    def start(queue):
        if not queue:
            return
        p = _spawn(queue)
        os.set_blocking(p.stdout.fileno(), False)
        procs[p.stdout.fileno()] = [p, list(queue), None, None, ""]

    for q in queues:
        start(q)
    while procs:
        now = time.monotonic()
        waits = [timeout * 6 if st[2] is None else st[3] + timeout - now for st in procs.values()]
        ready, _, _ = select.select(list(procs), [], [], max(0.05, min(waits)))
        for fd in list(procs):
            st = procs[fd]
            p = st[0]
            eof = False
            if fd in ready:
                chunk = p.stdout.read()
                if chunk:
                    st[4] += chunk
                else:
                    eof = True
            while "\n" in st[4]:
                line, st[4] = st[4].split("\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue  # a stray print from a library
                if "start" in msg:
                    st[2], st[3] = msg["start"], time.monotonic()
                else:
                    results[msg["done"]] = msg
                    st[1].remove(msg["done"])
                    st[2] = None
            hung = st[2] is not None and time.monotonic() - st[3] > timeout
            if hung or eof or (p.poll() is not None and not st[4] and fd not in ready and st[1] and st[2] is None
                               and time.monotonic() - (st[3] or now) > timeout * 6):
                if hung:
                    p.kill()
                p.wait()
                err = p.stderr.read()[-2000:]
                cur = st[2]
                del procs[fd]
                rest = st[1]
                if cur is not None:
                    if hung and cur not in retried:  # a loaded machine: one more try in a fresh worker
                        retried.add(cur)
                        start(rest)
                        continue
                    why = (f"hang: no result within {timeout:g} s" if hung else
                           f"worker died (exit {p.returncode}{', signal %d' % -p.returncode if p.returncode < 0 else ''})")
                    results[cur] = {"done": cur, "died": why, "stderr": err}
                    rest = [i for i in rest if i != cur]
                elif rest:
                    for i in rest:  # died between cases: those never ran
                        results.setdefault(i, {"done": i, "died": f"worker exited {p.returncode} before the case: {err}"})
                    rest = []
                start(rest)
    return results


def main(argv):
    if argv and argv[0] == "--worker":
        worker(argv[1:])
        return 0
    workers = 2
    if argv[:1] == ["--workers"]:
        workers, argv = int(argv[1]), argv[2:]
    sys.path.insert(0, HERE)
    import make_corpus
    ids = argv or make_corpus.IDS
    t0 = time.monotonic()
    res = run_all(ids, workers)
    bad = 0
    for cid in ids:
        r = res.get(cid, {"died": "no result"})
        c = make_corpus.BY_ID[cid]
        problem = check(c, r)
        if problem:
            bad += 1
            print(f"FAIL {cid}: {problem}")
    print(f"{len(ids)} cases, {bad} failing, {time.monotonic() - t0:.1f} s on {workers} workers")
    return 1 if bad else 0


def check(c, r):
    """None if the result is what the case allows, else what is wrong."""
    if "died" in r:
        return f"{r['died']}\n{r.get('stderr', '')}"
    allowed = c.expected if isinstance(c.expected, tuple) else (c.expected,)
    if r.get("rss", 0) > RSS_LIMIT:
        return f"peak RSS {r['rss'] >> 20} MiB > {RSS_LIMIT >> 20} MiB"
    if r["cls"] is None:
        if None not in allowed:
            return f"loaded and ran, expected {c.expected}"
        return None
    if not r.get("cnnrt"):
        return f"not a cnnrt exception: {r['msg']}"
    if r["cls"] not in allowed:
        return f"expected {c.expected}, got {r['cls']}: {r['msg']}"
    low = r["msg"].lower()
    for s in c.needles:
        if s.lower() not in low:
            return f"message does not name {s!r}: {r['msg']}"
    if r.get("label") and os.path.basename(r["label"]) not in r["msg"]:
        return f"message does not name the model file {r['label']}: {r['msg']}"
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
