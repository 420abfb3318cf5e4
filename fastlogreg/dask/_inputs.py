"""Dask inputs made into what the chunk tasks expect, with errors that say what is wrong."""

import numbers

import dask
import dask.array as da
import numpy as np

from .._objective import label_codes

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def is_dask(obj):
    """True for any dask collection (array, DataFrame, Series, delayed)."""
    return dask.is_dask_collection(obj)


def _dataframe_types():
    import dask.dataframe as dd
    return dd.DataFrame, dd.Series


def real_dtype(name, dtype):
    """The float dtype the kernels compute in for ``dtype`` (ints and bools: float64)."""
    dtype = np.dtype(dtype)
    if dtype in _FLOATS:
        return dtype
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name} must hold real numbers (float32, float64, int or bool); "
                    f"got dtype {dtype}")


def feature_names(X):
    """The column names of a dask DataFrame whose names are all strings, else None.

    As scikit-learn records ``feature_names_in_``: other inputs, and frames
    with non-string column names, have none.
    """
    frame, _ = _dataframe_types()
    if isinstance(X, frame) and all(isinstance(c, str) for c in X.columns):
        return np.asarray(X.columns, dtype=object)
    return None


def check_feature_names(estimator, X):
    """A dask DataFrame's columns must be those the estimator was fitted with.

    Raises
    ------
    ValueError
        Naming the expected and the received columns.
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    names = feature_names(X)
    if fitted is None or names is None:
        return
    if len(names) != len(fitted) or np.any(names != fitted):
        raise ValueError("The feature names should match those that were passed during "
                         f"fit: expected {list(fitted)[:10]}, got {list(names)[:10]}")


def as_samples_array(X, name="X"):
    """A dask X ``(n_samples, n_features)`` chunked by rows only, in a float dtype.

    A dask DataFrame becomes its array of values (numeric columns only);
    chunks along the features are merged (each task needs whole rows).
    """
    frame, series = _dataframe_types()
    if isinstance(X, frame):
        bad = [c for c, t in X.dtypes.items() if np.dtype(t).kind not in "biuf"]
        if bad:
            raise TypeError(f"{name} must have numeric columns only; got non-numeric "
                            f"column(s) {bad[:5]}")
        X = X.to_dask_array()
    elif isinstance(X, series):
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a Series: use "
                         "series.to_frame()")
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a dask array or DataFrame; got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features); got "
                         f"{X.ndim}-D of shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature; got shape {X.shape}")
    dtype = real_dtype(name, X.dtype)
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X if X.dtype == dtype else X.astype(dtype)


def known(chunks):
    """True when every chunk size is known (not NaN)."""
    return not any(isinstance(c, float) and np.isnan(c) for c in chunks)


def as_vector_like(values, row_chunks, name, n_samples):
    """A 1-D dask array of ``values`` whose chunks line up with ``row_chunks``.

    NumPy input is chunked like X; a dask array with other known chunk
    boundaries is rechunked like X; with unknown sizes the numbers of chunks
    must agree, and each task checks the lengths of its chunks.
    """
    frame, series = _dataframe_types()
    if isinstance(values, frame):
        if len(values.columns) != 1:
            raise ValueError(f"{name} must be one column; got {len(values.columns)} columns")
        values = values[values.columns[0]]
    if isinstance(values, series):
        values = values.to_dask_array()
    if not isinstance(values, da.Array):
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {values.shape}")
        if not known(row_chunks):
            raise ValueError(f"{name} is in memory but the row chunks of X have unknown "
                             "sizes: pass it as a dask array or Series partitioned like X")
        if values.shape[0] != n_samples:
            raise ValueError(f"{name} has {values.shape[0]} samples but X has {n_samples}")
        return da.from_array(values, chunks=(tuple(row_chunks),))
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {values.shape}")
    if known(row_chunks) and known(values.chunks[0]):
        if values.shape[0] != n_samples:
            raise ValueError(f"{name} has {values.shape[0]} samples but X has {n_samples}")
        if tuple(values.chunks[0]) != tuple(row_chunks):
            values = values.rechunk((tuple(row_chunks),))
        return values
    if values.numblocks[0] != len(row_chunks):
        raise ValueError(f"the chunks of X and {name} do not line up: X has "
                         f"{len(row_chunks)} chunks of rows, {name} has "
                         f"{values.numblocks[0]} (chunk sizes unknown, so they cannot be "
                         "rechunked: partition both alike)")
    return values


def check_persist(persist):
    """None, True or False."""
    if persist is not None and not isinstance(persist, (bool, np.bool_)):
        raise ValueError(f"persist must be None, True or False; got {persist!r}")
    return persist


def check_client(client):
    """None or a distributed client."""
    if client is not None and not hasattr(client, "submit"):
        raise ValueError(f"client must be None or a distributed.Client; got {client!r}")
    return client


def check_labels_chunk(y, sw, index, offsets):
    """Scan one chunk of labels (and weights): ``(rows, classes, weight_sum)``.

    Raises
    ------
    ValueError
        NaN or infinity among the labels, non-finite or negative weights, or
        a chunk of weights whose length differs from the labels'.
    """
    where = (lambda i: f"[{offsets[index] + i}] (chunk {index})") if offsets is not None \
        else (lambda i: f" at row {i} of chunk {index}")
    if y.dtype.kind in "fc":
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise ValueError(f"Input y contains NaN or infinity: y{where(bad[0])} = "
                             f"{y[bad[0]]}")
    if y.dtype.kind == "O":
        bad = [i for i, label in enumerate(y) if isinstance(label, numbers.Real)
               and label != label]
        if bad:
            raise ValueError(f"Input y contains NaN: y{where(bad[0])}")
    sw_sum = None
    if sw is not None:
        if sw.shape[0] != y.shape[0]:
            raise ValueError(f"chunk {index} of y has {y.shape[0]} samples but chunk "
                             f"{index} of sample_weight has {sw.shape[0]}: the chunks must "
                             "line up")
        bad = np.flatnonzero(~(np.isfinite(sw) & (sw >= 0)))
        if bad.size:
            raise ValueError(f"sample_weight must be finite and >= 0; got "
                             f"sample_weight{where(bad[0])} = {sw[bad[0]]}")
        sw_sum = float(sw.sum())
    return y.shape[0], label_codes(y), sw_sum


def binary_chunk(Y, index, dtype, offsets):
    """One chunk of the course's labels, checked to be 0 or 1, in X's dtype."""
    y = np.asarray(Y).astype(dtype, copy=False)
    bad = np.flatnonzero((y != 0) & (y != 1))
    if bad.size:
        i = bad[0]
        where = f"index {offsets[index] + i}" if offsets is not None else \
            f"row {i} of chunk {index}"
        raise ValueError(f"Y must contain only labels 0 and 1; got {y[i].item()!r} at {where} "
                         f"(chunk {index})")
    return y
