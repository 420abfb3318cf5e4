"""The estimator on sparse X: scikit-learn's answers on the same CSR data, no copies.

scikit-learn's own sparse checks (``check_estimator_sparse_array``,
``check_estimator_sparse_matrix``, ``check_estimator_sparse_tag``,
``check_sample_weight_equivalence_on_sparse_data``) run in test_sklearn.py.
"""

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression as SkLogisticRegression  # noqa: E402

import fastlogreg.sklearn as flr_sklearn  # noqa: E402
from fastlogreg._sparse import SparseX  # noqa: E402
from fastlogreg.datasets import make_sparse_classification  # noqa: E402
from fastlogreg.sklearn import LogisticRegression  # noqa: E402

TIGHT = {"tol": 1e-10, "max_iter": 10_000}
BACKENDS = ("python", "numpy", "loop", "parallel", "vectorized")


@pytest.fixture(scope="module")
def text():
    """(n_samples, n_features) CSR text-like data and 0/1 labels."""
    X, Y = make_sparse_classification(1500, 3000, draws=40, seed=4)
    return sp.csr_array(X.T), Y.ravel().astype(int)


@pytest.mark.parametrize("kind", ["csr_array", "csr_matrix", "csc_array", "csc_matrix"])
def test_matches_sklearn_on_the_same_sparse_data(text, kind):
    X, y = text
    X = getattr(sp, kind)(X)
    ours = LogisticRegression(C=10.0, **TIGHT).fit(X, y)
    ref = SkLogisticRegression(C=10.0, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5,
                               atol=1e-5 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_fit_equals_dense_fit(text, backend):
    X, y = text
    X = X[:300] if backend == "python" else X
    y = y[:300] if backend == "python" else y
    sparse_fit = LogisticRegression(backend=backend, **TIGHT).fit(X, y)
    dense_fit = LogisticRegression(backend="numpy", **TIGHT).fit(X.toarray(), y)
    np.testing.assert_allclose(sparse_fit.coef_, dense_fit.coef_, rtol=1e-6,
                               atol=1e-7 * np.abs(dense_fit.coef_).max())
    np.testing.assert_array_equal(sparse_fit.predict(X), dense_fit.predict(X.toarray()))


def test_sample_weight_matches_sklearn(text):
    X, y = text
    sw = np.random.default_rng(0).random(X.shape[0]) * 3
    ours = LogisticRegression(**TIGHT).fit(X, y, sample_weight=sw)
    ref = SkLogisticRegression(**TIGHT).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5,
                               atol=1e-5 * np.abs(ref.coef_).max())


def test_one_vs_rest_sparse_equals_dense(text):
    X, _ = text
    y = np.random.default_rng(1).integers(0, 3, X.shape[0])
    sparse_fit = LogisticRegression(**TIGHT).fit(X, y)
    dense_fit = LogisticRegression(**TIGHT).fit(X.toarray(), y)
    assert sparse_fit.coef_.shape == (3, X.shape[1])
    np.testing.assert_allclose(sparse_fit.coef_, dense_fit.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sparse_fit.predict_proba(X), dense_fit.predict_proba(X.toarray()),
                               atol=1e-8)


def test_gd_solver_on_sparse(text):
    X, y = text
    gd = LogisticRegression(solver="gd", tol=1e-7, max_iter=50_000, backend="loop").fit(X, y)
    ref = LogisticRegression(**TIGHT).fit(X, y)
    np.testing.assert_allclose(gd.coef_, ref.coef_, atol=1e-4 * np.abs(ref.coef_).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_read_the_callers_arrays(text, monkeypatch, dtype):
    X, y = text
    X = X.astype(dtype)
    seen = []
    original = flr_sklearn.get_backend

    def spy_backend(name):
        kernels = original(name)

        class Spy:
            def __getattr__(self, attr):
                return getattr(kernels, attr)

            def value_and_grad(self, w, b, XT, *args):
                seen.append(XT)
                return kernels.value_and_grad(w, b, XT, *args)
        return Spy()
    monkeypatch.setattr(flr_sklearn, "get_backend", spy_backend)
    LogisticRegression(max_iter=5).fit(X, y)
    assert seen and all(isinstance(XT, SparseX) for XT in seen)
    XT = seen[0]
    assert XT.format == "csc" and XT.shape == X.shape[::-1]
    assert XT.dtype == dtype                                 # float32 kept float32
    assert np.shares_memory(XT.data, X.data) and np.shares_memory(XT.indices, X.indices)


def test_nan_in_sparse_X_is_reported(text):
    X, y = text
    X = X.copy()
    X.data[10] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        LogisticRegression().fit(X, y)
    fitted = LogisticRegression(max_iter=5).fit(text[0], y)
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(X)
