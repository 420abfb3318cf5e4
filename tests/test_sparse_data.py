"""Sparse data: the text-like generator, svmlight/libsvm and sparse .npz files, the CLI."""

import numpy as np
import pytest
import scipy.sparse as sp

import fastlogreg as flr
import fastlogreg.cli as cli
from fastlogreg.datasets import (
    DataError,
    load_data,
    load_svmlight,
    make_sparse_classification,
    save_data,
    save_svmlight,
)


@pytest.fixture(scope="module")
def text():
    return make_sparse_classification(400, 3000, draws=30, seed=2, return_model=True)


# ------------------------------------------------------------------ generator


def test_generator_is_seeded_and_text_like(text):
    X, Y, (w_true, b_true) = text
    again = make_sparse_classification(400, 3000, draws=30, seed=2)
    other = make_sparse_classification(400, 3000, draws=30, seed=3)
    assert (X != again[0]).nnz == 0 and np.array_equal(Y, again[1])
    assert (X != other[0]).nnz > 0
    assert X.format == "csc" and X.shape == (3000, 400) and Y.shape == (1, 400)
    assert X.has_canonical_format
    np.testing.assert_allclose(sp.linalg.norm(X, axis=0), 1.0, rtol=1e-12)   # unit norm
    per_example = np.diff(X.indptr)
    assert per_example.max() <= 30 and per_example.min() >= 1
    assert (X.data > 0).all()
    # Zipf: the most frequent feature occurs far more often than the median one
    df = np.sort(np.bincount(X.indices, minlength=3000))[::-1]
    assert df[0] > 0.5 * 400 and df[0] > 20 * max(1, np.median(df))
    # TF-IDF: a rarer feature weighs more than a frequent one at equal term count
    assert set(np.unique(Y)) == {0.0, 1.0} and 0.25 < Y.mean() < 0.75
    assert np.count_nonzero(w_true) == 300
    accuracy = np.mean(((X.T @ w_true).ravel() + b_true > 0) == Y.ravel())
    assert accuracy > 0.75, accuracy


def test_generator_options():
    X, Y = make_sparse_classification(50, 200, draws=5, seed=0, dtype=np.float32,
                                      format="csr", zipf=0.0, n_informative=3)
    assert X.format == "csr" and X.dtype == np.float32 and X.shape == (200, 50)
    for bad in ({"n_examples": 0}, {"draws": 0}, {"format": "coo"}, {"dtype": np.int64},
                {"zipf": -1}):
        with pytest.raises(ValueError):
            make_sparse_classification(**{"n_examples": 5, "n_features": 5, **bad})


# --------------------------------------------------------------------- files


def test_svmlight_round_trip(tmp_path, text):
    X, Y, _ = text
    path = tmp_path / "d.svm"
    save_svmlight(path, X, Y)
    X2, Y2 = load_svmlight(path, n_features=X.shape[0])
    assert X2.format == "csc" and (X2 != X).nnz == 0 and np.array_equal(Y2, Y)


def test_svmlight_agrees_with_sklearn_reader(tmp_path):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    path = tmp_path / "d.libsvm"
    path.write_text("+1 1:2 3:0.5 # comment\n-1 qid:3 2:-1.5\n+1 3:4 7:1e-3\n")
    X, Y = load_svmlight(path)
    ref_X, ref_y = sklearn_datasets.load_svmlight_file(str(path))
    np.testing.assert_array_equal(X.T.toarray(), ref_X.toarray())
    np.testing.assert_array_equal(Y.ravel(), (ref_y > 0).astype(float))


@pytest.mark.parametrize("content, fragment", [
    ("1 0:1\n", "line 1"), ("1 a:1\n", "line 1"), ("1 2:1\n0 3\n", "line 2"),
    ("1 1:1\n2 1:1\n3 1:1\n", "binary labels"), ("\n# nothing\n", "no examples"),
])
def test_svmlight_errors(tmp_path, content, fragment):
    path = tmp_path / "bad.svm"
    path.write_text(content)
    with pytest.raises(ValueError, match=fragment):
        load_svmlight(path)
    with pytest.raises(DataError, match=fragment):
        load_data(path)


def test_npz_files_with_sparse_X(tmp_path, text):
    X, Y, _ = text
    save_data(tmp_path / "d.npz", X[:, :300], Y[:, :300], X.tocsr()[:, 300:], Y[:, 300:])
    data = load_data(tmp_path / "d.npz")
    assert data.X_train.format == "csc" and data.X_test.format == "csr"
    assert (data.X_train != X[:, :300]).nnz == 0 and np.array_equal(data.Y_test, Y[:, 300:])
    sp.save_npz(tmp_path / "x.npz", X)                       # scipy's own file: X only
    with pytest.raises(DataError, match="labels are missing"):
        load_data(tmp_path / "x.npz")
    assert (load_data(tmp_path / "x.npz", labels_required=False).X_train != X).nnz == 0
    bad = X.copy()
    bad.data[0] = np.inf
    save_data(tmp_path / "bad.npz", bad, Y)
    with pytest.raises(DataError, match="NaN or inf"):
        load_data(tmp_path / "bad.npz")


# ----------------------------------------------------------------------- CLI


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_compare_density(capsys):
    code, out, err = _run(capsys, "compare", "--density", "0.01", "--n-features", "2000",
                          "--n-examples", "300", "--n-test", "50", "--iterations", "100",
                          "--repeat", "1", "--no-progress", "--backends", "numpy,loop")
    assert code == 0, err
    assert "sparse text-like data (20 Zipf draws" in out and "CSC" in out
    assert "max |diff|" in out
    code, _, err = _run(capsys, "compare", "--density", "2")
    assert code == 2 and "must be <= 1" in err


def test_cli_train_and_predict_svmlight(capsys, tmp_path, text):
    X, Y, _ = text
    save_svmlight(tmp_path / "train.svmlight", X, Y)
    model = tmp_path / "model.npz"
    code, out, err = _run(capsys, "train", "--data", str(tmp_path / "train.svmlight"),
                          "--iterations", "300", "--learning-rate", "2", "--backend", "loop",
                          "--no-progress", "--save", str(model))
    assert code == 0, err
    assert "CSC" in out and "train accuracy" in out
    saved = np.load(model)
    params, _, _ = flr.optimize(np.zeros((X.shape[0], 1)), 0.0, X, Y, 300, 2.0,
                                backend="numpy")
    np.testing.assert_allclose(saved["w"].ravel(), params["w"].ravel(), rtol=1e-9, atol=1e-12)
    save_data(tmp_path / "test.npz", X.tocsr(), Y)
    code, out, err = _run(capsys, "predict", "--model", str(model), "--data",
                          str(tmp_path / "test.npz"), "--output", str(tmp_path / "p.npz"))
    assert code == 0, err
    expected = flr.predict(params["w"], params["b"], X, backend="numpy")
    np.testing.assert_array_equal(np.load(tmp_path / "p.npz")["Y_prediction_train"], expected)


def test_cli_density_with_data_is_an_error(capsys, tmp_path, text):
    X, Y, _ = text
    save_svmlight(tmp_path / "t.svm", X, Y)
    code, _, err = _run(capsys, "train", "--data", str(tmp_path / "t.svm"), "--density", "0.1")
    assert code == 2 and "--density" in err
