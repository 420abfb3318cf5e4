"""Scalar math shared by every compiled backend: exp, log1p, sigmoid, log-loss.

These are small ``@jit`` functions that LLVM inlines into the kernels.  Numba
has no SIMD math library here (no SVML, numba#10060): ``math.exp`` and
``math.log1p`` become scalar libm calls that cost ~3 ns each and stop loops
from vectorizing.  The loss only needs ``exp`` of a non-positive number and
``log1p`` of a number in [0, 1], so both are written out below as branch-free
polynomials that LLVM vectorizes: about 0.5 ns per value, within 1-2 ulp.
"""

import math

import numpy as np
from numba import types
from numba.extending import intrinsic

from ._jit import EXACT_FASTMATH, jit

_LOG2E = 1.4426950408889634
# ln 2 split so that k * _LN2_HI is exact for |k| < 2**11 (fdlibm's constants).
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
# exp(x) is below the smallest subnormal for x < -745.14.
_EXP_FLOOR = -746.0


_FLOAT64_MAX = 1.7976931348623157e308


@jit(inline="always")
def is_finite(x):
    """``isfinite`` that survives fastmath, for compiled code.

    Parameters
    ----------
    x : float
        A float32 or float64 value.

    Returns
    -------
    bool
        False for NaN and +-inf.

    Notes
    -----
    Under the ``reassoc`` flag alone, Numba's ``np.isfinite`` and
    ``math.isfinite`` returned True for inf and NaN computed in the same
    function (seen with Numba 0.68: LLVM folds the ``x - x`` test).  A
    comparison with the largest double cannot be folded: NaN compares false
    and inf is larger.
    """
    return abs(x) <= _FLOAT64_MAX


@intrinsic
def _float64_from_bits(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits (LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


@jit(fastmath=EXACT_FASTMATH)
def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (``-inf`` included), vectorizable.

    Parameters
    ----------
    x : float
        A non-positive number.

    Returns
    -------
    float
        ``exp(x)`` within 1 ulp, subnormals included; 0 below -746.

    Notes
    -----
    Cody-Waite reduction ``x = k ln2 + r`` with ``|r| <= ln2 / 2``, a degree-13
    Taylor polynomial for ``exp(r)`` (truncation below 1e-17), and ``2**k``
    built from its exponent bits in two halves so that results down to the
    subnormal range stay exact.  Compiled without ``reassoc``, which would
    undo the reduction.
    """
    x = max(x, _EXP_FLOOR)
    k = math.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    ki = np.int64(k)
    k1 = ki // 2
    return p * _float64_from_bits((k1 + 1023) << 52) * _float64_from_bits((ki - k1 + 1023) << 52)


@jit(fastmath=EXACT_FASTMATH)
def log1p_unit(e):
    """``log1p(e)`` for ``0 <= e <= 1``, vectorizable.

    Parameters
    ----------
    e : float
        A number in [0, 1] (``exp(-|z|)`` in the loss).

    Returns
    -------
    float
        ``log1p(e)`` within 2 ulp, exact for tiny ``e``.

    Notes
    -----
    ``log1p(e) = 2 atanh(s)`` with ``s = e / (2 + e)`` in [0, 1/3]; the odd
    series ``s + s^3/3 + s^5/5 + ...`` converges below 1e-17 after 18 terms.
    """
    s = e / (2.0 + e)
    s2 = s * s
    p = 1.0 / 35.0
    for k in range(16, -1, -1):
        p = p * s2 + 1.0 / (2 * k + 1)
    return 2.0 * s * p


@jit(inline="always")
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
    e = exp_nonpositive(-abs(z))
    return (1.0 if z >= 0 else e) / (1.0 + e)


@jit(inline="always")
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
    large terms cancel exactly.  No branch depends on the data, so loops over
    examples vectorize.
    """
    e = exp_nonpositive(-abs(z))
    a = (1.0 if z >= 0 else e) / (1.0 + e)
    loss = 0.0
    if want_loss:
        loss = (max(z, 0.0) - y * z) + log1p_unit(e)
    return a - y, loss
