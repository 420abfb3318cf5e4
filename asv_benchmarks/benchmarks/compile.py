"""JIT compilation cost, kept apart from the kernel timings.

Each measurement runs a fresh interpreter (``subprocess``) that imports
fastlogreg and makes the first calls of ``forward``, ``propagate`` (which
``cost`` and ``gradients`` share) and one iteration of ``optimize`` with each
``method`` on a C-ordered problem of one dtype, large enough (64 x 4096, and
64 x 512 for ``"gram"``) for the ``parallel`` backend to run its parallel
builds (smaller data run the serial ones):

* ``ColdCompile``: ``NUMBA_CACHE_DIR`` is a new empty directory, so Numba
  compiles every kernel;
* ``CachedLoad``: the directory was filled by an earlier process, so Numba
  only loads the machine code (numba#8085: parallel functions load slowly);
* ``Import``: ``import fastlogreg`` alone (Numba's import included);
* ``WarmStart``: import and the first ``parallel`` propagate (100 x 3000,
  the parallel build) with a filled cache, as a user's second run sees it
  (``tools/perf_report.py --startup``, target 7).

The values are seconds measured inside the child, the best of a few children.
"""

import json
import os
import shutil
import subprocess
import tempfile

import fastlogreg

from .common import (
    COMPILED_BACKENDS,
    PROFILE,
    TRAINING_DTYPES,
    Benchmark,
    python_executable,
    skip_unless_supported,
)

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import fastlogreg as flr
t1 = time.perf_counter()
backend, dtype = sys.argv[1], sys.argv[2]
if backend != "none":
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4096)).astype(dtype)
    w = rng.standard_normal((64, 1)).astype(dtype)
    Y = (rng.random((1, 4096)) < 0.5).astype(dtype)
    t2 = time.perf_counter()
    flr.forward(w, 0.1, X, backend=backend)
    flr.propagate(w, 0.1, X, Y, backend=backend)
    flr.optimize(w, 0.1, X, Y, 1, 0.01, backend=backend, method="primal")
    # 512 examples: K (2 MiB) large enough for the parallel Gram iteration.
    Xg, Yg = np.ascontiguousarray(X[:, :512]), np.ascontiguousarray(Y[:, :512])
    flr.optimize(w, 0.1, Xg, Yg, 1, 0.01, backend=backend, method="gram")
    t3 = time.perf_counter()
else:
    t2 = t3 = 0.0
print(json.dumps({"import": t1 - t0, "first_calls": t3 - t2}))
"""

#: Import and the first cached parallel propagate, from before ``import numpy``.
_STARTUP_CHILD = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
import fastlogreg as flr
X = np.ones((100, 3000)); Y = (np.arange(3000) % 2).reshape(1, -1)
flr.propagate(np.zeros((100, 1)), 0.0, X, Y, backend="parallel")
print(json.dumps({"warm_start": time.perf_counter() - t0}))
"""

#: Children per measurement (the best is kept).
_CHILDREN = 1 if PROFILE == "quick" else 3


def run_child(backend, dtype, cache_dir, code=_CHILD):
    """Run one child (``code``) with ``NUMBA_CACHE_DIR=cache_dir``; return its timings."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("NUMBA_DISABLE_JIT", None)
    # The child imports the fastlogreg that the benchmarks import (asv may
    # have put it on sys.path rather than in the environment).
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(fastlogreg.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([python_executable(), "-c", code, backend, dtype], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"compile child failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class ColdCompile(Benchmark):
    """First calls with an empty Numba cache: full compilation."""

    unit = "seconds"
    param_names = ["backend", "dtype"]
    params = [COMPILED_BACKENDS, TRAINING_DTYPES]

    def setup(self, backend, dtype):
        skip_unless_supported(backend)

    def track_cold_compile(self, backend, dtype):
        best = float("inf")
        for _ in range(_CHILDREN):
            cache_dir = tempfile.mkdtemp(prefix="fastlogreg-asv-cold-")
            try:
                best = min(best, run_child(backend, dtype, cache_dir)["first_calls"])
            finally:
                shutil.rmtree(cache_dir, ignore_errors=True)
        return best


class CachedLoad(Benchmark):
    """First calls with a filled Numba cache: loading compiled code."""

    unit = "seconds"
    param_names = ["backend", "dtype"]
    params = [COMPILED_BACKENDS, TRAINING_DTYPES]

    def setup(self, backend, dtype):
        skip_unless_supported(backend)
        self.cache_dir = tempfile.mkdtemp(prefix="fastlogreg-asv-cached-")
        run_child(backend, dtype, self.cache_dir)  # fills the cache

    def teardown(self, backend, dtype):
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def track_cached_load(self, backend, dtype):
        return min(run_child(backend, dtype, self.cache_dir)["first_calls"]
                   for _ in range(_CHILDREN))


class Import(Benchmark):
    """``import fastlogreg`` in a fresh interpreter (compiles nothing)."""

    unit = "seconds"

    def track_import(self):
        with tempfile.TemporaryDirectory(prefix="fastlogreg-asv-import-") as cache_dir:
            return min(run_child("none", "float64", cache_dir)["import"]
                       for _ in range(_CHILDREN))


class WarmStart(Benchmark):
    """Import plus the first ``parallel`` propagate with a filled cache (target <= 0.5 s)."""

    unit = "seconds"

    def setup(self):
        skip_unless_supported("parallel")
        self.cache_dir = tempfile.mkdtemp(prefix="fastlogreg-asv-start-")
        run_child("parallel", "float64", self.cache_dir, _STARTUP_CHILD)  # fills the cache

    def teardown(self):
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def track_warm_start(self):
        return min(run_child("parallel", "float64", self.cache_dir, _STARTUP_CHILD)["warm_start"]
                   for _ in range(_CHILDREN))
