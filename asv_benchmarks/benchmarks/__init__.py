"""fastlogreg's asv benchmark suite (see ../README.md).

Modules: ``common`` (profile, threads, data, base classes), ``kernels``
(forward, cost, gradients, propagate), ``training`` (optimize), ``estimator``
(the scikit-learn estimator), ``tracks`` (speed-ups, accuracy, thread counts),
``sparse`` (CSR/CSC kernels, speed-ups, the estimator beside scikit-learn)
and ``compile`` (JIT compilation and cache loading, in subprocesses).
"""

# The package is imported before any of its modules: ``common`` fixes the
# thread counts here, before NumPy, BLAS or Numba load.
from . import common  # noqa: F401
