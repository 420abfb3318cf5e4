"""The ``numpy`` backend: the course's vectorized NumPy code, the reference oracle.

Written as the course teaches it (``np.dot``, broadcasting, no loop over
examples), with the stable forms of the sigmoid and the loss.  Every other
backend is tested against it.  Arithmetic runs in X's dtype as NumPy does;
the sums over examples are float64.
"""

import numpy as np

from .._descent import bind_descent
from .._gram_descent import bind_gram_descent


def sigmoid(z):
    """Stable elementwise sigmoid of an array, no overflow warnings.

    Parameters
    ----------
    z : ndarray of float

    Returns
    -------
    ndarray
        ``1 / (1 + exp(-z))`` with z's dtype, computed from ``exp(-|z|)``.
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def log_loss(Z, Y):
    """Elementwise cross-entropy from the logits: ``softplus(Z) - Y Z``."""
    return (np.maximum(Z, 0) - Y * Z) + np.log1p(np.exp(-np.abs(Z)))


class NumpyKernels:
    """The course's vectorized implementation behind the common kernel interface.

    ``w`` arrives as float64 ``(n,)``; it is cast to X's dtype so that float32
    data is computed in float32, as NumPy would with a float32 ``w``.
    """

    parallel = False

    def prepare_descent(self, X):
        """The course's training loop in plain Python over these kernels (no workspace)."""
        return bind_descent(self.value_and_grad, "numpy", compiled=False), X, ()

    # NaN/inf in X or an overflowing w^T X are counted and reported by the
    # public layer (ValueError / FloatingPointError); NumPy's warnings would
    # come first and, under -W error, replace that report.
    @np.errstate(over="ignore", invalid="ignore")
    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        Z = np.dot(w.astype(X.dtype).reshape(1, -1), X) + b
        out[:] = sigmoid(Z).ravel()
        return int(np.count_nonzero(~np.isfinite(Z)))

    @np.errstate(over="ignore", invalid="ignore")
    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum, non-finite count; gradient sum to ``dw_out``.

        See ``fastlogreg.backends.blocked.value_and_grad_blocked`` for
        the meaning of the arguments.
        """
        Z = np.dot(w.astype(X.dtype).reshape(1, -1), X) + b    # (1, m)
        cost, dZ, n_bad = _terms(Z, y.reshape(1, -1), sw, want_cost)
        if want_grad:
            dw_out[:] = np.dot(X, dZ.T).ravel()                 # (n, 1)
        return cost, float(np.sum(dZ, dtype=np.float64)), n_bad


def _terms(Z, Y, sw, want_cost):
    """Loss sum, (weighted) residuals ``dZ`` and non-finite count, from the logits ``Z``."""
    A = sigmoid(Z)
    dZ = A - Y
    cost = 0.0
    if want_cost:
        losses = log_loss(Z, Y)
        if sw.size:
            losses = losses * sw
        cost = float(np.sum(losses, dtype=np.float64))
    if sw.size:
        dZ = dZ * sw
    return cost, dZ, int(np.count_nonzero(~np.isfinite(Z)))


#: Bytes of X converted to float64 at a time by the float32 products below.
_F64_BLOCK_BYTES = 8 << 20


# Overflow (entries of X beyond ~1e154) is reported by the caller, which then
# runs the primal loop: no NumPy warning.
@np.errstate(over="ignore", invalid="ignore")
def gram_matrix(X):
    """``K = X^T X`` in float64 through BLAS (syrk).

    float32 X is converted to float64 a block of features at a time, so that
    K is accumulated in float64 (see :mod:`fastlogreg._gram_descent`) without
    a float64 copy of all of X.
    """
    if X.dtype == np.float64:
        return X.T @ X
    n, m = X.shape
    rows = max(1, _F64_BLOCK_BYTES // (8 * m))
    K = np.zeros((m, m))
    for j0 in range(0, n, rows):
        B = X[j0:j0 + rows].astype(np.float64)
        K += B.T @ B
    return K


@np.errstate(over="ignore", invalid="ignore")
def matmul(X, C):
    """``X @ C`` in float64 through BLAS (float32 X converted by blocks of rows).

    Parameters
    ----------
    X : ndarray of float32 or float64, shape (p, q)
    C : ndarray of float64, shape (q, k)

    Returns
    -------
    ndarray of float64, shape (p, k)
    """
    if X.dtype == np.float64:
        return X @ C
    rows = max(1, _F64_BLOCK_BYTES // (8 * X.shape[1]))
    out = np.empty((X.shape[0], C.shape[1]))
    for j0 in range(0, X.shape[0], rows):
        out[j0:j0 + rows] = X[j0:j0 + rows].astype(np.float64) @ C
    return out


class NumpyGram:
    """Gradient descent in the span of the examples, as the course would write it.

    ``K = X.T @ X`` once, then each iteration is ``Z = c z0 + np.dot(K, a) + b``
    followed by the course's formulas; the loop is plain Python
    (:func:`fastlogreg._gram_descent.descend_gram`).
    """

    def __init__(self):
        self._descend = bind_gram_descent(self.gram_terms, "numpy", compiled=False)

    gram = staticmethod(gram_matrix)
    matmul = staticmethod(matmul)

    def prepare(self, X):
        """The training loop over :meth:`gram_terms` and its (empty) workspace."""
        return self._descend, ()

    @np.errstate(over="ignore", invalid="ignore")
    def gram_terms(self, K, a, c, z0, b, y, sw, want_cost, r_out, kz_out):
        """Logits ``c z0 + K a + b``; residuals to ``r_out``, ``K a`` to ``kz_out``.

        Returns ``(loss_sum, db_sum, n_bad)`` as :meth:`NumpyKernels.value_and_grad`.
        """
        kz_out[:] = np.dot(K, a)
        Z = c * z0 + kz_out + b
        cost, dZ, n_bad = _terms(Z, y, sw, want_cost)
        r_out[:] = dZ
        return cost, float(np.sum(dZ)), n_bad
