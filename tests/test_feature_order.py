"""Features relabeled by frequency for sparse fits (fastlogreg/_feature_order.py).

The relabeled matrix must be the caller's with its rows permuted, the caller's
untouched; the estimator must give scikit-learn's fit with or without it;
the decision (``w`` and the gradient against L2, the backend, the split
pass) is swept at and around its threshold with ``cache_sizes``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from fastlogreg import _feature_order as fo
from fastlogreg._tiling import cache_sizes
from fastlogreg._validation import check_X
from fastlogreg.backends.sparse import split_parts
from fastlogreg.sklearn import LogisticRegression


def _text_like(n_samples, n_features, dtype=np.float64, seed=0):
    """CSR (n_samples, n_features) with Zipf-like feature frequencies, labels."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_features + 1)
    weights = weights[rng.permutation(n_features)]
    X = sp.random(n_samples, n_features, density=0.01, format="csr", random_state=seed,
                  dtype=np.float64)
    rows = np.repeat(np.arange(n_samples), 8)
    cols = rng.choice(n_features, size=rows.size, p=weights / weights.sum())
    X = (X + sp.csr_array((rng.random(rows.size), (rows, cols)),
                          shape=X.shape)).tocsr().astype(dtype)
    w = rng.standard_normal(n_features)
    y = (X @ w + 0.3 * rng.standard_normal(n_samples) > 0).astype(np.int64)
    return sp.csr_array(X), y


def test_relabel_is_a_row_permutation_and_leaves_the_caller_alone():
    X, _ = _text_like(200, 3000)
    XT = check_X(X.T)
    before = XT.indices.copy()
    relabeled, order = fo.relabel(XT)
    counts = np.bincount(XT.indices, minlength=XT.shape[0])
    np.testing.assert_array_equal(order, np.argsort(-counts, kind="stable"))
    np.testing.assert_array_equal(relabeled.matrix.toarray(), XT.matrix.toarray()[order])
    assert np.shares_memory(relabeled.data, XT.data)
    assert np.shares_memory(relabeled.indptr, XT.indptr)
    np.testing.assert_array_equal(XT.indices, before)


@pytest.mark.parametrize("backend", ["loop", "parallel", "numpy", "vectorized"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("l2_offset", [-1, 0, 1])
def test_decision_at_its_threshold(backend, fmt, dtype, l2_offset):
    """Relabeled when 16 bytes a feature exceed L2, for the fused kernels' CSC pass only."""
    X, _ = _text_like(100, 2000, dtype)
    XT = check_X((X.tocsc() if fmt == "csc" else X).T)   # CSR X -> CSC XT
    l2 = 16 * XT.shape[0] + l2_offset
    out, order = fo.relabel_for_fit(XT, backend, l2, threads=2)
    expected = (XT.format == "csc" and backend in ("loop", "parallel") and l2_offset < 0
                and not (backend == "parallel" and split_parts(XT, 2)))
    assert (order is not None) == expected
    assert (out is not XT) == expected


def _record_relabeling(monkeypatch):
    """Wrap the estimator's ``relabel_for_fit``; the list gets True per relabeled fit."""
    import fastlogreg.sklearn as module

    seen = []

    def spy(*args, **kwargs):
        out = fo.relabel_for_fit(*args, **kwargs)
        seen.append(out[1] is not None)
        return out
    monkeypatch.setattr(module, "relabel_for_fit", spy)
    return seen


@pytest.mark.parametrize("backend", ["loop", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relabeled_fit_is_scikit_learns(backend, dtype, monkeypatch):
    X, y = _text_like(400, 3000, dtype)
    params = {"C": 0.5, "tol": 1e-8, "max_iter": 500}
    seen = _record_relabeling(monkeypatch)
    with cache_sizes(l2=4096):
        ours = LogisticRegression(backend=backend, **params).fit(X, y)
    with cache_sizes(l2=1 << 30):
        plain = LogisticRegression(backend=backend, **params).fit(X, y)
    assert seen == [True, False]
    theirs = SkLogisticRegression(**params).fit(X.astype(np.float64), y)
    scale = np.abs(theirs.coef_).max()
    if dtype == np.float32:
        # float32 products: the objective is known to float32 rounding, and
        # at tol=1e-8 both fits stop in that noise (see test_dask's bound).
        assert np.abs(ours.coef_ - theirs.coef_).max() <= 1e-3 * scale
        assert np.abs(ours.coef_ - plain.coef_).max() <= 1e-3 * scale
        return
    # With and without: the same kernel bits, the optimizer's block sums in
    # another order, so rounding apart.
    assert ours.n_iter_.tolist() == plain.n_iter_.tolist() == theirs.n_iter_.tolist()
    assert np.abs(ours.coef_ - plain.coef_).max() <= 1e-9 * scale
    assert np.abs(ours.coef_ - theirs.coef_).max() <= 1e-6 * scale
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_relabeled_multiclass_warm_start_and_nan_message(monkeypatch):
    X, y = _text_like(300, 2500)
    seen = _record_relabeling(monkeypatch)
    y = y + (X[:, [0]].toarray().ravel() > 0)          # three classes
    with cache_sizes(l2=4096):
        est = LogisticRegression(warm_start=True, tol=1e-8, max_iter=300).fit(X, y)
        first = est.coef_.copy()
        est.fit(X, y)                                   # from its own solution
        assert est.n_iter_.max() <= 2
        np.testing.assert_allclose(est.coef_, first, rtol=0, atol=1e-6 * np.abs(first).max())
        bad = X.copy()
        row = 7
        col = int(bad.indices[bad.indptr[row]])
        bad.data[bad.indptr[row]] = np.nan
        with pytest.raises(ValueError, match=rf"X\[{row}, {col}\] = nan"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                LogisticRegression().fit(bad, y)
    with cache_sizes(l2=1 << 30):
        plain = LogisticRegression(tol=1e-8, max_iter=300).fit(X, y)
    assert seen == [True, True, True, False]
    np.testing.assert_allclose(first, plain.coef_, rtol=0, atol=1e-9 * np.abs(first).max())
