"""Slow, obviously-correct twins of fastlogreg's kernels, written from the math.

Everything here is plain Python over float64 scalars, following the course
formulas verbatim (``A = 1 / (1 + exp(-z))``, ``J = -mean(y log a + (1 - y)
log(1 - a))``, ``dw = X dZ^T / m``, ``db = mean(dZ)``), with ``math.fsum`` so the
sums themselves are exact to rounding.  It shares no code with fastlogreg.
The verbatim formulas are only accurate for moderate logits (|z| < ~30); for
extreme logits use the mpmath versions at the bottom.
"""

import math

import mpmath


def _column(X, i):
    return [float(X[j][i]) for j in range(len(X))]


def _flat(v):
    """A list of floats from a (n,), (n, 1) or (1, n) nested sequence / array."""
    out = []
    for item in v:
        try:
            out.extend(float(x) for x in item)
        except TypeError:
            out.append(float(item))
    return out


def logits(w, b, X):
    """``z_i = w^T x_i + b`` for every column ``x_i`` of X."""
    w = _flat(w)
    m = len(X[0])
    return [math.fsum([wj * xj for wj, xj in zip(w, _column(X, i), strict=True)]) + float(b)
            for i in range(m)]


def sigmoid(z):
    """The course's ``1 / (1 + exp(-z))``."""
    return 1.0 / (1.0 + math.exp(-z))


def forward(w, b, X):
    """``A`` as a flat list of m floats."""
    return [sigmoid(z) for z in logits(w, b, X)]


def cost(w, b, X, Y):
    """``J = -(1/m) sum(y log a + (1 - y) log(1 - a))``."""
    A = forward(w, b, X)
    Y = _flat(Y)
    m = len(A)
    return -math.fsum([y * math.log(a) + (1 - y) * math.log(1 - a)
                       for a, y in zip(A, Y, strict=True)]) / m


def gradients(w, b, X, Y):
    """``dw = X (A - Y)^T / m`` (flat list of n floats) and ``db = mean(A - Y)``."""
    A = forward(w, b, X)
    Y = _flat(Y)
    m = len(A)
    dZ = [a - y for a, y in zip(A, Y, strict=True)]
    n = len(X)
    dw = [math.fsum([float(X[j][i]) * dZ[i] for i in range(m)]) / m for j in range(n)]
    return dw, math.fsum(dZ) / m


def predict(w, b, X):
    """1.0 where ``a > 0.5`` else 0.0."""
    return [1.0 if a > 0.5 else 0.0 for a in forward(w, b, X)]


# -- exact values with mpmath, for extreme logits ------------------------------------

#: Working precision for the exact references (digits).
DPS = 60


def sigmoid_exact(z):
    """``1 / (1 + exp(-z))`` to DPS digits, rounded to float."""
    with mpmath.workdps(DPS):
        return float(1 / (1 + mpmath.exp(-mpmath.mpf(z))))


def loss_exact(z, y):
    """``-(y log a + (1 - y) log(1 - a))`` at ``a = sigmoid(z)``, exactly.

    ``-log a = log1p(exp(-z))`` and ``-log(1 - a) = log1p(exp(z))``, evaluated
    in DPS digits (no cancellation, so exact for any float z).
    """
    with mpmath.workdps(DPS):
        z = mpmath.mpf(z)
        return float(y * mpmath.log1p(mpmath.exp(-z)) + (1 - y) * mpmath.log1p(mpmath.exp(z)))


def residual_exact(z, y):
    """``sigmoid(z) - y`` to DPS digits, rounded to float."""
    with mpmath.workdps(DPS):
        return float(1 / (1 + mpmath.exp(-mpmath.mpf(z))) - y)
