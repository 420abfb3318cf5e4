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
(:class:`_ByInput`).  Nothing is compiled before first use, and nothing is
built before it either: each backend's kernels (their modules imported, their
Numba dispatchers made) on the first request for that backend, and its
sparse kernels on the first sparse X (:class:`_Lazy`), so that importing
fastlogreg and a first dense call stay quick.
"""

import contextlib
import functools
import threading
import warnings

import numpy as np
from numba.core.errors import NumbaPerformanceWarning

from .._sparse import SparseX, is_sparse

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
    """One backend name, two kernel sets: dense ndarrays and sparse X (by X's type).

    ``make_sparse`` builds the sparse kernels on the first sparse X (their
    module and its dispatchers cost import time that dense work never needs).
    """

    def __init__(self, dense, make_sparse):
        self.dense = dense
        self._make_sparse = make_sparse
        self.parallel = dense.parallel

    @functools.cached_property
    def sparse(self):
        with _BUILD_LOCK:
            return self._make_sparse()

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


#: Held while a backend's kernels are built (two threads asking at once get one build).
_BUILD_LOCK = threading.RLock()


class _Lazy(dict):
    """A registry whose entries are built on first access, from ``factories[name]()``.

    A name without a factory is a ``KeyError`` (an unhashable one a
    ``TypeError``), as for a plain dict.
    """

    def __init__(self, factories):
        super().__init__()
        self._factories = factories

    def __missing__(self, name):
        factory = self._factories[name]
        with _BUILD_LOCK:
            if name not in self:
                self[name] = factory()
            return dict.__getitem__(self, name)


@functools.cache
def _loop_kernels():
    """The serial explicit-loop kernels: the ``loop`` backend, and ``parallel``'s small-X build."""
    from .blocked import BlockedKernels
    return BlockedKernels(parallel=False)


@functools.cache
def _sparse_loop_kernels():
    """The serial sparse kernels: ``loop``'s, and ``parallel``'s for small X."""
    from .sparse import SparseLoopKernels
    return SparseLoopKernels(parallel=False)


def _python():
    from .python_loops import PythonKernels

    def sparse():
        from .sparse import SparsePythonKernels
        return SparsePythonKernels()
    return _ByInput(PythonKernels(), sparse)


def _numpy():
    from .numpy_reference import NumpyKernels

    def sparse():
        from .sparse import SparseNumpyKernels
        return SparseNumpyKernels()
    return _ByInput(NumpyKernels(), sparse)


def _loop():
    return _ByInput(_loop_kernels(), _sparse_loop_kernels)


def _parallel():
    from .blocked import BlockedKernels

    def sparse():
        from .sparse import SparseLoopKernels
        return SparseLoopKernels(parallel=True, serial=_sparse_loop_kernels())
    return _Serialized(_ByInput(BlockedKernels(parallel=True, serial=_loop_kernels()), sparse))


def _vectorized():
    from .vectorized import VectorizedKernels

    def sparse():
        from .sparse import SparseVectorizedKernels
        return SparseVectorizedKernels()
    return _ByInput(VectorizedKernels(), sparse)


_REGISTRY = _Lazy({"python": _python, "numpy": _numpy, "loop": _loop, "parallel": _parallel,
                   "vectorized": _vectorized})


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


@functools.cache
def _loop_gram():
    from .gram_blocked import BlockedGram
    return BlockedGram(parallel=False)


def _parallel_gram():
    from .gram_blocked import BlockedGram
    return _SerializedGram(BlockedGram(parallel=True, serial=_loop_gram()))


def _gram_of(module, name):
    """A factory of the Gram kernels class ``name`` of backend module ``module``."""
    def make():
        from importlib import import_module
        return getattr(import_module(f"{__name__}.{module}"), name)()
    return make


_GRAM_REGISTRY = _Lazy({
    "python": lambda: _GramByInput(_gram_of("python_loops", "PythonGram")()),
    "numpy": lambda: _GramByInput(_gram_of("numpy_reference", "NumpyGram")()),
    "loop": lambda: _GramByInput(_loop_gram()),
    "parallel": lambda: _GramByInput(_parallel_gram()),
    "vectorized": lambda: _GramByInput(_gram_of("vectorized", "VectorizedGram")()),
})


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
