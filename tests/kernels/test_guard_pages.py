"""Guard-page buffers: every kernel family on every ISA path, at sizes 1 to
2x the vector width (+1), with each input and the output placed flush
against a PROT_NONE page (after its last byte, then before its first), so a
read or write past either end faults. ASan cannot see these: a kernel's
over-read into the padding of its own allocation is legal memory to it.

Each ISA runs in a subprocess, so a segfault is this test's failure, not the
end of the test session. Results on guarded memory must equal the same call
on ordinary arrays (integer-valued data: exact for every summation order)."""
import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

BODY = textwrap.dedent(r'''
import ctypes, mmap, sys
import numpy as np
from cnnrt import _core

isa, where = sys.argv[1], sys.argv[2]
K = _core.kernels
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PAGE = mmap.PAGESIZE
keep = []

def guarded(a):
    """A float32 copy of `a` whose bytes end right before (where='tail') or
    begin right after (where='head') a PROT_NONE page."""
    a = np.ascontiguousarray(a, np.float32)
    nbytes = a.nbytes
    data_len = (nbytes + PAGE - 1) // PAGE * PAGE or PAGE
    total = data_len + PAGE
    base = libc.mmap(None, total, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    assert base not in (None, ctypes.c_void_p(-1).value), "mmap failed"
    if where == "tail":
        assert libc.mprotect(base + data_len, PAGE, 0) == 0
        start = base + data_len - nbytes
    else:
        assert libc.mprotect(base, PAGE, 0) == 0
        start = base + PAGE
    buf = (ctypes.c_char * max(nbytes, 1)).from_address(start)
    out = np.frombuffer(buf, np.float32, count=a.size).reshape(a.shape)
    out[...] = a
    keep.append((base, total, buf))
    return out

def empty(shape):
    return guarded(np.zeros(shape, np.float32))

def ints(rng, shape, lo=-5, hi=6):
    return rng.integers(lo, hi, shape).astype(np.float32)

vw = {"ref": 1, "avx2": 8, "avx512": 16}[isa]
mr, nr = K.gemm_tile(isa)
sizes = sorted(set(range(1, 2 * max(vw, 8) + 2)))
rng = np.random.default_rng(1)
checks = 0

def same(got, want, what):
    global checks
    checks += 1
    if not np.array_equal(got, want, equal_nan=True):
        raise SystemExit(f"{isa} {where} {what}: guarded result differs (max diff {np.nanmax(np.abs(got - want))})")

# Activations (relu, leaky, clip exact; the rest compared with the same kernel on ordinary memory).
for n in sizes:
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    for kind, a, b in [(1, 0, 0), (2, 0.1, 0), (3, -1, 2), (4, 0, 0), (5, 0, 0), (6, 0.2, 0.5), (7, 0, 0),
                       (8, 1.0, 0), (9, 1.67, 1.05), (10, 0, 0)]:
        y = empty((n,))
        K.act(isa, guarded(x), kind, a, b, out=y)
        same(y, K.act(isa, x, kind, a, b), f"act kind {kind} n={n}")
# Binary ops: same-shape, scalar b, scalar a.
for n in sizes:
    a = ints(rng, n)
    b = ints(rng, n, 1, 6)
    for mode in (0, 1, 2):
        aa, bb = (a, b) if mode == 0 else ((a, b[:1]) if mode == 1 else (a[:1], b))
        for op in range(5):
            y = empty((n,))
            K.binary(isa, op, mode, guarded(aa), guarded(bb), out=y)
            same(y, K.binary(isa, op, mode, aa, bb), f"binary op {op} mode {mode} n={n}")
# GEMM: n around the tile width, m around the tile height, a few k; A, B, bias, residual, C guarded.
for n in sorted(set([1, 2, nr - 1, nr, nr + 1, 2 * nr - 1, 2 * nr, 2 * nr + 1]) - {0}):
    for m in sorted(set([1, mr - 1, mr, mr + 1]) - {0}):
        for k in (1, 3, 17):
            for ta, tb in ((False, False), (True, True)):
                A = ints(rng, (k, m) if ta else (m, k))
                B = ints(rng, (n, k) if tb else (k, n))
                bn, res = ints(rng, n), ints(rng, (m, n))
                c = empty((m, n))
                K.gemm(isa, guarded(A), guarded(B), trans_a=ta, trans_b=tb, bias_n=guarded(bn), residual=guarded(res),
                       act=1, out=c)
                same(c, K.gemm(isa, A, B, trans_a=ta, trans_b=tb, bias_n=bn, residual=res, act=1),
                     f"gemm m={m} n={n} k={k} trans={ta}")
# Convolution NHWC by GEMM, Winograd (where this ISA has one) and depthwise; channels 1..2x vector width + 1.
wino = K.winograd_m(isa) > 0
for c in sizes:
    for oc in sorted({1, c, vw + 1}):
        x = ints(rng, (1, 5, 6, c))
        w = ints(rng, (oc, c, 3, 3))
        bias = ints(rng, oc)
        for algo in ["gemm"] + (["winograd", "winograd6", "winograd2"] if wino else []):
            y = empty((1, 5, 6, oc))
            K.conv_nhwc(isa, algo, guarded(x), guarded(w), guarded(bias), pads=[1, 1, 1, 1], out=y)
            same(y, K.conv_nhwc(isa, algo, x, w, bias, pads=[1, 1, 1, 1]), f"conv {algo} c={c} oc={oc}")
    wd = ints(rng, (c, 1, 3, 3))
    x = ints(rng, (1, 5, 6, c))
    for s in (1, 2):
        oh, ow = (5 + 2 - 3) // s + 1, (6 + 2 - 3) // s + 1
        y = empty((1, oh, ow, c))
        K.conv_nhwc(isa, "dw", guarded(x), guarded(wd), strides=[s, s], pads=[1, 1, 1, 1], out=y)
        same(y, K.conv_nhwc(isa, "dw", x, wd, strides=[s, s], pads=[1, 1, 1, 1]), f"dw c={c} s={s}")
        res = ints(rng, (1, oh, ow, c))
        y = empty((1, oh, ow, c))
        K.dwconv_nhwc(isa, guarded(x), guarded(wd), None, guarded(res), strides=[s, s], pads=[1, 1, 1, 1], act=1, out=y)
        same(y, K.dwconv_nhwc(isa, x, wd, None, res, strides=[s, s], pads=[1, 1, 1, 1], act=1),
             f"dwconv_nhwc c={c} s={s}")
    # Pooling: max and average, 3x3 stride 2 pad 1; global pooling.
    for kind in ("max", "avg"):
        y = empty((1, 3, 3, c))
        K.pool_nhwc(isa, kind, guarded(x), [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], [3, 3], out_arr=y)
        same(y, K.pool_nhwc(isa, kind, x, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], [3, 3]), f"pool {kind} c={c}")
        xg = x.reshape(1, 30, c)
        y = empty((1, c))
        K.global_pool_nhwc(isa, kind, guarded(xg), out=y)
        same(y, K.global_pool_nhwc(isa, kind, xg), f"global pool {kind} c={c}")
# NCHW depthwise (the dwconv family): width 1..2x vector width + 1.
for wdt in sizes:
    x = ints(rng, (3, 4, wdt))
    w = ints(rng, (3, 3, 3))
    y = K.dwconv(isa, guarded(x), guarded(w), None, [1, 1], [1, 1, 1, 1], [1, 1])
    same(y, K.dwconv(isa, x, w, None, [1, 1], [1, 1, 1, 1], [1, 1]), f"dwconv nchw w={wdt}")
print(f"guard pages {isa} {where}: {checks} calls ok")
''')


def _run(isa: str, where: str):
    env = dict(os.environ)
    env.pop("CNNRT_ISA", None)
    return subprocess.run([sys.executable, "-c", BODY, isa, where], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.parametrize("where", ["tail", "head"])
def test_kernels_against_guard_pages(isa, where):
    r = _run(isa, where)
    assert r.returncode == 0, (f"{isa}/{where}: exit status {r.returncode} (a negative status is the signal: "
                               f"-11 = an access past a buffer)\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}")
    assert "calls ok" in r.stdout


def test_guard_page_catches_an_overread():
    """The harness itself: reading one float past a guarded buffer kills the subprocess."""
    code = BODY.split("vw = {")[0] + textwrap.dedent('''
        a = guarded(np.ones(5, np.float32))
        big = np.frombuffer((ctypes.c_char * 24).from_address(a.ctypes.data), np.float32)
        print(big.sum())
    ''')
    r = subprocess.run([sys.executable, "-c", code, "ref", "tail"], capture_output=True, text=True, timeout=120)
    # A signal, or (in the sanitizer lane, libasan preloaded) ASan's SEGV report and exit status 1.
    assert r.returncode < 0 or (r.returncode != 0 and "SEGV" in r.stderr), \
        f"expected a fault, got exit status {r.returncode}: {r.stdout} {r.stderr}"
