"""Backend registry: one name, one object with the common kernel interface.

Every backend object has

``forward(w, b, X, out) -> n_bad``
    ``out[i] = sigmoid(w^T x_i + b)``.
``value_and_grad(w, b, X, y, sw, want_cost, want_grad, dw_out) -> (loss_sum, db_sum, n_bad)``
    Sums over examples (weighted by ``sw`` unless it is empty) of the loss
    and of the residual ``a - y``; the gradient sum goes to ``dw_out``.
``prepare_descent(X) -> (descend, X_kernel, work)``
    The training loop :func:`fastlogreg._descent.descend` bound to the kernel
    for X's layout (compiled for the compiled backends).

and :func:`get_gram_kernels` gives, per backend, the kernels of gradient
descent in the span of the examples (:mod:`fastlogreg._gram_descent`):
``gram(X)`` (``X^T X``, float64), ``matmul(X, C)`` (``X @ C``, float64) and
``prepare(X) -> (descend_gram, work)``.

Inputs are trusted (the public layer validates them): ``w`` is float64
``(n,)``, ``X`` is float32/float64 ``(n, m)`` in any layout or a
:class:`fastlogreg._sparse.SparseX` (CSR or CSC), ``y`` has X's dtype,
``n_bad`` counts examples whose logit is not finite.  Each name serves dense
and sparse X: the registry picks the kernels from X's type
(:class:`_ByInput`).  Creating the registry compiles nothing; Numba compiles
each kernel on first use.
"""

import contextlib
import threading
import warnings

import numpy as np
from numba.core.errors import NumbaPerformanceWarning

from .._sparse import SparseX, is_sparse
from .blocked import BlockedKernels
from .gram_blocked import BlockedGram
from .numpy_reference import NumpyGram, NumpyKernels
from .python_loops import PythonGram, PythonKernels
from .sparse import (
    SparseLoopKernels,
    SparseNumpyKernels,
    SparsePythonKernels,
    SparseVectorizedKernels,
)
from .vectorized import VectorizedGram, VectorizedKernels

BACKENDS = ("python", "numpy", "loop", "parallel", "vectorized")
#: The default backend of every public function: the fused, multi-threaded
#: explicit loops.  They read X once, scale with the cores, and return the
#: same bits as ``loop`` for any thread count.
DEFAULT_BACKEND = "parallel"


class _Serialized:
    """Run a backend's kernels under one process-wide lock.

    Numba's ``workqueue`` threading layer (the one always present) aborts the
    process when two Python threads enter parallel code at once (numba#8563).
    The parallel kernels already use every core, so serializing concurrent
    callers costs little and makes any threading layer safe.
    """

    _lock = threading.Lock()

    def __init__(self, kernels):
        self._kernels = kernels
        self.parallel = kernels.parallel

    def __getattr__(self, name):
        return getattr(self._kernels, name)

    def forward(self, *args):
        with self._locked():
            return self._kernels.forward(*args)

    def value_and_grad(self, *args):
        with self._locked():
            return self._kernels.value_and_grad(*args)

    def prepare_descent(self, X):
        descend, X_kernel, work = self._kernels.prepare_descent(X)
        return self._locked_loop(descend), X_kernel, work

    @contextlib.contextmanager
    def _locked(self):
        """Hold the lock; silence Numba's note on the parallel training loops.

        The parallel training loops' array expressions (``w -= lr * dw``) are
        compiled as serial helpers on purpose (_jit.PRANGE_ONLY: no
        thread-count-dependent sums); Numba warns, when it compiles them, that
        it found nothing to parallelize.  The public kernels of the parallel
        build run through those loops too (``BlockedKernels``).
        """
        with self._lock, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NO_PARALLEL_TRANSFORM,
                                    category=NumbaPerformanceWarning)
            yield

    def _locked_loop(self, descend):
        """A compiled parallel training loop, run under the lock."""
        def locked_descend(*args):
            with self._locked():
                return descend(*args)
        return locked_descend


_NO_PARALLEL_TRANSFORM = (r"\s*The keyword argument 'parallel=True' was specified "
                          "but no transformation")


class _SerializedGram(_Serialized):
    """The Gram kernels of a parallel backend under the same process-wide lock."""

    def gram(self, X):
        with self._lock:
            return self._kernels.gram(X)

    def matmul(self, X, C):
        with self._lock:
            return self._kernels.matmul(X, C)

    def prepare(self, X):
        descend, work = self._kernels.prepare(X)
        return self._locked_loop(descend), work


class _ByInput:
    """One backend name, two kernel sets: dense ndarrays and sparse X (by X's type)."""

    def __init__(self, dense, sparse):
        self.dense = dense
        self.sparse = sparse
        self.parallel = dense.parallel

    def __getattr__(self, name):
        # The dense kernels' own attributes (per-layout builds) stay reachable.
        return getattr(self.dense, name)

    def _for(self, X):
        return self.sparse if isinstance(X, SparseX) else self.dense

    def forward(self, w, b, X, out):
        return self._for(X).forward(w, b, X, out)

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        return self._for(X).value_and_grad(w, b, X, y, sw, want_cost, want_grad, dw_out)

    def prepare_descent(self, X):
        return self._for(X).prepare_descent(X)


_LOOP = BlockedKernels(parallel=False)
_SPARSE_LOOP = SparseLoopKernels(parallel=False)
_REGISTRY = {
    "python": _ByInput(PythonKernels(), SparsePythonKernels()),
    "numpy": _ByInput(NumpyKernels(), SparseNumpyKernels()),
    "loop": _ByInput(_LOOP, _SPARSE_LOOP),
    "parallel": _Serialized(_ByInput(BlockedKernels(parallel=True, serial=_LOOP),
                                     SparseLoopKernels(parallel=True, serial=_SPARSE_LOOP))),
    "vectorized": _ByInput(VectorizedKernels(), SparseVectorizedKernels()),
}


class _GramByInput:
    """A backend's Gram kernels for dense X, and ``K`` and the products by scipy for sparse X.

    With sparse X, ``K = X^T X`` (dense, ``m x m``, float64) and the products
    ``X @ C`` are scipy's sparse products; the iterations, which only see
    ``K``, are the backend's own.
    """

    def __init__(self, dense):
        self.dense = dense

    def __getattr__(self, name):
        return getattr(self.dense, name)

    def gram(self, X):
        if isinstance(X, SparseX):
            M = X.matrix.astype(np.float64, copy=False)
            return np.asarray((M.T @ M).toarray())
        return self.dense.gram(X)

    def matmul(self, X, C):
        if isinstance(X, SparseX):
            X = X.matrix
        if is_sparse(X):       # also SparseX.T, a scipy matrix
            return np.asarray(X @ np.asarray(C, dtype=np.float64), dtype=np.float64)
        return self.dense.matmul(X, C)

    def prepare(self, X):
        return self.dense.prepare(X)


_LOOP_GRAM = BlockedGram(parallel=False)
_GRAM_REGISTRY = {
    "python": _GramByInput(PythonGram()),
    "numpy": _GramByInput(NumpyGram()),
    "loop": _GramByInput(_LOOP_GRAM),
    "parallel": _GramByInput(_SerializedGram(BlockedGram(parallel=True, serial=_LOOP_GRAM))),
    "vectorized": _GramByInput(VectorizedGram()),
}


def get_gram_kernels(name):
    """The Gram-space descent kernels of backend ``name`` (see module notes).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`BACKENDS`.
    """
    get_backend(name)
    return _GRAM_REGISTRY[name]


def get_backend(name):
    """Return the kernels registered under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`BACKENDS`.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"backend must be one of {BACKENDS}; got {name!r}") from None
