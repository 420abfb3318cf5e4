"""Every backend and kernel against the ``numpy`` oracle (and the oracle against naive.py)."""

import naive
import numpy as np
import pytest
from bounds import U64, check_forward, check_value_and_grad, logit_bound, oracle, unit_roundoff
from conftest import (
    BACKENDS,
    LARGE_N_SHAPE,
    LAYOUTS,
    NON_ORACLE,
    SHAPES,
    WARNINGS_AS_ERRORS,
    assert_close,
    make_X,
    problem,
)

import fastlogreg as flr
from fastlogreg.backends import get_backend

pytestmark = WARNINGS_AS_ERRORS

DTYPES = (np.float64, np.float32)


def _oracle(w, b, X, Y):
    A = flr.forward(w, b, X, backend="numpy")
    grads, J = flr.propagate(w, b, X, Y, backend="numpy")
    return A, grads["dw"], grads["db"], J


def _check_all_kernels(backend, w, b, X, Y, dtype):
    A0, dw0, db0, J0 = _oracle(w, b, X, Y)
    scale = float(np.mean(np.abs(X))) or 1.0
    out_dtype = np.result_type(w.dtype, X.dtype)

    A = flr.forward(w, b, X, backend=backend)
    assert A.shape == (1, X.shape[1]) and A.dtype == out_dtype
    assert_close(A, A0, dtype, err_msg="forward")

    J = flr.cost(w, b, X, Y, backend=backend)
    assert type(J) is float
    assert_close(J, J0, dtype, err_msg="cost")

    dw, db = flr.gradients(w, b, X, Y, backend=backend)
    assert dw.shape == w.shape and dw.dtype == out_dtype and type(db) is float
    assert_close(dw, dw0, dtype, scale, err_msg="dw")
    assert_close(db, db0, dtype, err_msg="db")

    grads, J2 = flr.propagate(w, b, X, Y, backend=backend)
    assert set(grads) == {"dw", "db"} and type(J2) is float
    # The fused kernel agrees with the separate ones on the same backend.
    np.testing.assert_allclose(grads["dw"], dw, rtol=1e-12, atol=0)
    np.testing.assert_allclose(grads["db"], db, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(J2, J, rtol=1e-12)

    P = flr.predict(w, b, X, backend=backend)
    assert P.shape == (1, X.shape[1]) and P.dtype == np.float64
    np.testing.assert_array_equal(P, (A > 0.5).astype(np.float64))
    clear = np.abs(A0 - 0.5) > 1e-4          # away from the threshold, agree with oracle
    np.testing.assert_array_equal(P[clear], (A0 > 0.5)[clear].astype(np.float64))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{n}x{m}" for n, m in SHAPES])
@pytest.mark.parametrize("backend", NON_ORACLE)
def test_backend_matches_oracle(backend, shape, layout, dtype):
    w, b, X, Y = problem(*shape, layout=layout, dtype=dtype)
    _check_all_kernels(backend, w, b, X, Y, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layout", ("C", "F"))
@pytest.mark.parametrize("backend", ("loop", "parallel", "vectorized"))
def test_large_n_small_blocks(backend, layout, dtype):
    w, b, X, Y = problem(*LARGE_N_SHAPE, layout=layout, dtype=dtype)
    _check_all_kernels(backend, w, b, X, Y, dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (3, 65), (17, 257), (2, 64 * 65 + 1)])
def test_oracle_matches_naive(shape, layout):
    w, b, X, Y = problem(*shape, layout=layout)
    A, dw, db, J = _oracle(w, b, X, Y)
    Xl, wl, Yl = X.tolist(), w.tolist(), Y.tolist()
    np.testing.assert_allclose(A.ravel(), naive.forward(wl, b, Xl), rtol=1e-13)
    dw_n, db_n = naive.gradients(wl, b, Xl, Yl)
    np.testing.assert_allclose(dw.ravel(), dw_n, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(db, db_n, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(J, naive.cost(wl, b, Xl, Yl), rtol=1e-12)
    np.testing.assert_array_equal(flr.predict(w, b, X, backend="numpy").ravel(),
                                  naive.predict(wl, b, Xl))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_float32_oracle_matches_naive(dtype):
    w, b, X, Y = problem(17, 257, dtype=dtype)
    _, dw, db, J = _oracle(w, b, X, Y)
    dw_n, db_n = naive.gradients(w.tolist(), b, X.tolist(), Y.tolist())
    assert_close(dw.ravel(), dw_n, dtype, float(np.mean(np.abs(X))))
    assert_close(db, db_n, dtype)
    assert_close(J, naive.cost(w.tolist(), b, X.tolist(), Y.tolist()), dtype)


@pytest.mark.parametrize("layout", ("C", "F"))
@pytest.mark.parametrize("backend", ("loop", "parallel", "vectorized"))
def test_float32_data_within_derived_bound(backend, layout):
    """float32 X and w: every result within the bound of its path's summation scheme.

    The bound (``tests/bounds.py``) holds for any summation order, so on AVX2
    and AVX-512 alike: float32 products summed over groups of eight rows (C
    order) or strips of ``FLOAT32_STRIP`` features (F order), joined in
    float64; the sums over examples in float64 (X's dtype for ``vectorized``,
    whose gemv is float32 BLAS).  Outputs are float32 (w is float32).
    """
    rng = np.random.default_rng(5)
    n, m = 1000, 3000
    X = np.asarray(rng.standard_normal((n, m)).astype(np.float32), order=layout)
    w = (rng.standard_normal((n, 1)) / np.sqrt(n)).astype(np.float32)
    Y = (rng.random((1, m)) < 0.5).astype(np.float32)
    ref = oracle(w, 0.1, X, Y, np.ones(m))
    kernels = get_backend(backend)
    path = kernels.plan(X).path if hasattr(kernels, "plan") else backend
    dz = logit_bound(backend, path, n, np.float32, ref["z_abs"])
    u32 = unit_roundoff(np.float32)
    assert check_forward(flr.forward(w, 0.1, X, backend=backend), ref, dz, u32) == []
    got = flr.value_and_grad(w, 0.1, X, Y, backend=backend)
    grad_u = u32 if backend == "vectorized" else U64
    assert check_value_and_grad(got, ref, dz, m, False, grad_u, u_out=u32) == []


def test_course_example(backend):
    w, b = np.array([[1.0], [2.0]]), 2.0
    X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    Y = np.array([[1, 0, 1]])
    grads, J = flr.propagate(w, b, X, Y, backend=backend)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], rtol=1e-8)
    np.testing.assert_allclose(grads["db"], 0.00145557813678, rtol=1e-10)
    np.testing.assert_allclose(J, 5.801545319394553, rtol=1e-12)
    assert grads["dw"].shape == (2, 1)
    dw, db = flr.gradients(w, b, X, Y, backend=backend)
    np.testing.assert_allclose(dw, [[0.99845601], [2.39507239]], rtol=1e-8)
    np.testing.assert_allclose(flr.cost(w, b, X, Y, backend=backend), 5.801545319394553,
                               rtol=1e-12)
    # The course's predict example.
    w2, b2 = np.array([[0.1124579], [0.23106775]]), -0.3
    X2 = np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]])
    np.testing.assert_array_equal(flr.predict(w2, b2, X2, backend=backend), [[1.0, 1.0, 0.0]])


def test_course_example_naive():
    dw, db = naive.gradients([[1.0], [2.0]], 2.0, [[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]],
                             [[1, 0, 1]])
    np.testing.assert_allclose(dw, [0.99845601, 2.39507239], rtol=1e-8)
    np.testing.assert_allclose(db, 0.00145557813678, rtol=1e-10)
    np.testing.assert_allclose(naive.cost([[1.0], [2.0]], 2.0,
                                          [[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]], [[1, 0, 1]]),
                               5.801545319394553, rtol=1e-12)


@pytest.mark.parametrize("w_shape", ["column", "flat"])
@pytest.mark.parametrize("y_shape", ["row", "flat"])
def test_shapes_follow_inputs(backend, w_shape, y_shape):
    w, b, X, Y = problem(3, 65)
    w_in = w if w_shape == "column" else w.ravel()
    Y_in = Y if y_shape == "row" else Y.ravel()
    dw, db = flr.gradients(w_in, b, X, Y_in, backend=backend)
    assert dw.shape == w_in.shape
    grads, J = flr.propagate(w_in, b, X, Y_in, backend=backend)
    assert grads["dw"].shape == w_in.shape
    ref, _ = flr.propagate(w, b, X, Y, backend="numpy")
    assert_close(grads["dw"].reshape(-1, 1), ref["dw"], np.float64)
    assert flr.forward(w_in, b, X, backend=backend).shape == (1, 65)
    assert flr.predict(w_in, b, X, backend=backend).shape == (1, 65)


@pytest.mark.parametrize("shape", [(1, 1), (4, 1), (1, 6)])
def test_degenerate_shapes_match_naive(backend, shape):
    w, b, X, Y = problem(*shape)
    dw, db = flr.gradients(w, b, X, Y, backend=backend)
    dw_n, db_n = naive.gradients(w.tolist(), b, X.tolist(), Y.tolist())
    np.testing.assert_allclose(dw.ravel(), dw_n, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(db, db_n, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(flr.cost(w, b, X, Y, backend=backend),
                               naive.cost(w.tolist(), b, X.tolist(), Y.tolist()), rtol=1e-12)


def test_int_and_bool_inputs(backend):
    n, m = 3, 70
    Xi = make_X(n, m, "C", np.float64, kind="int").astype(np.int64)
    wi = np.array([[1], [-1], [2]], dtype=np.int32)
    Yb = np.random.default_rng(3).random((1, m)) < 0.5
    b = 1                                       # an int bias
    Xf, wf, Yf = Xi.astype(np.float64), wi.astype(np.float64), Yb.astype(np.float64)
    grads, J = flr.propagate(wi, b, Xi, Yb, backend=backend)
    ref, J_ref = flr.propagate(wf, 1.0, Xf, Yf, backend=backend)
    assert grads["dw"].dtype == np.float64 and grads["dw"].shape == (3, 1)
    np.testing.assert_array_equal(grads["dw"], ref["dw"])
    assert grads["db"] == ref["db"] and J == J_ref
    A = flr.forward(wi, b, Xi, backend=backend)
    assert A.dtype == np.float64
    np.testing.assert_array_equal(A, flr.forward(wf, 1.0, Xf, backend=backend))
    # bool X and bool w are 0/1 floats
    Xb = Xi > 0
    dw, db = flr.gradients(wi > 0, True, Xb, Yb.ravel(), backend=backend)
    dw_n, db_n = naive.gradients((wi > 0).astype(float).tolist(), 1.0,
                                 Xb.astype(float).tolist(), Yf.tolist())
    np.testing.assert_allclose(dw.ravel(), dw_n, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(db, db_n, rtol=1e-12, atol=1e-15)
    # uint8 and int8 labels / features
    dw8, _ = flr.gradients(wi.astype(np.int8), b, Xi.astype(np.int8), Yb.astype(np.uint8),
                           backend=backend)
    np.testing.assert_array_equal(dw8, ref["dw"])


@pytest.mark.parametrize("backend", NON_ORACLE)
def test_dtype_promotion_mixed(backend):
    """float32 X with float64 w (e.g. from initialize_with_zeros) gives float64 outputs."""
    w, b, X, Y = problem(3, 65, dtype=np.float32)
    w64 = w.astype(np.float64)
    dw, _ = flr.gradients(w64, b, X, Y, backend=backend)
    assert dw.dtype == np.float64
    assert flr.forward(w64, b, X, backend=backend).dtype == np.float64
    dw32, _ = flr.gradients(w, b, X, Y, backend=backend)
    assert dw32.dtype == np.float32
    assert flr.forward(w, b, X, backend=backend).dtype == np.float32


def test_initialize_with_zeros():
    for dim in (1, 2, np.int64(7)):
        w, b = flr.initialize_with_zeros(dim)
        assert w.shape == (int(dim), 1) and w.dtype == np.float64
        assert not w.any() and b == 0.0 and type(b) is float
    # the course's usage: zeros give A = 0.5 and cost log(2) on every backend
    w, b = flr.initialize_with_zeros(3)
    _, _, X, Y = problem(3, 65)
    for be in BACKENDS:
        np.testing.assert_allclose(flr.forward(w, b, X, backend=be), 0.5, rtol=0)
        np.testing.assert_allclose(flr.cost(w, b, X, Y, backend=be), np.log(2.0), rtol=1e-14)


@pytest.mark.parametrize("dim", [0, -1])
def test_initialize_with_zeros_bad_value(dim):
    with pytest.raises(ValueError, match="dim"):
        flr.initialize_with_zeros(dim)


@pytest.mark.parametrize("dim", [2.0, "3", None, True])
def test_initialize_with_zeros_bad_type(dim):
    with pytest.raises(TypeError, match="dim"):
        flr.initialize_with_zeros(dim)


def test_sigmoid_values():
    assert flr.sigmoid(0) == 0.5 and type(flr.sigmoid(0.0)) is float
    z = np.array([-5.0, -0.5, 0.0, 0.5, 5.0])
    np.testing.assert_allclose(flr.sigmoid(z), [naive.sigmoid(v) for v in z], rtol=1e-15)
    np.testing.assert_allclose(flr.sigmoid([0, 2]), [0.5, 0.88079708], rtol=1e-7)  # course
    z32 = z.astype(np.float32)
    s32 = flr.sigmoid(z32)
    assert s32.dtype == np.float32 and s32.shape == (5,)
    np.testing.assert_allclose(s32, flr.sigmoid(z), rtol=1e-6)
    assert flr.sigmoid(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    assert flr.sigmoid(np.array(1.0)) == pytest.approx(naive.sigmoid(1.0), rel=1e-15)
    assert flr.sigmoid(True) == pytest.approx(naive.sigmoid(1.0), rel=1e-15)
    np.testing.assert_array_equal(flr.sigmoid(np.array([-np.inf, np.inf])), [0.0, 1.0])


def test_sigmoid_matches_forward_on_every_backend(backend):
    w, b, X, _ = problem(3, 65)
    z = np.dot(w.ravel(), X) + b
    np.testing.assert_allclose(flr.forward(w, b, X, backend=backend).ravel(), flr.sigmoid(z),
                               rtol=1e-13)


def test_sample_weight_ones_is_unweighted(backend):
    w, b, X, Y = problem(3, 65)
    J, dw, db = flr.value_and_grad(w, b, X, Y, sample_weight=np.ones(65), backend=backend)
    grads, J0 = flr.propagate(w, b, X, Y, backend=backend)
    np.testing.assert_allclose(dw, grads["dw"], rtol=1e-13)
    np.testing.assert_allclose([J, db], [J0, grads["db"]], rtol=1e-13)
