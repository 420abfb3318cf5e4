"""optimize and model: the course's values, every backend, validation, divergence."""

import numpy as np
import pytest

import fastlogreg as flr

COMPILED = ("loop", "parallel", "vectorized")

W = np.array([[1.0], [2.0]])
B = 2.0
X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
Y = np.array([[1, 0, 1]])


def course_optimize(w, b, X, Y, num_iterations, learning_rate):
    """The course's optimize, verbatim NumPy with the naive formulas (the independent oracle)."""
    costs = []
    m = X.shape[1]
    for i in range(num_iterations):
        A = 1 / (1 + np.exp(-(np.dot(w.T, X) + b)))
        cost = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m
        dw = np.dot(X, (A - Y).T) / m
        db = np.sum(A - Y) / m
        w = w - learning_rate * dw
        b = b - learning_rate * db
        if i % 100 == 0:
            costs.append(cost)
    return {"w": w, "b": b}, {"dw": dw, "db": db}, costs


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n, m = 6, 257
    w_true = rng.normal(size=(n, 1))
    X = rng.normal(size=(n, m))
    Y = (rng.random((1, m)) < 1 / (1 + np.exp(-(w_true.T @ X)))).astype(np.float64)
    return X, Y


@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_course_example(backend):
    params, grads, costs = flr.optimize(W, B, X, Y, num_iterations=100, learning_rate=0.009,
                                        backend=backend)
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], rtol=1e-7)
    assert params["b"] == pytest.approx(1.92535983008, rel=1e-10)
    np.testing.assert_allclose(grads["dw"], [[0.67752042], [1.41625495]], rtol=1e-7)
    assert grads["db"] == pytest.approx(0.219194504541, rel=1e-10)
    assert costs == [pytest.approx(5.801545319394553, rel=1e-12)]


@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_matches_course_loop(data, backend):
    X, Y = data
    w0 = np.full((X.shape[0], 1), 0.1)
    expected = course_optimize(w0, -0.2, X, Y, 350, 0.3)
    params, grads, costs = flr.optimize(w0, -0.2, X, Y, 350, 0.3, backend=backend)
    np.testing.assert_allclose(params["w"], expected[0]["w"], rtol=1e-9, atol=1e-12)
    assert params["b"] == pytest.approx(expected[0]["b"], rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(grads["dw"], expected[1]["dw"], rtol=1e-8, atol=1e-12)
    assert grads["db"] == pytest.approx(expected[1]["db"], rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(costs, expected[2], rtol=1e-10)
    assert len(costs) == 4


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("layout", ["C", "F"])
def test_float32_trajectory(data, backend, layout):
    X, Y = data
    X32 = np.asarray(X, dtype=np.float32, order=layout)
    w0 = np.zeros((X.shape[0], 1), dtype=np.float32)
    ref = flr.optimize(w0, 0.0, X32, Y, 200, 0.5, backend="numpy")
    got = flr.optimize(w0, 0.0, X32, Y, 200, 0.5, backend=backend)
    assert got[0]["w"].dtype == np.float32
    np.testing.assert_allclose(got[0]["w"], ref[0]["w"], rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-5)


def test_loop_and_parallel_same_bits(data):
    X, Y = data
    a = flr.optimize(np.zeros((6, 1)), 0.0, X, Y, 300, 0.1, backend="loop")
    b = flr.optimize(np.zeros((6, 1)), 0.0, X, Y, 300, 0.1, backend="parallel")
    assert a[0]["w"].tobytes() == b[0]["w"].tobytes()
    assert a[2] == b[2]


@pytest.mark.parametrize("backend", ["numpy", "parallel"])
def test_zero_iterations_returns_inputs(backend):
    params, grads, costs = flr.optimize(W, B, X, Y, num_iterations=0, backend=backend)
    assert costs == []
    np.testing.assert_array_equal(params["w"], W)
    assert params["b"] == B
    ref, _ = flr.propagate(W, B, X, Y, backend="numpy")
    np.testing.assert_allclose(grads["dw"], ref["dw"], rtol=1e-12)
    assert grads["db"] == pytest.approx(ref["db"], rel=1e-12)


def test_inputs_untouched_and_shapes_follow(data):
    X, Y = data
    w0 = np.full(X.shape[0], 0.5)
    X_copy, Y_copy, w_copy = X.copy(), Y.copy(), w0.copy()
    params, grads, _ = flr.optimize(w0, 0.0, X, Y.ravel(), 120, 0.1)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(Y, Y_copy)
    np.testing.assert_array_equal(w0, w_copy)
    assert params["w"].shape == (X.shape[0],) and grads["dw"].shape == (X.shape[0],)


def test_print_cost_and_callback(capsys):
    seen = []
    flr.optimize(W, B, X, Y, 250, 0.009, print_cost=True,
                 callback=lambda i, c: seen.append((i, c)))
    out = capsys.readouterr().out.splitlines()
    expected = course_optimize(W, B, X, Y, 250, 0.009)[2]
    assert out == [f"Cost after iteration {i}: {c:f}" for i, c in zip((0, 100, 200), expected,
                                                                        strict=True)]
    assert [i for i, _ in seen] == [0, 100, 200]
    np.testing.assert_allclose([c for _, c in seen], expected, rtol=1e-12)


def test_progress_bar_runs():
    pytest.importorskip("tqdm")
    params, _, _ = flr.optimize(W, B, X, Y, 100, 0.009, progress=True)
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], rtol=1e-7)


@pytest.mark.parametrize("lr", [0, -0.1, np.nan, np.inf])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning_rate"):
        flr.optimize(W, B, X, Y, 10, lr)


def test_learning_rate_type():
    with pytest.raises(TypeError, match="learning_rate"):
        flr.optimize(W, B, X, Y, 10, "0.1")


@pytest.mark.parametrize("n_iter, exc", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_num_iterations(n_iter, exc):
    with pytest.raises(exc, match="num_iterations"):
        flr.optimize(W, B, X, Y, n_iter, 0.1)


def test_core_validation_applies():
    with pytest.raises(ValueError, match="Y must contain only labels"):
        flr.optimize(W, B, X, np.array([[1, 2, 0]]), 10, 0.1)
    with pytest.raises(ValueError, match="backend must be one of"):
        flr.optimize(W, B, X, Y, 10, 0.1, backend="gpu")


@pytest.mark.parametrize("backend", flr.BACKENDS)
def test_divergence_raises(backend):
    Xd = np.array([[1e200, -1e200]])
    with pytest.raises(FloatingPointError, match=r"iteration 1 with learning_rate=1e\+300"):
        flr.optimize(np.zeros((1, 1)), 0.0, Xd, np.array([[1, 0]]), 10, 1e300, backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "loop", "vectorized"])
def test_model(data, backend, capsys):
    X, Y = data
    d = flr.model(X[:, :200], Y[:, :200], X[:, 200:], Y[:, 200:], num_iterations=300,
                  learning_rate=0.5, print_cost=True, backend=backend)
    assert set(d) == {"costs", "Y_prediction_test", "Y_prediction_train", "w", "b",
                      "learning_rate", "num_iterations"}
    assert d["Y_prediction_train"].shape == (1, 200) and d["Y_prediction_test"].shape == (1, 57)
    ref = course_optimize(np.zeros((X.shape[0], 1)), 0.0, X[:, :200], Y[:, :200], 300, 0.5)
    np.testing.assert_allclose(d["w"], ref[0]["w"], rtol=1e-9)
    np.testing.assert_allclose(d["costs"], ref[2], rtol=1e-10)
    pred = (1 / (1 + np.exp(-(ref[0]["w"].T @ X[:, 200:] + ref[0]["b"]))) > 0.5).astype(float)
    np.testing.assert_array_equal(d["Y_prediction_test"], pred)
    lines = capsys.readouterr().out.splitlines()
    train_acc = 100 - np.mean(np.abs(d["Y_prediction_train"] - Y[:, :200])) * 100
    assert lines[-2] == f"train accuracy: {train_acc} %"
    assert lines[-1].startswith("test accuracy: ")
    assert train_acc > 70  # data drawn from a logistic model: learnable


def test_model_feature_mismatch(data):
    X, Y = data
    with pytest.raises(ValueError, match="X_test must have 6 features"):
        flr.model(X, Y, X[:3], Y, 10)


@pytest.mark.parametrize("backend", flr.BACKENDS[1:])
def test_divergence_with_finite_logits_raises(backend):
    # Logits stay finite but the summed cost overflows: caught at the record point.
    # (Under fastmath, Numba's np.isfinite of this cost was folded to True.)
    rng = np.random.default_rng(3)
    Xd = rng.random((300, 40))
    Yd = (rng.random((1, 40)) < 0.5).astype(float)
    with pytest.raises(FloatingPointError, match="iteration 100 with learning_rate=1e\\+300"):
        flr.optimize(np.zeros((300, 1)), 0.0, Xd, Yd, 200, 1e300, backend=backend)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("budget", [8 * 1024, 32 * 1024])
@pytest.mark.parametrize("delta", [-1, 0, 1])
@pytest.mark.parametrize("backend", ["loop", "parallel"])
def test_packed_copy_threshold(backend, delta, budget, n, dtype):
    """Training on a packed X (F order, few features) copies it to C order up to a size.

    At, just under and just over ``packed_copy_max_bytes`` (set small here;
    with 8 KiB the copies have at most 1024 examples, where a C-ordered X
    would take the "wide" path), the iterates are the bits of training
    without the copy (the packed kernels, a budget of 1 byte).
    """
    from fastlogreg._tiling import PACKED_MAX_FEATURES, cache_sizes
    from fastlogreg.backends import blocked, get_backend

    assert n <= PACKED_MAX_FEATURES
    itemsize = np.dtype(dtype).itemsize
    m = budget // (n * itemsize) + delta
    rng = np.random.default_rng([n, m])
    X = np.asfortranarray(rng.standard_normal((n, m)).astype(dtype))
    Y = (rng.random((1, m)) < 0.5).astype(dtype)
    w0 = np.zeros((n, 1), dtype)
    results = []
    for share in (budget, 1):
        with cache_sizes(l3_share=share) as tiling:
            assert tiling.packed_copy_max_bytes == share
            _, X_kernel, _ = get_backend(backend).dense.prepare_descent(X)
            copied = X.nbytes <= share
            assert blocked.is_packed(X)   # (one feature is C-contiguous too: never packed)
            assert (not np.shares_memory(X_kernel, X) and X_kernel.flags.c_contiguous) == copied
            results.append(flr.optimize(w0, 0.0, X, Y, 150, 0.05, backend=backend))
    assert (X.nbytes <= budget) == (delta <= 0)
    (got, _, got_costs), (want, _, want_costs) = results
    np.testing.assert_array_equal(got["w"], want["w"])
    assert got["b"] == want["b"]
    np.testing.assert_array_equal(got_costs, want_costs)
    np.testing.assert_array_equal(X, np.asfortranarray(X))    # the caller's X untouched
