"""Input checks and normalisation for the public API.

Every check names the argument, what was expected and what was received, and
nothing here writes to the caller's arrays.  Nothing proportional to ``X`` is
allocated: a contiguous float ``X`` is used as it is, and its finiteness is
checked by the kernels themselves (they count non-finite logits), with
:func:`raise_for_nonfinite` locating the culprit only when one was seen.
"""

import math
import numbers

import numpy as np

from ._jit import jit
from ._scalar import is_finite
from ._sparse import SparseX, as_sparse_X, first_nonfinite, is_sparse

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _as_real_array(name, value):
    """``value`` as an ndarray of float32/float64; ints and bools become float64."""
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if arr.dtype in _FLOATS:
        return arr
    if kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(f"{name} must hold real numbers (float32, float64, int or bool); "
                    f"got dtype {arr.dtype}")


def check_X(X):
    """Validate ``X`` of shape ``(n_x, m)``; return it as a float array (no copy for floats).

    A ``scipy.sparse`` CSR or CSC ``X`` comes back as a
    :class:`fastlogreg._sparse.SparseX` (see :func:`fastlogreg._sparse.as_sparse_X`):
    the backends pick their sparse kernels from that type.

    Raises
    ------
    TypeError
        Complex, object, string or other non-real dtypes; sparse formats other
        than CSR and CSC.
    ValueError
        ``X`` not 2-D, or with no feature or no example.
    """
    if isinstance(X, SparseX):
        return X
    if is_sparse(X):
        return as_sparse_X(X)
    X = _as_real_array("X", X)
    if X.ndim != 2:
        raise ValueError(
            f"X must be a 2-D array of shape (n_x, m), one example per column; got a "
            f"{X.ndim}-D array of shape {X.shape}. Use X.reshape(-1, 1) for one example "
            f"or X.reshape(1, -1) for m examples of one feature")
    if X.shape[0] == 0:
        raise ValueError(f"X must have at least one feature (n_x >= 1); got shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"X must have at least one example (m >= 1); got shape {X.shape}")
    return X


def check_w(w, X, copy=True):
    """Validate ``w`` against ``X``.

    Parameters
    ----------
    w : array_like
    X : ndarray or SparseX
    copy : bool, default True
        Return a fresh copy (training updates it in place).  False: a
        contiguous, writeable float64 ``w`` is used as it is (the kernels only
        read it); at a million features the copy was a third of the memory
        that a sparse ``propagate`` allocates.

    Returns
    -------
    w_flat : ndarray of float64, shape (n_x,)
        Contiguous; a fresh copy unless ``copy`` is false.
    dtype : numpy.dtype
        The dtype of outputs: NumPy's promotion of ``w`` and ``X``.
    shape : tuple
        ``w``'s own shape, which ``dw`` follows.
    """
    arr = _as_real_array("w", w)
    n = X.shape[0]
    if arr.shape not in ((n, 1), (n,)):
        raise ValueError(f"w must have shape ({n}, 1) or ({n},) to match X of shape "
                         f"{X.shape}; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"w must be finite; got {_first_bad(arr)} at index "
                         f"{_first_bad_index(arr)}")
    flat = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    # A read-only w would compile a second (read-only) signature of each kernel.
    if (copy or not flat.flags.writeable) and np.may_share_memory(flat, arr):
        flat = flat.copy()
    return flat, np.result_type(arr.dtype, X.dtype), arr.shape


def check_b(b):
    """Validate the bias: a finite real scalar (or a size-1 array); return a float."""
    if isinstance(b, (str, bytes)) or not isinstance(b, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(f"b must be a real number; got {type(b).__name__} {b!r}")
    arr = _as_real_array("b", b)
    if arr.size != 1:
        raise ValueError(f"b must be a scalar; got an array of shape {arr.shape}")
    value = float(arr.reshape(()))
    if not math.isfinite(value):
        raise ValueError(f"b must be finite; got {value}")
    return value


def check_Y(Y, X):
    """Validate labels against ``X``; return them 1-D in X's dtype (a view when possible).

    Raises
    ------
    ValueError
        Shape other than ``(1, m)`` or ``(m,)``, or a label outside {0, 1}
        (NaN and inf included).
    """
    arr = _as_real_array("Y", Y)
    m = X.shape[1]
    if arr.shape not in ((1, m), (m,)):
        raise ValueError(f"Y must have shape (1, {m}) or ({m},) to match X of shape "
                         f"{X.shape}; got shape {arr.shape}")
    y = arr.reshape(m).astype(X.dtype, copy=False)
    bad = _first_non_binary(y) if _count_non_binary(y) else -1
    if bad >= 0:
        raise ValueError(f"Y must contain only labels 0 and 1; got {y[bad]!r} at "
                         f"index {bad}")
    return y


def check_sample_weight(sample_weight, m):
    """Validate optional sample weights; return float64 ``(m,)`` or an empty array."""
    if sample_weight is None:
        return np.empty(0)
    sw = _as_real_array("sample_weight", sample_weight)
    if sw.shape != (m,):
        raise ValueError(f"sample_weight must have shape ({m},); got {sw.shape}")
    bad = np.flatnonzero(~(np.isfinite(sw) & (sw >= 0)))
    if bad.size:
        raise ValueError("sample_weight must be finite and non-negative; got "
                         f"{sw[bad[0]]} at index {bad[0]}")
    return np.ascontiguousarray(sw, dtype=np.float64)


def raise_for_nonfinite(X, n_bad):
    """Raise the right error after a kernel saw ``n_bad`` non-finite logits.

    ``w`` and ``b`` were checked before, so a non-finite logit comes from a
    NaN or inf in ``X`` (a ``ValueError`` naming its position) or, with every
    input finite, from ``w^T x + b`` overflowing (``FloatingPointError``).
    """
    j, i, value = locate_nonfinite(X)
    if j >= 0:
        raise ValueError(f"X must be finite; got {value} at X[{j}, {i}]")
    raise FloatingPointError(f"w^T X + b overflowed for {n_bad} example(s): "
                             "inputs are finite but too large")


def locate_nonfinite(X):
    """``(j, i, value)`` of the first non-finite element of a dense or sparse X, or -1s."""
    if isinstance(X, SparseX):
        return first_nonfinite(X)
    j, i = _first_nonfinite_2d(X)
    return j, i, (X[j, i] if j >= 0 else 0.0)


def _first_bad(arr):
    flat = arr.ravel()
    return flat[_first_bad_index(arr)]


def _first_bad_index(arr):
    return int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])


@jit
def _count_non_binary(y):
    """How many labels are not 0 or 1 (NaN included).

    A branch-free count that vectorizes: the early-exit search below
    mispredicts on random labels and took 400 us per 100000 labels (4 ms,
    over half of a 10x1000000 propagate); this takes 5 us, and the search
    runs only when a bad label is there to be found.
    """
    bad = 0
    for i in range(y.shape[0]):
        v = y[i]
        bad += (v != 0) & (v != 1)
    return bad


@jit
def _first_non_binary(y):
    """Index of the first label not 0 or 1 (NaN included), or -1."""
    for i in range(y.shape[0]):
        if y[i] != 0 and y[i] != 1:
            return i
    return -1


@jit
def _first_nonfinite_2d(X):
    """``(j, i)`` of the first non-finite element of X, or ``(-1, -1)``."""
    for j in range(X.shape[0]):
        for i in range(X.shape[1]):
            if not is_finite(X[j, i]):
                return j, i
    return -1, -1
