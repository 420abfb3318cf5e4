"""The ``python`` backend: the course's explicit loops in plain Python.

One loop over examples, one over features, no NumPy vectorization: the slow
baseline the course warns about, kept so that the speed-ups of the other
backends can be measured against it.  Only practical for small data.
"""

import math

from .._descent import bind_descent


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
            s = float(sw[i]) if len(sw) else 1.0
            yi = float(y[i])
            dz = (_sigmoid(z) - yi) * s
            if want_cost:
                cost += s * ((max(z, 0.0) - yi * z) + math.log1p(math.exp(-abs(z))))
            if want_grad:
                for j in range(n):
                    dw[j] += float(X[j, i]) * dz
            db += dz
        dw_out[:] = dw
        return cost, db, bad
