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
``(n,)``, ``X`` is float32/float64 ``(n, m)`` in any layout, ``y`` has X's
dtype, ``n_bad`` counts examples whose logit is not finite.  Creating the
registry compiles nothing; Numba compiles each kernel on first use.
"""

import threading
import warnings

from numba.core.errors import NumbaPerformanceWarning

from .blocked import BlockedKernels
from .gram_blocked import BlockedGram
from .numpy_reference import NumpyGram, NumpyKernels
from .python_loops import PythonGram, PythonKernels
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
        with self._lock:
            return self._kernels.forward(*args)

    def value_and_grad(self, *args):
        with self._lock:
            return self._kernels.value_and_grad(*args)

    def prepare_descent(self, X):
        descend, X_kernel, work = self._kernels.prepare_descent(X)
        return self._locked_loop(descend), X_kernel, work

    def _locked_loop(self, descend):
        """A compiled parallel training loop, run under the lock."""
        def locked_descend(*args):
            with self._lock, warnings.catch_warnings():
                # The parallel training loops' array expressions (``w -= lr *
                # dw``) are compiled as serial helpers on purpose
                # (_jit.PRANGE_ONLY: no thread-count-dependent sums); Numba
                # warns, when it compiles them, that it found nothing to
                # parallelize.
                warnings.filterwarnings("ignore", message=_NO_PARALLEL_TRANSFORM,
                                        category=NumbaPerformanceWarning)
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


_LOOP = BlockedKernels(parallel=False)
_REGISTRY = {
    "python": PythonKernels(),
    "numpy": NumpyKernels(),
    "loop": _LOOP,
    "parallel": _Serialized(BlockedKernels(parallel=True, serial=_LOOP)),
    "vectorized": VectorizedKernels(),
}


_LOOP_GRAM = BlockedGram(parallel=False)
_GRAM_REGISTRY = {
    "python": PythonGram(),
    "numpy": NumpyGram(),
    "loop": _LOOP_GRAM,
    "parallel": _SerializedGram(BlockedGram(parallel=True, serial=_LOOP_GRAM)),
    "vectorized": VectorizedGram(),
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
