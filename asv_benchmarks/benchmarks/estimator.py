"""The scikit-learn estimator ``fastlogreg.sklearn.LogisticRegression``.

Data in scikit-learn's layout (``n_samples x n_features``, C-ordered, int
labels).  Skipped on commits without the estimator.  Its constructor is
read through ``get_params``: ``backend``, an iteration-count parameter,
``tol=0`` and ``n_threads`` are set when the estimator has them, so that
``fit`` does a fixed amount of work on the suite's thread count.
"""

import importlib
import warnings

from .common import (
    BACKENDS,
    NUMBA_THREADS,
    SHAPES,
    TRAINING_DTYPES,
    TRAINING_ITERATIONS,
    CourseProblem,
    fix_threads,
    skip_unless_supported,
    sklearn_data,
)

#: Names an iteration-count parameter may have; the first one present is set.
_ITERATION_PARAMS = ("num_iterations", "max_iter", "n_iter")


def _estimator_class():
    try:
        module = importlib.import_module("fastlogreg.sklearn")
        return module.LogisticRegression
    except (ImportError, AttributeError):
        raise NotImplementedError("fastlogreg.sklearn.LogisticRegression does not "
                                  "exist in this commit") from None


def _silence_convergence_warnings():
    """A fixed iteration budget stops before convergence on purpose."""
    try:
        from sklearn.exceptions import ConvergenceWarning
    except ImportError:
        return
    warnings.simplefilter("ignore", ConvergenceWarning)


def make_estimator(backend):
    """An unfitted estimator running ``TRAINING_ITERATIONS`` on ``backend``."""
    cls = _estimator_class()
    _silence_convergence_warnings()
    names = cls().get_params()
    kwargs = {}
    if "backend" in names:
        kwargs["backend"] = backend
    elif backend != getattr(importlib.import_module("fastlogreg"), "DEFAULT_BACKEND", None):
        # without the parameter only the default backend runs
        raise NotImplementedError("this estimator has no backend parameter")
    for name in _ITERATION_PARAMS:
        if name in names:
            kwargs[name] = TRAINING_ITERATIONS
            break
    if "n_threads" in names:
        kwargs["n_threads"] = NUMBA_THREADS
    if "tol" in names:  # no early stop: every commit does the same work
        kwargs["tol"] = 0.0
    return cls(**kwargs)


#: One fitted estimator per grid point and process (asv re-runs setup before
#: every timed call); fitting it also warms ``fit`` and ``predict`` up.
_fitted = {}


class LogisticRegression(CourseProblem):
    """``fit`` and ``predict`` of the estimator."""

    params = [BACKENDS, TRAINING_DTYPES, SHAPES]

    def setup(self, backend, dtype, shape):
        skip_unless_supported(backend, shape)
        fix_threads()
        self.X, self.y = sklearn_data(shape, dtype)
        key = (backend, dtype, shape)
        if key not in _fitted:
            fitted = make_estimator(backend).fit(self.X, self.y)
            fitted.predict(self.X)
            _fitted[key] = fitted
        self.fitted = _fitted[key]
        self.estimator = make_estimator(backend)

    def time_fit(self, backend, dtype, shape):
        self.estimator.fit(self.X, self.y)

    def time_predict(self, backend, dtype, shape):
        self.fitted.predict(self.X)


class GradientDescentFit(CourseProblem):
    """``fit`` with ``solver="gd"``: on wide data it trains in the span of the examples.

    ``TRAINING_ITERATIONS`` iterations, ``tol=0``; the Gram path is taken
    where the estimator predicts it faster (12288x209 on the compiled
    backends), the primal loop elsewhere.
    """

    params = [BACKENDS, SHAPES]

    def setup(self, backend, shape):
        skip_unless_supported(backend, shape)
        fix_threads()
        self.X, self.y = sklearn_data(shape, "float64")
        estimator = make_estimator(backend)
        if "solver" not in estimator.get_params():
            raise NotImplementedError("this estimator has no solver parameter")
        try:
            self.estimator = estimator.set_params(solver="gd")
            self.estimator.fit(self.X, self.y)  # compiles; raises where "gd" is unknown
        except ValueError:
            raise NotImplementedError("this estimator has no solver='gd'") from None

    def time_fit(self, backend, shape):
        self.estimator.fit(self.X, self.y)
