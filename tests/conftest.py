"""Shared data and helpers for the fastlogreg test suite.

Data are deterministic (fixed seeds) and cached for the whole session, so that
Numba compiles each (kernel, dtype, layout) once and tests stay cheap.
"""

import functools

import numpy as np
import pytest

import fastlogreg as flr

BACKENDS = flr.BACKENDS
COMPILED = ("loop", "parallel", "vectorized")
NON_ORACLE = tuple(b for b in BACKENDS if b != "numpy")

#: Per-dtype tolerances against the ``numpy`` oracle.  ``atol`` is multiplied by
#: the data's scale (mean |X|), since dw is an average of X weighted by residuals
#: in [-1, 1] and cancellation can make individual entries tiny.  float32 is
#: loose: loop/parallel accumulate in float64 while numpy/vectorized use float32
#: BLAS.
TOL = {
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-12},
    np.dtype(np.float32): {"rtol": 1e-4, "atol": 1e-4},
}

# Examples per scheduling unit: m around multiples of SAMPLE_MAJOR_BLOCK (64) and
# of the feature-major block (1024 for few features; 8 for >= 4096 features, so
# that more than MAX_CHUNKS=64 blocks make chunks of several blocks).
SHAPES = [
    (1, 1), (5, 1), (1, 7), (1, 1025),
    (3, 3), (3, 4), (3, 5),
    (3, 63), (3, 64), (3, 65), (3, 129),
    (3, 1023), (3, 1024), (3, 1025), (3, 3073),
    (2, 64 * 65 + 1),                      # sample-major: 66 blocks -> chunks of 2 blocks
    (17, 257),
]
#: Big-n shape: feature-major block of 8 examples, 66 blocks -> 33 chunks of 16.
LARGE_N_SHAPE = (4100, 8 * 65 + 3)

LAYOUTS = ("C", "F", "cols", "rows", "T_strided", "reversed")


#: Applied as ``pytestmark`` by this suite's modules: every warning is an error
#: (the stable formulas must never warn; a NumbaPerformanceWarning would mean an
#: implicit copy).
WARNINGS_AS_ERRORS = pytest.mark.filterwarnings("error")


def make_X(n, m, layout, dtype, seed=0, kind="normal"):
    """A (n, m) X with the requested memory layout, same values for every layout."""
    rng = np.random.default_rng([seed, n, m])
    if kind == "normal":
        base = rng.standard_normal((n, m))
    else:  # small integers
        base = rng.integers(-3, 4, size=(n, m)).astype(np.float64)
    base = base.astype(dtype)
    if layout == "C":
        X = np.ascontiguousarray(base)
    elif layout == "F":
        X = np.asfortranarray(base)
    elif layout == "cols":             # X[:, ::2]: feature-major, strided examples
        big = np.zeros((n, 2 * m), dtype)
        big[:, ::2] = base
        X = big[:, ::2]
    elif layout == "rows":             # X[::2, :]: feature-major, strided features
        big = np.zeros((2 * n, m), dtype)
        big[::2, :] = base
        X = big[::2, :]
    elif layout == "T_strided":        # transposed strided view: sample-major, strided
        big = np.zeros((2 * m, n), dtype)
        big[::2, :] = base.T
        X = big[::2, :].T
    elif layout == "reversed":         # negative strides
        X = np.ascontiguousarray(base[:, ::-1])[:, ::-1]
    else:
        raise ValueError(layout)
    assert X.shape == (n, m)
    np.testing.assert_array_equal(X, base)
    return X


@functools.cache
def _problem(n, m, layout, dtype_name, seed):
    dtype = np.dtype(dtype_name)
    X = make_X(n, m, layout, dtype, seed)
    rng = np.random.default_rng([seed, n, m, 1])
    w = (rng.standard_normal((n, 1)) / np.sqrt(n)).astype(dtype)
    b = 0.3
    Y = (rng.random((1, m)) < 0.5).astype(dtype)
    return w, b, X, Y


def problem(n, m, layout="C", dtype=np.float64, seed=0):
    """Cached (w, b, X, Y) with |z| = O(1), shared: tests must not write to them."""
    w, b, X, Y = _problem(n, m, layout, np.dtype(dtype).name, seed)
    return w, b, X, Y


def assert_close(actual, desired, dtype, scale=1.0, err_msg=""):
    tol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, desired, rtol=tol["rtol"],
                               atol=tol["atol"] * scale, err_msg=err_msg)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=COMPILED)
def compiled_backend(request):
    return request.param
