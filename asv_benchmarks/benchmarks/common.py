"""What every benchmark module shares: profile, thread counts, data, base classes.

The package's ``__init__`` imports this module before any benchmark module
loads NumPy or Numba: it sets the thread-count environment variables that
those libraries read when they load.

Environment variables
---------------------
FASTLOGREG_BENCH_PROFILE : {"quick", "regular", "large"}, default "regular"
    The size of the parameter grid.  ``quick`` runs the smallest shape only
    (CI and a first look, under 3 minutes with ``asv run --quick`` on 2 cores),
    ``regular`` the three shapes of the issue, ``large`` adds the wide
    1000x100000 problem (800 MB of float64).  Keep one profile per results
    database: the shapes of a profile are its parameters.
FASTLOGREG_BENCH_THREADS : int, default: the CPUs this process may use
    Numba's thread count (``NUMBA_NUM_THREADS``; an explicit
    ``NUMBA_NUM_THREADS`` is used when this one is unset).
FASTLOGREG_BENCH_BLAS_THREADS : int, default: the Numba thread count
    BLAS threads, for the ``numpy`` reference and the ``vectorized`` backend
    (threadpoolctl when installed, else the ``*_NUM_THREADS`` variables).

Both thread counts are recorded by ``tracks.Threads``.
"""

import functools
import os
import sys
import time
import zlib

# --------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------

PROFILES = ("quick", "regular", "large")
PROFILE = os.environ.get("FASTLOGREG_BENCH_PROFILE", "regular").strip().lower() or "regular"
if PROFILE not in PROFILES:
    raise ValueError(f"FASTLOGREG_BENCH_PROFILE must be one of {PROFILES}; got {PROFILE!r}")


# --------------------------------------------------------------------------
# Threads: fixed before NumPy/Numba load, re-applied in every setup
# --------------------------------------------------------------------------

def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _int_env(name, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be >= 1; got {value!r}")
    return number


NUMBA_THREADS = _int_env("FASTLOGREG_BENCH_THREADS", _int_env("NUMBA_NUM_THREADS", _cpus()))
BLAS_THREADS = _int_env("FASTLOGREG_BENCH_BLAS_THREADS", NUMBA_THREADS)

os.environ["NUMBA_NUM_THREADS"] = str(NUMBA_THREADS)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = str(BLAS_THREADS)

import numpy as np  # noqa: E402  (after the thread variables, on purpose)

try:
    import threadpoolctl
except ImportError:  # the environment variables above are the fallback
    threadpoolctl = None

_blas_limiter = None


def fix_threads():
    """Apply the suite's thread counts in this process (idempotent, cheap).

    ``NUMBA_NUM_THREADS`` only takes effect if Numba was not imported before
    this module, and ``numba.set_num_threads`` is thread-local, so setups call
    this again.  BLAS is limited with threadpoolctl, which works after import.
    """
    global _blas_limiter
    import numba

    numba.set_num_threads(min(NUMBA_THREADS, numba.config.NUMBA_NUM_THREADS))
    if threadpoolctl is not None and _blas_limiter is None:
        _blas_limiter = threadpoolctl.threadpool_limits(limits=BLAS_THREADS, user_api="blas")


def numba_threads():
    """Numba threads used by this thread now."""
    import numba

    fix_threads()
    return numba.get_num_threads()


def blas_threads():
    """The largest thread count among the loaded BLAS libraries (threadpoolctl),
    else the value given to the environment variables."""
    fix_threads()
    if threadpoolctl is None:
        return BLAS_THREADS
    counts = [info["num_threads"] for info in threadpoolctl.threadpool_info()
              if info.get("user_api") == "blas"]
    return max(counts) if counts else BLAS_THREADS


# --------------------------------------------------------------------------
# Parameter grids (stable names: they are the keys of the stored results)
# --------------------------------------------------------------------------

#: Every backend name the suite knows, the ``numpy`` reference included.  A
#: commit whose ``fastlogreg.BACKENDS`` lacks one skips it.
BACKENDS = ["python", "numpy", "loop", "parallel", "vectorized"]
#: The compiled backends, whose speed-up over ``numpy`` is tracked.
COMPILED_BACKENDS = ["loop", "parallel", "vectorized"]
DTYPES = ["float32", "float64"]
#: Memory layouts of X: "C" (examples contiguous) and "F" (features contiguous:
#: the course's layout, images flattened with ``reshape(m, -1).T``).
LAYOUTS = ["C", "F"]
#: The dtypes of the costlier benchmarks (training, estimator, compilation):
#: float64 only in the quick profile, to keep it under 3 minutes.
TRAINING_DTYPES = ["float64"] if PROFILE == "quick" else DTYPES

#: ``"n_x x m"``: features x examples, the course's layout of X.
SMALLEST_SHAPE = "2x1000"
SHAPES = {
    "quick": [SMALLEST_SHAPE],
    "regular": [SMALLEST_SHAPE, "12288x209", "10x1000000"],
    "large": [SMALLEST_SHAPE, "12288x209", "10x1000000", "1000x100000"],
}[PROFILE]

#: Kernels of the public API timed by ``kernels`` and compared by ``tracks``.
KERNELS = ["forward", "cost", "gradients", "propagate"]
TRACKED_KERNELS = ["propagate"] if PROFILE == "quick" else KERNELS

#: Gradient-descent iterations of one timed ``optimize`` / ``fit`` call.
TRAINING_ITERATIONS = {"quick": 10, "regular": 20, "large": 20}[PROFILE]

#: Timeouts (seconds) for one benchmark, setup included.
TIMEOUT = {"quick": 120, "regular": 600, "large": 1800}[PROFILE]


def parse_shape(shape):
    """``"12288x209"`` -> ``(12288, 209)``."""
    n_x, m = shape.lower().split("x")
    return int(n_x), int(m)


def skip_unless_supported(backend, shape=SMALLEST_SHAPE):
    """Skip (asv: ``NotImplementedError`` in setup) what this grid point does not run.

    The ``python`` backend only runs at the smallest shape (it is pure-Python
    loops), and a backend that this commit of fastlogreg lacks is skipped.
    """
    import fastlogreg

    if backend not in getattr(fastlogreg, "BACKENDS", ()):
        raise NotImplementedError(f"backend {backend!r} is not in this fastlogreg")
    if backend == "python" and shape != SMALLEST_SHAPE:
        raise NotImplementedError("the python backend only runs at the smallest shape")


def require(obj, name):
    """Return ``obj.name``, or skip the benchmark when this commit lacks it."""
    try:
        return getattr(obj, name)
    except AttributeError:
        raise NotImplementedError(f"{getattr(obj, '__name__', obj)}.{name} does not "
                                  "exist in this commit") from None


# --------------------------------------------------------------------------
# Deterministic data
# --------------------------------------------------------------------------

SEED = 20240607


@functools.lru_cache(maxsize=2)
def course_data(shape, dtype, layout="C"):
    """The course's arrays for one grid point, the same on every run.

    Returns
    -------
    w : ndarray of ``dtype``, shape (n_x, 1)
        Weights scaled by ``1 / sqrt(n_x)`` so the logits are of order one
        (neither saturated nor all near zero).
    b : float
    X : ndarray of ``dtype``, shape (n_x, m)
        Standard normal features, one example per column; C-ordered, or
        F-ordered with ``layout="F"`` (the same values).
    Y : ndarray of ``dtype``, shape (1, m)
        Labels 0/1 drawn from the logistic model ``sigmoid(w^T X + b)``.

    The arrays are cached per process (asv re-runs ``setup`` before every
    timed call), so callers must not modify them.
    """
    n_x, m = parse_shape(shape)
    dt = np.dtype(dtype)
    rng = np.random.default_rng([SEED, n_x, m, zlib.crc32(dt.name.encode())])
    X = rng.standard_normal((n_x, m), dtype=dt)
    w = (rng.standard_normal((n_x, 1)) / np.sqrt(n_x)).astype(dt)
    b = 0.1
    z = (w.T.astype(np.float64) @ X).ravel() + b
    p = np.empty_like(z)
    pos = z >= 0
    p[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    p[~pos] = e / (1.0 + e)
    Y = (rng.random(m) < p).astype(dt).reshape(1, m)
    if layout == "F":
        X = np.asfortranarray(X)
    return w, b, X, Y


@functools.lru_cache(maxsize=1)
def sklearn_data(shape, dtype):
    """The same problem in scikit-learn's layout.

    Returns
    -------
    X : C-ordered ndarray of ``dtype``, shape (m, n_x)
        ``n_samples x n_features``, as users of the estimator pass it.
    y : ndarray of int64, shape (m,)
    """
    _, _, X, Y = course_data(shape, dtype)
    return np.ascontiguousarray(X.T), Y.ravel().astype(np.int64)


# --------------------------------------------------------------------------
# Warm-up and timing helpers
# --------------------------------------------------------------------------

_warmed = set()


def warm_up(key, func):
    """Call ``func`` once per process and key: compiles (or loads from Numba's
    cache) every kernel it uses, with its own dtypes and layouts, outside the
    timed region.  asv re-runs ``setup`` before each timed call; only the
    first setup pays."""
    if key not in _warmed:
        func()
        _warmed.add(key)


def _sample(func, number):
    start = time.perf_counter()
    for _ in range(number):
        func()
    return time.perf_counter() - start


#: Per profile: samples per measurement, and the least time of one sample.
_REPEAT, _MIN_SAMPLE_TIME = {"quick": (3, 0.002), "regular": (7, 0.02),
                             "large": (7, 0.05)}[PROFILE]


def _calibrate(func):
    """Calls per sample so that one sample lasts at least ``_MIN_SAMPLE_TIME``."""
    number = 1
    while True:
        elapsed = _sample(func, number)
        if elapsed >= _MIN_SAMPLE_TIME or number >= 10**6:
            return number
        number = max(number + 1, int(number * min(10.0, 1.2 * _MIN_SAMPLE_TIME
                                                  / max(elapsed, 1e-9))))


def best_times(*funcs, repeat=None):
    """Best time per call of each of ``funcs``, sampled in turn.

    Samples of the functions alternate (a, b, a, b, ...), so a slow period of
    the machine hits all of them alike and their ratio stays meaningful.
    """
    numbers = [_calibrate(f) for f in funcs]
    best = [float("inf")] * len(funcs)
    for _ in range(repeat or _REPEAT):
        for k, (f, n) in enumerate(zip(funcs, numbers, strict=True)):
            best[k] = min(best[k], _sample(f, n) / n)
    return best


# --------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------


class Benchmark:
    """Base of every benchmark class: profile-dependent limits."""

    timeout = TIMEOUT


class CourseProblem(Benchmark):
    """Base of benchmarks over (backend, dtype, shape) on the course's arrays.

    ``setup`` skips unsupported grid points, fixes the thread counts, loads
    the cached data into ``self.w, self.b, self.X, self.Y`` and warms up
    :meth:`run` (subclasses define it: the call that their benchmarks time).
    """

    param_names = ["backend", "dtype", "shape"]
    params = [BACKENDS, DTYPES, SHAPES]
    #: The memory layout of X (:func:`course_data`).
    layout = "C"

    def setup(self, backend, dtype, shape):
        skip_unless_supported(backend, shape)
        fix_threads()
        self.w, self.b, self.X, self.Y = course_data(shape, dtype, layout=self.layout)
        warm_up((type(self).__name__, backend, dtype, shape), lambda: self.run(backend))

    def run(self, backend):
        raise NotImplementedError


def python_executable():
    """The interpreter running the benchmarks (for subprocess benchmarks)."""
    return sys.executable
