"""Compiled passes over the L-BFGS memory, for :mod:`fastlogreg._lbfgs`.

An L-BFGS iteration with ``m`` saved pairs ``(s_j, y_j)`` of ``n``-vectors
reads ``2 m n`` numbers: at 1,000,001 coefficients and ``m = 10``, 160 MB.
scipy's L-BFGS-B (single-threaded, written for bounds) makes four or more
such reads per iteration (about 90 ms each at that size, more than the
sparse gradient itself).  Without bounds its step is the classic L-BFGS
step, which needs only two: :func:`update_memory` (the new pair and every
inner product the next step needs) and :func:`step_direction` (the
combination).  The small ``k x k`` algebra between them is
:func:`direction_coefficients`.

Every sum is taken over fixed blocks of :data:`BLOCK` coefficients, each
written to its own row of partial sums and added in block order afterwards,
so results are the same bits for any thread count (no reduction keeps one
slot per thread).
"""

import numba
import numpy as np

from ._jit import jit

#: Coefficients per block: the block of ``g``, ``g_old`` and ``d`` (16 KB
#: each) stays in L2 while the saved pairs stream past it.  1024, 2048 and
#: 4096 ran within 7 % of each other (both passes at 10 x 1,000,001, at 22-27
#: GB/s on 2 cores against 28 GB/s for a bare read).  Fixed, not taken from
#: the CPU's caches: the block is also the summation unit, and a partition
#: that changed with the machine would change the bits.
BLOCK = 2048


@jit
def n_blocks(n):
    """Number of :data:`BLOCK`-sized blocks covering ``n`` coefficients."""
    return (n + BLOCK - 1) // BLOCK


@jit
def block_bounds(blk, n):
    """``(lo, hi)``: the coefficients of block ``blk`` of ``n``."""
    lo = blk * BLOCK
    return lo, min(lo + BLOCK, n)


def _update_memory(g, g_old, d, stp, S, Y, slots, store, partials):
    """One pass: store ``s = stp d``, ``y = g - g_old``; the inner products.

    Parameters
    ----------
    g, g_old : ndarray of float64, shape (n,)
        The gradient at the new and at the previous iterate.
    d : ndarray of float64, shape (n,)
        The step direction (``s = stp * d``).
    stp : float
        The line search's step.
    S, Y : ndarray of float64, shape (m, n)
        Saved pairs, one per row (a ring buffer).
    slots : ndarray of int64, shape (k,)
        The rows in use, oldest first; with ``store``, the last one is where
        the new pair goes (it has been dropped or was free).
    store : bool
        Write the new pair (False: the update was skipped; only ``g`` is dotted).
    partials : ndarray of float64, shape (n_blocks, 4, m)
        Receives per block, for each row ``j`` of ``slots``: ``y . S[j]``,
        ``y . Y[j]``, ``g . S[j]``, ``g . Y[j]`` (``y`` is the new pair's,
        also with ``store`` False).
    """
    n = g.shape[0]
    k = slots.shape[0]
    for blk in numba.prange(n_blocks(n)):
        lo, hi = block_bounds(blk, n)
        # 1-D views of the block: indexing S[j, i] in the loops kept LLVM
        # from vectorizing them (18 ms against 7 ms at 10 x 1,000,001).
        g_b = g[lo:hi]
        g_old_b = g_old[lo:hi]
        if store:
            new = slots[k - 1]
            s_new = S[new, lo:hi]
            y_new = Y[new, lo:hi]
            d_b = d[lo:hi]
            for i in range(hi - lo):
                s_new[i] = stp * d_b[i]
                y_new[i] = g_b[i] - g_old_b[i]
        for jj in range(k):
            s_j = S[slots[jj], lo:hi]
            y_j = Y[slots[jj], lo:hi]
            ys = 0.0
            yy = 0.0
            gs = 0.0
            gy = 0.0
            for i in range(hi - lo):
                yi = g_b[i] - g_old_b[i]
                ys += yi * s_j[i]
                yy += yi * y_j[i]
                gs += g_b[i] * s_j[i]
                gy += g_b[i] * y_j[i]
            partials[blk, 0, jj] = ys
            partials[blk, 1, jj] = yy
            partials[blk, 2, jj] = gs
            partials[blk, 3, jj] = gy


def _step_direction(g, x, gamma, S, Y, slots, coef_s, coef_y, d, x_unit, partials):
    """One pass: ``d = -gamma g + S' coef_s + Y' coef_y``, ``x + d``, ``g . d``, ``d . d``.

    Parameters
    ----------
    g, x : ndarray of float64, shape (n,)
        Gradient and iterate.
    gamma : float
        The initial inverse-Hessian scale ``s'y / y'y`` of the newest pair.
    S, Y, slots
        As for :func:`update_memory`.
    coef_s, coef_y : ndarray of float64, shape (k,)
        From :func:`direction_coefficients`, in the order of ``slots``.
    d, x_unit : ndarray of float64, shape (n,)
        Receive the direction and the line search's usual first trial point
        ``x + d`` (step 1), written while ``d`` is in cache.
    partials : ndarray of float64, shape (n_blocks, 2)
        Receives per block ``g . d`` and ``d . d``.
    """
    n = g.shape[0]
    k = slots.shape[0]
    for blk in numba.prange(n_blocks(n)):
        lo, hi = block_bounds(blk, n)
        g_b = g[lo:hi]
        d_b = d[lo:hi]
        for i in range(hi - lo):
            d_b[i] = -gamma * g_b[i]
        for jj in range(k):
            s_j = S[slots[jj], lo:hi]
            y_j = Y[slots[jj], lo:hi]
            cs = coef_s[jj]
            cy = coef_y[jj]
            for i in range(hi - lo):
                d_b[i] += cs * s_j[i] + cy * y_j[i]
        x_b = x[lo:hi]
        x_unit_b = x_unit[lo:hi]
        gd = 0.0
        dd = 0.0
        for i in range(hi - lo):
            x_unit_b[i] = x_b[i] + d_b[i]
            gd += g_b[i] * d_b[i]
            dd += d_b[i] * d_b[i]
        partials[blk, 0] = gd
        partials[blk, 1] = dd


def _block_dot(a, b, partials):
    """Per block ``a . b`` and ``max |a|`` into ``partials`` (n_blocks, 2).

    The maximum is NaN in a block whose dot product is NaN (a NaN in ``a``
    makes one), as L-BFGS-B's ``projgr`` lets a NaN through.
    """
    n = a.shape[0]
    for blk in numba.prange(n_blocks(n)):
        lo, hi = block_bounds(blk, n)
        a_b = a[lo:hi]
        b_b = b[lo:hi]
        ab = 0.0
        big = 0.0
        for i in range(hi - lo):
            ab += a_b[i] * b_b[i]
            big = max(big, abs(a_b[i]))
        partials[blk, 0] = ab
        partials[blk, 1] = big if ab == ab else np.nan


def _trial_point(x, d, stp, out):
    """``out = x + stp d``: the line search's trial point."""
    n = x.shape[0]
    for blk in numba.prange(n_blocks(n)):
        lo, hi = block_bounds(blk, n)
        for i in range(lo, hi):
            out[i] = x[i] + stp * d[i]


def _penalized_gradient(dw, w, scale, l2, grad, partials):
    """The estimators' gradient ``scale dw + l2 w`` into ``grad[:n]``; ``w . w`` per block.

    Parameters
    ----------
    dw, w : ndarray of float64, shape (n,)
        The kernel's loss gradient and the weights.
    scale, l2 : float
        The objective's weights (:class:`fastlogreg._objective.Problem`).
    grad : ndarray of float64, shape (n,) or (n + 1,)
        Receives the gradient in its first ``n`` entries.
    partials : ndarray of float64, shape (n_blocks,)
        Receives each block's ``w . w`` (for the penalty ``l2 / 2 ||w||^2``).
    """
    n = w.shape[0]
    for blk in numba.prange(n_blocks(n)):
        lo, hi = block_bounds(blk, n)
        ww = 0.0
        for i in range(lo, hi):
            grad[i] = scale * dw[i] + l2 * w[i]
            ww += w[i] * w[i]
        partials[blk] = ww


def sum_blocks(partials):
    """Add the blocks' partial sums (axis 0) in block order, the same bits every time."""
    return np.add.reduce(partials, axis=0)


@jit
def direction_coefficients(R, YY, a, b, gamma):
    """Coefficients of the L-BFGS step in the compact form.

    With ``k`` pairs oldest first, ``R`` upper triangular (``R[i, j] =
    s_i . y_j``, ``i <= j``), ``D`` its diagonal, ``a = S g``, ``b = Y g``
    and ``H0 = gamma I`` (Byrd, Nocedal and Schnabel 1994, eq. 3.1)::

        H g = gamma g + S' u - gamma Y' q,   q = R^-1 a,
        u = R^-T (D q + gamma Y Y' q - gamma b)

    so the step ``d = -H g`` has ``coef_s = -u`` and ``coef_y = gamma q``.

    Parameters
    ----------
    R, YY : ndarray of float64, shape (k, k)
    a, b : ndarray of float64, shape (k,)
    gamma : float

    Returns
    -------
    coef_s, coef_y : ndarray of float64, shape (k,)
    """
    k = a.shape[0]
    q = np.empty(k)
    for i in range(k - 1, -1, -1):          # R q = a, back substitution
        acc = a[i]
        for j in range(i + 1, k):
            acc -= R[i, j] * q[j]
        q[i] = acc / R[i, i]
    t = np.empty(k)
    for i in range(k):
        acc = R[i, i] * q[i] - gamma * b[i]
        for j in range(k):
            acc += gamma * YY[i, j] * q[j]
        t[i] = acc
    u = np.empty(k)
    for i in range(k):                      # R' u = t, forward substitution
        acc = t[i]
        for j in range(i):
            acc -= R[j, i] * u[j]
        u[i] = acc / R[i, i]
    return -u, gamma * q


update_memory = {False: jit(_update_memory), True: jit(_update_memory, parallel=True)}
step_direction = {False: jit(_step_direction), True: jit(_step_direction, parallel=True)}
block_dot = {False: jit(_block_dot), True: jit(_block_dot, parallel=True)}
trial_point = {False: jit(_trial_point), True: jit(_trial_point, parallel=True)}
penalized_gradient = {False: jit(_penalized_gradient),
                      True: jit(_penalized_gradient, parallel=True)}

