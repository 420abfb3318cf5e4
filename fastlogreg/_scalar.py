"""Scalar math shared by every compiled backend: exp, log1p, sigmoid, log-loss.

These are small ``@jit`` functions that LLVM inlines into the kernels.  Numba
has no SIMD math library here (no SVML, numba#10060): ``math.exp`` and
``math.log1p`` become scalar libm calls that cost ~3 ns each and stop loops
from vectorizing.  The loss only needs ``exp`` of a non-positive number and
``log1p`` of a number in [0, 1], so both are written out below as branch-free
polynomials that LLVM vectorizes: exp about 0.7 ns per value (Intel Xeon,
256-bit vectors), within 1-2 ulp.
"""

from numba import types
from numba.extending import intrinsic

from ._jit import EXACT_FASTMATH, jit

_LOG2E = 1.4426950408889634
# ln 2 split so that k * _LN2_HI is exact for |k| < 2**11 (fdlibm's constants).
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
# exp(x) is below the smallest subnormal for x < -745.14.
_EXP_FLOOR = -746.0
# Adding 1.5 * 2**52 rounds a double of magnitude below 2**51 to an integer k,
# which then sits in the low bits of the sum: k = bits(sum) - bits(1.5 * 2**52).
_ROUND_SHIFT = 6755399441055744.0
_ROUND_SHIFT_BITS = 0x4338000000000000
# 2**(k + 55) is normal for every k >= -1077 (x >= _EXP_FLOOR); the result is
# then multiplied by 2**-55, exactly unless it is subnormal (one rounding).
_SCALE_OFFSET = 55
_SCALE_BACK = 2.0 ** -55
# exp(r) on |r| <= ln2 / 2: degree-11 near-minimax polynomial (Chebyshev fit,
# mpmath.chebyfit(mpmath.exp, [-ln2/2, ln2/2], 12), error 3.2e-18), from the
# coefficient of r**11 down to that of r**2; those of r and 1 are 1.
_EXP_POLY = (2.5110037605963777e-08, 2.763263963904103e-07, 2.755724091857897e-06,
             2.4801485482328494e-05, 0.00019841269890047113, 0.0013888888952314775,
             0.008333333333319601, 0.0416666666664881, 0.1666666666666668,
             0.5000000000000019)


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


@intrinsic
def _bits_of_float64(typingctx, x):
    """Reinterpret a float64 as the int64 with the same bits (LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


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
        ``exp(x)`` within 1 ulp (0.93 ulp at most over 400,000 random points
        against mpmath; ``tests/test_stability.py`` checks 12,000, the
        reduction's ties included), subnormals included; 0 below -746.
        Compiled without FMA (``NUMBA_CPU_NAME=generic``): 1.2 ulp, as each
        Horner step then rounds twice (the previous exp: 1.1).

    Notes
    -----
    Cody-Waite reduction ``x = k ln2 + r`` with ``|r| <= ln2 / 2``, where
    ``k`` is rounded to an integer by adding ``1.5 * 2**52`` (no float-to-int
    conversion, which AVX2 lacks for 64-bit integers), a degree-11
    polynomial for ``exp(r)``, and ``2**k`` built from its exponent bits,
    offset so that it is always normal (results down to the subnormal range
    round once).  Compiled without ``reassoc``, which would undo the
    reduction and the rounding to an integer.  About 30 % fewer vector
    instructions than the degree-13 Taylor polynomial with ``floor`` and a
    conversion that it replaces (1.0 to 0.67 ns per value here).
    """
    x = max(x, _EXP_FLOOR)
    shifted = x * _LOG2E + _ROUND_SHIFT
    k = shifted - _ROUND_SHIFT
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _EXP_POLY[0]
    for c in _EXP_POLY[1:]:
        p = p * r + c
    p = p * r + 1.0
    p = p * r + 1.0
    ki = _bits_of_float64(shifted) - _ROUND_SHIFT_BITS
    scale = _float64_from_bits((ki + (1023 + _SCALE_OFFSET)) << 52)
    return (p * scale) * _SCALE_BACK


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
        ``log1p(e)`` within 2 ulp (1.11 ulp at most over 120,000 points
        against mpmath), exact for tiny ``e``.

    Notes
    -----
    ``log1p(e) = 2 atanh(s)`` with ``s = e / (2 + e)`` in [0, 1/3]; the odd
    series ``s + s^3/3 + s^5/5 + ...`` converges below 1e-17 after 18 terms.
    ``2 + e`` is rounded, and that rounding, carried into ``s``, cost up to
    2.7 ulp: its exact error ``d_err`` (Fast2Sum, as ``2 >= e``) gives the
    first-order correction ``ds = -s d_err / (2 + e)``, with
    ``1 / (2 + e) = (1 - s) / 2`` (no second division), added with the
    series' tail before ``s`` itself.
    """
    d = 2.0 + e
    d_err = (2.0 - d) + e
    s = e / d
    ds = -(s * d_err) * (1.0 - s) * 0.5
    s2 = s * s
    q = 1.0 / 37.0
    for k in range(17, 0, -1):
        q = q * s2 + 1.0 / (2 * k + 1)
    return 2.0 * (s + (s * s2 * q + ds))


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


@jit(fastmath=EXACT_FASTMATH)
def _loss_from(z, y, e):
    """``(max(z, 0) - y z) + log1p(e)``, in that order whatever the caller's flags.

    A function of its own (LLVM inlines it with its flags): inlined into a
    kernel compiled with ``reassoc``, the sum could be regrouped as
    ``max(z, 0) + (log1p(e) - y z)``, and for ``y = 1`` and large ``z`` the
    loss then came out 0 (seen at z = 40 under ``NUMBA_BOUNDSCHECK=1``).
    """
    return (max(z, 0.0) - y * z) + log1p_unit(e)


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
        loss = _loss_from(z, y, e)
    return a - y, loss
