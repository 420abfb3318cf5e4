"""fastlogreg's asv benchmark suite (see ../README.md).

Modules: ``common`` (profile, threads, data, base classes), ``kernels``
(forward, cost, gradients, propagate), ``training`` (optimize), ``estimator``
(the scikit-learn estimator), ``tracks`` (speed-ups, accuracy, thread counts)
and ``compile`` (JIT compilation and cache loading, in subprocesses).
"""
