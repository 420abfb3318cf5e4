"""method="gram": gradient descent in the span of the examples, against the primal loop.

Tolerances.  float64: the two methods compute the same iterates with
different roundings (``w^T x`` against ``c z0 + K a``); on these
well-conditioned problems the iterates agree to a few hundred ulps, and the
issue's contract is 1e-12 relative (max |difference| over max |value|).
float32: the Gram path accumulates K, the logits and ``X a`` in float64 and
products of two float32 numbers are exact in float64, so it computes the
float64 trajectory of the same (float32) values: it must agree with the
primal loop run on ``X.astype(float64)`` to 1e-12 before the final cast,
hence to one float32 ulp (rtol 2**-23) after it.
"""

import numba
import numpy as np
import pytest
from conftest import WARNINGS_AS_ERRORS, make_X

import fastlogreg as flr
from fastlogreg._gram_descent import (
    GRAM_MAX_BYTES,
    check_method,
    choose_method,
    predicted_seconds,
)
from fastlogreg.backends import get_backend, get_gram_kernels
from fastlogreg.training import gradient_descent

pytestmark = WARNINGS_AS_ERRORS

REL64 = 1e-12
ULP32 = 2.0 ** -23


def rel_diff(a, b):
    """max |a - b| / max |b| (norm-wise relative difference)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale else float(np.max(np.abs(a)))


def labels(X, seed=1):
    """Labels from a logistic model of X: learnable, both classes present."""
    rng = np.random.default_rng(seed)
    n, m = X.shape
    z = rng.standard_normal(n) @ np.asarray(X, dtype=np.float64) / np.sqrt(n)
    Y = (rng.random(m) < 1 / (1 + np.exp(-z))).astype(np.float64).reshape(1, m)
    Y[0, 0], Y[0, -1] = 0.0, 1.0
    return Y


def assert_close_gradient(dw, db, dw_ref, db_ref, x_scale, rel=REL64):
    """The last gradient: ``db = mean(dZ)`` with ``|dZ_i| <= 1`` and ``dw = mean(x_i dZ_i)``
    cancel as training converges, so their natural scales are 1 and max |X|."""
    assert np.max(np.abs(np.asarray(dw) - dw_ref)) <= rel * max(np.max(np.abs(dw_ref)), x_scale)
    assert abs(db - db_ref) <= rel * max(abs(db_ref), 1.0)


def assert_same_training(got, ref, X, rel=REL64):
    (pg, gg, cg), (pr, gr, cr) = got, ref
    assert rel_diff(pg["w"], pr["w"]) <= rel
    assert rel_diff([pg["b"]], [pr["b"]]) <= rel
    assert_close_gradient(gg["dw"], gg["db"], gr["dw"], gr["db"], np.max(np.abs(X)), rel)
    assert len(cg) == len(cr)
    np.testing.assert_allclose(cg, cr, rtol=rel)


# ------------------------------------------------------------------ the course's values

@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_course_example(backend):
    W, B = np.array([[1.0], [2.0]]), 2.0
    X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    Y = np.array([[1, 0, 1]])
    params, grads, costs = flr.optimize(W, B, X, Y, 100, 0.009, backend=backend,
                                        method="gram")
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], rtol=1e-7)
    assert params["b"] == pytest.approx(1.92535983008, rel=1e-10)
    np.testing.assert_allclose(grads["dw"], [[0.67752042], [1.41625495]], rtol=1e-7)
    assert grads["db"] == pytest.approx(0.219194504541, rel=1e-10)
    assert costs == [pytest.approx(5.801545319394553, rel=1e-12)]


# ------------------------------------------------------------------ gram against primal

@pytest.mark.parametrize("layout", ["C", "F", "cols", "T_strided"])
@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_gram_matches_primal_float64(backend, layout):
    X = make_X(23, 17, layout, np.float64, seed=5)
    Y = labels(X)
    w0 = np.random.default_rng(2).standard_normal((23, 1)) * 0.1
    ref = flr.optimize(w0, 0.3, X, Y, 250, 0.5, backend=backend, method="primal")
    got = flr.optimize(w0, 0.3, X, Y, 250, 0.5, backend=backend, method="gram")
    assert_same_training(got, ref, X)
    assert got[0]["w"].shape == (23, 1) and got[1]["dw"].shape == (23, 1)


@pytest.mark.parametrize("layout", ["C", "F", "rows"])
@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_gram_float32_is_float64_trajectory(backend, layout):
    X32 = make_X(19, 13, layout, np.float32, seed=6)
    Y = labels(X32)
    w0 = np.zeros((19, 1), dtype=np.float32)
    got = flr.optimize(w0, 0.0, X32, Y, 250, 0.5, backend=backend, method="gram")
    ref = flr.optimize(w0.astype(np.float64), 0.0, X32.astype(np.float64), Y, 250, 0.5,
                       backend="numpy", method="primal")
    assert got[0]["w"].dtype == np.float32 and got[1]["dw"].dtype == np.float32
    np.testing.assert_allclose(got[0]["w"], ref[0]["w"].astype(np.float32), rtol=ULP32)
    # dw before its cast agrees to 1e-12 of max |X| (see assert_close_gradient); the cast
    # then adds half an ulp of each entry.
    scale = REL64 * max(np.max(np.abs(ref[1]["dw"])), np.max(np.abs(X32)))
    np.testing.assert_allclose(got[1]["dw"], ref[1]["dw"], rtol=ULP32 / 2, atol=scale)
    assert rel_diff([got[0]["b"]], [ref[0]["b"]]) <= REL64
    np.testing.assert_allclose(got[2], ref[2], rtol=REL64)
    # and close to the primal float32 loop, within that loop's own error
    # (tests/test_training.py::test_float32_trajectory)
    primal32 = flr.optimize(w0, 0.0, X32, Y, 250, 0.5, backend=backend, method="primal")
    np.testing.assert_allclose(got[0]["w"], primal32[0]["w"], rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (9, 2)])
@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_tiny_shapes(backend, shape):
    n, m = shape
    X = make_X(n, m, "C", np.float64, seed=3)
    Y = (np.arange(m) % 2).reshape(1, m)
    w0 = np.full(n, 0.2)     # 1-D w: outputs follow
    ref = flr.optimize(w0, -0.1, X, Y, 120, 0.7, backend=backend, method="primal")
    got = flr.optimize(w0, -0.1, X, Y, 120, 0.7, backend=backend, method="gram")
    assert got[0]["w"].shape == (n,)
    assert_same_training(got, ref, X)


@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_model_with_gram(backend):
    X = make_X(15, 40, "F", np.float64, seed=9)
    Y = labels(X)
    ref = flr.model(X[:, :30], Y[:, :30], X[:, 30:], Y[:, 30:], 300, 0.5, backend=backend,
                    method="primal")
    got = flr.model(X[:, :30], Y[:, :30], X[:, 30:], Y[:, 30:], 300, 0.5, backend=backend,
                    method="gram")
    assert rel_diff(got["w"], ref["w"]) <= REL64
    np.testing.assert_allclose(got["costs"], ref["costs"], rtol=REL64)
    np.testing.assert_array_equal(got["Y_prediction_train"], ref["Y_prediction_train"])
    np.testing.assert_array_equal(got["Y_prediction_test"], ref["Y_prediction_test"])


@pytest.mark.parametrize("backend", ["numpy", "loop", "parallel", "vectorized", "python"])
@pytest.mark.parametrize("l2, fit_intercept", [(0.0, True), (0.3, True), (0.05, False)])
def test_weights_penalty_intercept(backend, l2, fit_intercept):
    # The estimator's objective: scale * sum_i s_i L_i + l2/2 ||w||^2.
    X = make_X(11, 29, "C", np.float64, seed=4)
    y = labels(X).ravel()
    sw = np.random.default_rng(8).uniform(0.2, 3.0, 29)
    w0 = np.random.default_rng(9).standard_normal(11) * 0.3
    kernels = get_backend(backend)
    out = {}
    for name, gram in (("primal", None), ("gram", get_gram_kernels(backend))):
        w = w0.copy()
        seen = []
        b, dw, db, costs = gradient_descent(kernels, w, 0.2, X, y, sw, 230, 0.4,
                                            scale=1 / sw.sum(), l2=l2,
                                            fit_intercept=fit_intercept, gram=gram,
                                            on_record=lambda i, c, seen=seen: seen.append(i))
        out[name] = (w, b, dw, db, costs, seen)
    (wg, bg, dwg, dbg, cg, sg), (wp, bp, dwp, dbp, cp, sp) = out["gram"], out["primal"]
    assert rel_diff(wg, wp) <= REL64 and rel_diff([bg], [bp]) <= REL64
    # the weights reach 3: the residuals' scale is max(sw) (see assert_close_gradient)
    assert_close_gradient(dwg, dbg / sw.max(), dwp, dbp / sw.max(), np.max(np.abs(X)))
    np.testing.assert_allclose(cg, cp, rtol=REL64)
    assert sg == sp == [0, 100, 200]
    if not fit_intercept:
        assert bg == 0.2


@pytest.fixture
def parallel_gram_builds(monkeypatch):
    """The parallel backend computes K and the products with its parallel build at any size.

    Below ``PARALLEL_MIN_GRAM_WORK`` / ``PARALLEL_MIN_MATMUL_WORK`` it would
    use the serial build, which the tests' small data would then test twice.
    """
    from fastlogreg.backends import gram_blocked
    monkeypatch.setattr(gram_blocked, "PARALLEL_MIN_GRAM_WORK", 0)
    monkeypatch.setattr(gram_blocked, "PARALLEL_MIN_MATMUL_WORK", 0)


def test_small_products_use_the_serial_build(monkeypatch):
    # The parallel backend's K and X @ C run the serial build below the
    # thresholds, the parallel build above; both builds give the same bits.
    from fastlogreg.backends import gram_blocked
    calls = []
    gk = get_gram_kernels("parallel")
    parallel = gk.dense._kernels
    for build, name in ((parallel, "parallel"), (parallel._serial, "serial")):
        for attr in ("_gram", "_matmul"):
            kernel = getattr(build, attr)
            monkeypatch.setattr(build, attr, lambda *a, k=kernel, tag=(name, attr):
                                calls.append(tag) or k(*a))
    X = make_X(50, 20, "F", np.float64, seed=3)
    C = np.ones((20, 2))
    K_small, P_small = gk.gram(X), gk.matmul(X, C)
    assert calls == [("serial", "_gram"), ("serial", "_matmul")]
    monkeypatch.setattr(gram_blocked, "PARALLEL_MIN_GRAM_WORK", 0)
    monkeypatch.setattr(gram_blocked, "PARALLEL_MIN_MATMUL_WORK", 0)
    assert gk.gram(X).tobytes() == K_small.tobytes()
    assert gk.matmul(X, C).tobytes() == P_small.tobytes()
    assert calls[2:] == [("parallel", "_gram"), ("parallel", "_matmul")]


@pytest.mark.usefixtures("parallel_gram_builds")
def test_loop_and_parallel_same_bits_any_threads():
    # m = 400: K has 160,000 elements, above the threshold of the parallel iteration.
    X = make_X(40, 400, "F", np.float64, seed=11)
    Y = labels(X)
    w0 = np.zeros((40, 1))
    ref = flr.optimize(w0, 0.0, X, Y, 150, 0.3, backend="loop", method="gram")
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, 2, before}):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            got = flr.optimize(w0, 0.0, X, Y, 150, 0.3, backend="parallel", method="gram")
            assert got[0]["w"].tobytes() == ref[0]["w"].tobytes()
            assert got[2] == ref[2]
            K = get_gram_kernels("parallel").gram(X)
            assert K.tobytes() == get_gram_kernels("loop").gram(X).tobytes()
    finally:
        numba.set_num_threads(before)
    assert_same_training(ref, flr.optimize(w0, 0.0, X, Y, 150, 0.3, backend="numpy",
                                           method="primal"), X)


# ------------------------------------------------------------------ the Gram kernels

@pytest.mark.parametrize("layout", ["C", "F", "cols", "rows", "T_strided", "reversed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", flr.BACKENDS)
@pytest.mark.usefixtures("parallel_gram_builds")
def test_gram_and_matmul_kernels(backend, dtype, layout):
    # n = 70 and m = 31: partial strips and tiles.  Error bound of a float64
    # dot product of length n: |error| <= n u / (1 - n u) * sum_j |x_ji x_jk|.
    n, m = 70, 31
    X = make_X(n, m, layout, dtype, seed=12)
    X64 = np.asarray(X, dtype=np.float64)
    gk = get_gram_kernels(backend)
    K = gk.gram(X)
    gamma = n * 2.0 ** -53 / (1 - n * 2.0 ** -53)
    assert K.dtype == np.float64 and K.shape == (m, m)
    np.testing.assert_array_equal(K, K.T)
    assert np.all(np.abs(K - X64.T @ X64) <= gamma * (np.abs(X64).T @ np.abs(X64)))
    C = np.random.default_rng(0).standard_normal((m, 2))
    P = gk.matmul(X, C)
    assert P.shape == (n, 2)
    gamma_m = m * 2.0 ** -53 / (1 - m * 2.0 ** -53)
    assert np.all(np.abs(P - X64 @ C) <= gamma_m * (np.abs(X64) @ np.abs(C)))
    v = np.random.default_rng(1).standard_normal((n, 1))
    z = gk.matmul(X.T, v)
    assert np.all(np.abs(z - X64.T @ v) <= gamma * (np.abs(X64).T @ np.abs(v)))


# ------------------------------------------------------------------ errors and bookkeeping

@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_divergence_raises(backend):
    # X^T X overflows: the primal loop runs and reports iteration 1 as always.
    Xd = np.array([[1e200, -1e200]])
    with pytest.raises(FloatingPointError, match=r"iteration 1 with learning_rate=1e\+300"):
        flr.optimize(np.zeros((1, 1)), 0.0, Xd, np.array([[1, 0]]), 10, 1e300,
                     backend=backend, method="gram")


@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_divergence_with_finite_gram_raises(backend):
    # As tests/test_training.py: the logits stay finite, ||w||^2 overflows by the
    # record point of iteration 100 (K = X^T X itself is finite here).
    rng = np.random.default_rng(3)
    Xd = rng.random((300, 40))
    Yd = (rng.random((1, 40)) < 0.5).astype(float)
    for method in ("primal", "gram"):
        with pytest.raises(FloatingPointError, match="iteration 100 with learning_rate=1e\\+300"):
            flr.optimize(np.zeros((300, 1)), 0.0, Xd, Yd, 200, 1e300, backend=backend,
                         method=method)


def test_print_cost_and_callback_as_primal(capsys):
    X = make_X(8, 20, "C", np.float64, seed=13)
    Y = labels(X)
    runs = {}
    for method in ("primal", "gram"):
        seen = []
        flr.optimize(np.zeros((8, 1)), 0.0, X, Y, 250, 0.1, print_cost=True, method=method,
                     callback=lambda i, c, seen=seen: seen.append((i, c)))
        runs[method] = (capsys.readouterr().out.splitlines(), seen)
    assert runs["gram"][0] == runs["primal"][0]
    assert len(runs["gram"][0]) == 3
    assert [i for i, _ in runs["gram"][1]] == [0, 100, 200]
    np.testing.assert_allclose([c for _, c in runs["gram"][1]],
                               [c for _, c in runs["primal"][1]], rtol=REL64)


def test_inputs_untouched_and_zero_iterations():
    X = make_X(6, 9, "F", np.float64, seed=14)
    Y = labels(X)
    w0 = np.full((6, 1), 0.5)
    copies = X.copy(), Y.copy(), w0.copy()
    params, grads, costs = flr.optimize(w0, 0.1, X, Y, 0, 0.1, method="gram")
    assert costs == []
    np.testing.assert_array_equal(params["w"], w0)
    ref, _ = flr.propagate(w0, 0.1, X, Y, backend="numpy")
    np.testing.assert_allclose(grads["dw"], ref["dw"], rtol=1e-12)
    flr.optimize(w0, 0.1, X, Y, 50, 0.1, method="gram")
    for got, copy in zip((X, Y, w0), copies, strict=True):
        np.testing.assert_array_equal(got, copy)


@pytest.mark.parametrize("method", ["Gram", "", None, 1])
def test_bad_method(method):
    with pytest.raises(ValueError, match="method must be one of"):
        flr.optimize(np.zeros((2, 1)), 0.0, np.ones((2, 3)), np.array([[0, 1, 0]]), 5, 0.1,
                     method=method)
    with pytest.raises(ValueError, match="method must be one of"):
        check_method(method)


# ------------------------------------------------------------------ the automatic choice

@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_auto_threshold_in_iterations(backend):
    # Gram costs a fixed K plus cheaper iterations: it pays from some iteration count.
    n, m = 3000, 50
    primal_1, gram_1 = predicted_seconds(n, m, 1, backend)
    primal_0, gram_0 = predicted_seconds(n, m, 0, backend)
    saving = (primal_1 - primal_0) - (gram_1 - gram_0)   # per iteration
    assert saving > 0
    crossover = (gram_0 - primal_0) / saving
    below, above = int(np.floor(crossover)), int(np.floor(crossover)) + 1
    assert choose_method(n, m, below, backend) == "primal"
    assert choose_method(n, m, above, backend) == "gram"
    assert choose_method(n, m, 0, backend) == "primal"


@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_auto_threshold_in_memory(backend):
    # With K's bytes at the budget exactly, and one example more.
    m = int(np.sqrt(GRAM_MAX_BYTES / 8))
    assert 8 * m * m <= GRAM_MAX_BYTES < 8 * (m + 1) ** 2
    assert choose_method(10**7, m, 10**6, backend) == "gram"
    assert choose_method(10**7, m + 1, 10**6, backend) == "primal"
    assert choose_method(10**7, 100, 10**6, backend, max_bytes=8 * 100 * 100 - 1) == "primal"


@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_auto_choices(backend):
    assert choose_method(12288, 209, 2000, backend) == "gram"      # the course
    assert choose_method(2, 1000, 2000, backend) == "primal"       # fewer features than examples
    assert choose_method(10, 1_000_000, 100, backend) == "primal"  # K would not fit


@pytest.mark.parametrize("backend", ["numpy", "loop", "vectorized"])
def test_auto_runs_the_chosen_method(backend):
    X = make_X(300, 12, "F", np.float64, seed=15)
    Y = labels(X)
    assert choose_method(300, 12, 300, backend) == "gram"
    auto = flr.optimize(np.zeros((300, 1)), 0.0, X, Y, 300, 0.2, backend=backend)
    gram = flr.optimize(np.zeros((300, 1)), 0.0, X, Y, 300, 0.2, backend=backend,
                        method="gram")
    assert auto[0]["w"].tobytes() == gram[0]["w"].tobytes()
    assert choose_method(3, 500, 300, backend) == "primal"
    X = make_X(3, 500, "C", np.float64, seed=15)
    Y = labels(X)
    auto = flr.optimize(np.zeros((3, 1)), 0.0, X, Y, 300, 0.2, backend=backend)
    primal = flr.optimize(np.zeros((3, 1)), 0.0, X, Y, 300, 0.2, backend=backend,
                          method="primal")
    assert auto[0]["w"].tobytes() == primal[0]["w"].tobytes()
