"""Sparse data: a seeded text-like generator and an svmlight/libsvm reader and writer.

Re-exported by :mod:`fastlogreg.datasets` (``make_sparse_classification``,
``load_svmlight``, ``save_svmlight``).  scipy is a dependency of fastlogreg,
scikit-learn is not needed.
"""

import os

import numpy as np

#: Examples generated per batch (bounds the generator's temporaries).
_BATCH = 8192


def make_sparse_classification(n_examples=1000, n_features=10000, *, draws=100, zipf=1.0,
                               n_informative=None, signal=3.0, seed=0, dtype=np.float64,
                               format="csc", return_model=False):
    """Seeded text-like sparse data with labels from a known sparse logistic model.

    Each example draws ``draws`` tokens (features) from a Zipf law (feature
    ``j`` of the frequency ranking has probability proportional to
    ``1 / (j + 1) ** zipf``; the ranking is a seeded permutation of the
    features); repeated tokens make a term count ``tf``.  Values are
    TF-IDF-like, ``(1 + log tf) * idf_j`` with scikit-learn's smooth
    ``idf_j = log((1 + m) / (1 + df_j)) + 1``, and every example is scaled to
    unit Euclidean norm.  Labels are drawn from ``sigmoid(w^T x + b)`` with a
    ``w`` that is non-zero on ``n_informative`` random features, scaled so
    that the logits have standard deviation ``signal``.

    Parameters
    ----------
    n_examples, n_features : int
        ``m`` and ``n_x`` (both >= 1).
    draws : int, default 100
        Tokens per example (distinct features per example are fewer).
    zipf : float, default 1.0
        Zipf exponent (>= 0; 0 draws features uniformly).
    n_informative : int, optional
        Non-zero weights of the true model; default ``max(1, n_features // 10)``.
    signal : float, default 3.0
        Standard deviation of the true logits (larger: easier labels).
    seed : int, default 0
    dtype : {numpy.float64, numpy.float32}
    format : {"csc", "csr"}
        Sparse format of ``X`` in the course layout: CSC (one column per
        example, the generator's own layout) or CSR (a conversion).
    return_model : bool
        Also return ``(w_true, b_true)``.

    Returns
    -------
    X : scipy.sparse.csc_array or csr_array, shape (n_features, n_examples)
        Course layout (one example per column); ``X.T`` is the
        ``(n_samples, n_features)`` matrix an estimator takes, without a copy.
    Y : ndarray of float64, shape (1, n_examples)
        0/1 labels.
    (w_true, b_true) : tuple, optional
        ``w_true`` of shape ``(n_features, 1)``, ``b_true`` a float.

    Examples
    --------
    >>> from fastlogreg.datasets import make_sparse_classification
    >>> X, Y = make_sparse_classification(50, 1000, draws=20, seed=1)
    >>> X.shape, Y.shape, X.format
    ((1000, 50), (1, 50), 'csc')
    """
    from scipy import sparse

    for name, value in (("n_examples", n_examples), ("n_features", n_features),
                        ("draws", draws)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    if not zipf >= 0:
        raise ValueError(f"zipf must be >= 0; got {zipf!r}")
    if format not in ("csc", "csr"):
        raise ValueError(f"format must be 'csc' or 'csr'; got {format!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    m, n = int(n_examples), int(n_features)
    rng = np.random.default_rng(seed)
    ranking = rng.permutation(n)
    cdf = np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.float64) ** zipf)
    cdf /= cdf[-1]
    indptr = np.zeros(m + 1, dtype=np.int64)
    cols, counts = [], []
    for start in range(0, m, _BATCH):
        stop = min(m, start + _BATCH)
        ranks = np.minimum(np.searchsorted(cdf, rng.random((stop - start, draws))), n - 1)
        keys = np.arange(stop - start)[:, None] * n + ranking[ranks]
        keys, tf = np.unique(keys.ravel(), return_counts=True)   # sorted by example, feature
        rows = keys // n
        indptr[start + 1:stop + 1] = indptr[start] + np.cumsum(np.bincount(rows,
                                                                         minlength=stop - start))
        cols.append(keys - rows * n)
        counts.append(tf)
    indices = np.concatenate(cols)
    values = 1.0 + np.log(np.concatenate(counts).astype(np.float64))
    df = np.bincount(indices, minlength=n)
    values *= (np.log((1.0 + m) / (1.0 + df)) + 1.0)[indices]
    norms = np.sqrt(np.add.reduceat(values * values, indptr[:-1]))
    values /= np.repeat(norms, np.diff(indptr))
    index_dtype = np.int32 if max(n, indices.shape[0]) < 2 ** 31 else np.int64
    X = sparse.csc_array((values.astype(dtype), indices.astype(index_dtype),
                          indptr.astype(index_dtype)), shape=(n, m))
    k = max(1, n // 10) if n_informative is None else int(n_informative)
    w_true = np.zeros(n)
    w_true[rng.choice(n, size=min(k, n), replace=False)] = rng.standard_normal(min(k, n))
    z = X.T @ w_true
    scale = signal / z.std() if z.std() > 0 else 1.0
    w_true *= scale
    b_true = float(-np.median(z * scale))     # about balanced classes
    prob = 1.0 / (1.0 + np.exp(-(z * scale + b_true)))
    Y = (rng.random(m) < prob).astype(np.float64).reshape(1, m)
    if format == "csr":
        X = X.tocsr()
    if return_model:
        return X, Y, (w_true.reshape(-1, 1), b_true)
    return X, Y


def load_svmlight(path, n_features=None, dtype=np.float64):
    """Read an svmlight / libsvm file as course-layout CSC data.

    Each line is ``<label> <index>:<value> ...`` (indices 1-based, as libsvm
    writes them; a ``qid:`` token and ``#`` comments are ignored).  Labels
    are mapped to 0/1: {-1, +1} and {0, 1} as they are meant, any other two
    values in sorted order.

    Parameters
    ----------
    path : str or os.PathLike
    n_features : int, optional
        At least the largest index; default the largest index seen.
    dtype : {numpy.float64, numpy.float32}

    Returns
    -------
    X : scipy.sparse.csc_array, shape (n_features, m)
        One column per line (example).
    Y : ndarray of float64, shape (1, m)

    Raises
    ------
    ValueError
        A malformed line (its number is given), an index < 1, more than two
        labels, an empty file.
    """
    from scipy import sparse

    path = os.fspath(path)
    labels, indices, values, indptr = [], [], [], [0]
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            tokens = line.split()
            try:
                labels.append(float(tokens[0]))
                for token in tokens[1:]:
                    key, sep, value = token.partition(":")
                    if key == "qid":
                        continue
                    index = int(key)
                    if index < 1 or not sep:
                        raise ValueError(token)
                    indices.append(index - 1)
                    values.append(float(value))
            except ValueError:
                raise ValueError(f"{path}: line {number}: expected '<label> <index>:<value> "
                                 f"...' with indices >= 1; got {line[:60]!r}") from None
            indptr.append(len(indices))
    if not labels:
        raise ValueError(f"{path}: no examples")
    seen = max(indices) + 1 if indices else 0
    if n_features is None:
        n_features = max(seen, 1)
    elif n_features < seen:
        raise ValueError(f"{path}: n_features={n_features} but index {seen} appears")
    Y = _binary_labels(np.array(labels), path).reshape(1, -1)
    X = sparse.csc_array((np.array(values, dtype=dtype), np.array(indices, dtype=np.int64),
                          np.array(indptr, dtype=np.int64)), shape=(n_features, len(labels)))
    return X, Y


def _binary_labels(labels, path):
    """0/1 labels from any two distinct values (-1/+1 and 0/1 as meant)."""
    classes = np.unique(labels)
    if classes.shape[0] > 2:
        raise ValueError(f"{path}: binary labels expected; got {classes.shape[0]} distinct "
                         f"values ({', '.join(f'{c:g}' for c in classes[:5])}...)")
    positive = classes[-1] if classes.shape[0] == 2 or classes[0] > 0 else np.inf
    return (labels == positive).astype(np.float64)


def save_svmlight(path, X, Y):
    """Write course-layout sparse data ``(X, Y)`` as an svmlight file (1-based indices).

    Parameters
    ----------
    path : str or os.PathLike
    X : scipy.sparse matrix, shape (n_features, m)
    Y : array_like, shape (1, m) or (m,)
        0/1 labels, written as they are.
    """
    from scipy import sparse

    X = sparse.csc_array(X)
    Y = np.asarray(Y).reshape(-1)
    with open(path, "w") as handle:
        for i in range(X.shape[1]):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            order = np.argsort(X.indices[lo:hi], kind="stable")
            pairs = " ".join(f"{j + 1}:{float(v)!r}" for j, v in
                             zip(X.indices[lo:hi][order], X.data[lo:hi][order], strict=True))
            handle.write(f"{Y[i]:g} {pairs}\n".replace(" \n", "\n"))
