"""Gradient descent in the span of the examples (``method="gram"``), written once.

Batch gradient descent from ``w0`` only ever adds combinations of the
examples to ``w``: every gradient is ``X g`` for some m-vector ``g`` (plus
``l2 * w`` with a penalty).  So ``w_t = c_t w0 + X a_t`` (``c_t = 1`` without
a penalty) and the logits are

    z_t = X^T w_t + b_t = c_t X^T w0 + K a_t + b_t,   K = X^T X  (m x m).

With ``K`` and ``z0 = X^T w0`` computed once, an iteration costs one m x m
matrix-vector product instead of two passes over the n x m data: at the
course's shape (12288 x 209) 43,681 multiply-adds instead of 2.6 million.
``w`` and the last gradient ``dw = X g + gc w0`` are formed once at the end.
The iterates are the primal ones, up to rounding.

:func:`descend_gram` runs a segment of iterations; its global ``gram_terms``
is bound per backend (:func:`bind_gram_descent`) exactly as
:func:`fastlogreg._descent.descend` is.  :class:`GramDescent` holds the state
between segments.

Precision: ``K``, ``z0`` and the final products are accumulated in float64
for float32 ``X`` too.  A product of two float32 numbers is exact in float64,
so ``K`` is the Gram matrix of the given data to float64 rounding, and the
iteration itself (``a``, ``K a``, the logits) is float64 whatever X's dtype:
on float32 data the trajectory is that of float64 arithmetic on the same
values, closer to the exact one than the primal float32 loop (whose logits
carry ``~n * eps32`` relative error).  The price is the conversion of X to
float64, one block of features at a time.
"""

import numpy as np

from ._descent import bind_loop, without_work
from ._scalar import is_finite

#: Largest ``K`` (bytes) that ``method="auto"`` builds: 2 GiB, m up to 16384.
GRAM_MAX_BYTES = 2 << 30

#: Seconds per multiply-add of each part, per backend, measured with one
#: thread (Numba and BLAS) on the 12288 x 209 cat-like data (AMD EPYC, AVX-512;
#: ``python`` on 300 x 40): ``primal`` one iteration over X (per element of
#: X), ``gram`` building K (per multiply-add of ``n m^2 / 2``), ``step`` one
#: Gram iteration (per element of K; for ``numpy`` mostly its ~50 us of
#: Python per iteration).  Only their ratios matter, and the choice is rarely
#: close: at the course's shape Gram is predicted (and measured) 20-100x faster.
COSTS = {
    "python": {"primal": 3e-7, "gram": 2e-7, "step": 2.8e-7},
    "numpy": {"primal": 1.1e-9, "gram": 8.6e-11, "step": 1.2e-9},
    "loop": {"primal": 6.7e-10, "gram": 6.5e-11, "step": 2.2e-10},
    "parallel": {"primal": 3.6e-10, "gram": 8.1e-11, "step": 1.5e-10},
    "vectorized": {"primal": 6.1e-10, "gram": 5.1e-11, "step": 1.5e-10},
}

METHODS = ("auto", "primal", "gram")


def check_method(method):
    """One of :data:`METHODS`, or a ValueError naming ``method``."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    return method


def predicted_seconds(n, m, num_iterations, backend, formations=1):
    """Predicted time of training by each method, from :data:`COSTS`.

    Parameters
    ----------
    n, m : int
        Features and examples.
    num_iterations : int
    backend : str
    formations : int, default 1
        How often Gram training forms ``w`` and ``dw`` (once, at the end, for
        :func:`fastlogreg.optimize`; at every convergence check for the
        estimator's ``solver="gd"``).

    Returns
    -------
    primal, gram : float
        ``iters n m`` for the primal loop; ``n m^2 / 2`` (K) ``+ iters m^2``
        (iterations) ``+ formations 2 n m`` (``w`` and ``dw``) for Gram.
    """
    c = COSTS[backend]
    primal = num_iterations * n * m * c["primal"]
    gram = (0.5 * n * m * m * c["gram"] + num_iterations * m * m * c["step"]
            + formations * 2 * n * m * c["primal"])
    return primal, gram


def choose_method(n, m, num_iterations, backend, max_bytes=GRAM_MAX_BYTES, formations=1):
    """What ``method="auto"`` runs: ``"gram"`` when predicted faster and K fits.

    Parameters
    ----------
    n, m : int
        Features and examples of X.
    num_iterations : int
    backend : str
        A name of :data:`fastlogreg.BACKENDS`.
    max_bytes : int
        Largest K (``8 m^2`` bytes) allowed.
    formations : int, default 1
        See :func:`predicted_seconds`.

    Returns
    -------
    {"primal", "gram"}
    """
    if num_iterations == 0 or 8 * m * m > max_bytes:
        return "primal"
    primal, gram = predicted_seconds(n, m, num_iterations, backend, formations)
    return "gram" if gram < primal else "primal"


def gram_terms(K, a, c, z0, b, y, sw, want_cost, r_out, kz_out, work):  # pragma: no cover
    """Placeholder bound to a backend's kernel by :func:`bind_gram_descent`.

    A bound kernel writes ``K a`` to ``kz_out`` and the (weighted) residuals
    ``sw_i (sigmoid(z_i) - y_i)`` of the logits ``z = c z0 + K a + b`` to
    ``r_out``, and returns ``(loss_sum, db_sum, n_bad)`` as ``value_and_grad``
    does.
    """
    raise NotImplementedError


def descend_gram(K, z0, w0_sq, y, sw, a, c, b, g, kz, work, n_steps, lr, scale, l2,
                 fit_intercept, record):
    """Run ``n_steps`` iterations of gradient descent in the span of the examples.

    The iteration of :func:`fastlogreg._descent.descend`, with
    ``w = c w0 + X a``: the update ``w -= lr (X g + gc w0)`` becomes
    ``a -= lr g``, ``c -= lr gc``.

    Parameters
    ----------
    K : ndarray of float64, shape (m, m)
        ``X^T X``.
    z0 : ndarray of float64, shape (m,)
        ``X^T w0``.
    w0_sq : float
        ``||w0||^2`` (for the penalty).
    y, sw
        Labels and sample weights (``sw`` may be empty).
    a : ndarray of float64, shape (m,)
        Coefficients of the examples in ``w``, updated in place.
    c : float
        Coefficient of ``w0`` in ``w``.
    b : float
        Bias.
    g : ndarray of float64, shape (m,)
        Receives the last iteration's gradient coefficients: ``dw = X g + gc w0``.
    kz : ndarray of float64, shape (m,)
        Workspace for ``K a``.
    work : tuple
        The kernel's own workspace.
    n_steps, lr, scale, l2, fit_intercept, record
        As for :func:`fastlogreg._descent.descend`.

    Returns
    -------
    b, c : float
        Updated bias and coefficient of ``w0``.
    gc : float
        Last iteration's coefficient of ``w0`` in ``dw``.
    cost : float
        Cost at the first iteration when ``record``, else NaN.
    db : float
        Last iteration's gradient with respect to ``b``.
    stop : int
        -1, or the iteration at which a logit, the gradient or the cost
        stopped being finite (``a``, ``c``, ``b`` are those before it).
    """
    cost = np.nan
    db = 0.0
    gc = 0.0
    for it in range(n_steps):
        want_cost = record and it == 0
        # work whole, as in descend: a call with *work could not be inlined.
        loss, db_sum, n_bad = gram_terms(K, a, c, z0, b, y, sw, want_cost, g, kz, work)
        db = scale * db_sum
        g *= scale
        gc = l2 * c
        if l2 != 0.0:
            g += l2 * a
        if want_cost:
            # ||c w0 + X a||^2 = c^2 ||w0||^2 + 2 c a.z0 + a.(K a), no BLAS call
            # (see _descent.py).  Computed without a penalty too, as descend
            # does: weights whose squared norm overflows (|w| > 1e154) then
            # stop training at the same record point (0 * inf is NaN).
            w_sq = c * c * w0_sq + 2.0 * c * np.sum(a * z0) + np.sum(a * kz)
            cost = scale * loss + 0.5 * l2 * w_sq
            if not is_finite(cost):
                return b, c, gc, cost, db, it
        if n_bad > 0 or not is_finite(db) or not is_finite(g.sum()):
            return b, c, gc, cost, db, it
        a -= lr * g
        c -= lr * gc
        if fit_intercept:
            b -= lr * db
    return b, c, gc, cost, db, -1


def bind_gram_descent(kernel, name, compiled, parallel=False):
    """:func:`descend_gram` calling ``kernel`` as its ``gram_terms``.

    Same parameters as :func:`fastlogreg._descent.bind_descent`: compiled
    kernels take ``work`` as one tuple, plain-Python ones as ``*work``.
    """
    bind = {"gram_terms": kernel if compiled else without_work(kernel)}
    return bind_loop(descend_gram, bind, "gram_" + name, compiled, parallel=parallel)


class GramDescent:
    """The state of a Gram-space descent between segments.

    Parameters
    ----------
    gram_kernels : object
        A backend's Gram kernels (see :mod:`fastlogreg.backends`): ``gram(X)``,
        ``matmul(X, C)`` and ``prepare(m)``.
    w0 : ndarray of float64, shape (n,)
        Initial weights (not modified).
    X : ndarray, shape (n, m)
    y, sw
        Validated labels and sample weights.
    scale, l2, fit_intercept
        As for :func:`fastlogreg._descent.descend`.

    Attributes
    ----------
    finite : bool
        False when ``K`` overflowed (entries of X beyond ~1e154): the caller
        runs the primal loop instead, which reports the divergence at the
        same iteration as always.
    """

    def __init__(self, gram_kernels, w0, X, y, sw, scale, l2, fit_intercept):
        m = X.shape[1]
        self._kernels = gram_kernels
        self._X, self._y, self._sw = X, y, sw
        self._w0 = w0
        self._args = (scale, l2, fit_intercept)
        self.K = gram_kernels.gram(X)
        self.finite = bool(np.isfinite(self.K).all())
        if w0.any():
            self.z0 = gram_kernels.matmul(X.T, w0.reshape(-1, 1)).ravel()
        else:   # X^T 0, without a pass over X (the course starts from zeros)
            self.z0 = np.zeros(m)
        self.w0_sq = float(w0 @ w0)
        self.a = np.zeros(m)
        self.c = 1.0
        self.gc = 0.0
        self.g = np.zeros(m)
        self.kz = np.empty(m)
        self._descend, self._work = gram_kernels.prepare(X)

    def run(self, b, n_steps, learning_rate, record):
        """Run a segment; returns ``(b, cost, db, stop)`` as ``descend`` does."""
        scale, l2, fit_intercept = self._args
        b, self.c, self.gc, cost, db, stop = self._descend(
            self.K, self.z0, self.w0_sq, self._y, self._sw, self.a, self.c, b, self.g,
            self.kz, self._work, n_steps, learning_rate, scale, l2, fit_intercept, record)
        return b, cost, db, stop

    def weights_and_gradient(self):
        """``w = c w0 + X a`` and the last gradient ``dw = X g + gc w0``, in one pass over X."""
        product = self._kernels.matmul(self._X, np.stack([self.a, self.g], axis=1))
        w = product[:, 0] + self.c * self._w0      # c = 1, gc = 0 without a penalty: exact
        dw = product[:, 1] + self.gc * self._w0
        return w, dw
