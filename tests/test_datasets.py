"""fastlogreg.datasets: the embedded cat-like problem and the data-file loaders."""

import numpy as np
import pytest

import fastlogreg as flr
from fastlogreg.datasets import DataError, load_data, make_cat_like, read_npz, save_data


def test_default_shapes_follow_the_course():
    train_x, train_y, test_x, test_y = make_cat_like()
    assert train_x.shape == (12288, 209) and train_y.shape == (1, 209)
    assert test_x.shape == (12288, 50) and test_y.shape == (1, 50)
    assert train_x.dtype == np.float64 and train_y.dtype == np.float64
    assert train_x.flags.f_contiguous          # like the course's reshape(m, -1).T


def test_pixels_and_labels_look_like_the_course():
    data = make_cat_like(n_features=300, n_train=400, n_test=100)
    X = np.hstack([data.train_set_x, data.test_set_x])
    Y = np.hstack([data.train_set_y, data.test_set_y])
    assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_allclose(X * 255, np.round(X * 255), atol=1e-9)   # x_orig / 255
    assert set(np.unique(Y)) <= {0.0, 1.0}
    assert 0.2 < Y.mean() < 0.5                  # about a third are "cats"


def test_seeded_and_deterministic():
    a = make_cat_like(7, n_features=50, n_train=20, n_test=5)
    b = make_cat_like(7, n_features=50, n_train=20, n_test=5)
    c = make_cat_like(8, n_features=50, n_train=20, n_test=5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.train_set_x, c.train_set_x)


def test_float32_and_empty_test_set():
    data = make_cat_like(n_features=10, n_train=4, n_test=0, dtype=np.float32)
    assert data.train_set_x.dtype == np.float32
    assert data.test_set_x.shape == (10, 0) and data.test_set_y.shape == (1, 0)


def test_labels_come_from_the_true_logistic_model():
    (train_x, train_y, test_x, test_y), (w_true, b_true) = make_cat_like(
        n_features=400, n_train=600, n_test=300, return_model=True)
    assert w_true.shape == (400, 1) and isinstance(b_true, float)
    p = flr.sigmoid(w_true.T @ train_x + b_true)
    # The labels are Bernoulli(p): the mean label matches the mean probability.
    assert abs(train_y.mean() - p.mean()) < 0.06
    bayes = np.mean((p > 0.5) == train_y)
    assert bayes > 0.8


def test_the_default_problem_is_learnable():
    train_x, train_y, test_x, test_y = make_cat_like(n_features=2000, n_train=209, n_test=200)
    d = flr.model(train_x, train_y, test_x, test_y, 300, 0.005, backend="numpy")
    test_accuracy = np.mean(d["Y_prediction_test"] == test_y)
    assert test_accuracy > 0.75                  # far above the 2/3 of "always 0"


@pytest.mark.parametrize("kwargs", [
    {"n_features": 0}, {"n_train": -1}, {"n_test": -2}, {"n_patterns": 0},
    {"n_features": 2.5}, {"dtype": np.int32}, {"noise": float("nan")},
])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_cat_like(**kwargs)


def test_npz_round_trip(tmp_path):
    data = make_cat_like(n_features=6, n_train=5, n_test=3)
    save_data(tmp_path / "d.npz", *data)
    loaded = load_data(tmp_path / "d.npz")
    for x, y in zip(loaded, data, strict=True):
        np.testing.assert_array_equal(x, y)
    save_data(tmp_path / "train_only.npz", data[0], data[1])
    assert load_data(tmp_path / "train_only.npz").X_test is None


def test_npz_with_X_only_and_int_labels(tmp_path):
    np.savez(tmp_path / "x.npz", X=np.arange(6).reshape(2, 3))
    with pytest.raises(DataError, match="labels are missing"):
        load_data(tmp_path / "x.npz")
    X, Y, X_test, _ = load_data(tmp_path / "x.npz", labels_required=False)
    assert X.dtype == np.float64 and Y is None and X_test is None
    np.savez(tmp_path / "xy.npz", X=np.ones((2, 3), np.float32), Y=np.array([1, 0, 1]))
    X, Y, _, _ = load_data(tmp_path / "xy.npz")
    assert X.dtype == np.float32 and Y.shape == (1, 3)


def _write(path, text):
    path.write_text(text)
    return path


def test_csv_layout(tmp_path):
    path = _write(tmp_path / "d.csv", "a,label,b,split\n1,0,2,train\n3,1,4,test\n5,1,6,train\n")
    X, Y, X_test, Y_test = load_data(path)
    np.testing.assert_array_equal(X, [[1, 5], [2, 6]])      # examples become columns
    np.testing.assert_array_equal(Y, [[0, 1]])
    np.testing.assert_array_equal(X_test, [[3], [4]])
    np.testing.assert_array_equal(Y_test, [[1]])
    path = _write(tmp_path / "plain.csv", "label,f\n1,0.5\n0,0.25\n")
    X, Y, X_test, _ = load_data(path)
    assert X.shape == (1, 2) and X_test is None


def test_read_npz_messages(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(DataError, match="single .npy array"):
        read_npz(str(tmp_path / "a.npz"))


@pytest.mark.parametrize("name, content, message", [
    ("missing.npz", None, "no such file"),
    ("garbage.npz", b"not a zip", "not an .npz"),
    ("truncated.npz", "TRUNCATED", "corrupt"),
    ("data.txt", b"1,2", "unknown data format"),
    ("empty.csv", b"", "empty CSV"),
    ("header.csv", b"a,label\n", "no data rows"),
    ("ragged.csv", b"a,label\n1,0\n2\n", "line 3 has 1 fields"),
    ("word.csv", b"a,label\n1,0\nx,1\n", "line 3, column 'a'"),
    ("nolabel.csv", b"a,b\n1,0\n", "labels are missing"),
    ("onlylabel.csv", b"label\n1\n", "no feature columns"),
    ("split.csv", b"a,label,split\n1,0,dev\n", "'train' or 'test'"),
    ("notrain.csv", b"a,label,split\n1,0,test\n", "no rows with split 'train'"),
    ("labels.csv", b"a,label\n1,2\n", "labels must be 0 or 1"),
    ("nan.csv", b"a,label\nnan,1\n", "NaN or inf"),
    ("binary.csv", b"\xff\xfe\x00\x01", "not a text CSV"),
])
def test_file_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "TRUNCATED":
        save_data(path, np.ones((3, 4)), np.ones((1, 4)))
        path.write_bytes(path.read_bytes()[:60])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_data(path)
    assert "\n" not in str(info.value) and name in str(info.value)


@pytest.mark.parametrize("arrays, message", [
    ({"A": np.ones(3)}, "expected arrays X_train and Y_train"),
    ({"X_train": np.ones(3), "Y_train": np.ones(3)}, "must be 2-D"),
    ({"X_train": np.ones((2, 0)), "Y_train": np.ones((1, 0))}, "no features or no examples"),
    ({"X_train": np.ones((2, 3)), "Y_train": np.ones((1, 4))}, r"Y must have shape \(1, 3\)"),
    ({"X_train": np.array([[1.0, np.nan]]), "Y_train": np.ones(2)}, "NaN or inf"),
    ({"X_train": np.ones((1, 2)), "Y_train": np.array([np.inf, 1])}, "NaN or inf"),
    ({"X_train": np.array([["a", "b"]]), "Y_train": np.ones(2)}, "must be numeric"),
    ({"X_train": np.ones((1, 2)), "Y_train": np.array(["a", "b"])}, "numeric 0/1"),
    ({"X_train": np.ones((1, 2)), "Y_train": np.ones(2), "X_test": np.ones((2, 2)),
      "Y_test": np.ones(2)}, "must have 1 features"),
    ({"X_train": np.ones((1, 2)), "Y_train": np.ones(2), "X_test": np.ones((1, 2))},
     "must come together"),
])
def test_npz_content_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_data(tmp_path / "d.npz")


def test_directory_is_an_error(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_data(tmp_path)
