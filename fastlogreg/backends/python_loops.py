"""The ``python`` backend: the course's explicit loops in plain Python.

One loop over examples, one over features, no NumPy vectorization: the slow
baseline the course warns about, kept so that the speed-ups of the other
backends can be measured against it.  Only practical for small data.
"""

import math

import numpy as np

from .._descent import bind_descent
from .._gram_descent import bind_gram_descent


def _sigmoid(z):
    """Stable scalar sigmoid."""
    e = math.exp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


def _logit(w, b, X, i):
    """``w^T x_i + b`` with an explicit loop over features (NaN on overflow)."""
    z = b
    for j in range(len(w)):
        z += float(w[j]) * float(X[j, i])   # Python floats: inf/NaN propagate silently
    return z


class PythonKernels:
    """Plain-Python loops behind the common kernel interface."""

    parallel = False

    def prepare_descent(self, X):
        """The course's training loop in plain Python over these kernels (no workspace)."""
        return bind_descent(self.value_and_grad, "python", compiled=False), X, ()

    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        bad = 0
        for i in range(X.shape[1]):
            z = _logit(w, b, X, i)
            bad += not math.isfinite(z)
            out[i] = _sigmoid(z) if not math.isnan(z) else math.nan
        return bad

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum, non-finite count; gradient sum to ``dw_out``."""
        n, m = X.shape
        dw = [0.0] * n
        cost = 0.0
        db = 0.0
        bad = 0
        for i in range(m):
            z = _logit(w, b, X, i)
            if not math.isfinite(z):
                bad += 1
                continue
            dz, loss = _example_terms(z, y, sw, i, want_cost)
            cost += loss
            if want_grad:
                for j in range(n):
                    dw[j] += float(X[j, i]) * dz
            db += dz
        dw_out[:] = dw
        return cost, db, bad


def _example_terms(z, y, sw, i, want_cost):
    """Weighted residual and loss of example ``i`` from its (finite) logit ``z``."""
    s = float(sw[i]) if len(sw) else 1.0
    yi = float(y[i])
    dz = (_sigmoid(z) - yi) * s
    loss = 0.0
    if want_cost:
        loss = s * ((max(z, 0.0) - yi * z) + math.log1p(math.exp(-abs(z))))
    return dz, loss


class PythonGram:
    """Gradient descent in the span of the examples with plain-Python loops."""

    def __init__(self):
        self._descend = bind_gram_descent(self.gram_terms, "python", compiled=False)

    def prepare(self, X):
        """The training loop over :meth:`gram_terms` and its (empty) workspace."""
        return self._descend, ()

    def gram(self, X):
        """``K[i][k] = sum_j X[j, i] X[j, k]``, one loop per index (float64)."""
        n, m = X.shape
        K = np.zeros((m, m))
        for i in range(m):
            for k in range(i + 1):
                s = 0.0
                for j in range(n):
                    s += float(X[j, i]) * float(X[j, k])
                K[i, k] = K[k, i] = s
        return K

    def matmul(self, X, C):
        """``X @ C`` with explicit loops (float64)."""
        p, q = X.shape
        out = np.zeros((p, C.shape[1]))
        for r in range(p):
            for k in range(C.shape[1]):
                s = 0.0
                for j in range(q):
                    s += float(X[r, j]) * float(C[j, k])
                out[r, k] = s
        return out

    def gram_terms(self, K, a, c, z0, b, y, sw, want_cost, r_out, kz_out):
        """Logits ``c z0 + K a + b``; residuals to ``r_out``, ``K a`` to ``kz_out``."""
        m = len(a)
        cost = 0.0
        db = 0.0
        bad = 0
        for i in range(m):
            s = 0.0
            for k in range(m):
                s += float(K[i, k]) * float(a[k])
            kz_out[i] = s
            z = c * float(z0[i]) + s + b
            if not math.isfinite(z):
                bad += 1
                r_out[i] = 0.0
                continue
            dz, loss = _example_terms(z, y, sw, i, want_cost)
            r_out[i] = dz
            cost += loss
            db += dz
        return cost, db, bad
