"""Vectorized kernels: ``np.dot`` (BLAS) and ufuncs compiled in nopython mode.

This is the course's vectorized code moved into Numba: one gemv for the
logits, elementwise ufuncs for sigmoid, loss and residual, one gemv for the
gradient.  X is read twice (once per gemv), so on large data it moves twice the
bytes of the fused explicit loops; on small data it has the least overhead.

The elementwise stage runs in float64 (``b`` is added there), the gemvs run in
X's dtype as BLAS does, and every intermediate lives in a workspace allocated
once by the caller, so training loops allocate nothing m-sized per iteration.
"""

import numpy as np

from .._casting import in_dtype_of
from .._descent import bind_descent
from .._gram_descent import bind_gram_descent
from .._jit import jit, ufunc
from .._scalar import is_finite, residual_and_loss, sigmoid_scalar
from .numpy_reference import gram_matrix, matmul


@ufunc
def sigmoid_ufunc(z, b):
    """Stable ``sigmoid(z + b)`` computed in float64."""
    return sigmoid_scalar(z + b)


@ufunc
def residual_ufunc(z, b, y):
    """``sigmoid(z + b) - y`` in float64."""
    return residual_and_loss(z + b, y, False)[0]


@ufunc
def loss_ufunc(z, b, y):
    """Stable cross-entropy ``softplus(z + b) - y (z + b)`` in float64."""
    return residual_and_loss(z + b, y, True)[1]


def workspace(m, dtype_like):
    """Buffers for the vectorized kernels (plain Python: nothing to compile or load).

    Parameters
    ----------
    m : int
        Number of examples.
    dtype_like : ndarray
        Any array of X's dtype (only its dtype is used).

    Returns
    -------
    z : ndarray, shape (m,), X's dtype
        Logits without the bias (the gemv result).
    t : ndarray of float64, shape (m,)
        Elementwise results (loss or residual).
    r : ndarray, shape (m,), X's dtype
        Residuals cast for the gradient gemv.
    """
    return (np.empty(m, dtype_like.dtype), np.empty(m), np.empty(m, dtype_like.dtype))


@jit
def _logits_finite(z):
    """True when every logit is finite, without an m-sized mask.

    A scalar test such as ``isfinite(z.max() - z.min())`` is not safe: under
    the ``reassoc`` fastmath flag it returned True for ``[inf, -inf]`` (see
    :func:`fastlogreg._scalar.is_finite`).  An early-exit scan over z is exact.
    """
    for i in range(z.shape[0]):
        if not is_finite(z[i]):
            return False
    return True


@jit
def _terms_into(z, b, y, sw, want_cost, t):
    """Loss sum and residual sum of the logits ``z + b``; (weighted) residuals to ``t``.

    Parameters
    ----------
    z : ndarray, shape (m,)
        Logits without the bias.
    b : float
    y, sw
        Labels and sample weights (``sw`` may be empty).
    want_cost : bool
    t : ndarray of float64, shape (m,)

    Returns
    -------
    loss_sum, db_sum : float
    """
    weighted = sw.shape[0] > 0
    loss = 0.0
    if want_cost:
        loss_ufunc(z, b, y, t)
        if weighted:
            t *= sw
        loss = t.sum()
    residual_ufunc(z, b, y, t)
    if weighted:
        t *= sw
    return loss, t.sum()


@jit
def forward_into(w, b, X, out, z):
    """``out = sigmoid(w^T X + b)`` via one gemv and one ufunc.

    Parameters
    ----------
    w : ndarray of float64, shape (n,)
    b : float
    X : ndarray of float32 or float64, shape (n, m), C or F contiguous
    out : ndarray, shape (m,)
    z : ndarray, shape (m,), X's dtype
        Workspace for the logits.

    Returns
    -------
    int
        1 if some logit is not finite, else 0.
    """
    np.dot(in_dtype_of(w, X), X, z)
    sigmoid_ufunc(z, b, out)
    return 0 if _logits_finite(z) else 1


@jit
def value_and_grad_into(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
    """Loss, residual and gradient sums with gemvs and ufuncs.

    Parameters
    ----------
    w, b, X, y, sw, want_cost, want_grad, dw_out
        As for the explicit-loop kernels (``fastlogreg._blocked``).
    work : tuple of ndarray
        ``(z, t, r)``, the workspace from :func:`workspace`.

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
        1 if some logit is not finite, else 0.
    """
    z, t, r = work
    np.dot(in_dtype_of(w, X), X, z)
    loss, db = _terms_into(z, b, y, sw, want_cost, t)
    if want_grad:
        _copy_into(t, r)
        _copy_into(np.dot(X, r), dw_out)
    return loss, db, 0 if _logits_finite(z) else 1


@jit
def _copy_into(src, dst):
    """``dst[:] = src`` (converting the dtype) as a loop.

    An array-to-array slice assignment makes Numba compile its shape-mismatch
    error message (string formatting of tuples): seconds of compile time for
    a copy whose shapes are known to match.
    """
    for i in range(src.shape[0]):
        dst[i] = src[i]


@jit
def gram_terms_into(K, a, c, z0, b, y, sw, want_cost, r_out, kz_out, work):
    """Logits ``c z0 + K a + b`` by one gemv, residuals and loss by ufuncs.

    Parameters
    ----------
    K, a, c, z0, b, y, sw, want_cost, r_out, kz_out
        See :func:`fastlogreg._gram_descent.gram_terms`.
    work : tuple
        ``(z,)``: workspace for ``c z0 + K a`` (the bias is added in the ufuncs).

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
        1 if some logit is not finite, else 0.
    """
    z = work[0]
    np.dot(K, a, kz_out)
    for i in range(z.shape[0]):     # not z[:] = ...: see _copy_into
        z[i] = c * z0[i] + kz_out[i]
    loss, db = _terms_into(z, b, y, sw, want_cost, r_out)
    return loss, db, 0 if _logits_finite(z) else 1


class VectorizedGram:
    """Gram-space descent: ``K`` from BLAS (as NumPy), each iteration a compiled gemv.

    ``K`` and the final products are one-off BLAS calls, the same library
    Numba's ``np.dot`` calls, so they are shared with the ``numpy`` backend;
    the iterations run in nopython mode.
    """

    gram = staticmethod(gram_matrix)
    matmul = staticmethod(matmul)

    def __init__(self):
        self._descend = bind_gram_descent(gram_terms_into, "vectorized", compiled=True)

    def prepare(self, X):
        """The compiled training loop and its workspace."""
        return self._descend, (np.empty(X.shape[1]),)


def _contiguous(X):
    """Numba's ``np.dot`` needs C or F order; copy a strided view once."""
    if X.flags.c_contiguous or X.flags.f_contiguous:
        return X
    return np.ascontiguousarray(X)


class VectorizedKernels:
    """The vectorized backend behind the same interface as the loop kernels."""

    parallel = False

    def __init__(self):
        self._descend = bind_descent(value_and_grad_into, "vectorized", compiled=True)

    def prepare_descent(self, X):
        """The compiled descent, X as the kernel wants it (C or F order), a workspace."""
        X = _contiguous(X)
        return self._descend, X, workspace(X.shape[1], X)

    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        X = _contiguous(X)
        return forward_into(w, b, X, out, np.empty(X.shape[1], X.dtype))

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum and non-finite count; gradient sum to ``dw_out``."""
        X = _contiguous(X)
        return value_and_grad_into(w, b, X, y, sw, want_cost, want_grad, dw_out,
                                   workspace(X.shape[1], X))
