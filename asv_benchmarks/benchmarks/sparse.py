"""Sparse X (CSR and CSC): kernels x backends x two densities, and the estimator's fit.

Data from ``fastlogreg.datasets.make_sparse_classification`` (text-like:
Zipf feature frequencies, TF-IDF values, unit-norm examples), seeded, in the
course layout ``(n_features, m)``; ``density`` is the fraction of features
drawn per example (distinct nonzeros are somewhat fewer).  Skipped on commits
without sparse support.  The ``python`` backend runs only at the smallest
shape and density.
"""

import functools
import importlib
import warnings

import numpy as np

import fastlogreg as flr

from .common import (
    BACKENDS,
    COMPILED_BACKENDS,
    DTYPES,
    PROFILE,
    SEED,
    TRAINING_ITERATIONS,
    Benchmark,
    best_times,
    fix_threads,
    parse_shape,
    skip_unless_supported,
)
from .estimator import make_estimator

FORMATS = ["csc", "csr"]
#: ``"n_features x m"`` per profile (the issue's full size is 1000000x200000).
SPARSE_SHAPES = {"quick": ["20000x2000"], "regular": ["100000x20000"],
                 "large": ["100000x20000", "1000000x200000"]}[PROFILE]
#: Fractions of the features drawn per example: 20 and 200 draws at 100000.
DENSITIES = ["0.0002", "0.002"]


def _require_sparse():
    datasets = importlib.import_module("fastlogreg.datasets")
    if not hasattr(datasets, "make_sparse_classification"):
        raise NotImplementedError("no sparse support in this commit")
    return datasets.make_sparse_classification


def _skip(backend, shape, density):
    skip_unless_supported(backend)
    if backend == "python" and (shape != SPARSE_SHAPES[0] or density != DENSITIES[0]):
        raise NotImplementedError("the python backend only runs at the smallest sparse grid "
                                  "point")


@functools.lru_cache(maxsize=2)
def sparse_data(shape, density, dtype, fmt):
    """``(w, b, X, Y)``: X sparse ``(n_features, m)`` in ``fmt``; cached per process."""
    make = _require_sparse()
    n, m = parse_shape(shape)
    draws = max(1, round(float(density) * n))
    X, Y = make(m, n, draws=draws, seed=SEED % 2**32, dtype=np.dtype(dtype), format=fmt)
    w = np.random.default_rng(SEED).standard_normal((n, 1)) * 0.1
    return w, 0.1, X, Y


def _call(kernel, backend, data):
    w, b, X, Y = data
    if kernel == "forward":
        return lambda: flr.forward(w, b, X, backend=backend)
    return lambda: getattr(flr, kernel)(w, b, X, Y, backend=backend)


def _warm_calls(*calls, grid):
    """Skip unsupported grid points, fix threads, and return the ``(kernel, backend)``
    calls on the grid point's data, each called once (compiled or loaded from cache)."""
    backend, dtype, fmt, shape, density = grid
    _skip(backend, shape, density)
    fix_threads()
    data = sparse_data(shape, density, dtype, fmt)
    funcs = [_call(kernel, name, data) for kernel, name in calls]
    for func in funcs:
        func()
    return funcs


class SparseWideCSC(Benchmark):
    """``propagate`` on a CSC X too wide for a partial gradient (1,000,000 features).

    One chunk: ``parallel`` runs the split pass (residuals over examples, then
    the gradient over ranges of features) where the commit has it, ``loop``
    the one-chunk fused pass beside it.
    """

    param_names = ["backend", "dtype"]
    params = [["loop", "parallel"], ["float32", "float64"]]

    def setup(self, backend, dtype):
        skip_unless_supported(backend)
        fix_threads()
        data = sparse_data("1000000x20000", "0.0001", dtype, "csc")
        self.propagate = _call("propagate", backend, data)
        self.propagate()

    def time_propagate(self, backend, dtype):
        self.propagate()


class SparseKernels(Benchmark):
    """``propagate`` and ``forward`` on sparse X, every backend."""

    param_names = ["backend", "dtype", "format", "shape", "density"]
    params = [BACKENDS, DTYPES, FORMATS, SPARSE_SHAPES, DENSITIES]

    def setup(self, backend, dtype, fmt, shape, density):
        self.propagate, self.forward = _warm_calls(
            ("propagate", backend), ("forward", backend), grid=(backend, dtype, fmt, shape,
                                                                 density))

    def time_propagate(self, backend, dtype, fmt, shape, density):
        self.propagate()

    def time_forward(self, backend, dtype, fmt, shape, density):
        self.forward()

    def peakmem_propagate(self, backend, dtype, fmt, shape, density):
        self.propagate()


class SparseSpeedupOverNumpy(Benchmark):
    """``time(numpy) / time(backend)`` of ``propagate`` on sparse X (numpy: scipy's ``@``)."""

    unit = "speed-up over numpy"
    param_names = ["backend", "dtype", "format", "shape", "density"]
    params = [COMPILED_BACKENDS, DTYPES, FORMATS, SPARSE_SHAPES, DENSITIES]

    def setup(self, backend, dtype, fmt, shape, density):
        self.reference, self.candidate = _warm_calls(
            ("propagate", "numpy"), ("propagate", backend), grid=(backend, dtype, fmt, shape,
                                                                   density))

    def track_speedup(self, backend, dtype, fmt, shape, density):
        t_reference, t_candidate = best_times(self.reference, self.candidate)
        return t_reference / t_candidate


class SparseFitOverSklearn(Benchmark):
    """The estimator's ``fit`` on CSR ``(n_samples, n_features)`` beside scikit-learn's lbfgs.

    Both run ``TRAINING_ITERATIONS`` L-BFGS iterations (``tol=0``) on the same
    data; the track is ``time(scikit-learn) / time(fastlogreg)``.
    """

    unit = "speed-up over scikit-learn"
    param_names = ["backend", "dtype", "shape", "density"]
    params = [COMPILED_BACKENDS, ["float64"], SPARSE_SHAPES, DENSITIES]

    def setup(self, backend, dtype, shape, density):
        _skip(backend, shape, density)
        try:
            from sklearn.linear_model import LogisticRegression as SkLogisticRegression
        except ImportError:
            raise NotImplementedError("scikit-learn is not installed") from None
        fix_threads()
        _, _, X, Y = sparse_data(shape, density, dtype, "csc")
        self.X, self.y = X.T, Y.ravel().astype(np.int64)      # CSR, no copy
        self.ours = make_estimator(backend)
        self.theirs = SkLogisticRegression(max_iter=TRAINING_ITERATIONS, tol=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.ours.fit(self.X, self.y)
            self.theirs.fit(self.X, self.y)

    def _fits(self):
        def ours():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.ours.fit(self.X, self.y)

        def theirs():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.theirs.fit(self.X, self.y)
        return ours, theirs

    def time_fit(self, backend, dtype, shape, density):
        self._fits()[0]()

    def track_speedup(self, backend, dtype, shape, density):
        ours, theirs = self._fits()
        t_ours, t_theirs = best_times(ours, theirs, repeat=3)
        return t_theirs / t_ours



class SparseRelabel(Benchmark):
    """The estimator's relabeling of features by frequency (a wide CSR fit's first step).

    Counting the features, ordering them and relabeling ``indices`` on the
    CSC ``(n_features, m)`` data; skipped on commits without it.
    """

    param_names = ["shape", "density"]
    params = [SPARSE_SHAPES, DENSITIES]

    def setup(self, shape, density):
        _require_sparse()
        try:
            feature_order = importlib.import_module("fastlogreg._feature_order")
            validation = importlib.import_module("fastlogreg._validation")
        except ImportError:
            raise NotImplementedError("no feature relabeling in this commit") from None
        fix_threads()
        _, _, X, _ = sparse_data(shape, density, "float64", "csc")
        self.XT = validation.check_X(X)
        self.relabel = feature_order.relabel
        self.relabel(self.XT)

    def time_relabel(self, shape, density):
        self.relabel(self.XT)
