"""Explicit-loop kernels, written once and compiled twice: ``loop`` and ``parallel``.

The bodies below use ``numba.prange`` over chunks of examples.  Compiled with
``parallel=False`` (the ``loop`` backend) ``prange`` is a plain ``range``;
with ``parallel=True`` (the ``parallel`` backend) chunks run on Numba's
threads.  Each chunk writes its own row of partial sums, and the rows are added
in chunk order afterwards, so there is no ``dw[j] += ...`` race and the result
does not depend on the thread count.

Within a chunk, examples go by blocks that fit in cache, in three steps:
logits of the block, per-example terms (residual, loss: a loop over
contiguous logits that vectorizes, transcendental functions included), then
the gradient from the same block of X, read again from cache.  X comes from
memory once.  Two memory layouts get their own loop order, so that the
innermost loop always walks contiguous memory:

* feature-major, ``X[j, i]`` contiguous in ``i`` (``X`` C-ordered): logits
  are built eight rows of X at a time, the gradient is eight dot products at a time;
  with few examples (``is_wide``) threads split the features instead;
* sample-major, ``XT[i, j]`` contiguous in ``j`` (``X`` F-ordered, passed as
  ``X.T``): four examples at a time share the loads of ``w`` for their dot
  products and one pass of load/store over the partial gradient;
* packed: a sample-major X with a handful of features (rows too short to
  vectorize over) is transposed block by block into a small workspace, on
  which the feature-major kernels run.

Rows are taken as 1-D slices: indexing ``X[j, i0 + i]`` directly makes Numba
guard against negative indices, which keeps LLVM from vectorizing (6x slower).
Sums over examples are float64, whatever the dtype of ``X``; for float32 X,
short sums over features (eight rows, or strips of 1024 features) are formed
in float32 before they join the float64 logits.
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from .._casting import in_dtype_of
from .._descent import bind_descent
from .._jit import jit
from .._scalar import is_finite, residual_and_loss, sigmoid_scalar
from .._tiling import (
    MIN_BLOCK,
    PACKED_MAX_FEATURES,
    PARALLEL_MIN_ELEMENTS,
    WIDE_MAX_EXAMPLES,
    chunk_blocks,
    current_tiling,
    part_bounds,
    plan_chunks,
    strip_length,
)


@jit
def _block_terms(z, y, sw, r, want_cost):
    """Per-example residuals of a block, and its sums.

    Parameters
    ----------
    z, y : ndarray, shape (nb,)
        Logits and labels of the block.
    sw : ndarray, shape (nb,) or (0,)
        Sample weights of the block; empty means all ones.
    r : ndarray, shape (>= nb,)
        Receives the (weighted) residuals ``sw * (sigmoid(z) - y)``.
    want_cost : bool
        Compute the losses too.

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
        Logits that are not finite.
    """
    weighted = sw.shape[0] > 0
    loss = 0.0
    db = 0.0
    bad = 0
    for i in range(z.shape[0]):
        ri, li = residual_and_loss(z[i], y[i], want_cost)
        if weighted:
            ri *= sw[i]
            li *= sw[i]
        bad += 0 if is_finite(z[i]) else 1
        r[i] = ri
        loss += li
        db += ri
    return loss, db, bad


@jit
def _block_sigmoid(z, out):
    """``out = sigmoid(z)`` for a block; returns the count of non-finite logits."""
    bad = 0
    for i in range(z.shape[0]):
        bad += 0 if is_finite(z[i]) else 1
        out[i] = sigmoid_scalar(z[i])
    return bad


@jit(inline="always")
def _eight_rows(X, j, i0, nb):
    """Rows ``j .. j+7`` of a feature-major X, columns ``i0 .. i0+nb``, as 1-D slices."""
    return (X[j, i0:i0 + nb], X[j + 1, i0:i0 + nb], X[j + 2, i0:i0 + nb],
            X[j + 3, i0:i0 + nb], X[j + 4, i0:i0 + nb], X[j + 5, i0:i0 + nb],
            X[j + 6, i0:i0 + nb], X[j + 7, i0:i0 + nb])


@jit
def _add_logits_rows(w, X, j0, j1, i0, nb, z):
    """``z[:nb] += w[j0:j1] @ X[j0:j1, i0:i0+nb]`` for a feature-major X, eight rows at a time.

    ``w`` has X's dtype: the eight products are summed in X's precision and
    converted once into the float64 logits.  For float32 data, converting
    every element to float64 was the bottleneck of this loop.
    """
    zz = z[:nb]
    j = j0
    while j + 8 <= j1:
        w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
        w4, w5, w6, w7 = w[j + 4], w[j + 5], w[j + 6], w[j + 7]
        x0, x1, x2, x3, x4, x5, x6, x7 = _eight_rows(X, j, i0, nb)
        for i in range(nb):
            zz[i] += (((w0 * x0[i] + w1 * x1[i]) + (w2 * x2[i] + w3 * x3[i]))
                      + ((w4 * x4[i] + w5 * x5[i]) + (w6 * x6[i] + w7 * x7[i])))
        j += 8
    while j < j1:
        wj = w[j]
        x0 = X[j, i0:i0 + nb]
        for i in range(nb):
            zz[i] += wj * x0[i]
        j += 1


@jit
def _logits_feature_major(w, b, X, i0, nb, z, buf):
    """``z[:nb] = w^T X[:, i0:i0+nb] + b`` for a feature-major X (``w`` in X's dtype).

    ``buf`` (the layout's workspace, see :func:`_no_workspace`) is unused.
    """
    z[:nb] = b
    _add_logits_rows(w, X, 0, X.shape[0], i0, nb, z)


@jit
def _gradient_rows(X, j0, j1, i0, nb, r, g):
    """``g[j] += X[j, i0:i0+nb] @ r[:nb]`` for ``j0 <= j < j1`` (feature-major X).

    Eight rows at a time share the loads of ``r`` and the loop overhead
    (measured 12 % faster than four on 1000x100000).  Rows go last to first:
    the logits pass read them first to last, so the rows it read last are the
    ones still in L2; starting from the first rows would evict them to L3
    before their turn.
    """
    rr = r[:nb]
    j_eights = j0 + ((j1 - j0) // 8) * 8
    for j in range(j1 - 1, j_eights - 1, -1):    # the rows past the last group of eight
        x0 = X[j, i0:i0 + nb]
        a0 = 0.0
        for i in range(nb):
            a0 += x0[i] * rr[i]
        g[j] += a0
    j = j_eights
    while j - 8 >= j0:
        j -= 8
        x0, x1, x2, x3, x4, x5, x6, x7 = _eight_rows(X, j, i0, nb)
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for i in range(nb):
            ri = rr[i]
            a0 += x0[i] * ri
            a1 += x1[i] * ri
            a2 += x2[i] * ri
            a3 += x3[i] * ri
            a4 += x4[i] * ri
            a5 += x5[i] * ri
            a6 += x6[i] * ri
            a7 += x7[i] * ri
        g[j] += a0
        g[j + 1] += a1
        g[j + 2] += a2
        g[j + 3] += a3
        g[j + 4] += a4
        g[j + 5] += a5
        g[j + 6] += a6
        g[j + 7] += a7


@jit
def _gradient_feature_major(X, i0, nb, r, g, buf, group):
    """``g += X[:, i0:i0+nb] @ r[:nb]`` for a feature-major X (block still in cache).

    ``group`` (see :func:`_gradient_sample_major`) is unused: rows go eight at a time.
    """
    _gradient_rows(X, 0, X.shape[0], i0, nb, r, g)


@jit
def _logits_sample_major(w, b, XT, i0, nb, z, buf):
    """``z[:nb] = XT[i0:i0+nb] @ w + b`` for a sample-major XT, four examples at a time.

    ``w`` has X's dtype.  Products are summed in X's precision over strips
    of features (:func:`strip_length`: all of them for float64, 1024 for
    float32) and each strip joins the float64 logit: for float32 this
    converts once per strip instead of once per element (1000x100000 F:
    5 % faster with 256-feature strips, 6 % more with 1024).
    """
    n = XT.shape[1]
    strip = strip_length(XT.itemsize, n)
    n_strips = (n + strip - 1) // strip
    zero = XT.dtype.type(0)
    i = 0
    while i + 4 <= nb:
        z0 = z1 = z2 = z3 = 0.0
        for q in range(n_strips):
            # Slices, so that the inner loop indexes from 0 (see module notes).
            s = q * strip
            e = min(n, s + strip)
            ws = w[s:e]
            x0, x1 = XT[i0 + i, s:e], XT[i0 + i + 1, s:e]
            x2, x3 = XT[i0 + i + 2, s:e], XT[i0 + i + 3, s:e]
            p0 = p1 = p2 = p3 = zero
            for j in range(e - s):
                wj = ws[j]
                p0 += wj * x0[j]
                p1 += wj * x1[j]
                p2 += wj * x2[j]
                p3 += wj * x3[j]
            z0 += p0
            z1 += p1
            z2 += p2
            z3 += p3
        z[i], z[i + 1], z[i + 2], z[i + 3] = z0 + b, z1 + b, z2 + b, z3 + b
        i += 4
    while i < nb:
        x0 = XT[i0 + i]
        z0 = 0.0
        for j in range(n):
            z0 += w[j] * x0[j]
        z[i] = z0 + b
        i += 1


@jit
def _gradient_sample_major(XT, i0, nb, r, g, buf, group):
    """``g += XT[i0:i0+nb].T @ r[:nb]``, ``group`` examples per pass over ``g``.

    Each pass loads and stores all of ``g``: when ``g`` is larger than L1
    (``group == 8``, :meth:`fastlogreg._tiling.Tiling.gradient_group`), eight
    examples share a pass (12288 features: 4 % faster), else four (1000
    features: eight were 1.5 % slower).
    """
    n = XT.shape[1]
    # Last examples first: the logits pass read them last (see _gradient_rows).
    i = nb
    if group == 8:
        while i >= 8:
            i -= 8
            x0, x1, x2, x3 = XT[i0 + i], XT[i0 + i + 1], XT[i0 + i + 2], XT[i0 + i + 3]
            x4, x5, x6, x7 = XT[i0 + i + 4], XT[i0 + i + 5], XT[i0 + i + 6], XT[i0 + i + 7]
            r0, r1, r2, r3 = r[i], r[i + 1], r[i + 2], r[i + 3]
            r4, r5, r6, r7 = r[i + 4], r[i + 5], r[i + 6], r[i + 7]
            for j in range(n):
                g[j] += (((r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j]))
                         + ((r4 * x4[j] + r5 * x5[j]) + (r6 * x6[j] + r7 * x7[j])))
    while i >= 4:
        i -= 4
        x0, x1, x2, x3 = XT[i0 + i], XT[i0 + i + 1], XT[i0 + i + 2], XT[i0 + i + 3]
        r0, r1, r2, r3 = r[i], r[i + 1], r[i + 2], r[i + 3]
        for j in range(n):
            g[j] += (r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j])
    while i > 0:
        i -= 1
        x0 = XT[i0 + i]
        r0 = r[i]
        for j in range(n):
            g[j] += r0 * x0[j]


@jit
def _logits_packed(w, b, XT, i0, nb, z, buf):
    """Logits of a block of a sample-major XT with few features, through a transposed copy.

    With few features an example's row is too short to vectorize over, and
    per-row overhead dominated (2x1000 F-ordered: a third of the speed of the
    C-ordered data).  The block is copied, transposed, into ``buf`` (the
    layout's workspace, ``(n, block)``: a few KiB, it stays in L1/L2), and
    the feature-major kernels run on the copy, with the same arithmetic as
    for a C-ordered X.
    """
    n = XT.shape[1]
    flat = XT[i0:i0 + nb].ravel()    # a view when XT is contiguous
    for j in range(n):
        row = buf[j, :nb]
        for i in range(nb):
            row[i] = flat[i * n + j]
    _logits_feature_major(w, b, buf, 0, nb, z, buf)


@jit
def _gradient_packed(XT, i0, nb, r, g, buf, group):
    """``g += XT[i0:i0+nb].T @ r[:nb]`` from the transposed copy :func:`_logits_packed` made."""
    _gradient_feature_major(buf, 0, nb, r, g, buf, group)


@jit
def _no_workspace(n, block, X):
    """The workspace of the layouts that need none: an empty array."""
    return np.empty((0, 0), X.dtype)


@jit
def _packed_workspace(n, block, X):
    """Room for one block of X transposed: ``(n, block)`` in X's dtype."""
    return np.empty((n, block), X.dtype)


@jit
def sum_chunk_sums(part):
    """Add the per-chunk loss sums, residual sums and non-finite counts in chunk order.

    Parameters
    ----------
    part : ndarray, shape (n_chunks, 3)
        Per chunk: loss sum, residual sum, count of non-finite logits.

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
    """
    loss = 0.0
    db = 0.0
    bad = 0.0
    for c in range(part.shape[0]):
        loss += part[c, 0]
        db += part[c, 1]
        bad += part[c, 2]
    return loss, db, int(bad)


@jit
def sum_chunk_rows(part_dw, j0, j1, dw_out):
    """``dw_out[j0:j1]`` = the rows of ``part_dw`` added in chunk order (zeros if it has none).

    Parameters
    ----------
    part_dw : ndarray, shape (n_chunks, n) or (n_chunks, 0)
        Per chunk gradient partials (no columns when no gradient was asked for).
    j0, j1 : int
        The features to sum; threads take disjoint ranges.
    dw_out : ndarray, shape (n,)
    """
    out = dw_out[j0:j1]
    out[:] = 0.0
    n_rows = part_dw.shape[0] if part_dw.shape[1] > 0 else 0
    for c in range(n_rows):
        row = part_dw[c, j0:j1]
        for j in range(j1 - j0):
            out[j] += row[j]


@jit
def _dims_feature_major(X):
    """``(n, m)`` of a feature-major ``X`` of shape ``(n, m)``."""
    return X.shape[0], X.shape[1]


@jit
def _dims_sample_major(XT):
    """``(n, m)`` of a sample-major ``XT`` of shape ``(m, n)``."""
    return XT.shape[1], XT.shape[0]


#: The helpers that differ between the layouts; :func:`value_and_grad_blocked`
#: is compiled once per layout with these bound as its globals
#: (``jit(..., bind=...)``).
LAYOUTS = {
    "feature_major": {"_dims": _dims_feature_major, "_logits": _logits_feature_major,
                      "_gradient": _gradient_feature_major, "_workspace": _no_workspace},
    "sample_major": {"_dims": _dims_sample_major, "_logits": _logits_sample_major,
                     "_gradient": _gradient_sample_major, "_workspace": _no_workspace},
    # Sample-major X with few features, transposed block by block.
    "packed": {"_dims": _dims_sample_major, "_logits": _logits_packed,
               "_gradient": _gradient_packed, "_workspace": _packed_workspace},
}
_dims = _logits = _gradient = _workspace = None  # bound per layout


def value_and_grad_blocked(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
    """Fused loss and gradient sums, block by block, one pass over X; or the forward pass.

    One body serves both public kernels (one compilation instead of two):
    with an empty ``a_out`` (see ``work``) it computes the sums, with a
    non-empty one the activations.

    Parameters
    ----------
    w : ndarray of float64, shape (n,)
    b : float
    X : ndarray of float32 or float64
        ``(n, m)`` contiguous along m (feature-major build) or ``(m, n)``
        contiguous along n (sample-major build, the view ``X.T``).
    y : ndarray, shape (m,)
        Labels in {0, 1} (not read for the forward pass: may be empty).
    sw : ndarray of float64, shape (m,) or (0,)
        Sample weights; empty means all ones.
    want_cost, want_grad : bool
        Which sums to compute (the other is returned as zeros).
    dw_out : ndarray of float64, shape (n,)
        Receives ``sum_i sw_i (a_i - y_i) x_i`` (untouched, and may be empty,
        for the forward pass).
    work : tuple
        ``(block, group, a_out)``: examples per block, a multiple of
        ``CHUNK_ALIGN`` (:class:`fastlogreg._tiling.Tiling` sizes it from the
        caches); examples per pass over the partial gradient (4 or 8;
        sample-major only); and ``a_out``, float64: empty, or ``(m,)`` to
        receive ``sigmoid(w^T x_i + b)`` instead of the sums (the forward
        pass).  One tuple, the training loop's calling convention.

    Returns
    -------
    loss_sum : float
        ``sum_i sw_i L(a_i, y_i)``.
    db_sum : float
        ``sum_i sw_i (a_i - y_i)``.
    n_bad : int
        Number of examples whose logit is not finite.
    """
    n, m = _dims(X)
    block, group, a_out = work
    forward = a_out.shape[0] > 0
    n_chunks = plan_chunks(m, block)
    part = np.zeros((n_chunks, 3))
    part_dw = np.empty((n_chunks, n if want_grad and not forward else 0))
    wx = in_dtype_of(w, X)
    for c in prange(n_chunks):
        # Each thread zeroes the partials it fills (with the parallel merge
        # below, about 2 % of a 12288x209 F call against a serial np.zeros).
        part_dw[c, :] = 0.0
        z = np.empty(block)
        r = np.empty(block)
        buf = _workspace(n, block, X)
        start, stop, n_blocks = chunk_blocks(c, n_chunks, m, block)
        for k in range(n_blocks):
            i0, i1 = part_bounds(k, n_blocks, start, stop)
            nb = i1 - i0
            _logits(wx, b, X, i0, nb, z, buf)
            if forward:
                part[c, 2] += _block_sigmoid(z[:nb], a_out[i0:i1])
            else:
                loss, db, bad = _block_terms(z[:nb], y[i0:i1], sw[i0:i1], r, want_cost)
                part[c, 0] += loss
                part[c, 1] += db
                part[c, 2] += bad
                if want_grad:
                    _gradient(X, i0, nb, r, part_dw[c], buf, group)
    if not forward:
        # The merge is split over features, each slice summing chunks in order.
        n_slices = plan_chunks(n, MIN_BLOCK)
        for k in prange(n_slices):
            j0, j1 = part_bounds(k, n_slices, 0, n)
            sum_chunk_rows(part_dw, j0, j1, dw_out)
    return sum_chunk_sums(part)


@jit(inline="always")
def _wide_logits(w, b, X):
    """Logits of a wide feature-major X, split over chunks of features.

    Inlined (Numba IR) into its callers, so that its ``prange`` becomes part of
    their parallel region: a cached function calling another parallel
    function crashes when loaded from the cache (numba#8578).

    Each chunk of rows (contiguous memory in a C-ordered X) adds its share of
    every logit to its own row of partials; the partials are then added in
    chunk order, so the result does not depend on the thread count.
    """
    n, m = X.shape
    n_chunks = plan_chunks(n, 8)
    part = np.zeros((n_chunks, m))
    wx = in_dtype_of(w, X)
    for c in prange(n_chunks):
        j0, j1 = part_bounds(c, n_chunks, 0, n)
        _add_logits_rows(wx, X, j0, j1, 0, m, part[c])
    z = np.full(m, b)
    for c in range(n_chunks):
        z += part[c]
    return z


def value_and_grad_wide(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
    """Loss and gradient sums, or the forward pass, for a wide feature-major X.

    With few examples, blocks of examples would make short row segments and
    leave threads idle.  Here threads split the features instead: logits from
    per-chunk partials (:func:`_wide_logits`), the per-example terms, then each
    chunk of rows computes its own entries of the gradient.  X is read twice,
    the second time from cache (used only while X fits in the last-level
    cache).  Same parameters and returns as :func:`value_and_grad_blocked`;
    ``work`` is ``(a_out,)``.
    """
    n, m = X.shape
    a_out = work[0]
    z = _wide_logits(w, b, X)
    if a_out.shape[0] > 0:
        return 0.0, 0.0, _block_sigmoid(z, a_out)
    r = np.empty(m)
    loss, db, bad = _block_terms(z, y, sw, r, want_cost)
    dw_out[:] = 0.0
    if want_grad:
        n_chunks = plan_chunks(n, 8)
        for c in prange(n_chunks):
            j0, j1 = part_bounds(c, n_chunks, 0, n)
            _gradient_rows(X, j0, j1, 0, m, r, dw_out)
    return loss, db, bad


#: ``a_out`` of the kernels' ``work`` when they compute sums, not activations.
NO_ACTIVATIONS = np.empty(0)


class Plan(NamedTuple):
    """What the explicit-loop kernels run on one X: the outcome of every dispatch decision.

    Attributes
    ----------
    path : str
        ``"<build>/<layout>"``: the build (``serial``, ``parallel``) and the
        layout's kernels (``feature_major``, ``wide``, ``packed``,
        ``sample_major``), for the sample-major kernels followed by
        ``/g4`` or ``/g8`` (examples per pass over the gradient) and, for
        float32 data longer than one strip, ``/strips``.  :func:`all_paths`
        lists every value.
    kernels : BlockedKernels
        The build that runs.
    layout : str
        Key of the kernels (``forward_<layout>``, ...).
    X : ndarray
        X as the kernels want it: ``X`` or, sample-major, the view ``X.T``.
    work : tuple
        The kernels' last argument without ``a_out``: ``(block, group)``,
        or ``()`` (wide).
    """

    path: str
    kernels: object
    layout: str
    X: np.ndarray
    work: tuple

    def forward(self, w, b, out):
        """Run the plan's kernel for the forward pass (activations to ``out``)."""
        # The kernel writes float64 activations: one compiled signature for
        # every output dtype (a float32 ``out`` gets the same rounding from
        # the copy as from the kernel's own store).
        a_out = out if out.dtype == np.float64 else np.empty(out.shape[0])
        empty = np.empty(0, self.X.dtype)
        _, _, bad = getattr(self.kernels, "value_and_grad_" + self.layout)(
            w, b, self.X, empty, NO_ACTIVATIONS, False, False, NO_ACTIVATIONS,
            (*self.work, a_out))
        if a_out is not out:
            out[:] = a_out
        return bad

    @property
    def kernel_work(self):
        """``work`` as the kernel takes it for sums: ``a_out`` empty."""
        return (*self.work, NO_ACTIVATIONS)

    def value_and_grad(self, w, b, y, sw, want_cost, want_grad, dw_out):
        """Run the plan's fused value-and-gradient kernel."""
        return getattr(self.kernels, "value_and_grad_" + self.layout)(
            w, b, self.X, y, sw, want_cost, want_grad, dw_out, self.kernel_work)


def _evaluate_with(descend):
    """The fused kernel's interface, run by a compiled training loop with ``n_steps=-1``.

    Parameters
    ----------
    descend : numba dispatcher
        :func:`fastlogreg._descent.descend` bound to an inlined kernel.

    Returns
    -------
    callable
        ``value_and_grad(w, b, X, y, sw, want_cost, want_grad, dw_out, work)
        -> (loss_sum, db_sum, n_bad)``, as :func:`value_and_grad_blocked`.
    """
    def value_and_grad(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
        loss, db, _, bad = descend(w, b, X, y, sw, dw_out, work, -1, 0.0, 1.0, 0.0,
                                   bool(want_grad), bool(want_cost))
        return loss, db, bad
    return value_and_grad


class BlockedKernels:
    """The kernels above, per layout, compiled with one ``parallel`` setting.

    Parameters
    ----------
    parallel : bool
        False for the ``loop`` backend, True for ``parallel``.
    serial : BlockedKernels, optional
        With ``parallel``, the serial build to use for small X (fewer than
        ``PARALLEL_MIN_ELEMENTS`` elements), where starting threads costs
        more than the work.  Same chunking, so the same bits.
    """

    def __init__(self, parallel, serial=None):
        self.parallel = parallel
        self._serial = serial
        # One kernel per layout serves forward and value_and_grad (see
        # value_and_grad_blocked): one compilation, one cache file.
        name = "parallel" if parallel else "loop"
        bodies = {layout: (value_and_grad_blocked, helpers)
                  for layout, helpers in LAYOUTS.items()}
        bodies["wide"] = (value_and_grad_wide, None)
        for layout, (body, helpers) in bodies.items():
            if parallel:
                # A cached function calling a parallel one segfaults when
                # loaded from the cache (numba#8578), and compiling the
                # training loop in every process cost 2-3 s.  Instead the
                # kernel is inlined (Numba IR) into the training loop, which
                # is compiled parallel itself: its prange loops join the
                # loop's parallel region, and the whole is cached.  The
                # public kernel runs through that loop too (n_steps=-1):
                # the parallel body is compiled once, not twice.
                kernel = jit(body, suffix=f"_{layout}_inline", bind=helpers, inline="always")
                descend = bind_descent(kernel, f"{name}_{layout}", compiled=True,
                                       parallel=True)
                kernel = _evaluate_with(descend)
            else:
                kernel = jit(body, suffix="_" + layout if helpers else "", bind=helpers)
                descend = bind_descent(kernel, f"{name}_{layout}", compiled=True)
            setattr(self, "value_and_grad_" + layout, kernel)
            setattr(self, "_descend_" + layout, descend)

    def plan(self, X):
        """Every dispatch decision for X, made once: see :class:`Plan`.

        The build (serial below ``PARALLEL_MIN_ELEMENTS`` elements), the
        layout's kernels, and the block size and gradient group that the
        running CPU's caches give (:func:`fastlogreg._tiling.current_tiling`).
        """
        kernels = self
        if self._serial is not None and X.size < PARALLEL_MIN_ELEMENTS:
            kernels = self._serial
        build = "parallel" if kernels.parallel else "serial"
        tiling = current_tiling()
        n, itemsize = X.shape[0], X.itemsize
        if is_packed(X):
            work = (tiling.feature_major_block(n, itemsize), 4)
            return Plan(build + "/packed", kernels, "packed", X.T, work)
        if is_sample_major(X):
            group = tiling.gradient_group(n)
            path = f"{build}/sample_major/g{group}"
            if strip_length.py_func(itemsize, n) < n:   # no compiled call from Python
                path += "/strips"
            work = (tiling.sample_major_block(n, itemsize), group)
            return Plan(path, kernels, "sample_major", X.T, work)
        if is_wide(X, tiling):
            return Plan(build + "/wide", kernels, "wide", X, ())
        work = (tiling.feature_major_block(n, itemsize), 4)
        return Plan(build + "/feature_major", kernels, "feature_major", X, work)

    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        return self.plan(X).forward(w, b, out)

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum and non-finite count; gradient sum to ``dw_out``."""
        return self.plan(X).value_and_grad(w, b, y, sw, want_cost, want_grad, dw_out)

    def prepare_descent(self, X):
        """The compiled descent for X's layout, X as its kernel wants it, and its workspace.

        Returns
        -------
        descend : callable
            :func:`fastlogreg._descent.descend` bound to this layout's kernel.
        X_kernel : ndarray
            ``X`` or, for sample-major data, the view ``X.T``.
        work : tuple
            The kernel's trailing argument: block size, gradient group and an
            empty ``a_out``.

        Notes
        -----
        A packed X (F order, at most ``PACKED_MAX_FEATURES`` features) of at
        most ``packed_copy_max_bytes`` (:class:`fastlogreg._tiling.Tiling`) is
        copied to C order here, once, and trained on with the feature-major
        kernels and the packed plan's blocks: the packed kernels transpose
        every block into that layout on every pass and run those same
        kernels on it, so the iterates are the same bits either way (the
        plan of a C-ordered X of so few examples could be "wide", whose sums
        differ in the last bit).  On 2 x 1000 (16 KB), 2000 iterations took
        5.6 ms packed, 4.1 ms on the copy.
        """
        plan = self.plan(X)
        if plan.layout == "packed" and X.nbytes <= current_tiling().packed_copy_max_bytes:
            build = plan.path.split("/")[0]
            plan = plan._replace(path=build + "/feature_major", layout="feature_major",
                                 X=np.ascontiguousarray(X))
        return getattr(plan.kernels, "_descend_" + plan.layout), plan.X, plan.kernel_work


def all_paths(parallel):
    """Every :attr:`Plan.path` that a build can take.

    Parameters
    ----------
    parallel : bool
        The ``parallel`` backend (both builds) or ``loop`` (the serial one).

    Returns
    -------
    frozenset of str
    """
    builds = ("serial", "parallel") if parallel else ("serial",)
    layouts = ("feature_major", "wide", "packed", "sample_major/g4", "sample_major/g8",
               "sample_major/g4/strips", "sample_major/g8/strips")
    return frozenset(f"{build}/{layout}" for build in builds for layout in layouts)


def is_wide(X, tiling=None):
    """True for a feature-major X with few examples that fits in the last-level cache."""
    tiling = tiling or current_tiling()
    return X.shape[1] <= WIDE_MAX_EXAMPLES and X.nbytes <= tiling.wide_max_bytes


def is_packed(X):
    """True for a sample-major X with too few features to vectorize over a row."""
    return is_sample_major(X) and X.shape[0] <= PACKED_MAX_FEATURES


def is_sample_major(X):
    """True when X's features are closer in memory than its examples (F order)."""
    return abs(X.strides[0]) < abs(X.strides[1])
