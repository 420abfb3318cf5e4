"""Hypothesis property tests: random shapes and values, every backend against the oracle.

Layout and dtype are fixed per test (each new one costs a Numba compile);
shapes and values are drawn.
"""

import naive
import numpy as np
from conftest import COMPILED, WARNINGS_AS_ERRORS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fastlogreg as flr

pytestmark = WARNINGS_AS_ERRORS

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
finite = st.floats(-20, 20, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def problems(draw, max_n=6, max_m=300, dtype=np.float64):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    X = draw(arrays(dtype, (n, m), elements=st.floats(-5, 5, width=64 if dtype == np.float64
                                                     else 32)))
    w = draw(arrays(dtype, (n, 1), elements=st.floats(-3, 3, width=64 if dtype == np.float64
                                                     else 32)))
    Y = draw(arrays(np.float64, (1, m), elements=st.sampled_from([0.0, 1.0])))
    b = draw(finite)
    return w, b, X, Y


def _check(w, b, X, Y, rtol, atol):
    grads0, J0 = flr.propagate(w, b, X, Y, backend="numpy")
    A0 = flr.forward(w, b, X, backend="numpy")
    scale = max(1.0, float(np.abs(X).max()))
    for be in COMPILED + ("python",):
        grads, J = flr.propagate(w, b, X, Y, backend=be)
        np.testing.assert_allclose(grads["dw"], grads0["dw"], rtol=rtol, atol=atol * scale,
                                   err_msg=be)
        np.testing.assert_allclose(grads["db"], grads0["db"], rtol=rtol, atol=atol, err_msg=be)
        np.testing.assert_allclose(J, J0, rtol=rtol, atol=atol, err_msg=be)
        np.testing.assert_allclose(flr.forward(w, b, X, backend=be), A0, rtol=rtol, atol=atol,
                                   err_msg=be)
    # invariants
    assert J0 >= 0 and np.all((A0 >= 0) & (A0 <= 1))
    np.testing.assert_allclose(grads0["db"], np.mean(A0 - Y), rtol=max(rtol, 1e-9), atol=atol)


@SETTINGS
@given(problems())
def test_random_float64_C(p):
    _check(*p, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(problems())
def test_random_float64_F(p):
    w, b, X, Y = p
    _check(w, b, np.asfortranarray(X), Y, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(problems(dtype=np.float32))
def test_random_float32_C(p):
    w, b, X, Y = p
    _check(w, b, X, Y, rtol=1e-4, atol=1e-4)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(problems(max_n=4, max_m=12))
def test_random_small_vs_naive(p):
    w, b, X, Y = p
    if np.abs(np.dot(w.ravel(), X) + b).max() > 8:   # verbatim 1 - a loses ~eps*e^|z|
        return
    dw_n, db_n = naive.gradients(w.tolist(), b, X.tolist(), Y.tolist())
    for be in flr.BACKENDS:
        dw, db = flr.gradients(w, b, X, Y, backend=be)
        np.testing.assert_allclose(dw.ravel(), dw_n, rtol=1e-9, atol=1e-12, err_msg=be)
        np.testing.assert_allclose(db, db_n, rtol=1e-9, atol=1e-12, err_msg=be)
        np.testing.assert_allclose(flr.cost(w, b, X, Y, backend=be),
                                   naive.cost(w.tolist(), b, X.tolist(), Y.tolist()),
                                   rtol=1e-9, err_msg=be)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=30))
def test_sigmoid_in_unit_interval_and_symmetric(zs):
    z = np.array(zs)
    s = flr.sigmoid(z)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s + flr.sigmoid(-z), 1.0, rtol=1e-15)


INT_DTYPES = (np.bool_, np.int8, np.uint8, np.int32, np.int64, np.uint64)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(INT_DTYPES).flatmap(lambda dt: arrays(dt, st.integers(0, 50))))
def test_label_codes_is_numpy_unique(y):
    """The counting path (short integer ranges) and the fallback give np.unique's answer."""
    from fastlogreg._objective import label_codes
    classes, index = label_codes(y, return_inverse=True)
    expected, expected_index = np.unique(y, return_inverse=True)
    assert classes.dtype == expected.dtype
    np.testing.assert_array_equal(classes, expected)
    np.testing.assert_array_equal(index, expected_index)
    np.testing.assert_array_equal(label_codes(y), expected)
