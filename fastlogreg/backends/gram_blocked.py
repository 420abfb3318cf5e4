"""Gram-space descent for ``loop`` and ``parallel``: written once, compiled twice.

As in :mod:`fastlogreg.backends.blocked`, the bodies use ``numba.prange``: a
plain ``range`` in the ``loop`` build, Numba's threads in the ``parallel``
one.  Every output element is computed by one thread in a fixed order, and
nothing is reduced across threads, so both builds give the same bits for any
thread count (BLAS does not: its ``X^T X`` changed in the last bits between
one and two OpenBLAS threads here, which is why these backends compute K
themselves).

* :func:`gram_blocked`: ``K = X^T X`` in float64.  Strips of features are
  copied, transposed and converted to float64, into a small buffer that stays
  in cache (any layout of X, float32 or float64); the lower triangle of K is
  then computed from it four rows by two columns at a time (eight dot
  products share their loads), tiles of rows split among threads (each packs
  its own strips).
* :func:`matmul_blocked`: ``X @ C`` for a few columns C (``z0 = X^T w0`` and,
  at the end, ``w`` and ``dw``), each output row by one thread.
* :func:`gram_terms_rows`: one iteration, ``K a`` row by row, then the
  per-example terms of :func:`fastlogreg.backends.blocked._block_terms`.
"""

import numba
import numpy as np
from numba import prange

from .._gram_descent import bind_gram_descent
from .._jit import jit
from .._tiling import current_tiling, part_bounds
from .blocked import _block_terms

#: Rows of K per tile, and columns per step within a tile.
_TILE_ROWS = 4
#: The parallel build runs only from this many elements of K (m >= 362): below,
#: starting the threads at every iteration costs more than the product.
PARALLEL_MIN_GRAM_ELEMENTS = 1 << 17
#: ``K`` and the products ``X @ C`` (each computed once or twice per training
#: run) use the parallel build only from this many multiply-adds (``n m^2 / 2``
#: for K: about 70 ms serially on one core here; ``p q k`` for a product).
#: Below, threads save less than the parallel build costs a process: its
#: compilation (2.5-3 s each, once) or its load from Numba's cache (tens of ms,
#: every process; numba#8085).  At the course's shape (12288 x 209) K takes
#: 17 ms and the final ``X @ [a, g]`` 3 ms serially.  Same bits either way.
PARALLEL_MIN_GRAM_WORK = 1 << 30
PARALLEL_MIN_MATMUL_WORK = 1 << 25


def strip_length(m, target_bytes):
    """Features per strip: the float64 buffer ``(m, strip)`` near ``target_bytes``.

    A multiple of 16 between 16 and 1024; ``target_bytes`` is half of this
    CPU's L2 (:attr:`fastlogreg._tiling.Tiling.gram_strip_bytes`).
    """
    return max(16, min(1024, (target_bytes // (8 * m)) // 16 * 16))


@jit
def _pack_strip(X, j0, j1, P):
    """``P[i, :j1-j0] = X[j0:j1, i]`` in float64, walking X in its contiguous direction."""
    m = X.shape[1]
    if abs(X.strides[0]) < abs(X.strides[1]):     # features contiguous (F order)
        for i in range(m):
            src = X[j0:j1, i]
            dst = P[i]
            for jj in range(j1 - j0):
                dst[jj] = src[jj]
    else:
        for jj in range(j1 - j0):
            src = X[j0 + jj]
            for i in range(m):
                P[i, jj] = src[i]


@jit
def _tile_row(P, L, t, K):
    """``K[i, k] += P[i, :L] . P[k, :L]`` for the rows ``i`` of tile ``t``, every ``k <= i``.

    Four rows by two columns at a time: eight dot products share the loads of
    six strips (eight accumulators and six loads fit the 16 vector registers
    of AVX2; four by four spilled).
    """
    m = P.shape[0]
    i0 = t * _TILE_ROWS
    ni = min(_TILE_ROWS, m - i0)
    k_end = i0 + ni      # the diagonal tile is computed whole, its upper part mirrored later
    if ni == _TILE_ROWS:
        p0, p1, p2, p3 = P[i0, :L], P[i0 + 1, :L], P[i0 + 2, :L], P[i0 + 3, :L]
        k = 0
        while k + 2 <= k_end:
            q0, q1 = P[k, :L], P[k + 1, :L]
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = 0.0
            for j in range(L):
                a, b = q0[j], q1[j]
                s00 += p0[j] * a
                s01 += p0[j] * b
                s10 += p1[j] * a
                s11 += p1[j] * b
                s20 += p2[j] * a
                s21 += p2[j] * b
                s30 += p3[j] * a
                s31 += p3[j] * b
            K[i0, k] += s00
            K[i0, k + 1] += s01
            K[i0 + 1, k] += s10
            K[i0 + 1, k + 1] += s11
            K[i0 + 2, k] += s20
            K[i0 + 2, k + 1] += s21
            K[i0 + 3, k] += s30
            K[i0 + 3, k + 1] += s31
            k += 2
        k_start = k
    else:
        k_start = 0
    # The rows of a partial last tile (a full tile ends on an even column).
    for i in range(i0, i0 + ni):
        pi = P[i, :L]
        for k in range(k_start, k_end):
            pk = P[k, :L]
            s = 0.0
            for j in range(L):
                s += pi[j] * pk[j]
            K[i, k] += s


def gram_blocked(X, K, n_chunks, strip):
    """``K += X^T X`` in float64, strip by strip of features; see module notes.

    Parameters
    ----------
    X : ndarray of float32 or float64, shape (n, m), any layout
    K : ndarray of float64, shape (m, m)
        Zeros on entry; receives the Gram matrix.
    n_chunks : int
        Parts the rows of K are split into (the thread count; 1 serially).
    strip : int
        Features per strip (:func:`strip_length`).

    Notes
    -----
    One parallel region: each chunk owns some tiles of rows of K, packs every
    strip into its own buffer and adds the strip's products to its rows.  A
    region per strip made 48 barriers per call, and on a loaded machine each
    waited for a descheduled thread (3x slower than serial at load 5 on 2
    cores).  Each element of K is the sum over strips, in strip order, of one
    dot product: the chunking changes which thread computes it, not its bits.
    """
    n, m = X.shape
    n_tiles = (m + _TILE_ROWS - 1) // _TILE_ROWS
    # Tile t has t + 1 tiles of work: pairs (t, n_tiles - 1 - t) have equal work.
    n_pairs = (n_tiles + 1) // 2
    for c in prange(n_chunks):
        p0, p1 = part_bounds(c, n_chunks, 0, n_pairs)
        P = np.empty((m, strip))
        for j0 in range(0, n, strip):
            L = min(strip, n - j0)
            _pack_strip(X, j0, j0 + L, P)
            for p in range(p0, p1):
                _tile_row(P, L, p, K)
                if n_tiles - 1 - p != p:
                    _tile_row(P, L, n_tiles - 1 - p, K)
    for i in range(m):
        for k in range(i + 1, m):
            K[i, k] = K[k, i]


def matmul_blocked(X, Ct, out):
    """``out = (X @ Ct.T).T`` in float64: a few products of X with m-vectors.

    Parameters
    ----------
    X : ndarray of float32 or float64, shape (p, q), any layout
    Ct : ndarray of float64, shape (k, q)
        The vectors, one per row.
    out : ndarray of float64, shape (k, p)

    Notes
    -----
    Rows of the output are split in chunks among threads; with X's rows
    contiguous each output is a dot product over a row, else the chunk is
    accumulated column by column (``out[:, r0:r1] += Ct[:, j] X[r0:r1, j]``).
    Either way one thread computes each output, in a fixed order.
    """
    p, q = X.shape
    k = Ct.shape[0]
    n_chunks = max(1, min(64, p // 256))
    rows_contiguous = abs(X.strides[1]) <= abs(X.strides[0])
    for c in prange(n_chunks):
        r0, r1 = part_bounds(c, n_chunks, 0, p)
        if rows_contiguous:
            for r in range(r0, r1):
                x = X[r]
                for h in range(k):
                    v = Ct[h]
                    s = 0.0
                    for j in range(q):
                        s += x[j] * v[j]
                    out[h, r] = s
        else:
            for h in range(k):
                out[h, r0:r1] = 0.0
            for j in range(q):
                x = X[r0:r1, j]
                for h in range(k):
                    o = out[h, r0:r1]
                    v = Ct[h, j]
                    for r in range(r1 - r0):
                        o[r] += v * x[r]


def gram_terms_rows(K, a, c, z0, b, y, sw, want_cost, r_out, kz_out, work):
    """One Gram iteration: ``kz = K a`` row by row, logits, then the per-example terms.

    Parameters
    ----------
    K, a, c, z0, b, y, sw, want_cost, r_out, kz_out
        See :func:`fastlogreg._gram_descent.gram_terms`.
    work : tuple
        ``(z,)``: workspace for the logits, float64 ``(m,)``.

    Returns
    -------
    loss_sum, db_sum : float
    n_bad : int
    """
    z = work[0]
    m = K.shape[0]
    for i in prange(m):
        row = K[i]
        s = 0.0
        for k in range(m):
            s += row[k] * a[k]
        kz_out[i] = s
        z[i] = c * z0[i] + s + b
    return _block_terms(z, y, sw, r_out, want_cost)


class BlockedGram:
    """The kernels above with one ``parallel`` setting, behind the Gram interface.

    Parameters
    ----------
    parallel : bool
    serial : BlockedGram, optional
        With ``parallel``, the serial build used for the iterations when K
        has fewer than :data:`PARALLEL_MIN_GRAM_ELEMENTS` elements, and for
        K and the products below :data:`PARALLEL_MIN_GRAM_WORK` and
        :data:`PARALLEL_MIN_MATMUL_WORK` (same arithmetic, so the same bits).
    """

    def __init__(self, parallel, serial=None):
        self.parallel = parallel
        self._serial = serial
        self._gram = jit(gram_blocked, parallel=parallel)
        self._matmul = jit(matmul_blocked, parallel=parallel)
        # Parallel: the kernel is inlined into a parallel training loop, which
        # is cached (a cached caller of a parallel function would crash when
        # loaded, numba#8578; see BlockedKernels).
        terms = jit(gram_terms_rows, suffix="_inline" if parallel else "",
                    inline="always" if parallel else "never")
        self._descend = bind_gram_descent(terms, "parallel" if parallel else "loop",
                                          compiled=True, parallel=parallel)

    def gram(self, X):
        """``X^T X`` in float64, ``(m, m)``."""
        n, m = X.shape
        if self._serial is not None and n * m * m // 2 < PARALLEL_MIN_GRAM_WORK:
            return self._serial.gram(X)
        K = np.zeros((m, m))
        n_pairs = ((m + _TILE_ROWS - 1) // _TILE_ROWS + 1) // 2
        strip = strip_length(m, current_tiling().gram_strip_bytes)
        self._gram(X, K, min(n_pairs, numba.get_num_threads()) if self.parallel else 1, strip)
        return K

    def matmul(self, X, C):
        """``X @ C`` in float64, ``(p, k)`` for X ``(p, q)`` and C ``(q, k)``."""
        if self._serial is not None and X.size * C.shape[1] < PARALLEL_MIN_MATMUL_WORK:
            return self._serial.matmul(X, C)
        out = np.empty((C.shape[1], X.shape[0]))
        self._matmul(X, np.ascontiguousarray(C.T), out)
        return out.T

    def prepare(self, X):
        """The compiled training loop (serial for small m) and its workspace."""
        m = X.shape[1]
        if self._serial is not None and m * m < PARALLEL_MIN_GRAM_ELEMENTS:
            return self._serial.prepare(X)
        return self._descend, (np.empty(m),)
