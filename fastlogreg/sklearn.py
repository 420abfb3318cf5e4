"""A scikit-learn estimator on fastlogreg's compiled kernels.

``fastlogreg.sklearn.LogisticRegression`` is a drop-in for scikit-learn's
``LogisticRegression`` with its L2 penalty: it minimizes

    C * sum_i s_i L(sigmoid(w^T x_i + b), y_i) + 0.5 * ||w||^2

(``C=np.inf``: no penalty), with two labels directly and more by one-vs-rest.
Import this module explicitly: ``import fastlogreg`` does not import
scikit-learn (install the extra: ``pip install 'fastlogreg[sklearn]'``).

How it stays fast
-----------------
* ``X`` of shape ``(n_samples, n_features)`` is handed to the kernels as the
  ``(n_features, n_samples)`` view ``X.T``: validation keeps float32/float64 in
  any memory layout as it is, and nothing proportional to ``X`` is copied.
* The ``lbfgs`` solver (:mod:`fastlogreg._lbfgs`: scipy's L-BFGS-B iterates
  without bounds, its passes over the saved corrections compiled and
  threaded) evaluates the objective and its gradient with one call of the
  backend's fused kernel: one pass over ``X``
  per evaluation, where scikit-learn's two matrix-vector products make two.
  The finiteness of ``X`` is checked by that first pass too (a non-finite
  element makes a non-finite logit, which the kernels count), not by an
  extra pass.
* Sample weights go to the kernels as their weight argument; the L2 term is
  one compiled O(n_features) pass.
* On wide CSR data the ``lbfgs`` fit relabels the features by frequency
  (:mod:`fastlogreg._feature_order`; a copy of ``indices`` only), so that the
  frequent features' weights and gradient entries stay in L2, and puts the
  coefficients back in the caller's order.
* Like scikit-learn, the objective is divided by the sum of the sample weights
  before L-BFGS sees it, so ``tol`` (its ``gtol``: the largest component of
  the projected gradient) means what it means in scikit-learn, and ``n_iter_``
  counts L-BFGS iterations as there.  The solver keeps the last
  :data:`LBFGS_MEMORY` corrections, scikit-learn's number, and takes
  L-BFGS-B's steps, line search and stopping rules, so that the fit
  follows scikit-learn's iterates up to rounding: the same ``n_iter_``, and
  coefficients far closer to scikit-learn's than either is to the optimum.
"""

import numbers
import warnings

import numba
import numpy as np
from scipy.special import expit, log_expit, logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import _validation as v
from ._feature_order import relabel_for_fit
from ._gram_descent import GramDescent, choose_method
from ._objective import (
    LBFGS_MEMORY,
    check_params,
    check_sw_sum,
    encode_classes,
    fit_one_vs_rest,
    label_codes,
    minimize_lbfgs,
    quiet_blas,
    warm_start_point,
)
from ._objective import Problem as _Problem
from ._tiling import current_tiling
from .backends import BACKENDS, DEFAULT_BACKEND, get_backend, get_gram_kernels
from .training import check_learning_rate, gradient_descent

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data

    def _validate_data(estimator, *args, ensure_all_finite=True, **kwargs):
        return _sk_validate_data(estimator, *args, ensure_all_finite=ensure_all_finite,
                                 **kwargs)
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, *args, ensure_all_finite=True, **kwargs):
        return estimator._validate_data(*args, force_all_finite=ensure_all_finite, **kwargs)

__all__ = ["GD_CHECK_EVERY", "LBFGS_MEMORY", "LogisticRegression"]

#: Gradient-descent iterations between two convergence checks of ``solver="gd"``.
GD_CHECK_EVERY = 10
#: The float dtypes the kernels compute in; other inputs become float64.
_DTYPES = [np.float64, np.float32]
#: Sparse formats used as they are (others are converted to CSR by validation).
_SPARSE = ["csr", "csc"]


def _gram_span(problem, target, w0, params):
    """A Gram-space descent for ``solver="gd"`` when it is predicted faster, else None.

    As ``optimize(method="auto")`` decides (:func:`fastlogreg._gram_descent.choose_method`),
    over ``max_iter`` iterations with ``w`` and ``dw`` formed at every
    convergence check (one pass over X per :data:`GD_CHECK_EVERY` iterations):
    dense X with many more features than examples.  The iterates are the
    primal loop's up to rounding, so the convergence checks stop at the same
    iteration.
    """
    XT = problem.XT
    if not isinstance(XT, np.ndarray) or params["max_iter"] == 0:
        return None
    n, m = XT.shape
    checks = -(-params["max_iter"] // GD_CHECK_EVERY)
    if choose_method(n, m, params["max_iter"], params["backend"], formations=checks) != "gram":
        return None
    # A copy: the descent keeps w0 (w = c w0 + X a), while the caller's w is
    # rewritten at every convergence check.
    span = GramDescent(get_gram_kernels(params["backend"]), w0.copy(), XT, target, problem.sw,
                       problem.scale, problem.l2, problem.fit_intercept)
    return span if span.finite else None


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """L2-penalized logistic regression fitted by fastlogreg's compiled kernels.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularization strength (> 0): the objective is
        ``C * sum_i s_i L_i + 0.5 * ||coef||^2``; ``np.inf`` means no penalty.
        The intercept is not penalized.
    fit_intercept : bool, default True
        Fit the intercept (else it is 0).
    solver : {"lbfgs", "gd"}, default "lbfgs"
        ``"lbfgs"``: L-BFGS taking scipy's L-BFGS-B iterates (as scikit-learn's
        ``lbfgs``), on the fused compiled value-and-gradient kernel.
        ``"gd"``: fastlogreg's compiled batch gradient descent.
    tol : float, default 1e-4
        Stop when the largest component of the gradient of the objective
        divided by ``C * sum(sample_weight)`` is at most ``tol`` (L-BFGS-B's
        ``pgtol``, scikit-learn's ``gtol``; for ``"gd"``, checked every :data:`GD_CHECK_EVERY`
        iterations).
    max_iter : int, default 100
        Maximum number of iterations per binary problem.
    learning_rate : float or "auto", default "auto"
        Step size of ``solver="gd"`` on the scaled objective; ``"auto"`` is
        ``1 / L`` with ``L`` a power-iteration estimate of the curvature bound
        ``0.25 * lambda_max(X~^T S X~) / sum(s) + 1 / (C sum(s))``.  Unused by
        ``"lbfgs"``.
    backend : {"python", "numpy", "loop", "parallel", "vectorized"}, default "parallel"
        The fastlogreg backend computing the objective.  ``"parallel"`` on
        fewer than ``fastlogreg._tiling.PARALLEL_MIN_ELEMENTS`` elements of
        ``X`` runs its serial build (``"loop"``, the same results).
    n_threads : int, optional
        Numba threads used by the ``parallel`` backend during ``fit`` (at most
        ``numba.config.NUMBA_NUM_THREADS``; larger values are clipped).  The
        calling thread's setting is restored afterwards.  None: leave it.
    verbose : int, default 0
        Print the objective while fitting (every L-BFGS iteration; every 100
        gradient-descent iterations).
    warm_start : bool, default False
        Start from the previous fit's ``coef_`` and ``intercept_`` when they
        fit the new data's shape and classes.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights (one row per class, one-vs-rest, when there are more than two).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).
    n_iter_ : ndarray of int32, shape (1,) or (n_classes,)
        Iterations run for each binary problem.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastlogreg.sklearn import LogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression(C=1.0).fit(X, y)
    >>> round(clf.score(X, y), 3)
    0.988
    """

    def __init__(self, C=1.0, *, fit_intercept=True, solver="lbfgs", tol=1e-4, max_iter=100,
                 learning_rate="auto", backend=DEFAULT_BACKEND, n_threads=None, verbose=0,
                 warm_start=False):
        self.C = C
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.backend = backend
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        """Dense and sparse (CSR/CSC) input; everything else as for a classifier."""
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)
            Training data; float32 and float64 are used as they are (never
            copied), other real dtypes become float64.  CSR and CSC are used as
            they are (other sparse formats are converted to CSR).
        y : array_like of shape (n_samples,)
            Labels: any two or more distinct values.
        sample_weight : array_like of shape (n_samples,), optional
            Non-negative weights with a positive sum; None means all ones.

        Returns
        -------
        self : LogisticRegression
            The fitted estimator.

        Raises
        ------
        ValueError
            Invalid parameters or data: fewer than two classes, NaN or inf in
            ``X``, bad sample weights.
        FloatingPointError
            If the logits overflow (finite but astronomically large inputs) or
            gradient descent diverges (try a smaller ``learning_rate``).
        """
        params = self._checked_params()
        X, y = _validate_data(self, X, y, dtype=_DTYPES, ensure_all_finite=False,
                              accept_sparse=_SPARSE, accept_large_sparse=True)
        if y.dtype.kind not in "biu":  # integers (1-D) are binary or multiclass: no
            check_classification_targets(y)  # pass over y that sorts or hashes it
        classes, y_index = label_codes(y, return_inverse=True)
        n_problems = encode_classes(classes)
        n_samples, n_features = X.shape
        sw = v.check_sample_weight(sample_weight, n_samples)
        sw_sum = check_sw_sum(float(sw.sum()) if sw.shape[0] else float(n_samples))

        kernels = get_backend(params["backend"])
        # (n_features, n_samples): the kernels' layout, a view (CSR <-> CSC for sparse X)
        XT = v.check_X(X.T)
        start = warm_start_point(self, classes, n_features, n_problems)

        def fit_one(positive, w0, b0):
            target = (y_index == positive).astype(X.dtype)
            if params["solver"] == "lbfgs":
                return minimize_lbfgs(problem, target, w0, b0, params, stacklevel=5)
            return self._fit_gd(problem, target, w0, b0, params)

        with _numba_threads(params["n_threads"]), quiet_blas(params["backend"]):
            # Wide sparse data: the fit runs on features relabeled by frequency
            # (fastlogreg/_feature_order.py), its coefficients permuted alike.
            XT_fit, order = XT, None
            if params["solver"] == "lbfgs":
                XT_fit, order = relabel_for_fit(XT, params["backend"],
                                                current_tiling().caches.l2,
                                                numba.get_num_threads())
            problem = _Problem(kernels, XT_fit, sw, sw_sum, params["C"],
                               params["fit_intercept"], report_XT=XT)
            if order is not None:
                start = [(w0[order], b0) for w0, b0 in start]
            coef, intercept, n_iter = fit_one_vs_rest(n_problems, n_features, start, fit_one)
        if order is not None:
            coef[:, order] = coef.copy()
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = n_iter
        return self

    def _checked_params(self):
        """The constructor parameters, validated (ValueError/TypeError otherwise)."""
        params = check_params(self, solvers=("lbfgs", "gd"), backends=BACKENDS)
        learning_rate = self.learning_rate
        if not (isinstance(learning_rate, str) and learning_rate == "auto"):
            try:
                learning_rate = check_learning_rate(learning_rate)
            except TypeError as exc:
                raise ValueError(f"{exc}, or 'auto'") from None
        n_threads = self.n_threads
        if n_threads is not None and (isinstance(n_threads, bool)
                                      or not isinstance(n_threads, numbers.Integral)
                                      or n_threads < 1):
            raise ValueError(f"n_threads must be None or an integer >= 1; got {n_threads!r}")
        params.update(learning_rate=learning_rate,
                      n_threads=None if n_threads is None else int(n_threads))
        return params

    def _fit_gd(self, problem, target, w0, b0, params):
        """One binary problem by compiled gradient descent; returns ``(w, b, n_iter)``."""
        problem.check_finite(target, w0, b0)
        learning_rate = params["learning_rate"]
        if learning_rate == "auto":
            learning_rate = 1.0 / problem.curvature_bound()
        w, b = w0.copy(), b0
        done = 0
        converged = False
        max_iter = params["max_iter"]
        span = _gram_span(problem, target, w, params)
        while done < max_iter and not converged:
            steps = min(GD_CHECK_EVERY, max_iter - done)
            b, dw, db, costs = gradient_descent(
                problem.kernels, w, b, problem.XT, target, problem.sw, steps, learning_rate,
                scale=problem.scale, l2=problem.l2, fit_intercept=problem.fit_intercept,
                span=span)
            if params["verbose"] and done % 100 == 0:
                print(f"gd: iteration {done}, objective {costs[0]:.10g}")
            done += steps
            grad_max = float(np.max(np.abs(dw)))
            if problem.fit_intercept:
                grad_max = max(grad_max, abs(float(db)))
            converged = grad_max <= params["tol"]
        if not converged:
            warnings.warn(f"gd did not converge in {max_iter} iteration(s) (learning_rate="
                          f"{learning_rate:g}). Increase max_iter.", ConvergenceWarning,
                          stacklevel=5)
        return w, b, done

    # --------------------------------------------------------------- prediction

    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            One column per class with more than two classes; for two, the
            logit of ``classes_[1]``.
        """
        check_is_fitted(self)
        X = _validate_data(self, X, dtype=_DTYPES, reset=False, accept_sparse=_SPARSE,
                           accept_large_sparse=True)
        # coef_ cast to X's dtype: a float32 X is not converted (copied) to float64.
        scores = X @ self.coef_.T.astype(X.dtype, copy=False) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            ``classes_[1]`` where its logit is > 0 (two classes), else the
            class with the largest logit.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed without underflow.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        log_p = log_expit(scores)
        return log_p - logsumexp(log_p, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``[1 - p, p]`` with ``p = sigmoid(logit)`` for two classes; with
            more, the one-vs-rest sigmoids normalized to sum to 1 (as
            scikit-learn's one-vs-rest).
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([expit(-scores), expit(scores)])
        log_p = log_expit(scores)
        log_p -= log_p.max(axis=1, keepdims=True)
        proba = np.exp(log_p)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba


class _numba_threads:
    """Context manager: ``numba.set_num_threads(n)`` inside, the previous value after."""

    def __init__(self, n_threads):
        self.n_threads = n_threads
        self.previous = None

    def __enter__(self):
        if self.n_threads is not None:
            self.previous = numba.get_num_threads()
            numba.set_num_threads(min(self.n_threads, numba.config.NUMBA_NUM_THREADS))
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            numba.set_num_threads(self.previous)
        return False
