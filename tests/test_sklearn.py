"""fastlogreg.sklearn.LogisticRegression: scikit-learn's checks and scikit-learn's answers."""

import subprocess
import sys

import numba
import numpy as np
import pytest

pytest.importorskip("sklearn")
threadpoolctl = pytest.importorskip("threadpoolctl")   # a dependency of scikit-learn

from sklearn.datasets import load_breast_cancer, load_iris, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression as SkLogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastlogreg.sklearn as flr_sklearn  # noqa: E402
from fastlogreg._tiling import PARALLEL_MIN_ELEMENTS  # noqa: E402
from fastlogreg.sklearn import LogisticRegression  # noqa: E402

COMPILED = ("loop", "parallel", "vectorized")
TIGHT = {"tol": 1e-10, "max_iter": 10_000}


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def small():
    X, y = make_classification(300, 6, n_informative=4, random_state=1)
    return X, y


# ------------------------------------------------------------- scikit-learn's checks

# A tight tol: the sample-weight check compares fits on weighted and on
# repeated rows to 1e-7.  Gradient descent cannot reach it on the checks'
# unscaled data (steps of 2e-4), hence its ConvergenceWarnings are expected.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([
    LogisticRegression(tol=1e-10, max_iter=1000),
    LogisticRegression(solver="gd", tol=1e-8, max_iter=20_000, backend="loop"),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------ scikit-learn's answers


@pytest.mark.parametrize("backend", COMPILED)
def test_matches_sklearn_on_breast_cancer(cancer, backend):
    X, y = cancer
    ours = LogisticRegression(C=1.0, backend=backend, **TIGHT).fit(X, y)
    ref = SkLogisticRegression(C=1.0, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-4)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("C", [0.01, 100.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_sklearn_C_and_intercept(cancer, C, fit_intercept):
    X, y = cancer
    ours = LogisticRegression(C=C, fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    ref = SkLogisticRegression(C=C, fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    # With little penalty the optimum is flat: both solvers stop on ftol, so
    # compare relative to the largest weight.
    atol = 1e-4 * np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=atol)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-4, atol=atol)


def test_no_penalty_matches_sklearn(small):
    X, y = small
    ours = LogisticRegression(C=np.inf, **TIGHT).fit(X, y)
    ref = SkLogisticRegression(C=np.inf, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-4, atol=1e-7)


def test_sample_weight_matches_sklearn(small):
    X, y = small
    sw = np.random.default_rng(0).uniform(0.1, 3.0, size=y.shape[0])
    ours = LogisticRegression(**TIGHT).fit(X, y, sample_weight=sw)
    ref = SkLogisticRegression(**TIGHT).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("backend", COMPILED)
def test_sample_weights_are_repeated_rows(small, backend):
    X, y = small
    reps = np.random.default_rng(2).integers(0, 4, size=y.shape[0])
    weighted = LogisticRegression(backend=backend, **TIGHT).fit(X, y, sample_weight=reps)
    repeated = LogisticRegression(backend=backend, **TIGHT).fit(
        np.repeat(X, reps, axis=0), np.repeat(y, reps))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-6,
                               atol=1e-9)


def test_tol_and_n_iter_follow_sklearn(cancer):
    # Same objective scaling, same gtol, same L-BFGS-B memory: scikit-learn's
    # iterates, up to the rounding of the gradient.  The fits stop at the same
    # iteration, and ours is far nearer scikit-learn's solution than that is
    # to the optimum (on these ill-conditioned data: 1e-4 of that distance
    # leaves three orders of magnitude for the rounding to grow along the path).
    X, y = cancer
    best = SkLogisticRegression(**TIGHT).fit(X, y).coef_
    for tol in (1e-2, 1e-4, 1e-6):
        ours = LogisticRegression(tol=tol).fit(X, y)
        ref = SkLogisticRegression(tol=tol).fit(X, y)
        assert ours.n_iter_.shape == (1,) and ours.n_iter_.dtype == np.int32
        assert ours.n_iter_[0] == ref.n_iter_[0]
        err_ref = np.abs(ref.coef_ - best).max()
        assert np.abs(ours.coef_ - ref.coef_).max() <= 1e-4 * err_ref


# ------------------------------------------------------------------ labels, classes


@pytest.mark.parametrize("labels", [("no", "yes"), (False, True), (-1, 1), (2, 7)])
def test_any_two_labels(small, labels):
    X, y = small
    ref = LogisticRegression().fit(X, y)
    y_mapped = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y]
    clf = LogisticRegression().fit(X, y_mapped)
    np.testing.assert_array_equal(clf.classes_, np.array(labels))
    np.testing.assert_allclose(clf.coef_, ref.coef_)
    np.testing.assert_array_equal(clf.predict(X), np.array(labels)[ref.predict(X)])
    assert clf.score(X, y_mapped) == ref.score(X, y)


def test_multiclass_is_one_vs_rest():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = LogisticRegression(**TIGHT).fit(X, y)
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    assert clf.n_iter_.shape == (3,)
    for k in range(3):
        binary = LogisticRegression(**TIGHT).fit(X, (y == k).astype(int))
        np.testing.assert_allclose(clf.coef_[k], binary.coef_[0], rtol=1e-6)
        np.testing.assert_allclose(clf.intercept_[k], binary.intercept_[0], rtol=1e-6)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    ovr = 1 / (1 + np.exp(-clf.decision_function(X)))
    np.testing.assert_allclose(proba, ovr / ovr.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(proba, axis=1))
    assert clf.score(X, y) > 0.9


def test_binary_outputs(cancer):
    X, y = cancer
    clf = LogisticRegression().fit(X, y)
    d = clf.decision_function(X)
    assert d.shape == (X.shape[0],)
    np.testing.assert_allclose(d, X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-12)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The log-probabilities stay finite where the probabilities underflow.
    far = X[:3] * 1e4
    log_proba = clf.predict_log_proba(far)
    assert np.isfinite(log_proba).all()
    np.testing.assert_allclose(np.exp(log_proba), clf.predict_proba(far), atol=1e-300)


# ----------------------------------------------------------- solvers and parameters


@pytest.mark.parametrize("learning_rate", ["auto", 1.0])
def test_gd_solver_reaches_the_lbfgs_solution(cancer, learning_rate):
    X, y = cancer
    lbfgs = LogisticRegression(**TIGHT).fit(X, y)
    gd = LogisticRegression(solver="gd", tol=1e-7, max_iter=200_000,
                            learning_rate=learning_rate).fit(X, y)
    assert gd.n_iter_[0] % flr_sklearn.GD_CHECK_EVERY == 0
    np.testing.assert_allclose(gd.coef_, lbfgs.coef_, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(gd.predict_proba(X), lbfgs.predict_proba(X), atol=1e-5)


def test_warm_start_resumes(cancer):
    X, y = cancer
    clf = LogisticRegression(tol=1e-8, max_iter=1000, warm_start=True).fit(X, y)
    first = clf.n_iter_[0]
    clf.fit(X, y)
    assert clf.n_iter_[0] <= 2 < first
    cold = LogisticRegression(tol=1e-8, max_iter=1000, warm_start=True)
    cold.fit(X, y)
    assert cold.n_iter_[0] == first


def test_convergence_warning(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        clf = LogisticRegression(max_iter=2).fit(X, y)
    assert clf.n_iter_[0] == 2
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        LogisticRegression(solver="gd", max_iter=20).fit(X, y)


def test_verbose_prints(small, capsys):
    X, y = small
    LogisticRegression(verbose=1).fit(X, y)
    assert "lbfgs: objective" in capsys.readouterr().out
    LogisticRegression(solver="gd", verbose=1, max_iter=200, tol=0.1).fit(X, y)
    assert "gd: iteration 0" in capsys.readouterr().out


@pytest.fixture(scope="module")
def medium():
    X, y = make_classification(8000, 20, n_informative=10, random_state=3)
    assert X.size >= PARALLEL_MIN_ELEMENTS  # really runs the parallel build
    return X, y


@pytest.mark.parametrize("n_threads", [1, 2, 64])
def test_n_threads_is_restored_and_changes_nothing(medium, n_threads):
    X, y = medium
    before = numba.get_num_threads()
    # BLAS held to one thread for the reference too, as fit does on the parallel
    # backend: L-BFGS-B's own BLAS calls round differently with other thread
    # counts (seen: 1e-18 in coef_), which is not what this test is about.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        ref = LogisticRegression(backend="loop").fit(X, y)
    clf = LogisticRegression(n_threads=n_threads).fit(X, y)
    assert numba.get_num_threads() == before
    # Chunked partial sums: the same bits for any thread count, and as the
    # serial build (which small data are given, see PARALLEL_MIN_ELEMENTS).
    np.testing.assert_array_equal(clf.coef_, ref.coef_)
    np.testing.assert_array_equal(clf.n_iter_, ref.n_iter_)


@pytest.mark.parametrize("params", [
    {"C": 0.0}, {"C": -1.0}, {"C": "1"}, {"solver": "newton"}, {"tol": -1.0},
    {"max_iter": -1}, {"max_iter": 1.5}, {"learning_rate": 0.0}, {"learning_rate": "fast"},
    {"backend": "cuda"}, {"n_threads": 0}, {"n_threads": 1.0}, {"verbose": -1},
    {"fit_intercept": "yes"}, {"warm_start": None},
])
def test_invalid_params(small, params):
    X, y = small
    with pytest.raises(ValueError):
        LogisticRegression(**params).fit(X, y)


def test_invalid_data(small):
    X, y = small
    with pytest.raises(ValueError, match="2 classes"):
        LogisticRegression().fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(X, np.linspace(0, 1, y.shape[0]))
    with pytest.raises(ValueError, match="positive sum"):
        LogisticRegression().fit(X, y, sample_weight=np.zeros(y.shape[0]))
    with pytest.raises(ValueError, match="non-negative"):
        LogisticRegression().fit(X, y, sample_weight=-np.ones(y.shape[0]))
    with pytest.raises(NotFittedError):
        LogisticRegression().predict(X)
    for solver in ("lbfgs", "gd"):
        for bad in (np.nan, np.inf):
            X_bad = X.copy()
            X_bad[7, 3] = bad
            with pytest.raises(ValueError, match=r"NaN or infinity: X\[7, 3\]"):
                LogisticRegression(solver=solver).fit(X_bad, y)
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


# ----------------------------------------------------------- memory layout, dtypes


class _Spy:
    """Wraps a backend and records the X of every kernel call."""

    def __init__(self, kernels):
        self.kernels = kernels
        self.seen = []

    def value_and_grad(self, w, b, X, *args):
        self.seen.append(X)
        return self.kernels.value_and_grad(w, b, X, *args)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_X_is_never_copied(small, monkeypatch, dtype, order):
    X, y = small
    X = np.array(X, dtype=dtype, order=order)
    spies = []
    original = flr_sklearn.get_backend

    def spy_backend(name):
        spies.append(_Spy(original(name)))
        return spies[-1]

    monkeypatch.setattr(flr_sklearn, "get_backend", spy_backend)
    LogisticRegression().fit(X, y)
    seen = spies[0].seen
    assert seen
    for X_kernel in seen:
        assert X_kernel.dtype == dtype
        assert X_kernel.shape == X.T.shape
        assert np.shares_memory(X_kernel, X)


def test_layouts_and_float32_agree(cancer):
    X, y = cancer
    ref = LogisticRegression(**TIGHT).fit(X, y)
    fortran = LogisticRegression(**TIGHT).fit(np.asfortranarray(X), y)
    np.testing.assert_allclose(fortran.coef_, ref.coef_, rtol=1e-8)
    strided = np.zeros((X.shape[0], 2 * X.shape[1]))
    strided[:, ::2] = X
    view = LogisticRegression(**TIGHT).fit(strided[:, ::2], y)
    np.testing.assert_allclose(view.coef_, ref.coef_, rtol=1e-8)
    single = LogisticRegression(tol=1e-6, max_iter=1000).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(single.coef_, ref.coef_, rtol=1e-3, atol=1e-3)
    assert single.predict_proba(X.astype(np.float32)).dtype == np.float64


def test_readonly_input(small):
    X, y = small
    X = X.copy()
    X.flags.writeable = False
    clf = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(clf.coef_, LogisticRegression().fit(X.copy(), y).coef_)


def test_import_fastlogreg_does_not_import_sklearn():
    code = ("import sys, fastlogreg; "
            "bad = sorted(m for m in sys.modules if m == 'sklearn' or m.startswith('sklearn.'));"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# solver="gd" in the span of the examples (many more features than samples)

def _wide(n_samples, n_features, seed=0):
    rng = np.random.default_rng([seed, n_samples, n_features])
    X = rng.standard_normal((n_samples, n_features)) / np.sqrt(n_features)
    w = rng.standard_normal(n_features) * 2
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-(X @ w)))).astype(np.int64)
    return X, y


def _flip_features(n_samples, max_iter, backend):
    """Fewest features for which solver="gd" trains in the span of the examples."""
    from fastlogreg._gram_descent import choose_method
    checks = -(-max_iter // flr_sklearn.GD_CHECK_EVERY)
    n = 1
    while choose_method(n, n_samples, max_iter, backend, formations=checks) != "gram":
        n *= 2
    lo, hi = n // 2, n  # primal at lo (or lo == 0), gram at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        gram = choose_method(mid, n_samples, max_iter, backend, formations=checks) == "gram"
        lo, hi = (lo, mid) if gram else (mid, hi)
    return hi


@pytest.mark.parametrize("backend", ("numpy", *COMPILED))
@pytest.mark.parametrize("delta", [-1, 0])
def test_gd_in_the_span_of_the_examples(monkeypatch, backend, delta):
    """At and just below the predicted break-even: the Gram path is taken exactly
    when predicted faster, and gives the primal loop's fit (same n_iter_,
    coefficients to 1e-12), float64 and float32, weights and penalty."""
    m, max_iter = 40, 400
    n = _flip_features(m, max_iter, backend) + delta
    X, y = _wide(m, n)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, m)
    spans = []
    real = flr_sklearn._gram_span

    def spy(*args):
        spans.append(real(*args))
        return spans[-1]
    for dtype in (np.float64, np.float32):
        params = dict(solver="gd", tol=1e-5, max_iter=max_iter, backend=backend, C=5.0)
        monkeypatch.setattr(flr_sklearn, "_gram_span", spy)
        got = LogisticRegression(**params).fit(X.astype(dtype), y, sample_weight=sw)
        assert (spans[-1] is not None) == (delta == 0)
        monkeypatch.setattr(flr_sklearn, "_gram_span", lambda *args: None)
        want = LogisticRegression(**params).fit(X.astype(dtype), y, sample_weight=sw)
        assert got.n_iter_[0] == want.n_iter_[0] > flr_sklearn.GD_CHECK_EVERY
        # float64: two summation orders, 1e-12; float32: the Gram path computes
        # in float64, the primal loop's logits carry ~n eps32 (n ~ 1e3): 1e-4.
        rtol = 1e-12 if dtype == np.float64 else 1e-4
        scale = max(np.abs(want.coef_).max(), abs(want.intercept_[0]))
        np.testing.assert_allclose(got.coef_, want.coef_, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(got.intercept_, want.intercept_, rtol=rtol,
                                   atol=rtol * scale)


def test_gd_span_only_for_dense_X():
    import scipy.sparse as sp
    X, y = _wide(40, 4000)
    params = {"solver": "gd", "max_iter": 400, "backend": "loop"}
    est = LogisticRegression(**params)
    dense = est.fit(X, y).coef_
    np.testing.assert_allclose(LogisticRegression(**params).fit(sp.csr_array(X), y).coef_,
                               dense, rtol=1e-12, atol=1e-14)
    from fastlogreg._objective import Problem
    problem = Problem(None, sp.csc_array(X.T), np.empty(0), 40.0, 1.0, True)
    assert flr_sklearn._gram_span(problem, None, np.zeros(4000),
                                  {"max_iter": 400, "backend": "loop"}) is None
