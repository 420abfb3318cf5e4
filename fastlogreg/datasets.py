"""Data for the command line and the examples: the embedded default problem and file loaders.

The embedded problem, :func:`make_cat_like`, is shaped like the course's cat
pictures (64 x 64 x 3 = 12288 pixel features in [0, 1], 209 training and 50
test examples, one example per column) but is synthetic and seeded, and its
labels are drawn from a known logistic model, so that an accuracy means
something and anyone can regenerate the same numbers.

:func:`load_data` reads a data set from a file:

``.npz``
    Arrays ``X_train`` ``(n_x, m_train)`` and ``Y_train`` ``(1, m_train)`` or
    ``(m_train,)``, optionally ``X_test`` and ``Y_test``, in the course's layout
    (one example per column).  A file holding ``X`` (and optionally ``Y``)
    instead is read as a training set (what ``fastlogreg predict`` needs).
``.svm``, ``.svmlight``, ``.libsvm``
    Sparse data in the svmlight / libsvm format (one example per line,
    ``<label> <index>:<value> ...``, 1-based indices, labels -1/+1 or 0/1),
    read as a CSC ``X`` in the course layout (:func:`load_svmlight`); training
    data only.
``.npz`` holding sparse data
    A file of :func:`scipy.sparse.save_npz` is ``X`` (course layout, no
    labels); :func:`save_data` writes sparse ``X_train``/``X_test`` as their
    arrays (``X_train.data``, ``X_train.indices``, ``X_train.indptr``,
    ``X_train.shape``, ``X_train.format``) beside dense labels.
``.csv``
    One example per row, a header row naming the columns, comma-separated.  A
    column named ``label`` holds the 0/1 labels, an optional column named
    ``split`` says ``train`` or ``test`` for each row (without it every row is
    a training example), and every other column is a numeric feature.  The
    data is transposed to the course's layout on reading.
"""

import csv
import math
import os
from typing import NamedTuple

import numpy as np

from ._sparse import is_sparse as _is_sparse
from ._sparse_data import load_svmlight, make_sparse_classification, save_svmlight

__all__ = ["CatLike", "DataError", "Dataset", "load_data", "load_svmlight", "make_cat_like",
           "make_sparse_classification", "read_npz", "save_data", "save_svmlight"]

#: Sizes of the course's cat data set (``64 * 64 * 3`` features).
CAT_N_FEATURES = 12288
CAT_N_TRAIN = 209
CAT_N_TEST = 50
#: File suffixes read as svmlight / libsvm.
SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")
#: Seed of the embedded default problem.
DEFAULT_SEED = 1


class DataError(ValueError):
    """A data file or array that cannot be used (missing, corrupt, bad shape, NaN...)."""


class CatLike(NamedTuple):
    """The four arrays of the course's ``load_dataset``, flattened and scaled."""

    train_set_x: np.ndarray
    train_set_y: np.ndarray
    test_set_x: np.ndarray
    test_set_y: np.ndarray


class Dataset(NamedTuple):
    """A data set read by :func:`load_data`; the test part may be absent (None)."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray | None
    Y_test: np.ndarray | None


def make_cat_like(seed=DEFAULT_SEED, *, n_features=CAT_N_FEATURES, n_train=CAT_N_TRAIN,
                  n_test=CAT_N_TEST, dtype=np.float64, n_patterns=10, noise=0.1,
                  return_model=False):
    """Seeded synthetic data shaped like the course's cat pictures.

    Each example is a "picture": pixels in [0, 1], quantized to multiples of
    1/255 like the course's ``train_set_x_orig / 255``, built from a few
    random patterns (a low-rank signal shared by all pictures) plus pixel
    noise.  Each label is drawn from a known logistic model of the pixels,
    ``P(y = 1 | x) = sigmoid(w_true^T x + b_true)``, whose direction lies in
    the span of the patterns, so the course's gradient descent from zeros
    can learn it from a few hundred examples and the test accuracy means
    something.  About a third of the labels are 1, as in the course.

    Parameters
    ----------
    seed : int, default 1
        Seed of :func:`numpy.random.default_rng`; the same seed and sizes give
        the same arrays on every platform.
    n_features : int, default 12288
        Features per example (the course's 64 * 64 * 3).
    n_train : int, default 209
        Training examples.
    n_test : int, default 50
        Test examples (may be 0: empty test arrays).
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        dtype of the ``X`` arrays; the labels are always float64.
    n_patterns : int, default 10
        Rank of the shared signal.
    noise : float, default 0.1
        Standard deviation of the independent pixel noise.
    return_model : bool, default False
        Also return the true model ``(w_true, b_true)``.

    Returns
    -------
    data : CatLike
        ``(train_set_x, train_set_y, test_set_x, test_set_y)`` in the course's
        layout: ``train_set_x`` is ``(n_features, n_train)``, ``train_set_y``
        is ``(1, n_train)`` of 0.0/1.0, and likewise for the test set.  Like
        the course's ``reshape(m, -1).T``, the ``X`` arrays are F-ordered.
    model : tuple of (ndarray of shape (n_features, 1), float)
        ``(w_true, b_true)``, only when ``return_model`` is true.

    Raises
    ------
    ValueError
        If a size is out of range or ``dtype`` is not float32/float64.

    Examples
    --------
    >>> from fastlogreg.datasets import make_cat_like
    >>> train_x, train_y, test_x, test_y = make_cat_like()
    >>> train_x.shape, train_y.shape, test_x.shape, test_y.shape
    ((12288, 209), (1, 209), (12288, 50), (1, 50))
    >>> float(train_x.min()) >= 0.0 and float(train_x.max()) <= 1.0
    True
    """
    for name, value, low in (("n_features", n_features, 1), ("n_train", n_train, 1),
                             ("n_test", n_test, 0), ("n_patterns", n_patterns, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer; got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}; got {value}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0; got {noise}")

    rng = np.random.default_rng(seed)
    m = n_train + n_test
    patterns = rng.standard_normal((n_patterns, n_features)) / math.sqrt(n_patterns)
    latent = rng.standard_normal((m, n_patterns))
    pixels = latent @ patterns
    pixels *= 0.15
    pixels += 0.5
    pixels += noise * rng.standard_normal((m, n_features))
    np.clip(pixels, 0.0, 1.0, out=pixels)
    pixels = np.round(pixels * 255.0) / 255.0          # like train_set_x_orig / 255
    X = pixels.astype(dtype).T                            # (n_features, m), F-ordered

    # The true model: a direction in the patterns' span, scaled so that the
    # logits have standard deviation 4 (most labels are clear, some are not).
    direction = rng.standard_normal(n_patterns) @ patterns
    raw = pixels @ direction
    spread = float(np.std(raw))
    w_true = direction * (4.0 / spread if spread > 0 else 1.0)
    logits = pixels @ w_true
    b_true = -float(np.quantile(logits, 0.65))        # about a third of the labels are 1
    logits += b_true
    prob = 0.5 * (1.0 + np.tanh(0.5 * logits))           # sigmoid, no overflow
    Y = (rng.random(m) < prob).astype(np.float64).reshape(1, m)

    data = CatLike(X[:, :n_train], Y[:, :n_train], X[:, n_train:], Y[:, n_train:])
    if return_model:
        return data, (w_true.reshape(-1, 1), b_true)
    return data


def _check_sparse(X, where, n_features):
    """Validate a sparse X of a data file: CSR/CSC, float values, finite, shape."""
    if X.format not in ("csr", "csc"):
        X = X.tocsc()
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{where}: X has no features or no examples; got shape {X.shape}")
    if n_features is not None and X.shape[0] != n_features:
        raise DataError(f"{where}: X must have {n_features} features (rows) like the "
                        f"training data; got shape {X.shape}")
    if X.dtype.kind not in "fiub":
        raise DataError(f"{where}: X must be numeric; got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if not np.isfinite(X.data).all():
        raise DataError(f"{where}: X holds NaN or inf")
    return X


def _check_pair(X, Y, part, path, n_features=None, labels_required=True):
    """Validate one ``(X, Y)`` pair of a data file; return them as float arrays."""
    where = f"{path}: {part}"
    if _is_sparse(X):
        X = _check_sparse(X, where, n_features)
        return X, _check_labels(Y, X.shape[1], where, labels_required)
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise DataError(f"{where}: X must be numeric; got dtype {X.dtype}")
    if X.ndim != 2:
        raise DataError(f"{where}: X must be 2-D (n_features, m_examples); got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{where}: X has no features or no examples; got shape {X.shape}")
    if n_features is not None and X.shape[0] != n_features:
        raise DataError(f"{where}: X must have {n_features} features (rows) like the "
                        f"training data; got shape {X.shape}")
    if X.dtype.kind == "f" and X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    elif X.dtype.kind != "f":
        X = X.astype(np.float64)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{where}: X holds NaN or inf (first at feature {bad[0]}, "
                        f"example {bad[1]})")
    return X, _check_labels(Y, X.shape[1], where, labels_required)


def _check_labels(Y, m, where, labels_required):
    """Validate the labels of ``m`` examples: ``(1, m)`` float64 of 0/1, or None."""
    if Y is None:
        if labels_required:
            raise DataError(f"{where}: labels are missing")
        return None
    Y = np.asarray(Y)
    if Y.dtype.kind not in "fiub":
        raise DataError(f"{where}: Y must be numeric 0/1 labels; got dtype {Y.dtype}")
    if Y.shape not in ((1, m), (m,)):
        raise DataError(f"{where}: Y must have shape (1, {m}) or ({m},) to match the "
                        f"{m} examples of X; got {Y.shape}")
    Y = Y.astype(np.float64).reshape(1, m)
    if not np.isfinite(Y).all():
        raise DataError(f"{where}: Y holds NaN or inf")
    if not np.isin(Y, (0.0, 1.0)).all():
        bad = Y[~np.isin(Y, (0.0, 1.0))][0]
        raise DataError(f"{where}: labels must be 0 or 1; got {bad:g}")
    return Y


def read_npz(path, what="data"):
    """All arrays of an ``.npz`` file as a dict, or a one-line :class:`DataError`.

    Parameters
    ----------
    path : str
    what : str, default "data"
        What the file should hold, for the messages ("data", "model").

    Returns
    -------
    dict of str to ndarray
    """
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise DataError(f"{path}: a single .npy array, not an .npz archive of named arrays")
    if not magic.startswith(b"PK"):
        raise DataError(f"{path}: not an .npz {what} file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as exc:  # zipfile, pickle, format errors all mean "corrupt"
        raise DataError(f"{path}: corrupt .npz {what} file ({type(exc).__name__}: "
                        f"{exc})") from None
    return arrays


def _sparse_from_arrays(arrays, key, path):
    """The sparse matrix stored as ``key.data``, ``key.indices``, ... (or None)."""
    from scipy import sparse

    if f"{key}.data" not in arrays:
        return None
    try:
        fmt = str(arrays[f"{key}.format"])
        maker = {"csr": sparse.csr_array, "csc": sparse.csc_array}[fmt]
        return maker((arrays[f"{key}.data"], arrays[f"{key}.indices"],
                      arrays[f"{key}.indptr"]), shape=tuple(arrays[f"{key}.shape"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: sparse {key} is incomplete or invalid ({exc})") from None


def _load_npz(path):
    arrays = read_npz(path)
    if {"format", "shape", "data", "indices", "indptr"} <= set(arrays):   # scipy.sparse.save_npz
        from scipy import sparse

        try:
            return sparse.load_npz(path), None, None, None
        except Exception as exc:
            raise DataError(f"{path}: corrupt scipy.sparse .npz file ({exc})") from None
    for key in ("X_train", "X", "X_test"):
        matrix = _sparse_from_arrays(arrays, key, path)
        if matrix is not None:
            arrays[key] = matrix
    if "X_train" in arrays:
        x_key, y_key = "X_train", "Y_train"
    elif "X" in arrays:
        x_key, y_key = "X", "Y"
    else:
        raise DataError(f"{path}: expected arrays X_train and Y_train (or X); "
                        f"found {sorted(arrays) or 'none'}")
    X_test = arrays.get("X_test")
    Y_test = arrays.get("Y_test")
    if (X_test is None) != (Y_test is None) and x_key == "X_train":
        raise DataError(f"{path}: X_test and Y_test must come together")
    return arrays[x_key], arrays.get(y_key), X_test, Y_test


def _load_csv(path):
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file") from None
    rows = [row for row in rows if row]
    if not rows:
        raise DataError(f"{path}: empty CSV file (expected a header row)")
    header = [name.strip() for name in rows[0]]
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: no data rows after the header")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {number} has {len(row)} fields; the header "
                            f"has {len(header)}")
    label_col = header.index("label") if "label" in header else None
    split_col = header.index("split") if "split" in header else None
    feature_cols = [j for j in range(len(header)) if j not in (label_col, split_col)]
    if not feature_cols:
        raise DataError(f"{path}: no feature columns (only 'label'/'split')")

    def column_values(j, kind):
        try:
            return np.array([float(row[j]) for row in body])
        except ValueError:
            for number, row in enumerate(body, start=2):
                try:
                    float(row[j])
                except ValueError:
                    raise DataError(f"{path}: line {number}, column {header[j]!r}: "
                                    f"{kind} {row[j].strip()!r} is not a number") from None
            raise

    features = np.empty((len(feature_cols), len(body)))
    for i, j in enumerate(feature_cols):
        features[i] = column_values(j, "value")
    labels = column_values(label_col, "label") if label_col is not None else None
    if split_col is None:
        return features, labels, None, None
    split = np.array([row[split_col].strip().lower() for row in body])
    unknown = sorted(set(split) - {"train", "test"})
    if unknown:
        raise DataError(f"{path}: column 'split' must be 'train' or 'test'; got {unknown[0]!r}")
    train, test = split == "train", split == "test"
    if not train.any():
        raise DataError(f"{path}: no rows with split 'train'")
    pick = (lambda a, rows: None if a is None else a[..., rows])  # noqa: E731
    X_test = features[:, test] if test.any() else None
    Y_test = pick(labels, test) if test.any() else None
    return features[:, train], pick(labels, train), X_test, Y_test


def load_data(path, *, labels_required=True):
    """Read a data set from an ``.npz`` or ``.csv`` file (layouts in the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The file; its suffix (``.npz`` or ``.csv``) picks the format.
    labels_required : bool, default True
        Without labels (no ``Y_train``/``Y`` array, no ``label`` column) the
        file is an error unless this is false (as for ``fastlogreg predict``).

    Returns
    -------
    Dataset
        ``(X_train, Y_train, X_test, Y_test)`` in the course's layout: ``X``
        is ``(n_x, m)`` float32 or float64 (other numbers become float64), ``Y``
        is ``(1, m)`` float64 of 0.0/1.0; the test pair, and ``Y_train`` when
        labels are not required, may be None.

    Raises
    ------
    DataError
        A subclass of ValueError, with a one-line message naming the file:
        missing, unreadable or corrupt file, unknown suffix, bad shapes,
        NaN or inf, labels other than 0/1.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npz":
            X, Y, X_test, Y_test = _load_npz(path)
        elif suffix == ".csv":
            X, Y, X_test, Y_test = _load_csv(path)
        elif suffix in SVMLIGHT_SUFFIXES:
            try:
                X, Y = load_svmlight(path)
            except ValueError as exc:
                raise DataError(str(exc)) from None
            X_test = Y_test = None
        else:
            raise DataError(f"{path}: unknown data format {suffix or '(no suffix)'!r}; "
                            f"use .npz, .csv or {', '.join(SVMLIGHT_SUFFIXES)}")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    X, Y = _check_pair(X, Y, "training data", path, labels_required=labels_required)
    if X_test is not None:
        X_test, Y_test = _check_pair(X_test, Y_test, "test data", path,
                                     n_features=X.shape[0], labels_required=labels_required)
    return Dataset(X, Y, X_test, Y_test)


def save_data(path, X_train, Y_train, X_test=None, Y_test=None):
    """Write a data set as an ``.npz`` file that :func:`load_data` reads back.

    Parameters
    ----------
    path : str or os.PathLike
        Destination (NumPy appends ``.npz`` when the name lacks it).
    X_train : array_like, shape (n_x, m_train)
    Y_train : array_like, shape (1, m_train)
    X_test : array_like, shape (n_x, m_test), optional
    Y_test : array_like, shape (1, m_test), optional

    Examples
    --------
    >>> import os, tempfile
    >>> from fastlogreg.datasets import load_data, make_cat_like, save_data
    >>> data = make_cat_like(n_features=6, n_train=5, n_test=2)
    >>> path = os.path.join(tempfile.mkdtemp(), "cats.npz")
    >>> save_data(path, *data)
    >>> load_data(path).X_train.shape
    (6, 5)
    """
    arrays = {"X_train": X_train, "Y_train": Y_train}
    if X_test is not None:
        arrays.update(X_test=X_test, Y_test=Y_test)
    for key in ("X_train", "X_test"):
        if key in arrays and _is_sparse(arrays[key]):
            X = arrays.pop(key)
            X = X if X.format in ("csr", "csc") else X.tocsc()
            arrays.update({f"{key}.data": X.data, f"{key}.indices": X.indices,
                           f"{key}.indptr": X.indptr, f"{key}.shape": np.array(X.shape),
                           f"{key}.format": np.str_(X.format)})
    np.savez(path, **arrays)
