"""Explicit-loop kernels, written once and compiled twice: ``loop`` and ``parallel``.

The bodies below use ``numba.prange`` over chunks of examples.  Compiled with
``parallel=False`` (the ``loop`` backend) ``prange`` is a plain ``range``;
with ``parallel=True`` (the ``parallel`` backend) chunks run on Numba's
threads.  Each chunk writes its own row of partial sums, and the rows are added
in chunk order afterwards, so there is no ``dw[j] += ...`` race and the result
does not depend on the thread count.

Two memory layouts get their own loop order, so that the innermost loop always
walks contiguous memory:

* feature-major, ``X[j, i]`` contiguous in ``i`` (``X`` C-ordered): the logits
  of a block of examples are built row by row, then the same block, still in
  cache, is read again to accumulate the gradient;
* sample-major, ``XT[i, j]`` contiguous in ``j`` (``X`` F-ordered, passed as
  ``X.T``): four examples at a time share the loads of ``w`` for their dot
  products and one pass of load/store over the partial gradient.

All sums are float64, whatever the dtype of ``X``.
"""

import numpy as np
from numba import prange

from .._descent import bind_descent
from .._jit import jit
from .._scalar import residual_and_loss, sigmoid_scalar
from .._tiling import SAMPLE_MAJOR_BLOCK, feature_major_block, plan_chunks


@jit
def _example_terms(z, y, sw, i, want_cost, weighted):
    """Weighted residual, weighted loss and non-finite flag of example ``i``."""
    r, loss = residual_and_loss(z, y[i], want_cost)
    if weighted:
        r *= sw[i]
        loss *= sw[i]
    bad = 0 if np.isfinite(z) else 1
    return r, loss, bad


@jit
def _block_logits(w, b, X, i0, nb, z):
    """``z[:nb] = w^T X[:, i0:i0+nb] + b`` for a feature-major X, row by row."""
    for i in range(nb):
        z[i] = b
    for j in range(X.shape[0]):
        wj = w[j]
        for i in range(nb):
            z[i] += wj * X[j, i0 + i]


@jit
def merge_partials(part, part_dw, dw_out):
    """Add per-chunk partial sums in chunk order.

    Parameters
    ----------
    part : ndarray, shape (n_chunks, 3)
        Per chunk: loss sum, residual sum, count of non-finite logits.
    part_dw : ndarray, shape (n_chunks, n) or (n_chunks, 0)
        Per chunk gradient partials (empty when no gradient was asked for).
    dw_out : ndarray, shape (n,) or (0,)
        Receives the summed gradient.

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
    """
    dw_out[:] = 0.0
    loss = 0.0
    db = 0.0
    bad = 0.0
    for c in range(part.shape[0]):
        loss += part[c, 0]
        db += part[c, 1]
        bad += part[c, 2]
        for j in range(part_dw.shape[1]):
            dw_out[j] += part_dw[c, j]
    return loss, db, int(bad)


def forward_feature_major(w, b, X, out):
    """Sigmoid of the logits, X feature-major ``(n, m)``; see module notes.

    Parameters
    ----------
    w : ndarray of float64, shape (n,)
    b : float
    X : ndarray of float32 or float64, shape (n, m), contiguous along m
    out : ndarray, shape (m,)
        Receives ``sigmoid(w^T X + b)``.

    Returns
    -------
    int
        Number of examples whose logit is not finite.
    """
    n, m = X.shape
    block = feature_major_block(n, X.itemsize)
    chunk, n_chunks = plan_chunks(m, block)
    bad = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        z = np.empty(block)
        stop = min(m, (c + 1) * chunk)
        for i0 in range(c * chunk, stop, block):
            nb = min(block, stop - i0)
            _block_logits(w, b, X, i0, nb, z)
            for i in range(nb):
                if not np.isfinite(z[i]):
                    bad[c] += 1
                out[i0 + i] = sigmoid_scalar(z[i])
    return bad.sum()


def forward_sample_major(w, b, XT, out):
    """Sigmoid of the logits, ``XT`` sample-major ``(m, n)``; see module notes.

    Parameters
    ----------
    w : ndarray of float64, shape (n,)
    b : float
    XT : ndarray of float32 or float64, shape (m, n), contiguous along n
    out : ndarray, shape (m,)

    Returns
    -------
    int
        Number of examples whose logit is not finite.
    """
    m, n = XT.shape
    chunk, n_chunks = plan_chunks(m, SAMPLE_MAJOR_BLOCK)
    bad = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        for i in range(c * chunk, min(m, (c + 1) * chunk)):
            z = b
            for j in range(n):
                z += w[j] * XT[i, j]
            if not np.isfinite(z):
                bad[c] += 1
            out[i] = sigmoid_scalar(z)
    return bad.sum()


def value_and_grad_feature_major(w, b, X, y, sw, want_cost, want_grad, dw_out):
    """Fused loss and gradient sums, X feature-major ``(n, m)``, one pass over X.

    Parameters
    ----------
    w : ndarray of float64, shape (n,)
    b : float
    X : ndarray of float32 or float64, shape (n, m), contiguous along m
    y : ndarray, shape (m,)
        Labels in {0, 1}.
    sw : ndarray of float64, shape (m,) or (0,)
        Sample weights; empty means all ones.
    want_cost, want_grad : bool
        Which sums to compute (the other is returned as zeros).
    dw_out : ndarray of float64, shape (n,)
        Receives ``sum_i sw_i (a_i - y_i) x_i``.

    Returns
    -------
    loss_sum : float
        ``sum_i sw_i L(a_i, y_i)``.
    db_sum : float
        ``sum_i sw_i (a_i - y_i)``.
    n_bad : int
        Number of examples whose logit is not finite.
    """
    n, m = X.shape
    weighted = sw.shape[0] > 0
    block = feature_major_block(n, X.itemsize)
    chunk, n_chunks = plan_chunks(m, block)
    part = np.zeros((n_chunks, 3))
    part_dw = np.zeros((n_chunks, n if want_grad else 0))
    for c in prange(n_chunks):
        z = np.empty(block)
        r = np.empty(block)
        loss = 0.0
        db = 0.0
        bad = 0
        stop = min(m, (c + 1) * chunk)
        for i0 in range(c * chunk, stop, block):
            nb = min(block, stop - i0)
            _block_logits(w, b, X, i0, nb, z)
            for i in range(nb):
                ri, li, bi = _example_terms(z[i], y, sw, i0 + i, want_cost, weighted)
                r[i] = ri
                loss += li
                db += ri
                bad += bi
            if want_grad:
                for j in range(n):
                    acc = 0.0
                    for i in range(nb):
                        acc += X[j, i0 + i] * r[i]
                    part_dw[c, j] += acc
        part[c, 0] = loss
        part[c, 1] = db
        part[c, 2] = bad
    return merge_partials(part, part_dw, dw_out)


def value_and_grad_sample_major(w, b, XT, y, sw, want_cost, want_grad, dw_out):
    """Fused loss and gradient sums, ``XT`` sample-major ``(m, n)``, one pass.

    Same parameters and returns as :func:`value_and_grad_feature_major`, with
    ``XT`` of shape ``(m, n)`` contiguous along ``n`` in place of ``X``.
    """
    m, n = XT.shape
    weighted = sw.shape[0] > 0
    chunk, n_chunks = plan_chunks(m, SAMPLE_MAJOR_BLOCK)
    part = np.zeros((n_chunks, 3))
    part_dw = np.zeros((n_chunks, n if want_grad else 0))
    for c in prange(n_chunks):
        g = part_dw[c]
        loss = 0.0
        db = 0.0
        bad = 0
        i = c * chunk
        stop = min(m, i + chunk)
        # Four examples at a time: their dots share the loads of w, and their
        # gradient updates share one load/store of g per feature.
        while i + 4 <= stop:
            z0 = z1 = z2 = z3 = b
            for j in range(n):
                wj = w[j]
                z0 += wj * XT[i, j]
                z1 += wj * XT[i + 1, j]
                z2 += wj * XT[i + 2, j]
                z3 += wj * XT[i + 3, j]
            r0, l0, b0 = _example_terms(z0, y, sw, i, want_cost, weighted)
            r1, l1, b1 = _example_terms(z1, y, sw, i + 1, want_cost, weighted)
            r2, l2, b2 = _example_terms(z2, y, sw, i + 2, want_cost, weighted)
            r3, l3, b3 = _example_terms(z3, y, sw, i + 3, want_cost, weighted)
            loss += (l0 + l1) + (l2 + l3)
            db += (r0 + r1) + (r2 + r3)
            bad += b0 + b1 + b2 + b3
            if want_grad:
                for j in range(n):
                    g[j] += (r0 * XT[i, j] + r1 * XT[i + 1, j]) + (
                        r2 * XT[i + 2, j] + r3 * XT[i + 3, j])
            i += 4
        while i < stop:
            z = b
            for j in range(n):
                z += w[j] * XT[i, j]
            ri, li, bi = _example_terms(z, y, sw, i, want_cost, weighted)
            loss += li
            db += ri
            bad += bi
            if want_grad:
                for j in range(n):
                    g[j] += ri * XT[i, j]
            i += 1
        part[c, 0] = loss
        part[c, 1] = db
        part[c, 2] = bad
    return merge_partials(part, part_dw, dw_out)


class BlockedKernels:
    """The four kernels above compiled with one ``parallel`` setting.

    Parameters
    ----------
    parallel : bool
        False for the ``loop`` backend, True for ``parallel``.
    """

    def __init__(self, parallel):
        self.parallel = parallel
        self.forward_feature_major = jit(forward_feature_major, parallel=parallel)
        self.forward_sample_major = jit(forward_sample_major, parallel=parallel)
        self.value_and_grad_feature_major = jit(value_and_grad_feature_major,
                                                parallel=parallel)
        self.value_and_grad_sample_major = jit(value_and_grad_sample_major,
                                               parallel=parallel)
        name = "parallel" if parallel else "loop"
        self._descend_feature_major = bind_descent(
            self.value_and_grad_feature_major, name + "_feature_major", compiled=True)
        self._descend_sample_major = bind_descent(
            self.value_and_grad_sample_major, name + "_sample_major", compiled=True)

    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        if is_sample_major(X):
            return self.forward_sample_major(w, b, X.T, out)
        return self.forward_feature_major(w, b, X, out)

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum and non-finite count; gradient sum to ``dw_out``."""
        if is_sample_major(X):
            return self.value_and_grad_sample_major(w, b, X.T, y, sw, want_cost,
                                                    want_grad, dw_out)
        return self.value_and_grad_feature_major(w, b, X, y, sw, want_cost,
                                                 want_grad, dw_out)


    def prepare_descent(self, X):
        """The compiled descent for X's layout, X as its kernel wants it, and its workspace.

        Returns
        -------
        descend : callable
            :func:`fastlogreg._descent.descend` bound to this layout's kernel.
        X_kernel : ndarray
            ``X`` or, for sample-major data, the view ``X.T``.
        work : tuple
            Empty: these kernels need no workspace.
        """
        if is_sample_major(X):
            return self._descend_sample_major, X.T, ()
        return self._descend_feature_major, X, ()


def is_sample_major(X):
    """True when X's features are closer in memory than its examples (F order)."""
    return abs(X.strides[0]) < abs(X.strides[1])
