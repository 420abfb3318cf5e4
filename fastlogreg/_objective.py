"""The estimators' objective, written once for every driver.

Both scikit-learn-style estimators (the in-memory
:class:`fastlogreg.sklearn.LogisticRegression` and the Dask one in
:mod:`fastlogreg.dask`) minimize

    C * sum_i s_i L(sigmoid(w^T x_i + b), y_i) + 0.5 * ||w||^2

divided by ``C * sum(s)`` (``C=np.inf``: no penalty, the intercept never
penalized), with two labels directly and more by one-vs-rest.  This module
holds everything about that objective: parameter checks, label encoding,
warm starts, the one-vs-rest loop, the penalty and scaling (:class:`Problem`)
and the L-BFGS driver (:func:`minimize_lbfgs`).

A driver only says where the data lives: :class:`Problem` calls
``kernels.value_and_grad(w, b, XT, target, sw, want_cost, want_grad, dw)``,
the backend interface of :mod:`fastlogreg.backends`, where ``kernels`` is a
registered backend and ``XT`` an array (in memory), or an object that sums the
same kernel over chunks held elsewhere (Dask).
"""

import math
import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from . import _lbfgs, _lbfgs_kernels
from . import _validation as v
from ._sparse import SparseX

__all__ = ["LBFGS_MEMORY", "Problem", "check_params", "check_sw_sum", "encode_classes",
           "fit_one_vs_rest", "label_codes", "minimize_lbfgs", "raise_nonfinite",
           "warm_start_point"]

#: Corrections kept by L-BFGS (scipy's ``maxcor``): scikit-learn's (scipy's
#: default), so that a fit follows scikit-learn's iterates and stops where it
#: stops.  30 saved iterations (22 against 51 on 200000 x 1000000 text-like
#: data, C=0.1) but, stopping at the same ``tol``, landed elsewhere: 2e-3
#: (relative) from scikit-learn's coefficients, 93 predictions of 200000
#: different, and farther from the optimum; with 10 the coefficients agree to
#: 2e-9 and every prediction is the same (``tools/bench_sparse.py``).
LBFGS_MEMORY = 10


def check_params(estimator, *, solvers, backends):
    """The parameters every estimator shares, validated.

    Parameters
    ----------
    estimator : object
        With attributes ``C``, ``fit_intercept``, ``warm_start``, ``solver``,
        ``tol``, ``max_iter``, ``backend``, ``verbose``.
    solvers, backends : tuple of str
        The values ``solver`` and ``backend`` may take.

    Returns
    -------
    dict
        ``C``, ``fit_intercept``, ``solver``, ``tol``, ``max_iter``,
        ``backend``, ``verbose`` as plain Python values.

    Raises
    ------
    ValueError
        Naming the parameter, what it must be and what it is.
    """
    C = estimator.C
    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not C > 0:
        raise ValueError(f"C must be a positive float (np.inf for no penalty); got {C!r}")
    for name in ("fit_intercept", "warm_start"):
        if not isinstance(getattr(estimator, name), (bool, np.bool_)):
            raise ValueError(f"{name} must be a bool; got {getattr(estimator, name)!r}")
    if estimator.solver not in solvers:
        expected = " or ".join(repr(s) for s in solvers)
        raise ValueError(f"solver must be {expected}; got {estimator.solver!r}")
    tol = estimator.tol
    if (isinstance(tol, bool) or not isinstance(tol, numbers.Real)
            or not (math.isfinite(tol) and tol >= 0)):
        raise ValueError(f"tol must be a finite float >= 0; got {tol!r}")
    max_iter = estimator.max_iter
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) \
            or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0; got {max_iter!r}")
    if estimator.backend not in backends:
        raise ValueError(f"backend must be one of {backends}; got {estimator.backend!r}")
    verbose = estimator.verbose
    if not isinstance(verbose, numbers.Integral) or verbose < 0:
        raise ValueError(f"verbose must be an integer >= 0; got {verbose!r}")
    return {"C": float(C), "fit_intercept": bool(estimator.fit_intercept),
            "solver": estimator.solver, "tol": float(tol), "max_iter": int(max_iter),
            "backend": estimator.backend, "verbose": int(verbose)}


#: Integer labels spanning at most this many values per label (and at most
#: ``2**20`` values in all) are counted with ``np.bincount`` rather than sorted
#: or hashed by ``np.unique``: 2.5 ms against 50 ms for a million labels.
_COUNT_SPAN = 2


def label_codes(y, *, return_inverse=False):
    """The sorted distinct labels of ``y`` (and each label's index among them).

    ``np.unique(y, return_inverse=...)``, the same values and dtype, by
    counting when ``y`` holds integers (or bools) over a short range.

    Parameters
    ----------
    y : ndarray of shape (n,)
    return_inverse : bool
        Also return ``index`` with ``classes[index] == y``.

    Returns
    -------
    classes : ndarray
    index : ndarray of intp, shape (n,)
        Only with ``return_inverse``.
    """
    if y.dtype.kind in "biu" and y.shape[0]:
        lo, hi = int(y.min()), int(y.max())
        span = hi - lo + 1
        if (span <= max(16, _COUNT_SPAN * y.shape[0]) and span <= 1 << 20
                and hi <= np.iinfo(np.int64).max):
            # Python ints: no overflow at the ends of int64/uint64; the offsets
            # fit in int64 since span is small.
            offset = y.astype(np.int64) - lo if lo else y.astype(np.int64, copy=False)
            present = np.bincount(offset, minlength=span) > 0
            classes = (np.flatnonzero(present) + lo).astype(y.dtype)
            if not return_inverse:
                return classes
            return classes, (np.cumsum(present) - 1)[offset]
    return np.unique(y, return_inverse=return_inverse)


def encode_classes(classes):
    """The number of binary problems for the sorted labels ``classes``.

    Two classes make one problem (``classes[1]`` is the positive class); more
    make one per class (one-vs-rest).

    Raises
    ------
    ValueError
        Fewer than two classes.
    """
    if classes.shape[0] < 2:
        raise ValueError("LogisticRegression needs samples of at least 2 classes in the "
                         f"data; got one class: {classes[0]!r}")
    return 1 if classes.shape[0] == 2 else classes.shape[0]


def check_sw_sum(sw_sum):
    """Raise unless the sum of the sample weights is positive; return it."""
    if not sw_sum > 0:
        raise ValueError("sample_weight must have a positive sum; got all zeros")
    return sw_sum


def warm_start_point(estimator, classes, n_features, n_problems):
    """Per binary problem ``(w0, b0)``: zeros, or the previous fit's solution."""
    zeros = [(np.zeros(n_features), 0.0) for _ in range(n_problems)]
    if not estimator.warm_start or not hasattr(estimator, "coef_"):
        return zeros
    same = (estimator.coef_.shape == (n_problems, n_features)
            and np.array_equal(estimator.classes_, classes))
    if not same:
        return zeros
    b0 = estimator.intercept_ if estimator.fit_intercept else np.zeros(n_problems)
    return [(np.array(estimator.coef_[k], dtype=np.float64), float(b0[k]))
            for k in range(n_problems)]


def fit_one_vs_rest(n_problems, n_features, start, fit_one):
    """Fit the binary problems one after the other.

    Parameters
    ----------
    n_problems : int
        From :func:`encode_classes`.
    n_features : int
    start : list of (ndarray, float)
        From :func:`warm_start_point`.
    fit_one : callable
        ``fit_one(positive, w0, b0) -> (w, b, n_iter)``: the binary problem
        whose positive examples are those of class index ``positive``.

    Returns
    -------
    coef : ndarray of shape (n_problems, n_features)
    intercept : ndarray of shape (n_problems,)
    n_iter : ndarray of int32, shape (n_problems,)
    """
    coef = np.empty((n_problems, n_features))
    intercept = np.zeros(n_problems)
    n_iter = np.zeros(n_problems, dtype=np.int32)
    for k in range(n_problems):
        positive = 1 if n_problems == 1 else k
        w0, b0 = start[k]
        w, b, n_iter[k] = fit_one(positive, w0, b0)
        coef[k] = w
        intercept[k] = b
    return coef, intercept, n_iter


def minimize_lbfgs(problem, target, w0, b0, params, *, callback=None, stacklevel=4):
    """One binary problem by L-BFGS (L-BFGS-B's iterates); returns ``(w, b, n_iter)``.

    Parameters
    ----------
    problem : Problem
    target : array or chunked handles
        The 0/1 targets of this binary problem, as ``problem``'s kernels take them.
    w0 : ndarray of float64, shape (n_features,)
    b0 : float
    params : dict
        From :func:`check_params` (``tol``, ``max_iter``, ``verbose``,
        ``backend``: ``parallel`` runs the optimizer's passes on threads too).
    callback : callable, optional
        ``callback(iteration, objective)`` after every L-BFGS iteration.
    stacklevel : int
        Of the ConvergenceWarning, so that it points at the user's ``fit`` call.

    Notes
    -----
    scikit-learn's settings (``maxls=50``, ``gtol=tol``, ``ftol=64 eps``,
    10 pairs) run through :func:`fastlogreg._lbfgs.minimize`, which takes
    scipy's L-BFGS-B iterates without its cost on wide data.
    """
    parallel = params["backend"] == "parallel"
    fun = problem.objective(target, parallel)
    x0 = np.append(w0, b0) if problem.fit_intercept else w0.copy()
    report = callback
    if params["verbose"]:
        def report(iteration, objective):
            print(f"lbfgs: objective {objective:.10g}")
            if callback is not None:
                callback(iteration, objective)
    result = _lbfgs.minimize(fun, x0, gtol=params["tol"], ftol=64 * np.finfo(float).eps,
                             max_iter=params["max_iter"], max_ls=50, memory=LBFGS_MEMORY,
                             parallel=parallel, callback=report)
    if result.status != 0:
        warnings.warn(f"lbfgs failed to converge after {result.n_iter} iteration(s) "
                      f"(status={result.status}): {result.message}. Increase max_iter "
                      "or scale the data.", ConvergenceWarning, stacklevel=stacklevel)
    n = problem.n_features
    b = float(result.x[n]) if problem.fit_intercept else 0.0
    return result.x[:n].copy(), b, result.n_iter


class Problem:
    """The scaled objective of one data set, shared by the binary problems.

    ``f(w, b) = scale * sum_i s_i L_i + 0.5 * l2 * ||w||^2`` with
    ``scale = 1 / sum(s)`` and ``l2 = 1 / (C sum(s))``: scikit-learn's
    objective divided by ``C sum(s)``.

    Parameters
    ----------
    kernels : backend object
        ``kernels.value_and_grad`` sums the loss and gradient over ``XT``.
    XT : ndarray of shape (n_features, n_samples), or a chunked equivalent
        The data in the kernels' layout.
    sw : ndarray (empty: all ones), or a chunked equivalent
    sw_sum : float
    C : float
    fit_intercept : bool
    n_features : int, optional
        Default ``XT.shape[0]``.
    report_XT : optional
        The data as the caller's features number them, for the message
        naming a non-finite element (``XT`` may have them relabeled:
        :mod:`fastlogreg._feature_order`); default ``XT``.
    """

    def __init__(self, kernels, XT, sw, sw_sum, C, fit_intercept, n_features=None,
                 report_XT=None):
        self.kernels = kernels
        self.XT = XT
        self.report_XT = XT if report_XT is None else report_XT
        self.sw = sw
        self.n_features = XT.shape[0] if n_features is None else n_features
        self.scale = 1.0 / sw_sum
        self.l2 = 0.0 if math.isinf(C) else 1.0 / (C * sw_sum)
        self.fit_intercept = fit_intercept

    def objective(self, target, parallel=False):
        """``fun(theta, grad) -> f`` for L-BFGS, ``theta = [w, b]`` (or ``w``).

        The gradient is written into ``grad``; ``parallel`` runs the penalty's
        pass on Numba's threads (the same bits either way).
        """
        kernel = self.kernels.value_and_grad
        XT, sw, n, scale, l2 = self.XT, self.sw, self.n_features, self.scale, self.l2
        fit_intercept, report_XT = self.fit_intercept, self.report_XT
        dw = np.empty(n)
        penalize = _lbfgs_kernels.penalized_gradient[parallel]
        partials = np.empty(_lbfgs_kernels.n_blocks(n))

        def fun(theta, grad):
            w = theta[:n]
            b = float(theta[n]) if fit_intercept else 0.0
            loss, db, n_bad = kernel(w, b, XT, target, sw, True, True, dw)
            if n_bad:
                raise_nonfinite(report_XT, n_bad)
            penalize(dw, w, scale, l2, grad, partials)
            f = scale * loss + 0.5 * l2 * float(_lbfgs_kernels.sum_blocks(partials))
            if fit_intercept:
                grad[n] = scale * db
            return f
        return fun

    def check_finite(self, target, w, b):
        """One forward pass: raise if ``X`` holds NaN or inf (or the logits overflow)."""
        _, _, n_bad = self.kernels.value_and_grad(w, b, self.XT, target, self.sw, False,
                                                  False, np.empty(self.n_features))
        if n_bad:
            raise_nonfinite(self.report_XT, n_bad)

    def curvature_bound(self, n_power=30, seed=0):
        """Power-iteration estimate of the Lipschitz constant of the gradient.

        Parameters
        ----------
        n_power : int
            Power iterations on ``0.25 * X~^T S X~ * scale`` (``X~`` is ``X``
            with a column of ones when the intercept is fitted).
        seed : int
            Seed of the start vector.

        Returns
        -------
        float
            The estimate times 1.05, plus ``l2``.
        """
        X = self.XT.T
        weights = self.sw if self.sw.shape[0] else None
        rng = np.random.default_rng(seed)
        vec = rng.standard_normal(self.n_features + int(self.fit_intercept))
        vec /= np.linalg.norm(vec)
        lam = 0.0
        for _ in range(n_power):
            w = vec[:self.n_features].astype(X.dtype)
            u = X @ w + (vec[-1] if self.fit_intercept else 0.0)
            if weights is not None:
                u *= weights
            nxt = np.empty_like(vec)
            nxt[:self.n_features] = X.T @ u.astype(X.dtype)
            if self.fit_intercept:
                nxt[-1] = u.sum()
            nxt *= 0.25 * self.scale
            lam = float(np.linalg.norm(nxt))
            if lam == 0.0:
                break
            vec = nxt / lam
        return 1.05 * lam + self.l2 if lam + self.l2 > 0 else 1.0


def raise_nonfinite(XT, n_bad, row_offset=0):
    """After the kernel counted ``n_bad`` non-finite logits: locate the culprit and raise.

    Parameters
    ----------
    XT : ndarray or SparseX of shape (n_features, n_samples)
    n_bad : int
    row_offset : int
        Index of ``XT``'s first sample in the whole data (a chunk's start).
    """
    # Chunked (Dask) data: each chunk's task has raised already for a
    # non-finite X, so only an overflow is left to report.
    j, i, value = (v.locate_nonfinite(XT) if isinstance(XT, (np.ndarray, SparseX))
                   else (-1, 0, 0.0))
    if j >= 0:
        raise ValueError(f"Input X contains NaN or infinity: X[{row_offset + i}, {j}] = "
                         f"{value}")
    raise FloatingPointError(f"the logits overflowed for {n_bad} sample(s): X and the "
                             "weights are finite but too large")


def quiet_blas(backend):
    """One BLAS thread while a fit with the ``parallel`` kernels runs, else no change.

    A BLAS call during a fit wakes OpenBLAS's threads, which keep spinning and
    take the cores from Numba's threads.  With scipy's L-BFGS-B (whose
    updates call BLAS) the parallel kernel ran at half speed inside ``fit``
    (2.1 s against 1.1 s with one BLAS thread on 100000 x 1000), and a Dask
    fit's client slowed the kernels on the workers or in this process (local
    scheduler: 250 ms against 180 ms for 1,000,000 x 50).  fastlogreg's own
    L-BFGS calls no BLAS, but a kernel or a callback might.  ``vectorized``
    is left alone: its gemvs are BLAS.  threadpoolctl comes with
    scikit-learn.
    """
    if backend == "parallel":
        return threadpool_limits(limits=1, user_api="blas")
    return threadpool_limits(limits=None)
