"""Extreme logits: exact values (scipy.special, mpmath), no warnings, no inf/NaN."""

import warnings

import naive
import numpy as np
import pytest
from conftest import BACKENDS, WARNINGS_AS_ERRORS
from scipy.special import expit, log_expit

import fastlogreg as flr

pytestmark = WARNINGS_AS_ERRORS

#: largest |z| per dtype: exp overflows past 709 (float64) and 88 (float32).
EXTREMES = {np.float64: [-1000.0, -710.0, -40.0, -1.0, 0.0, 1.0, 40.0, 710.0, 1000.0],
            np.float32: [-100.0, -89.0, -20.0, -1.0, 0.0, 1.0, 20.0, 89.0, 100.0]}


def _exact_loss(z, y):
    z = np.asarray(z, dtype=np.float64)
    return -(y * log_expit(z) + (1 - y) * log_expit(-z))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_logits(backend, dtype):
    zs = np.array(EXTREMES[dtype], dtype=dtype)
    m = zs.size
    # z_i = 1 * x_i + 0 with X one feature: X holds the logits exactly.
    X = zs.reshape(1, -1)
    w = np.ones((1, 1), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = flr.forward(w, 0.0, X, backend=backend)
        assert np.all(np.isfinite(A)) and np.all((A >= 0) & (A <= 1))
        # subnormals carry few bits (float32: exp(-100) is 27 x 2**-149)
        tiny = 1e-300 if dtype == np.float64 else float(np.finfo(dtype).tiny) * 4
        np.testing.assert_allclose(A.ravel(), expit(zs.astype(np.float64)),
                                   rtol=1e-12 if dtype == np.float64 else 1e-6, atol=tiny)
        np.testing.assert_array_equal(flr.predict(w, 0.0, X, backend=backend).ravel(),
                                      (zs > 0).astype(float))
        for y in (0.0, 1.0):
            Y = np.full((1, m), y, dtype)
            # one example at a time: each loss exactly
            for i in range(m):
                J = flr.cost(w, 0.0, X[:, i:i + 1], Y[:, i:i + 1], backend=backend)
                exact = float(_exact_loss(zs[i], y))
                assert np.isfinite(J)
                assert J == pytest.approx(exact, rel=1e-12 if dtype == np.float64 else 1e-6,
                                          abs=tiny), (zs[i], y)
                assert exact == pytest.approx(naive.loss_exact(float(zs[i]), y), rel=1e-14,
                                              abs=1e-300)
            grads, J = flr.propagate(w, 0.0, X, Y, backend=backend)
            assert np.isfinite(J) and np.all(np.isfinite(grads["dw"]))
            r = expit(zs.astype(np.float64)) - y
            np.testing.assert_allclose(J, np.mean(_exact_loss(zs, y)),
                                       rtol=1e-12 if dtype == np.float64 else 1e-6)
            np.testing.assert_allclose(grads["db"], np.mean(r), rtol=1e-6, atol=1e-15)
            np.testing.assert_allclose(grads["dw"].ravel(),
                                       [np.mean(r * zs.astype(np.float64))],
                                       rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_logits_through_bias(backend):
    """|z| = 1000 from the bias with zero weights (the other route to big logits)."""
    X = np.array([[0.5, -0.5, 2.0]])
    w = np.zeros((1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for b, y in ((1000.0, 0.0), (-1000.0, 1.0), (1000.0, 1.0), (-1000.0, 0.0)):
            Y = np.full((1, 3), y)
            J = flr.cost(w, b, X, Y, backend=backend)
            assert J == pytest.approx(naive.loss_exact(b, y), rel=1e-14, abs=1e-300)
            _, db = flr.gradients(w, b, X, Y, backend=backend)
            assert db == pytest.approx(naive.residual_exact(b, y), rel=1e-14, abs=1e-300)


def test_sigmoid_extremes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = np.array(EXTREMES[np.float64])
        np.testing.assert_allclose(flr.sigmoid(z), expit(z), rtol=1e-14, atol=1e-300)
        for v in z:
            assert flr.sigmoid(float(v)) == pytest.approx(naive.sigmoid_exact(v), rel=1e-14,
                                                          abs=1e-300)
        z32 = np.array(EXTREMES[np.float32], dtype=np.float32)
        s32 = flr.sigmoid(z32)
        assert s32.dtype == np.float32
        np.testing.assert_allclose(s32, expit(z32.astype(np.float64)), rtol=1e-6,
                                   atol=np.finfo(np.float32).tiny * 4)
        assert flr.sigmoid(-1000.0) > 0 or flr.sigmoid(-1000.0) == 0.0
        assert flr.sigmoid(-700.0) == pytest.approx(naive.sigmoid_exact(-700.0), rel=1e-12)


def _max_ulp_error(values, xs, exact):
    """Largest ``|value - exact(x)|`` in ulps of the exactly rounded result (mpmath, 40 digits)."""
    import math

    import mpmath
    worst = 0.0
    with mpmath.workdps(40):
        for x, v in zip(xs.tolist(), values.tolist(), strict=True):
            ref = exact(mpmath.mpf(x))
            if float(ref) == 0.0:
                assert v == 0.0, (x, v)
                continue
            worst = max(worst, float(abs(mpmath.mpf(v) - ref) / math.ulp(float(ref))))
    return worst


def test_scalar_exp_and_log1p_within_their_ulp_bounds():
    """The kernels' own exp (1 ulp) and log1p (2 ulp), which tests/bounds.py builds on."""
    import mpmath
    import numba

    from fastlogreg._scalar import exp_nonpositive, log1p_unit

    @numba.njit
    def apply(f, xs):
        out = np.empty_like(xs)
        for i in range(xs.size):   # each call inlined, with the function's own fastmath flags
            out[i] = f(xs[i])
        return out

    rng = np.random.default_rng(12)
    # Every binade of the result: the reduction's ties (k + 1/2) ln 2, the
    # subnormal range, both ends.
    ties = -(np.arange(0, 1076) + 0.5) * np.log(2.0)
    xs = np.concatenate([-rng.random(4000) * 746, -rng.random(3000) * 2, -rng.random(1000) * 1e-6,
                         ties, np.nextafter(ties, 0), np.nextafter(ties, -np.inf),
                         [0.0, -0.0, -5e-324, -708.3964185322641, -709.0, -744.44, -745.13,
                          -745.14, -745.2]])
    # Without FMA (a baseline x86-64 build) each Horner step rounds twice.
    fma = numba.config.CPU_NAME in (None, "host") or "+fma" in (numba.config.CPU_FEATURES or "")
    assert _max_ulp_error(apply(exp_nonpositive, xs), xs, mpmath.exp) <= (1.0 if fma else 1.25)
    assert apply(exp_nonpositive, np.array([-746.0, -1000.0, -np.inf])).tolist() == [0.0] * 3
    es = np.concatenate([rng.random(4000), rng.random(1000) * 1e-8, [0.0, 5e-324, 1e-300, 1.0]])
    assert _max_ulp_error(apply(log1p_unit, es), es, mpmath.log1p) <= 2.0
