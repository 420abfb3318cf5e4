"""The ``numpy`` backend: the course's vectorized NumPy code, the reference oracle.

Written as the course teaches it (``np.dot``, broadcasting, no loop over
examples), with the stable forms of the sigmoid and the loss.  Every other
backend is tested against it.  Arithmetic runs in X's dtype as NumPy does;
the sums over examples are float64.
"""

import numpy as np

from .._descent import bind_descent


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

    @staticmethod
    def _logits(w, X):
        """``w^T X`` as ``(1, m)``, computed in X's dtype (the course's ``np.dot``)."""
        return np.dot(w.astype(X.dtype).reshape(1, -1), X)

    @staticmethod
    def _gradient(X, dZ):
        """``X dZ^T`` as a flat ``(n,)`` array (the course's ``np.dot``)."""
        return np.dot(X, dZ.T).ravel()

    # NaN/inf in X or an overflowing w^T X are counted and reported by the
    # public layer (ValueError / FloatingPointError); NumPy's warnings would
    # come first and, under -W error, replace that report.
    @np.errstate(over="ignore", invalid="ignore")
    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        Z = self._logits(w, X) + b
        out[:] = sigmoid(Z).ravel()
        return int(np.count_nonzero(~np.isfinite(Z)))

    @np.errstate(over="ignore", invalid="ignore")
    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum, non-finite count; gradient sum to ``dw_out``.

        See ``fastlogreg.backends.blocked.value_and_grad_blocked`` for
        the meaning of the arguments.
        """
        Y = y.reshape(1, -1)
        Z = self._logits(w, X) + b    # (1, m)
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
        if want_grad:
            dw_out[:] = self._gradient(X, dZ)                   # (n,)
        db = float(np.sum(dZ, dtype=np.float64))
        return cost, db, int(np.count_nonzero(~np.isfinite(Z)))
