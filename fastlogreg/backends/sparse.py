"""Sparse kernels (CSR and CSC ``X``) for every backend, under the same names.

``X`` is ``(n_x, m)`` as everywhere (one example per column), stored as a
:class:`fastlogreg._sparse.SparseX`; compiled kernels take it as the tuple
``(data, indices, indptr, n_x, m)``.  The two formats have their own loop
order, as C and F order have for dense X:

* CSC, one compressed column per example ("example-major").  ``loop`` and
  ``parallel`` make one fused pass over the nonzeros: per example, the logit
  is a gather-dot with ``w``, then its residual and loss, then the example's
  nonzeros (still in L1) are scattered into the gradient.  Chunks of
  consecutive examples (split where the nonzeros split evenly) each add to
  their own partial gradient (chunk 0 directly into ``dw``), and the
  partials are added in chunk order.  When the budget below leaves room for
  no partial gradient (one chunk: float32 data, or very many features for
  the nonzeros), ``parallel`` splits the pass in two instead
  (:func:`value_and_grad_csc_split`): residuals in parallel over examples,
  then the gradient in parallel over ranges of features, with the one-chunk
  pass's bits (indices sorted; else the one-chunk pass runs).
* CSR, one compressed row per feature.  A logit needs every row, so the
  logits come first: chunks of rows scatter ``w_j x_j`` into their own
  partial logits (chunk 0's row doubles as ``z``); then, per example, the
  partials are added in chunk order, giving the residual; then each row's
  gradient entry is a gather-dot with the residuals (one writer per entry).
  Two passes over the nonzeros: the second one gathers, so it needs no
  partials.

Chunk boundaries depend only on the matrix (its shape, ``indptr`` and bytes),
never on the thread count: the serial (``loop``) and ``parallel`` builds of
one body give the same bits for any ``NUMBA_NUM_THREADS``.  The number of
chunks is bounded so that their partial rows (float64, ``n_x`` or ``m`` long)
take at most 1/:data:`PARTIALS_FRACTION` of X's own bytes, and each chunk has
at least :data:`MIN_CHUNK_NNZ` nonzeros.

Duplicate entries, unsorted indices and explicit zeros need no special case:
every kernel sums the stored entries, which is what they mean.  A NaN or inf
among the stored values makes its example's logit non-finite (``0 * inf`` is
NaN too), which the kernels count like the dense ones.

``vectorized`` runs the course's two matrix products (a sparse
matrix-vector product, then its transpose) around the same ufuncs as for dense
X; ``numpy`` is the reference (scipy's ``@``); ``python`` loops over the
nonzeros in plain Python.
"""

import math

import numba
import numpy as np
from numba import prange

from .._casting import in_dtype_of, scalar_in_dtype_of
from .._descent import bind_descent
from .._jit import EXACT_FASTMATH, jit
from .._prefetch import PREFETCH_DISTANCE, prefetch_read, prefetch_write
from .._scalar import is_finite, residual_and_loss
from .._tiling import MAX_CHUNKS, PARALLEL_MIN_ELEMENTS, current_tiling, part_bounds
from . import vectorized
from .blocked import _block_sigmoid, _evaluate_with, sum_chunk_sums
from .numpy_reference import NumpyKernels
from .python_loops import _sigmoid
from .vectorized import _logits_finite, _terms_into, sigmoid_ufunc

#: Partial rows of all chunks together take at most this fraction of X's bytes
#: (``data + indices + indptr``): on 200000 x 1000000 text-like data (14M
#: nonzeros) a partial gradient is 8 MB, against 170 MB of X: two chunks, and
#: with ``dw`` itself (8 MB) a propagate allocates under 10 % of X.
PARTIALS_FRACTION = 20
#: Fewest nonzeros per chunk: below this, zeroing and merging a chunk's partial
#: row costs more than the balance it buys.
MIN_CHUNK_NNZ = 1 << 14
#: Below this many stored entries, ``parallel`` runs the serial build (same
#: chunks, so the same bits): waking the threads would cost more than the work.
PARALLEL_MIN_NNZ = PARALLEL_MIN_ELEMENTS
#: Features per slice when partial gradients are merged (in parallel).
MERGE_SLICE = 4096
#: Stored entries sampled to place the feature cuts of the split CSC kernel,
#: and the bins of features they are counted in.
SPLIT_SAMPLE = 1 << 16
SPLIT_BINS = 4096
#: Running sums of a gather-dot (:func:`gather_dot` writes out four).
GATHER_LANES = 4
#: Shortest row that :func:`gather_dot` sums in :data:`GATHER_LANES` running
#: sums; shorter ones take one.
GATHER_LANES_MIN = 64
#: Examples per slice when residuals are formed (CSR): the loss and residual
#: sums are per slice, added in slice order.
EXAMPLE_SLICE = 4096
#: Most examples in a block of the fused CSC pass (:func:`csc_block_end`):
#: the length of its logit and residual buffers.
CSC_BLOCK_EXAMPLES = 512


# --------------------------------------------------------------- primitives


@jit
def major_split(indptr, c, n_parts):
    """First major index (column of CSC, row of CSR) of part ``c`` of ``n_parts``.

    Parts are cut where the stored entries split evenly: part ``c`` starts at
    the first major index whose entries begin at or after ``c / n_parts`` of
    them.  Depends on ``indptr`` only.
    """
    major = indptr.shape[0] - 1
    if c <= 0:
        return 0
    if c >= n_parts:
        return major
    nnz = np.int64(indptr[major]) - np.int64(indptr[0])
    target = np.int64(indptr[0]) + (nnz * c) // n_parts
    return np.searchsorted(indptr, target)


#: The gathers and scatters are compiled without ``reassoc``: with it LLVM
#: vectorizes the gather-dot with AVX2 gathers, which made it 1.7x slower
#: here (1.27 ms against 0.76 ms for 700000 nonzeros); the sum is then in
#: storage order, the same in every build.
_NO_REASSOC = EXACT_FASTMATH


@jit(inline="always")
def gather_dot(data, indices, k0, k1, v):
    """``sum(data[k] * v[indices[k]] for k0 <= k < k1)`` in float64, in a fixed order.

    The products are formed in the promoted dtype of ``data`` and ``v``
    (float32 for float32 data and a float32 ``v``) and added in float64.  A
    row of at least :data:`GATHER_LANES_MIN` entries is added in
    :data:`GATHER_LANES` running sums (``k - k0`` modulo the lanes), which are
    then added pairwise, then the leftover products in storage order; a
    shorter row in one sum, in storage order.  The order depends only on the
    stored row, so every build gives the same bits.  Inlined into the range
    functions below, whose flags it then has.

    Notes
    -----
    One running sum would chain every add on the one before (4 cycles each):
    a gather over 17M nonzeros took 32 ms that way, as long as scipy's, bound
    by that latency rather than by memory.  The entry
    :data:`~fastlogreg._prefetch.PREFETCH_DISTANCE` nonzeros ahead (into the
    next rows too) is prefetched: a gather from a vector larger than L2 ran
    2.3x faster.  Short rows take the simple loop, each entry prefetching its
    successor that far ahead: on text-like data most feature rows (CSR) hold
    a few entries, and the lanes' set-up and leftover loop made the gather
    20 % slower than scipy's (32 against 25 ms over 1,000,000 rows and 17M
    nonzeros; with this loop 25 ms).  Positions counted from 0 and the index
    made unsigned spare Numba's negative-index fix-ups.
    """
    nnz = np.uintp(data.shape[0])
    k = np.uintp(k0)
    end = np.uintp(k1)
    if k1 - k0 < GATHER_LANES_MIN:
        one = np.uintp(PREFETCH_DISTANCE)
        acc = 0.0
        while k < end:
            if k + one < nnz:
                prefetch_read(v, np.uintp(indices[k + one]))
            acc += data[k] * v[np.uintp(indices[k])]
            k += np.uintp(1)
        return acc
    ahead = np.uintp(PREFETCH_DISTANCE + GATHER_LANES - 1)
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    for _ in range((k1 - k0) // GATHER_LANES):
        if k + ahead < nnz:
            for lane in range(GATHER_LANES):
                prefetch_read(v, np.uintp(indices[k + ahead - np.uintp(lane)]))
        a0 += data[k] * v[np.uintp(indices[k])]
        a1 += data[k + 1] * v[np.uintp(indices[k + 1])]
        a2 += data[k + 2] * v[np.uintp(indices[k + 2])]
        a3 += data[k + 3] * v[np.uintp(indices[k + 3])]
        k += np.uintp(GATHER_LANES)
    acc = (a0 + a1) + (a2 + a3)
    while k < end:
        acc += data[k] * v[np.uintp(indices[k])]
        k += np.uintp(1)
    return acc


@jit(inline="always")
def scatter_add(out, data, indices, k0, k1, scale):
    """``out[indices[k]] += data[k] * scale for k0 <= k < k1`` (prefetched as
    :func:`gather_dot`)."""
    nnz = np.uintp(data.shape[0])
    ahead = np.uintp(PREFETCH_DISTANCE)
    k = np.uintp(k0)
    end = np.uintp(k1)
    # A while loop: ``for k in range(uintp, uintp)`` made the scatter of 17M
    # nonzeros into 200,000 logits 10 % slower (28.3 against 25.6 ms).
    while k < end:
        if k + ahead < nnz:
            prefetch_write(out, np.uintp(indices[k + ahead]))
        out[np.uintp(indices[k])] += data[k] * scale
        k += np.uintp(1)


# The loops over compressed rows are whole functions (not one call per row:
# with 4 nonzeros per row the calls cost as much as the work).


@jit(fastmath=_NO_REASSOC)
def dot_rows(data, indices, indptr, p0, p1, v, out):
    """``out[p] = row_p . v`` for the compressed rows ``p0 <= p < p1``."""
    for p in range(p0, p1):
        out[p] = gather_dot(data, indices, indptr[p], indptr[p + 1], v)


@jit(fastmath=_NO_REASSOC)
def scatter_rows(data, indices, indptr, p0, p1, t, out, like):
    """``out += sum_p t[p] row_p`` for the compressed rows ``p0 <= p < p1``.

    Each ``t[p]`` is first rounded to ``like``'s dtype
    (:func:`~fastlogreg._casting.scalar_in_dtype_of`): ``data`` for the
    logits (``w`` in the data's precision, as the other kernels take it),
    ``t`` itself to keep float64 residuals.
    """
    for p in range(p0, p1):
        scatter_add(out, data, indices, indptr[p], indptr[p + 1],
                    scalar_in_dtype_of(t[p], like))


@jit
def major_dots(data, indices, indptr, v, out):
    """``out[p] = row_p . v`` for every compressed row (CSR row, CSC column) ``p``."""
    dot_rows(data, indices, indptr, 0, indptr.shape[0] - 1, v, out)


@jit
def major_scatter(data, indices, indptr, t, out):
    """``out = sum_p t[p] row_p``: every compressed row ``p`` scattered, scaled by ``t[p]``."""
    out[:] = 0.0
    scatter_rows(data, indices, indptr, 0, indptr.shape[0] - 1, t, out, t)


@jit(fastmath=_NO_REASSOC)
def terms_into(z, y, sw, want_cost, r, loss):
    """``r[k], loss[k]``: the residual and loss of example ``k`` from its logit ``z[k]``.

    ``y`` and ``sw`` are the examples' slices (``sw`` empty: no weights).
    Returns the count of non-finite logits.  No floating-point sum is formed
    here, so the loop vectorizes (``exp`` and ``log1p`` included) without
    reassociation; callers add ``loss`` and ``r`` in example order, which
    gives the bits of adding the terms one example at a time.  Computed one
    example at a time, between a gather and a scatter, the terms ran scalar.
    (Indexed from 0 by the loop's own counter: an index such as ``i0 + k``
    gets Numba's negative-index fix-up, which also stops the vectorizer.)
    """
    weighted = sw.shape[0] > 0
    bad = 0
    for k in range(z.shape[0]):
        # Written out here: returned through a tuple from an inlined helper,
        # the terms kept the loop from vectorizing.
        rk, lk = residual_and_loss(z[k], y[k], want_cost)
        if weighted:
            rk *= sw[k]
            lk *= sw[k]
        bad += 0 if is_finite(z[k]) else 1
        r[k] = rk
        loss[k] = lk
    return bad


@jit(fastmath=_NO_REASSOC)
def csc_forward_range(wx, b, data, indices, indptr, i0, i1, out):
    """``out[i] = sigmoid(x_i . w + b)`` for the examples ``i0 <= i < i1``; non-finite count.

    The logits of up to :data:`CSC_BLOCK_EXAMPLES` examples, then their
    sigmoids in one vectorized loop (as :func:`csc_value_grad_range`).
    """
    z = np.empty(CSC_BLOCK_EXAMPLES)
    bad = 0
    for start in range(i0, i1, CSC_BLOCK_EXAMPLES):
        end = min(i1, start + CSC_BLOCK_EXAMPLES)
        for i in range(start, end):
            z[i - start] = gather_dot(data, indices, indptr[i], indptr[i + 1], wx) + b
        bad += _block_sigmoid(z[:end - start], out[start:end])
    return bad


@jit
def csc_block_end(indptr, i0, i1, block_nnz):
    """End of the block of examples that starts at ``i0`` (and ends by ``i1``).

    At most :data:`CSC_BLOCK_EXAMPLES` examples holding at most ``block_nnz``
    stored entries, and at least one example, however many it holds.
    """
    limit = np.int64(indptr[i0]) + block_nnz
    end = i0 + 1
    last = min(i1, i0 + CSC_BLOCK_EXAMPLES)
    while end < last and indptr[end + 1] <= limit:
        end += 1
    return end


@jit(fastmath=_NO_REASSOC)
def csc_value_grad_range(wx, b, data, indices, indptr, i0, i1, y, sw, want_cost, want_grad, g,
                         block_nnz):
    """The fused pass over the examples ``i0 <= i < i1`` of a CSC X, block by block.

    A block (:func:`csc_block_end`): the examples' logits (gather-dots), then
    their residuals and losses in one loop that vectorizes (:func:`terms_into`),
    then their entries, still in L2, scattered into ``g`` scaled by the
    residuals.  With the terms computed example by example between its gather
    and its scatter, they ran scalar, and the pass took 15 % longer (103
    against 87 ms over 200,000 examples, one thread).  Losses and residuals
    are added in example order: the same bits for any ``block_nnz``, and as
    :func:`csc_terms_range`'s.  Returns the loss sum, residual sum and
    non-finite count.
    """
    z = np.empty(CSC_BLOCK_EXAMPLES)
    r = np.empty(CSC_BLOCK_EXAMPLES)
    losses = np.empty(CSC_BLOCK_EXAMPLES)
    loss = 0.0
    db = 0.0
    bad = 0
    start = i0
    while start < i1:
        end = csc_block_end(indptr, start, i1, block_nnz)
        for i in range(start, end):
            z[i - start] = gather_dot(data, indices, indptr[i], indptr[i + 1], wx) + b
        bad += terms_into(z[:end - start], y[start:end], sw[start:end], want_cost, r, losses)
        for i in range(start, end):
            loss += losses[i - start]
            db += r[i - start]
            if want_grad:
                scatter_add(g, data, indices, indptr[i], indptr[i + 1], r[i - start])
        start = end
    return loss, db, bad


# ----------------------------------------------------- fused kernels: CSC


def forward_csc(w, b, X, out):
    """``out[i] = sigmoid(w^T x_i + b)`` for a CSC X (one column per example).

    Parameters
    ----------
    w : ndarray of float64, shape (n,)
    b : float
    X : tuple
        ``(data, indices, indptr, n, m)``.
    out : ndarray, shape (m,)

    Returns
    -------
    int
        Examples whose logit is not finite.
    """
    data, indices, indptr, n, m = X
    wx = in_dtype_of(w, data)
    n_parts = max(1, min(MAX_CHUNKS, m // 64))
    bad = np.zeros(n_parts, dtype=np.int64)
    for c in prange(n_parts):
        bad[c] = csc_forward_range(wx, b, data, indices, indptr, major_split(indptr, c, n_parts),
                                   major_split(indptr, c + 1, n_parts), out)
    return bad.sum()


def value_and_grad_csc(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
    """Fused loss and gradient sums for a CSC X: one pass over the nonzeros.

    Parameters
    ----------
    w, b, X
        As for :func:`forward_csc`.
    y : ndarray, shape (m,)
    sw : ndarray of float64, shape (m,) or (0,)
    want_cost, want_grad : bool
    dw_out : ndarray of float64, shape (n,)
        Receives ``sum_i sw_i (a_i - y_i) x_i`` (zeros without ``want_grad``).
    work : tuple
        ``(part, sums, block_nnz)`` from :func:`workspace`: ``part`` of shape
        ``(n_chunks - 1, n)`` (no rows without ``want_grad``), the partial
        gradients of chunks 1, 2, ... (chunk 0 adds into ``dw_out``); ``sums``
        of shape ``(n_chunks, 3)``, per chunk the loss sum, residual sum and
        non-finite count; ``block_nnz``, the stored entries of a block of
        examples (:func:`csc_value_grad_range`).

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
    """
    data, indices, indptr, n, m = X
    part, sums, block_nnz = work
    n_chunks = sums.shape[0]
    wx = in_dtype_of(w, data)
    for c in prange(n_chunks):
        g = dw_out
        if want_grad and c > 0:
            g = part[c - 1]
        if want_grad or c == 0:
            g[:] = 0.0
        loss, db, bad = csc_value_grad_range(
            wx, b, data, indices, indptr, major_split(indptr, c, n_chunks),
            major_split(indptr, c + 1, n_chunks), y, sw, want_cost, want_grad, g, block_nnz)
        sums[c, 0] = loss
        sums[c, 1] = db
        sums[c, 2] = bad
    if want_grad and n_chunks > 1:
        # Split over features; each slice adds the chunks' partials in chunk order.
        n_slices = max(1, min(MAX_CHUNKS, n // MERGE_SLICE))
        for s in prange(n_slices):
            j0, j1 = part_bounds(s, n_slices, 0, n)
            acc = dw_out[j0:j1]
            for c in range(n_chunks - 1):
                row = part[c, j0:j1]
                for j in range(j1 - j0):
                    acc[j] += row[j]
    return sum_chunk_sums(sums)


# ------------------------------------ CSC without partial gradients ("split")


@jit
def lower_bound(indices, k0, k1, f):
    """First position ``k0 <= k <= k1`` with ``indices[k] >= f`` (``indices[k0:k1]`` sorted)."""
    lo, hi = k0, k1
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < f:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit
def feature_cuts(indices, indptr, n, n_parts, cuts):
    """Cut the features ``0..n`` into ``n_parts`` ranges of about equal nonzeros.

    Estimated from a sample of about :data:`SPLIT_SAMPLE` stored entries
    (whole examples, evenly spaced) in :data:`SPLIT_BINS` bins of features;
    ``cuts[p]:cuts[p + 1]`` is range ``p``.  The cuts only balance the work:
    the gradient's bits do not depend on them.
    """
    m = indptr.shape[0] - 1
    nnz = indptr[m] - indptr[0]
    step = max(1, nnz // SPLIT_SAMPLE)  # examples: about nnz / step entries seen
    width = (n + SPLIT_BINS - 1) // SPLIT_BINS
    hist = np.zeros(SPLIT_BINS, dtype=np.int64)
    for i in range(0, m, step):
        for k in range(indptr[i], indptr[i + 1]):
            hist[indices[k] // width] += 1
    total = hist.sum()
    cuts[0] = 0
    seen = 0
    p = 1
    for bin_ in range(SPLIT_BINS):
        seen += hist[bin_]
        while p < n_parts and seen * n_parts >= p * total:
            cuts[p] = min(n, (bin_ + 1) * width)
            p += 1
    while p < n_parts:
        cuts[p] = n
        p += 1
    cuts[n_parts] = n


@jit(fastmath=_NO_REASSOC)
def csc_terms_range(wx, b, data, indices, indptr, i0, i1, y, sw, want_cost, r, loss_i, cuts,
                    cut_pos):
    """Store the residual and loss of the examples ``i0 <= i < i1``; non-finite count.

    The same arithmetic (and flags) as :func:`csc_value_grad_range`: the
    logits first, then the terms in one vectorized loop (:func:`terms_into`).
    Also stores where each inner cut of the features falls among the
    example's entries (``cut_pos[p - 1, i]`` for ``cuts[p]``), found by
    bisection while they are in L1: searched for later, they cost cache
    misses (one range's scatter pass, searching, took 46 ms, against 44 ms
    for all the features in one pass without searches).
    """
    z = np.empty(i1 - i0)
    for i in range(i0, i1):
        k0, k1 = indptr[i], indptr[i + 1]
        z[i - i0] = gather_dot(data, indices, k0, k1, wx) + b
        lo = k0
        for p in range(cut_pos.shape[0]):
            lo = lower_bound(indices, lo, k1, cuts[p + 1])
            cut_pos[p, i] = lo
    return terms_into(z, y[i0:i1], sw[i0:i1], want_cost, r[i0:i1], loss_i[i0:i1])


@jit(fastmath=_NO_REASSOC)
def ordered_sum(values):
    """``values[0] + values[1] + ...`` from 0.0, in that order (never reassociated)."""
    acc = 0.0
    for v in values:
        acc += v
    return acc


@jit(fastmath=_NO_REASSOC)
def csc_scatter_features(data, indices, indptr, r, cut_pos, p, g):
    """``g[j] += r_i x_ij`` for the features of range ``p``, example by example.

    Example ``i``'s entries in the range run from ``cut_pos[p - 1, i]`` (its
    first entry for ``p = 0``) to ``cut_pos[p, i]`` (its end for the last range).
    """
    last = cut_pos.shape[0]
    for i in range(indptr.shape[0] - 1):
        lo = indptr[i] if p == 0 else cut_pos[p - 1, i]
        hi = indptr[i + 1] if p == last else cut_pos[p, i]
        scatter_add(g, data, indices, lo, hi, r[i])


def value_and_grad_csc_split(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
    """The fused CSC kernel's results, in parallel without partial gradients.

    For a CSC X with sorted indices whose partial gradients would not fit
    the memory budget (one chunk: e.g. float32 data, or very many features
    for the nonzeros).  First, in parallel over examples, every example's
    residual and loss (a gather-dot each) are stored, with where the cuts
    between ranges of features (:func:`feature_cuts`) fall among its entries;
    then, in parallel over those ranges, each adds ``r_i x_i`` of every
    example, in example order, to its own entries of ``dw_out``.  Every
    gradient entry so receives the same additions in the same order as in the
    one-chunk fused pass, and the loss and residual sums are the stored values
    added in example order: the same bits as :func:`value_and_grad_csc` with
    one chunk, for any number of ranges and threads.

    Parameters
    ----------
    w, b, X, y, sw, want_cost, want_grad, dw_out
        As for :func:`value_and_grad_csc`.
    work : tuple
        ``(terms, cut_pos, bad)`` from :func:`split_workspace`: ``terms`` of
        shape ``(2, m)`` (per example its residual, then its loss);
        ``cut_pos`` of shape ``(n_parts - 1, m)``, int64; ``bad`` of shape
        ``(n_slices,)``, int64 (the slices' non-finite counts).

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
    """
    data, indices, indptr, n, m = X
    terms, cut_pos, bad = work
    wx = in_dtype_of(w, data)
    r = terms[0]
    loss_i = terms[1]
    n_parts = cut_pos.shape[0] + 1
    cuts = np.empty(n_parts + 1, dtype=np.int64)
    feature_cuts(indices, indptr, n, n_parts, cuts)
    n_slices = bad.shape[0]
    for s in prange(n_slices):
        i0, i1 = part_bounds(s, n_slices, 0, m)
        bad[s] = csc_terms_range(wx, b, data, indices, indptr, i0, i1, y, sw, want_cost, r,
                                 loss_i, cuts, cut_pos)
    dw_out[:] = 0.0
    if want_grad:
        for p in prange(n_parts):
            csc_scatter_features(data, indices, indptr, r, cut_pos, p, dw_out)
    return ordered_sum(loss_i), ordered_sum(r), bad.sum()


# ----------------------------------------------------- fused kernels: CSR


@jit(inline="always")
def _csr_partial_logits(w, data, indices, indptr, part):
    """Each chunk of rows (features) scatters ``w_j x_j`` into its own row of ``part``.

    Inlined (Numba IR) so that its ``prange`` joins the caller's parallel
    region (a cached function calling a parallel one crashes, numba#8578).
    ``z_i = b + part[0, i] + part[1, i] + ...`` (:func:`_csr_logits_slice`).
    """
    n_chunks = part.shape[0]
    for c in prange(n_chunks):
        zc = part[c]
        zc[:] = 0.0
        # w[p] rounded to the data's dtype row by row: no cast copy of w.
        scatter_rows(data, indices, indptr, major_split(indptr, c, n_chunks),
                     major_split(indptr, c + 1, n_chunks), w, zc, data)


@jit(inline="always")
def _csr_logits_slice(part, b, i0, i1):
    """Logits ``b + part[0, i] + part[1, i] + ...`` (chunk order) of examples ``i0:i1``.

    Written over ``part[0, i0:i1]``, which is returned.  A pass per chunk
    row, so that each loop is a plain vectorizable one, and the per-example
    terms that follow (:func:`terms_into`, a loop without an inner one)
    vectorize too: computed example by example, with the chunks summed
    inside, they took 2.7 ms of a 35 ms propagate over 200,000 examples,
    scalar.  The same bits as adding the chunks example by example.
    """
    z = part[0, i0:i1]
    for i in range(i1 - i0):
        z[i] = b + z[i]
    for c in range(1, part.shape[0]):
        zc = part[c, i0:i1]
        for i in range(i1 - i0):
            z[i] += zc[i]
    return z


def forward_csr(w, b, X, out, part):
    """``out[i] = sigmoid(w^T x_i + b)`` for a CSR X (one row per feature).

    ``part`` is ``(n_chunks, m)`` float64 scratch for the partial logits;
    other parameters and the return value as for :func:`forward_csc`.
    """
    data, indices, indptr, n, m = X
    _csr_partial_logits(w, data, indices, indptr, part)
    n_slices = max(1, min(MAX_CHUNKS, m // EXAMPLE_SLICE))
    bad = np.zeros(n_slices, dtype=np.int64)
    for s in prange(n_slices):
        i0, i1 = part_bounds(s, n_slices, 0, m)
        bad[s] = _block_sigmoid(_csr_logits_slice(part, b, i0, i1), out[i0:i1])
    return bad.sum()


def value_and_grad_csr(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
    """Loss and gradient sums for a CSR X: logits by rows, then gradient by rows.

    Parameters
    ----------
    w, b, X, y, sw, want_cost, want_grad, dw_out
        As for :func:`value_and_grad_csc`.
    work : tuple
        ``(part, sums)`` from :func:`workspace`: ``part`` of shape
        ``(n_chunks, m)``, the partial logits per chunk of rows (row 0 then
        holds the residuals); ``sums`` of shape ``(n_slices, 3)``, per slice
        of examples the loss sum, residual sum and non-finite count.

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
    """
    data, indices, indptr, n, m = X
    part, sums = work
    _csr_partial_logits(w, data, indices, indptr, part)
    n_slices = sums.shape[0]
    r = part[0]
    for s in prange(n_slices):
        i0, i1 = part_bounds(s, n_slices, 0, m)
        z = _csr_logits_slice(part, b, i0, i1)
        # The residuals go to a slice of their own, then over the logits in
        # row 0 of part: with the same array as input and output, the terms'
        # loop would not vectorize (LLVM's overlap check fails).
        r_slice = np.empty(i1 - i0)
        losses = np.empty(i1 - i0)
        sums[s, 2] = terms_into(z, y[i0:i1], sw[i0:i1], want_cost, r_slice, losses)
        sums[s, 0] = ordered_sum(losses)
        sums[s, 1] = ordered_sum(r_slice)
        z[:] = r_slice
    if want_grad:
        # One writer per gradient entry: any split is race-free and exact.
        n_rows = max(1, min(MAX_CHUNKS, n // 8))
        for p in prange(n_rows):
            dot_rows(data, indices, indptr, major_split(indptr, p, n_rows),
                     major_split(indptr, p + 1, n_rows), r, dw_out)
    else:
        dw_out[:] = 0.0
    return sum_chunk_sums(sums)


# --------------------------------------------------------------- planning


def n_chunks_for(X):
    """Chunks of a :class:`~fastlogreg._sparse.SparseX` for the fused kernels.

    At most :data:`MAX_CHUNKS`, at least one per :data:`MIN_CHUNK_NNZ`
    nonzeros, and few enough that their float64 partial rows (``n_x`` long
    for CSC, of which chunk 0 needs none; ``m`` long for CSR) stay within
    ``X.nbytes / PARTIALS_FRACTION``.  A function of the matrix only.
    """
    n, m = X.shape
    budget = X.nbytes // PARTIALS_FRACTION
    if X.format == "csc":
        by_memory = 1 + budget // (8 * n)
    else:
        by_memory = max(1, budget // (8 * m))
    return int(max(1, min(MAX_CHUNKS, X.nnz // MIN_CHUNK_NNZ, by_memory)))


def split_parts(X, threads):
    """Ranges of features for :func:`value_and_grad_csc_split` on X, or 0: not for X.

    A CSC X with one chunk (no room for a partial gradient) and sorted
    indices (checked last: scipy checks them once per matrix and remembers),
    cut into one range per thread, as many as the budget of
    :func:`n_chunks_for` holds: ``n_parts + 1`` rows of ``m`` (two of stored
    terms, the others cut positions).  At least two, or it would not pay.
    """
    n, m = X.shape
    if X.format != "csc" or n_chunks_for(X) != 1:
        return 0
    n_parts = min(MAX_CHUNKS, threads, X.nbytes // PARTIALS_FRACTION // (8 * m) - 1)
    return n_parts if n_parts >= 2 and X.sorted_indices else 0


def split_workspace(X, n_parts):
    """:func:`value_and_grad_csc_split`'s scratch (terms, cut positions, slices' bad counts)."""
    m = X.shape[1]
    return (np.empty((2, m)), np.empty((n_parts - 1, m), dtype=np.int64),
            np.empty(max(1, min(MAX_CHUNKS, m // EXAMPLE_SLICE)), dtype=np.int64))


def workspace(X, want_grad=True):
    """The fused kernels' scratch, allocated here (so that tracemalloc sees it).

    Returns
    -------
    part : ndarray of float64
        CSC: ``(n_chunks - 1, n_x)`` partial gradients (no rows without
        ``want_grad``); CSR: ``(n_chunks, m)`` partial logits.
    sums : ndarray of float64
        CSC: ``(n_chunks, 3)``; CSR: ``(n_slices, 3)`` per slice of examples.
    block_nnz : int
        CSC only: the stored entries of a block of examples whose values and
        indices fill :attr:`~fastlogreg._tiling.Tiling.sparse_block_bytes`.
    """
    n, m = X.shape
    k = n_chunks_for(X)
    if X.format == "csc":
        entry_bytes = X.dtype.itemsize + X.indices.dtype.itemsize
        return (np.empty((k - 1 if want_grad else 0, n)), np.empty((k, 3)),
                max(1, current_tiling().sparse_block_bytes // entry_bytes))
    return np.empty((k, m)), np.empty((max(1, min(MAX_CHUNKS, m // EXAMPLE_SLICE)), 3))


# ----------------------------------------------------------------- backends


_FUSED = {"csc": (forward_csc, value_and_grad_csc), "csr": (forward_csr, value_and_grad_csr)}


class SparseLoopKernels:
    """The fused CSR/CSC kernels compiled with one ``parallel`` setting.

    Parameters
    ----------
    parallel : bool
        False for the ``loop`` backend, True for ``parallel``.
    serial : SparseLoopKernels, optional
        With ``parallel``, the serial build used below :data:`PARALLEL_MIN_NNZ`
        stored entries (the same chunks, so the same bits).
    """

    def __init__(self, parallel, serial=None):
        self.parallel = parallel
        self._serial = serial
        name = "parallel" if parallel else "loop"
        self._descend = {}
        for fmt, (forward, value_and_grad) in _FUSED.items():
            setattr(self, "forward_" + fmt, jit(forward, parallel=parallel))
            kernel = jit(value_and_grad, parallel=parallel)
            setattr(self, "value_and_grad_" + fmt, kernel)
            if parallel:
                # As in BlockedKernels: the kernel is inlined (Numba IR) into a
                # parallel training loop, so that its prange loops are the
                # loop's own and the whole is cached (numba#8578).
                kernel = jit(value_and_grad, suffix=f"_{fmt}_inline", inline="always")
            self._descend[fmt] = bind_descent(kernel, f"{name}_sparse_{fmt}", compiled=True,
                                              parallel=parallel)
        if parallel:
            # The split CSC pass has one compiled body, inlined into its own
            # training loop; a public call is that loop's ``n_steps=-1`` call
            # (as in BlockedKernels: compiled once, when first needed).
            split = jit(value_and_grad_csc_split, suffix="_inline", inline="always")
            self._descend["csc_split"] = bind_descent(split, "parallel_sparse_csc_split",
                                                      compiled=True, parallel=True)
            self.value_and_grad_csc_split = _evaluate_with(self._descend["csc_split"])

    def _for(self, X):
        """The build to run on X: the serial one when X has too few nonzeros to share."""
        if self._serial is not None and X.nnz < PARALLEL_MIN_NNZ:
            return self._serial
        return self

    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        kernels = self._for(X)
        if X.format == "csc":
            return kernels.forward_csc(w, b, X.kernel_args(), out)
        return kernels.forward_csr(w, b, X.kernel_args(), out, workspace(X)[0])

    def _plan(self, X, want_grad=True):
        """The build, the kernel (``"csc"``, ``"csr"`` or ``"csc_split"``) and its scratch for X."""
        build = self._for(X)
        n_parts = split_parts(X, numba.get_num_threads()) if build.parallel else 0
        if n_parts:
            return build, "csc_split", split_workspace(X, n_parts)
        return build, X.format, workspace(X, want_grad)

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum and non-finite count; gradient sum to ``dw_out``."""
        build, kernel, work = self._plan(X, want_grad)
        return getattr(build, "value_and_grad_" + kernel)(
            w, b, X.kernel_args(), y, sw, want_cost, want_grad, dw_out, work)

    def prepare_descent(self, X):
        """The compiled descent for X, X's kernel arguments, the workspace."""
        build, kernel, work = self._plan(X)
        return build._descend[kernel], X.kernel_args(), work


def forward_vectorized(w, b, X, out, z):
    """``out = sigmoid(w^T X + b)``: the sparse product ``X^T w``, then the sigmoid ufunc."""
    data, indices, indptr, n, m = X
    _logits_major(data, indices, indptr, in_dtype_of(w, data), z)
    sigmoid_ufunc(z, b, out)
    return 0 if _logits_finite(z) else 1


def value_and_grad_vectorized(w, b, X, y, sw, want_cost, want_grad, dw_out, work):
    """The course's two passes: ``z = X^T w``, the loss and residual ufuncs, ``dw = X t``.

    ``work`` is ``(z, t, r)`` from :func:`fastlogreg.backends.vectorized.workspace`
    (float64 here; ``r`` is unused).  Returns the loss sum, residual sum and
    1 if some logit is not finite.
    """
    z, t, r = work
    data, indices, indptr, n, m = X
    _logits_major(data, indices, indptr, in_dtype_of(w, data), z)
    loss, db = _terms_into(z, b, y, sw, want_cost, t)
    if want_grad:
        _gradient_major(data, indices, indptr, t, dw_out)
    return loss, db, 0 if _logits_finite(z) else 1


_logits_major = _gradient_major = None  # bound per format
#: CSC: a logit is a gather-dot per column, the gradient scatters every column;
#: CSR: the logits scatter every row, a gradient entry is a gather-dot per row.
_MAJORS = {"csc": {"_logits_major": major_dots, "_gradient_major": major_scatter},
           "csr": {"_logits_major": major_scatter, "_gradient_major": major_dots}}


class SparseVectorizedKernels:
    """``vectorized`` for sparse X: a sparse matrix-vector product, ufuncs, its transpose.

    The elementwise stage is the dense backend's (``_terms_into`` and the
    ufuncs); logits and residuals are float64.
    """

    parallel = False

    def __init__(self):
        self._forward = {fmt: jit(forward_vectorized, suffix="_" + fmt, bind=majors)
                         for fmt, majors in _MAJORS.items()}
        self._value_and_grad = {
            fmt: jit(value_and_grad_vectorized, suffix="_" + fmt, bind=majors)
            for fmt, majors in _MAJORS.items()}
        self._descend = {fmt: bind_descent(kernel, "vectorized_sparse_" + fmt, compiled=True)
                         for fmt, kernel in self._value_and_grad.items()}

    @staticmethod
    def _workspace(X):
        return vectorized.workspace(X.shape[1], np.empty(0))

    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        return self._forward[X.format](w, b, X.kernel_args(), out, np.empty(X.shape[1]))

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum and non-finite count; gradient sum to ``dw_out``."""
        return self._value_and_grad[X.format](w, b, X.kernel_args(), y, sw, want_cost,
                                              want_grad, dw_out, self._workspace(X))

    def prepare_descent(self, X):
        """The compiled descent for X's format, X's kernel arguments, the workspace."""
        return self._descend[X.format], X.kernel_args(), self._workspace(X)


class SparseNumpyKernels(NumpyKernels):
    """The ``numpy`` reference for sparse X: the course's formulas with scipy's ``@``."""

    @staticmethod
    def _logits(w, X):
        """``w^T X`` as ``(1, m)``: ``X.T @ w`` in X's dtype (scipy)."""
        return (X.matrix.T @ w.astype(X.dtype)).reshape(1, -1)

    @staticmethod
    def _gradient(X, dZ):
        """``X dZ^T`` as a flat ``(n,)`` array (scipy)."""
        return np.asarray(X.matrix @ dZ.ravel()).ravel()


class SparsePythonKernels:
    """Plain-Python loops over the stored nonzeros, per format."""

    parallel = False

    def prepare_descent(self, X):
        """The course's training loop in plain Python over these kernels."""
        return bind_descent(self.value_and_grad, "python_sparse", compiled=False), X, ()

    @staticmethod
    def _logits(w, b, X):
        """``[w^T x_i + b for every example i]`` as Python floats."""
        data, indices, indptr = X.data, X.indices, X.indptr
        n, m = X.shape
        if X.format == "csc":
            z = []
            for i in range(m):
                zi = b
                for k in range(indptr[i], indptr[i + 1]):
                    zi += float(w[indices[k]]) * float(data[k])
                z.append(zi)
            return z
        z = [b] * m
        for j in range(n):
            for k in range(indptr[j], indptr[j + 1]):
                z[indices[k]] += float(w[j]) * float(data[k])
        return z

    def forward(self, w, b, X, out):
        """Write ``sigmoid(w^T X + b)`` to ``out``; return the non-finite count."""
        bad = 0
        for i, z in enumerate(self._logits(w, b, X)):
            bad += not math.isfinite(z)
            out[i] = _sigmoid(z) if not math.isnan(z) else math.nan
        return bad

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum, non-finite count; gradient sum to ``dw_out``."""
        n, m = X.shape
        data, indices, indptr = X.data, X.indices, X.indptr
        cost = 0.0
        db = 0.0
        bad = 0
        dz = [0.0] * m
        for i, z in enumerate(self._logits(w, b, X)):
            if not math.isfinite(z):
                bad += 1
                continue
            s = float(sw[i]) if len(sw) else 1.0
            yi = float(y[i])
            dz[i] = (_sigmoid(z) - yi) * s
            if want_cost:
                cost += s * ((max(z, 0.0) - yi * z) + math.log1p(math.exp(-abs(z))))
            db += dz[i]
        dw = [0.0] * n
        if want_grad:
            for p in range(indptr.shape[0] - 1):
                for k in range(indptr[p], indptr[p + 1]):
                    j, i = (int(indices[k]), p) if X.format == "csc" else (p, int(indices[k]))
                    dw[j] += float(data[k]) * dz[i]
        dw_out[:] = dw
        return cost, db, bad
