"""Where a sparse CSR ``propagate`` spends its time, pass by pass, and what bounds it.

The fused CSR kernel (``fastlogreg.backends.sparse.value_and_grad_csr``)
makes two passes over the nonzeros: a scatter of ``w_j x_j`` into partial
logits (one float64 row of ``m`` per chunk of feature rows), then, after the
residuals, a gather-dot of each feature row with the residuals.  This script
times the library's own pass functions (``_csr_partial_logits``, and
:func:`~fastlogreg.backends.sparse.dot_rows` on the kernel's parts) on the
data of ``tools/bench_sparse.py``, best of ``--rounds``, in one process:

1. each pass on one thread and on all of Numba's threads: a speed-up near the
   thread count says the pass is bound by each core's own work (the latency
   of its random accesses to the ``m``-long vector), not by the memory bus
   the cores share;
2. float32 data with the arithmetic the library uses (float64 partial logits
   and residuals), and, for comparison only, with float32 residuals and
   float32 partial logits, each with the largest relative error of the
   logits against scipy's float64 ``X.T @ w``: what the float32 target of
   issue 12 (float32 ``propagate`` at most 0.7x the float64 one) would need.

Usage::

    python tools/sparse_passes.py [--full] [--rounds 7]
"""

import argparse
import time

import numba
import numpy as np
from numba import njit, prange

import fastlogreg as flr
from fastlogreg._tiling import MAX_CHUNKS
from fastlogreg.backends.sparse import _csr_partial_logits, dot_rows, major_split
from fastlogreg.datasets import make_sparse_classification

#: Parts of the gradient pass, as ``value_and_grad_csr`` cuts a million feature rows.
GRADIENT_PARTS = MAX_CHUNKS


@njit(parallel=True)
def logits_pass(w, data, indices, indptr, part):
    """The kernel's first pass itself: chunk ``c`` scatters its feature rows into ``part[c]``."""
    _csr_partial_logits(w, data, indices, indptr, part)


@njit(parallel=True)
def gradient_pass(data, indices, indptr, r, out):
    """The kernel's second pass: ``out[j] = x_j . r``, feature rows split in parts."""
    for p in prange(GRADIENT_PARTS):
        dot_rows(data, indices, indptr, major_split(indptr, p, GRADIENT_PARTS),
                 major_split(indptr, p + 1, GRADIENT_PARTS), r, out)


def _best_ms(call, rounds):
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main(argv=None):
    """Time the passes and print them; return 0 (a report, not a test)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="the issue's 200000 examples x 1000000 features")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    m, n = (200_000, 1_000_000) if args.full else (20_000, 100_000)
    X, Y = make_sparse_classification(m, n, draws=100, seed=0, format="csr")
    w = np.random.default_rng(1).standard_normal(n) * 0.1
    residuals = np.random.default_rng(2).uniform(-1.0, 1.0, m)
    n_chunks = 2     # the kernel's chunks of feature rows on this data
    threads = numba.get_num_threads()
    print(f"data: {n} features x {m} examples (CSR, one row per feature), {X.nnz} nonzeros; "
          f"Numba threads: {threads}; best of {args.rounds}")

    def passes(M, part, r):
        out = np.empty(n)
        return (lambda: logits_pass(w, M.data, M.indices, M.indptr, part),
                lambda: gradient_pass(M.data, M.indices, M.indptr, r, out))

    float64_passes = passes(X, np.empty((n_chunks, m)), residuals)
    for call in float64_passes:
        call()                                      # compile

    print("\n1. float64 passes, one thread and all threads")
    names = ("partial-logit scatter", "gradient gather")
    for name, call in zip(names, float64_passes, strict=True):
        numba.set_num_threads(1)
        one = _best_ms(call, args.rounds)
        numba.set_num_threads(threads)
        many = _best_ms(call, args.rounds)
        print(f"  {name:>21}: 1 thread {one:6.1f} ms | {threads} threads {many:6.1f} ms "
              f"-> speed-up {one / many:.2f}")
    wc = w.reshape(-1, 1)
    flr.propagate(wc, 0.1, X, Y)
    whole = _best_ms(lambda: flr.propagate(wc, 0.1, X, Y), args.rounds)
    print(f"  propagate parallel (both passes, residuals, validation): {whole:.1f} ms")

    print("\n2. float32 data: the passes with float64 vectors (the library) and with "
          "float32 ones (comparison only)")
    X32 = X.astype(np.float32)
    exact = X.T @ w
    variants = [("float64 data, float64 vectors", X, np.float64),
                ("float32 data, float64 vectors", X32, np.float64),
                ("float32 data, float32 residuals", X32, "residuals"),
                ("float32 data, float32 vectors", X32, np.float32)]
    total32 = None
    for label, M, kind in variants:
        part_dtype = np.float32 if kind is np.float32 else np.float64
        r_dtype = np.float64 if kind is np.float64 else np.float32
        part = np.empty((n_chunks, m), dtype=part_dtype)
        scatter, gather = passes(M, part, residuals.astype(r_dtype))
        scatter()
        gather()
        error = np.abs(part.sum(axis=0, dtype=np.float64) - exact).max() / np.abs(exact).max()
        t_scatter, t_gather = _best_ms(scatter, args.rounds), _best_ms(gather, args.rounds)
        total = t_scatter + t_gather
        if kind is np.float32:
            total32 = total
        print(f"  {label:>31}: scatter {t_scatter:5.1f} + gather {t_gather:5.1f} = "
              f"{total:5.1f} ms; logits' max relative error {error:.1e}")
    flr.propagate(wc, 0.1, X32, Y)
    whole32 = _best_ms(lambda: flr.propagate(wc, 0.1, X32, Y), args.rounds)
    print(f"  propagate parallel on float32 data (the library): {whole32:.1f} ms = "
          f"{whole32 / whole:.2f}x float64")
    print(f"  0.7 x float64 propagate = {0.7 * whole:.1f} ms, against {total32:.1f} ms for "
          f"the two all-float32 passes alone (before residuals and validation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
