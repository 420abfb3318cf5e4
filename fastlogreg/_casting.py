"""Dtype casts for compiled kernels that copy only when they must."""

import numpy as np
from numba import types
from numba.extending import overload


def in_dtype_of(w, X):
    """``w`` in ``X``'s dtype: ``w`` itself when the dtypes match, else a cast copy.

    Parameters
    ----------
    w : ndarray
    X : ndarray

    Returns
    -------
    ndarray
        Not a copy when ``w.dtype == X.dtype``: callers must not write to it.

    Notes
    -----
    ``w.astype(X.dtype)`` copies even when nothing changes; at 12288
    features that copy was 2-3 % of a propagate call.  Compiled code gets the
    choice at typing time (the overload below), so no branch is left at run
    time.
    """
    return w if w.dtype == X.dtype else w.astype(X.dtype)


@overload(in_dtype_of)
def _in_dtype_of_compiled(w, X):
    if w.dtype == X.dtype:
        return lambda w, X: w
    return lambda w, X: w.astype(X.dtype)


def scalar_in_dtype_of(x, X):
    """The scalar ``x`` rounded to ``X``'s dtype, as :func:`in_dtype_of` rounds arrays.

    Parameters
    ----------
    x : float
    X : ndarray

    Returns
    -------
    float
        ``x`` itself when the dtypes match.

    Notes
    -----
    A loop that reads ``w[p]`` once per compressed row (the CSR logits'
    scatter) rounds each as it goes, instead of a cast copy of all of ``w``:
    the same bits, without the copy (4 MB at a million features, about 1.5 ms
    of a 30 ms float32 propagate here).
    """
    return X.dtype.type(x)


@overload(scalar_in_dtype_of)
def _scalar_in_dtype_of_compiled(x, X):
    if x == X.dtype:
        return lambda x, X: x
    if X.dtype == types.float32:
        return lambda x, X: np.float32(x)
    return lambda x, X: np.float64(x)
