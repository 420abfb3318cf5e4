"""Scalar math shared by every compiled backend: stable sigmoid and log-loss.

These are small ``@jit`` functions; LLVM inlines them into the kernels.
"""

import math

from ._jit import jit


@jit
def sigmoid_scalar(z):
    """Logistic sigmoid ``1 / (1 + exp(-z))`` that never overflows.

    Parameters
    ----------
    z : float
        Any real number, including +-inf.

    Returns
    -------
    float
        ``sigmoid(z)`` in [0, 1].  ``exp`` is only ever taken of ``-|z|``, so
        it cannot overflow; for very negative ``z`` the result underflows
        gracefully to 0 instead of becoming ``1 / inf``.
    """
    e = math.exp(-abs(z))
    if z >= 0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


@jit
def residual_and_loss(z, y, want_loss):
    """Residual ``a - y`` and cross-entropy loss of one example, from ``z``.

    Parameters
    ----------
    z : float
        The example's logit ``w^T x + b`` (float64).
    y : float
        Its label, 0 or 1.
    want_loss : bool
        Skip the ``log1p`` when only the residual is needed.

    Returns
    -------
    residual : float
        ``sigmoid(z) - y``, the example's ``dZ``.
    loss : float
        ``softplus(z) - y z`` (0.0 when ``want_loss`` is false), the stable
        form of ``-(y log a + (1 - y) log(1 - a))``: it stays finite and
        accurate for any finite ``z``, where the naive formula gives ``inf``
        or NaN once ``|z|`` passes about 37.

    Notes
    -----
    One ``exp(-|z|)`` serves both outputs.  ``max(z, 0) - y z`` is computed
    before adding ``log1p(e)`` so that for ``y == 1`` and large ``z`` the two
    large terms cancel exactly.
    """
    e = math.exp(-abs(z))
    if z >= 0:
        a = 1.0 / (1.0 + e)
    else:
        a = e / (1.0 + e)
    loss = 0.0
    if want_loss:
        loss = (max(z, 0.0) - y * z) + math.log1p(e)
    return a - y, loss
