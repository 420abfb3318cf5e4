"""Sparse ``X``: scipy CSR/CSC validated once and handed to the kernels as plain arrays.

The public layer calls :func:`as_sparse_X` when ``X`` is a ``scipy.sparse``
matrix or array; the result, a :class:`SparseX`, is what the backends see in
place of an ndarray (:mod:`fastlogreg.backends` picks the sparse kernels from
its type).  In the course layout ``X`` is ``(n_x, m)``:

* CSC: one compressed column per *example* (``indptr`` has ``m + 1`` entries);
* CSR: one compressed row per *feature* (``indptr`` has ``n_x + 1`` entries).

Nothing proportional to ``X`` is copied when its arrays are usable as they
are: float32/float64 ``data`` and ``indices``/``indptr`` of one integer dtype
(int32 or int64).  Copies happen only for other ``data`` dtypes (ints and bools
become float64) and for mixed index dtypes (both become int64; scipy's
``*_matrix`` classes may hold int32 ``indices`` with int64 ``indptr``).
Non-canonical matrices (unsorted indices, duplicate entries, explicit zeros)
need no copy: every kernel sums whatever entries are stored, which is what
scipy means by them.  The caller's matrix is never modified.
"""

import sys

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INDEX = (np.dtype(np.int32), np.dtype(np.int64))
FORMATS = ("csr", "csc")


def is_sparse(X):
    """True for a ``scipy.sparse`` matrix or array (without importing scipy.sparse)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


class SparseX:
    """A validated CSR or CSC ``X`` in the course layout ``(n_x, m)``.

    Attributes
    ----------
    format : {"csr", "csc"}
    data : ndarray of float32 or float64, shape (nnz_stored,)
    indices, indptr : ndarray of int32 or int64 (the same dtype)
    shape : tuple of int
        ``(n_x, m)``.
    dtype : numpy.dtype
        ``data``'s dtype.
    matrix : scipy.sparse matrix or array
        The caller's matrix, or one built on the normalised arrays when a
        copy was needed; the ``numpy`` reference backend multiplies with it.
    copied : tuple of str
        Which of ``data``, ``indices``, ``indptr`` were copied (usually none).
    """

    ndim = 2

    def __init__(self, matrix, data, indices, indptr, copied):
        self.format = matrix.format
        self.matrix = matrix
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.shape = tuple(int(s) for s in matrix.shape)
        self.dtype = data.dtype
        self.copied = copied

    @property
    def nnz(self):
        """Stored entries (duplicates and explicit zeros included)."""
        return int(self.indptr[-1] - self.indptr[0])

    @property
    def sorted_indices(self):
        """Whether every compressed row's indices are sorted (scipy checks once per matrix)."""
        return bool(self.matrix.has_sorted_indices)

    @property
    def nbytes(self):
        """Bytes of ``data``, ``indices`` and ``indptr``."""
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

    @property
    def T(self):
        """``X.T`` as a scipy matrix (a view: CSR and CSC swap)."""
        return self.matrix.T

    def kernel_args(self):
        """``(data, indices, indptr, n_x, m)``: what the compiled kernels take as ``X``."""
        return (self.data, self.indices, self.indptr, self.shape[0], self.shape[1])

    def __repr__(self):
        return (f"SparseX({self.format}, shape={self.shape}, nnz={self.nnz}, "
                f"dtype={self.dtype}, index={self.indices.dtype})")


def as_sparse_X(X, name="X"):
    """Validate a scipy sparse ``X``; return a :class:`SparseX` (no copy when possible).

    Parameters
    ----------
    X : scipy.sparse CSR or CSC matrix or array, shape (n_x, m)
    name : str
        The argument's name in error messages.

    Returns
    -------
    SparseX

    Raises
    ------
    TypeError
        Another sparse format (COO, LIL, ...), or values that are not real.
    ValueError
        Not 2-D, no feature or no example, or inconsistent ``indptr``.
    """
    fmt = X.format
    if fmt not in FORMATS:
        raise TypeError(f"{name} must be a dense array or a scipy.sparse CSR or CSC matrix or "
                        f"array; got {type(X).__name__} in format {fmt!r}. Convert it with "
                        f"{name}.tocsr() or {name}.tocsc()")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n_x, m), one example per column; got "
                         f"a {X.ndim}-D sparse array of shape {X.shape}")
    n, m = X.shape
    if n == 0:
        raise ValueError(f"{name} must have at least one feature (n_x >= 1); got shape {X.shape}")
    if m == 0:
        raise ValueError(f"{name} must have at least one example (m >= 1); got shape {X.shape}")
    copied = []
    data = X.data
    if data.dtype not in _FLOATS:
        if data.dtype.kind not in "biu":
            raise TypeError(f"{name} must hold real numbers (float32, float64, int or bool); "
                            f"got dtype {data.dtype}")
        data = data.astype(np.float64)
        copied.append("data")
    data = _contiguous(data, "data", copied)
    indices, indptr = X.indices, X.indptr
    if indices.dtype != indptr.dtype or indices.dtype not in _INDEX:
        # Each combination of index dtypes is a separate compilation: keep two.
        if indices.dtype != np.int64:
            indices = indices.astype(np.int64)
            copied.append("indices")
        if indptr.dtype != np.int64:
            indptr = indptr.astype(np.int64)
            copied.append("indptr")
    indices = _contiguous(indices, "indices", copied)
    indptr = _contiguous(indptr, "indptr", copied)
    major = m if fmt == "csc" else n
    if indptr.shape != (major + 1,) or indptr[0] < 0 or indptr[-1] < indptr[0] \
            or indptr[-1] > min(data.shape[0], indices.shape[0]):
        raise ValueError(f"{name} is not a valid {fmt.upper()} matrix: indptr of shape "
                         f"{indptr.shape} (expected ({major + 1},)) must run from >= 0 to at "
                         f"most len(data) = {data.shape[0]}")
    matrix = X
    if data is not X.data:
        # scipy's own products accept any index dtypes: only the values change.
        matrix = type(X)((data, X.indices, X.indptr), shape=X.shape, copy=False)
    return SparseX(matrix, data, indices, indptr, tuple(copied))


def _contiguous(arr, label, copied):
    """``arr`` as a contiguous array, noting a copy in ``copied`` when one was needed."""
    if arr.flags.c_contiguous:
        return arr
    copied.append(label)
    return np.ascontiguousarray(arr)


def first_nonfinite(X):
    """``(j, i, value)`` of the first stored non-finite entry of a :class:`SparseX`.

    Returns ``(-1, -1, 0.0)`` when every stored value is finite.  Only called
    after a kernel counted a non-finite logit, so its nnz-sized mask costs
    nothing on the normal path.
    """
    lo, hi = int(X.indptr[0]), int(X.indptr[-1])
    bad = np.flatnonzero(~np.isfinite(X.data[lo:hi]))
    if bad.size == 0:
        return -1, -1, 0.0
    k = lo + int(bad[0])
    major = int(np.searchsorted(X.indptr, k, side="right")) - 1
    minor = int(X.indices[k])
    j, i = (minor, major) if X.format == "csc" else (major, minor)
    return j, i, X.data[k]
