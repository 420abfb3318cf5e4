"""The public kernels: validate, pick the backend, shape the outputs.

Shapes follow the course: ``X`` is ``(n_x, m)`` with one example per column,
``w`` is ``(n_x, 1)`` (or ``(n_x,)``), ``Y`` is ``(1, m)`` (or ``(m,)``), ``b``
is a float.  Outputs follow the shapes given.
"""

import math
import numbers
from operator import index

import numpy as np

from . import _validation as v
from .backends import DEFAULT_BACKEND, get_backend
from .backends.numpy_reference import sigmoid as _array_sigmoid


def sigmoid(z):
    """Logistic sigmoid ``1 / (1 + exp(-z))``, stable for any ``z``.

    Parameters
    ----------
    z : float or array_like
        Real scalar or array (ints and bools become float64).

    Returns
    -------
    float or ndarray
        A float for a scalar, else an array of z's shape (float32 stays
        float32).  Never warns: ``exp`` is only taken of ``-|z|``.

    Examples
    --------
    >>> import fastlogreg as flr
    >>> flr.sigmoid(0.0)
    0.5
    >>> flr.sigmoid([-1000.0, 1000.0]).tolist()
    [0.0, 1.0]
    """
    arr = v._as_real_array("z", z)
    result = _array_sigmoid(arr)
    return float(result) if arr.ndim == 0 else result.astype(arr.dtype, copy=False)


def initialize_with_zeros(dim):
    """Zero weights and bias, as the course initialises them.

    Parameters
    ----------
    dim : int
        Number of features ``n_x`` (>= 1).

    Returns
    -------
    w : ndarray of float64, shape (dim, 1)
    b : float
        ``0.0``.
    """
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an integer; got {type(dim).__name__} {dim!r}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1; got {dim}")
    return np.zeros((index(dim), 1)), 0.0


def forward(w, b, X, *, backend=DEFAULT_BACKEND):
    """Forward pass ``A = sigmoid(w^T X + b)``.

    Parameters
    ----------
    w : array_like, shape (n_x, 1) or (n_x,)
    b : float
    X : array_like or scipy.sparse CSR/CSC matrix or array, shape (n_x, m)
        Sparse X is never densified; every backend has sparse kernels.
    backend : {"python", "numpy", "loop", "parallel", "vectorized"}, default "parallel"

    Returns
    -------
    A : ndarray, shape (1, m)
        Activations in the promoted dtype of ``w`` and ``X``.
    """
    kernels = get_backend(backend)
    X = v.check_X(X)
    w_flat, dtype, _ = v.check_w(w, X, copy=False)
    b = v.check_b(b)
    out = np.empty(X.shape[1], dtype=dtype)
    n_bad = kernels.forward(w_flat, b, X, out)
    if n_bad:
        v.raise_for_nonfinite(X, n_bad)
    return out.reshape(1, -1)


def value_and_grad(w, b, X, Y, *, sample_weight=None, want_cost=True, want_grad=True,
                   backend=DEFAULT_BACKEND):
    """Cost and gradients with optional sample weights (the fused kernel).

    The weighted generalisation of :func:`propagate`: with weights ``s``
    the cost is ``sum(s * L) / m`` and the gradients ``X (s * dZ)^T / m`` and
    ``sum(s * dZ) / m``.  ``propagate``, ``cost`` and ``gradients`` call it.

    Parameters
    ----------
    w, b, X, Y
        As for :func:`propagate`.
    sample_weight : array_like, shape (m,), optional
        Non-negative finite weights; None means all ones.
    want_cost, want_grad : bool
        Skip the loss (its ``log1p``) or the gradient pass when not needed.
    backend : str, default "parallel"

    Returns
    -------
    cost : float
        NaN when ``want_cost`` is false.
    dw : ndarray or None
        Shaped like ``w``; None when ``want_grad`` is false.
    db : float
    """
    kernels = get_backend(backend)
    X = v.check_X(X)
    w_flat, dtype, w_shape = v.check_w(w, X, copy=False)
    b = v.check_b(b)
    y = v.check_Y(Y, X)
    sw = v.check_sample_weight(sample_weight, X.shape[1])
    dw = np.empty(X.shape[0])
    loss, db, n_bad = kernels.value_and_grad(w_flat, b, X, y, sw, bool(want_cost),
                                             bool(want_grad), dw)
    if n_bad:
        v.raise_for_nonfinite(X, n_bad)
    m = X.shape[1]
    cost = loss / m if want_cost else math.nan
    if want_grad:
        dw /= m    # in place: no second n-sized temporary
        dw = dw.astype(dtype, copy=False).reshape(w_shape)
    else:
        dw = None
    return float(cost), dw, float(db / m)


def cost(w, b, X, Y, *, backend=DEFAULT_BACKEND):
    """Cross-entropy cost ``J = mean(L(a, y))`` of the model on ``(X, Y)``.

    Parameters
    ----------
    w : array_like, shape (n_x, 1) or (n_x,)
    b : float
    X : array_like or scipy.sparse CSR/CSC matrix or array, shape (n_x, m)
    Y : array_like, shape (1, m) or (m,)
        Labels 0 or 1.
    backend : str, default "parallel"

    Returns
    -------
    float
        The cost, computed stably as ``mean(softplus(z) - y z)``.
    """
    return value_and_grad(w, b, X, Y, want_grad=False, backend=backend)[0]


def gradients(w, b, X, Y, *, backend=DEFAULT_BACKEND):
    """Gradients of the cost: ``dw = X (A - Y)^T / m``, ``db = mean(A - Y)``.

    Parameters
    ----------
    w, b, X, Y, backend
        As for :func:`cost`.

    Returns
    -------
    dw : ndarray
        Shaped like ``w``.
    db : float
    """
    _, dw, db = value_and_grad(w, b, X, Y, want_cost=False, backend=backend)
    return dw, db


def propagate(w, b, X, Y, *, backend=DEFAULT_BACKEND):
    """Cost and gradients in one call (one pass over X on the compiled backends).

    Parameters
    ----------
    w, b, X, Y, backend
        As for :func:`cost`.

    Returns
    -------
    grads : dict
        ``{"dw": dw, "db": db}``, ``dw`` shaped like ``w``.
    cost : float

    Examples
    --------
    The course's example:

    >>> import numpy as np, fastlogreg as flr
    >>> w, b = np.array([[1.], [2.]]), 2.
    >>> X, Y = np.array([[1., 2., -1.], [3., 4., -3.2]]), np.array([[1, 0, 1]])
    >>> grads, cost = flr.propagate(w, b, X, Y)
    >>> print(np.round(grads["dw"].ravel(), 8), round(grads["db"], 8), round(cost, 8))
    [0.99845601 2.39507239] 0.00145558 5.80154532
    """
    cost_value, dw, db = value_and_grad(w, b, X, Y, backend=backend)
    return {"dw": dw, "db": db}, cost_value


def predict(w, b, X, *, backend=DEFAULT_BACKEND):
    """Predicted labels: 1.0 where ``sigmoid(w^T X + b) > 0.5``, else 0.0.

    Parameters
    ----------
    w, b, X, backend
        As for :func:`forward`.

    Returns
    -------
    ndarray of float64, shape (1, m)
    """
    return (forward(w, b, X, backend=backend) > 0.5).astype(np.float64)
