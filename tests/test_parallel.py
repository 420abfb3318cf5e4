"""Parallel determinism (thread counts, loop vs parallel), concurrent Python threads,
and the import-time behaviour (no compilation, read-only install)."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import LARGE_N_SHAPE, WARNINGS_AS_ERRORS, problem

import fastlogreg as flr

pytestmark = WARNINGS_AS_ERRORS

#: (n, m, layout, dtype): several chunks in each kernel, uneven last chunk, all
#: above PARALLEL_MIN_ELEMENTS (smaller X runs the serial build): feature-major
#: blocks, sample-major blocks (with four and, at large n, eight examples per
#: gradient pass; transposed into a workspace at n <= 4), and the wide
#: (feature-split) path.
CASES = [(3, 70001, "C", "float64"), (5, 40003, "F", "float64"),
         (3, 70001, "C", "float32"), (300, 1501, "C", "float64"),
         (*LARGE_N_SHAPE, "C", "float64"), (*LARGE_N_SHAPE, "F", "float32"),
         (2, 70001, "F", "float64")]

_SCRIPT = textwrap.dedent("""
    import hashlib, json, sys
    import numba
    sys.path.insert(0, {tests!r})
    from conftest import problem
    import fastlogreg as flr
    out = {{"threads": numba.config.NUMBA_NUM_THREADS}}
    for n, m, layout, dtype in {cases!r}:
        w, b, X, Y = problem(n, m, layout=layout, dtype=dtype)
        grads, J = flr.propagate(w, b, X, Y, backend="parallel")
        A = flr.forward(w, b, X, backend="parallel")
        h = hashlib.sha256(grads["dw"].tobytes() + A.tobytes()
                           + repr((grads["db"], J)).encode()).hexdigest()
        out[f"{{n}}x{{m}}-{{layout}}-{{dtype}}"] = h
    print(json.dumps(out))
""")


def _digest(backend, n, m, layout, dtype):
    w, b, X, Y = problem(n, m, layout=layout, dtype=dtype)
    grads, J = flr.propagate(w, b, X, Y, backend=backend)
    A = flr.forward(w, b, X, backend=backend)
    return hashlib.sha256(grads["dw"].tobytes() + A.tobytes()
                          + repr((grads["db"], J)).encode()).hexdigest()


def _env(**extra):
    env = dict(os.environ)
    env.update(extra)
    return env


def test_bitwise_identical_across_thread_counts():
    # Warm the cache in this process first (concurrent cache writes can corrupt it);
    # the subprocesses then only load.
    expected = {f"{n}x{m}-{lay}-{dt}": _digest("parallel", n, m, lay, dt)
                for n, m, lay, dt in CASES}
    script = _SCRIPT.format(tests=str(Path(__file__).parent), cases=CASES)
    for threads in ("1", "2"):
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env=_env(NUMBA_NUM_THREADS=threads), timeout=300)
        assert res.returncode == 0, res.stderr
        got = json.loads(res.stdout.strip().splitlines()[-1])
        assert got.pop("threads") == int(threads)
        assert got == expected, f"NUMBA_NUM_THREADS={threads}"


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_loop_and_parallel_bitwise_identical(case):
    assert _digest("loop", *case) == _digest("parallel", *case)


@pytest.mark.parametrize("m", [1, 7, 8, 33, 209, 1501, 100000, 100003])
@pytest.mark.parametrize("block", [8, 64, 520, 1024])
def test_chunks_partition_the_examples_evenly(m, block):
    """Chunks tile 0..m in order, and any two differ by at most CHUNK_ALIGN examples;
    so do the blocks of a chunk, none larger than ``block``.

    Threads are handed equal counts of chunks, so equal chunks mean equal
    work per thread (chunks of whole blocks left one thread 4 % more).
    """
    from fastlogreg._tiling import CHUNK_ALIGN, MAX_CHUNKS, chunk_blocks, part_bounds, plan_chunks

    def check_split(start, stop, n, largest=None):
        bounds = [part_bounds(k, n, start, stop) for k in range(n)]
        assert bounds[0][0] == start and bounds[-1][1] == stop
        assert all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        sizes = [hi - lo for lo, hi in bounds]
        assert min(sizes) > 0 and max(sizes) - min(sizes) <= CHUNK_ALIGN
        assert all((lo - start) % CHUNK_ALIGN == 0 for lo, _ in bounds)
        if largest is not None:
            assert max(sizes) <= largest
        return bounds

    n_chunks = plan_chunks(m, block)
    assert 1 <= n_chunks <= MAX_CHUNKS
    for c, (start, stop) in enumerate(check_split(0, m, n_chunks)):
        assert chunk_blocks(c, n_chunks, m, block)[:2] == (start, stop)
        check_split(start, stop, chunk_blocks(c, n_chunks, m, block)[2], largest=block)


def test_concurrent_python_threads():
    w, b, X, Y = problem(3, 3073)
    Xf = np.asfortranarray(X)
    ref = {be: (flr.propagate(w, b, X, Y, backend=be), flr.forward(w, b, Xf, backend=be))
           for be in ("parallel", "loop", "vectorized")}
    errors, results = [], []
    barrier = threading.Barrier(4)

    def worker(k):
        try:
            barrier.wait()
            for _ in range(10):
                be = ("parallel", "parallel", "loop", "vectorized")[k]
                (grads, J), A = (flr.propagate(w, b, X, Y, backend=be),
                                 flr.forward(w, b, Xf, backend=be))
                results.append((be, grads["dw"].tobytes(), grads["db"], J, A.tobytes()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == 40
    for be, dw, db, J, A in results:
        (rg, rJ), rA = ref[be]
        assert (dw, db, J, A) == (rg["dw"].tobytes(), rg["db"], rJ, rA.tobytes()), be


def test_concurrent_threads_all_parallel():
    """Four threads all in the parallel backend at once (workqueue would abort)."""
    code = textwrap.dedent("""
        import threading, numpy as np, fastlogreg as flr
        rng = np.random.default_rng(0)
        X = rng.standard_normal((5, 5000)); Y = (rng.random((1, 5000)) < .5) * 1.0
        w = rng.standard_normal((5, 1)); ref = flr.propagate(w, .1, X, Y, backend="parallel")
        out = []
        def f():
            for _ in range(20):
                g, J = flr.propagate(w, .1, X, Y, backend="parallel")
                out.append(g["dw"].tobytes() == ref[0]["dw"].tobytes() and J == ref[1])
        ts = [threading.Thread(target=f) for _ in range(4)]
        [t.start() for t in ts]; [t.join() for t in ts]
        assert len(out) == 80 and all(out), out
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-3000:]


_NO_COMPILE = textwrap.dedent("""
    import numba
    from numba.core import event
    compiled = []
    class Listener(event.Listener):
        def on_start(self, ev):
            compiled.append(str(ev.data.get("dispatcher")))
        def on_end(self, ev):
            pass
    event.register("numba:compile", Listener())
    import fastlogreg
    from fastlogreg.backends import _REGISTRY
    sigs = []
    for name in ("loop", "parallel"):
        k = _REGISTRY[name]
        for attr in ("_descend_feature_major", "_descend_sample_major",
                     "_descend_packed", "_descend_wide"):
            sigs += getattr(k, attr).signatures
    assert sigs == [], sigs
    assert compiled == [], compiled
    print("ok")
""")


def test_import_compiles_nothing(tmp_path):
    res = subprocess.run([sys.executable, "-c", _NO_COMPILE], capture_output=True, text=True,
                         env=_env(NUMBA_CACHE_DIR=str(tmp_path)), timeout=300)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-3000:]


_READ_ONLY = textwrap.dedent("""
    import os, sys, tempfile, warnings
    sys.path.insert(0, sys.argv[1])
    if sys.argv[2] == "simulate":
        # Running as root, permissions are ignored: make Numba's writability probe
        # (tempfile.TemporaryFile in the candidate cache dir) fail under the
        # read-only tree, as it would for an ordinary user.
        _orig = tempfile.TemporaryFile
        def _ro(*args, dir=None, **kwargs):
            if dir is not None and os.path.abspath(dir).startswith(sys.argv[3]):
                raise PermissionError(13, "Permission denied (simulated)", dir)
            return _orig(*args, dir=dir, **kwargs)
        tempfile.TemporaryFile = _ro
    import numpy as np
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # "cannot cache" is acceptable
        import fastlogreg as flr
        assert flr.__file__.startswith(sys.argv[1]), flr.__file__
        g, J = flr.propagate(np.array([[1.], [2.]]), 2., np.array([[1., 2., -1.], [3., 4., -3.2]]),
                             np.array([[1, 0, 1]]), backend="loop")
    assert abs(J - 5.801545319394553) < 1e-12, J
    print("ok")
""")


def test_read_only_install_location():
    """The package in a read-only directory, HOME read-only, no NUMBA_CACHE_DIR:
    importing and calling a compiled kernel still work."""
    src = Path(flr.__file__).parent
    root = Path(tempfile.mkdtemp(prefix="flr-ro-"))
    try:
        site = root / "site"
        shutil.copytree(src, site / "fastlogreg",
                        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
        home = root / "home"
        home.mkdir()
        for p in [root, *root.rglob("*")]:
            p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                    | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if p.is_dir() else 0))
        env = {k: v for k, v in os.environ.items()
               if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
        env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
        mode = "simulate" if os.geteuid() == 0 else "real"
        res = subprocess.run([sys.executable, "-c", _READ_ONLY, str(site), mode, str(root)],
                             capture_output=True, text=True, env=env, timeout=300,
                             cwd=str(root))
        assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-3000:]
    finally:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755)
        shutil.rmtree(root)


_RELOAD = textwrap.dedent("""
    import sys
    import numpy as np
    import fastlogreg as flr
    rng = np.random.default_rng(0)
    out = []
    for layout, (n, m) in (("C", (1000, 2000)), ("C", (300, 600)), ("F", (40, 4000))):
        X = np.asarray(rng.normal(size=(n, m)), order=layout)
        Y = (rng.random((1, m)) < 0.5).astype(float)
        for step in sys.argv[1:]:
            backend, what = step.split(":")
            if what == "propagate":
                out.append(repr(flr.propagate(np.zeros((n, 1)), 0.0, X, Y, backend=backend)[1]))
            else:
                params, _, costs = flr.optimize(np.zeros((n, 1)), 0.0, X, Y, 101, 0.1,
                                                backend=backend)
                out.append(repr((costs, float(params["w"].sum()))))
    print("|".join(out))
""")


def test_training_loops_reload_from_cache(tmp_path):
    # Caches written by different processes, in different orders, then loaded
    # together: a cached function calling a parallel one crashed here (numba#8578).
    steps = [["parallel:propagate"],
             ["loop:propagate", "parallel:optimize", "vectorized:optimize"],
             ["loop:optimize", "parallel:optimize", "vectorized:optimize"],
             ["loop:propagate", "parallel:optimize", "vectorized:optimize"]]
    runs = [subprocess.run([sys.executable, "-c", _RELOAD, *argv], capture_output=True,
                           text=True, env=_env(NUMBA_CACHE_DIR=str(tmp_path)), timeout=600)
            for argv in steps]
    for res in runs:
        assert res.returncode == 0, res.stderr[-3000:]
    assert runs[1].stdout == runs[3].stdout


_FIRST_CALL_MODULES = textwrap.dedent("""
    import sys
    import numpy as np
    import fastlogreg as flr
    imported = set(sys.modules)
    X = np.ones((100, 3000)); Y = (np.arange(3000) % 2).reshape(1, -1)
    flr.propagate(np.zeros((100, 1)), 0.0, X, Y, backend="parallel")
    after = set(sys.modules)
    print(sorted(imported), sorted(after), sep="\\n")
""")


def test_import_and_a_dense_call_load_only_what_they_use(tmp_path):
    # Backends are built on first use: `import fastlogreg` makes no kernel, and a
    # dense parallel call builds the explicit-loop kernels only (not the sparse,
    # vectorized or Gram modules, nor scipy.sparse, scikit-learn or Dask).
    res = subprocess.run([sys.executable, "-c", _FIRST_CALL_MODULES], capture_output=True,
                         text=True, env=_env(NUMBA_CACHE_DIR=str(tmp_path)), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    at_import, after_call = (set(line.strip("[]").replace("'", "").split(", "))
                             for line in res.stdout.splitlines()[-2:])
    unused = ("fastlogreg.backends.sparse", "fastlogreg.backends.vectorized",
              "fastlogreg.backends.gram_blocked", "fastlogreg.cli", "fastlogreg.datasets",
              "scipy.sparse", "sklearn", "dask", "distributed")
    for name in unused:
        assert name not in after_call, name
    assert "fastlogreg.backends.blocked" not in at_import
    assert "fastlogreg.backends.blocked" in after_call


def test_lazy_registry_builds_each_backend_once_under_concurrent_first_use():
    from fastlogreg import backends

    registry = backends._Lazy({"a": lambda: object()})
    got = []
    threads = [threading.Thread(target=lambda: got.append(registry["a"])) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(got) == 8 and all(g is got[0] for g in got)
    with pytest.raises(KeyError):
        registry["b"]
    for name in flr.BACKENDS:
        assert backends.get_backend(name) is backends.get_backend(name)
        assert backends.get_gram_kernels(name) is backends.get_gram_kernels(name)
    # loop and parallel share the serial build (parallel's kernels for small X).
    assert backends._REGISTRY["parallel"]._serial is backends._REGISTRY["loop"].dense
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.get_backend("fortran")
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.get_backend(["loop"])
