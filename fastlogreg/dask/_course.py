"""The course's ``propagate`` and ``optimize`` for a dask X chunked along the examples."""

import dask.array as da
import numpy as np

from .. import _validation as v
from ..backends import DEFAULT_BACKEND, get_backend
from ..training import check_learning_rate, check_num_iterations, run_optimize
from . import _inputs as inp
from ._chunks import (
    PERSIST_FRACTION,
    ChunkedX,
    ChunkKernels,
    ChunkStore,
    current_client,
    memory_budget,
    offsets_of,
    warm_kernels,
)


def _setup(w, b, X, Y, backend, client, persist, evaluations):
    """Validate, chunk and (when it pays) persist: the pieces both functions need."""
    get_backend(backend)  # ValueError for an unknown name
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask array of shape (n_x, m); got {type(X).__name__} "
                        "(use fastlogreg.propagate/optimize for NumPy)")
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (n_x, m), one example per column; "
                         f"got a {X.ndim}-D array of shape {X.shape}")
    dtype = inp.real_dtype("X", X.dtype)
    if X.numblocks[0] > 1:  # each task needs whole examples
        X = X.rechunk({0: -1})
    X = X if X.dtype == dtype else X.astype(dtype)
    if not inp.known(X.chunks[1]):
        X = X.compute_chunk_sizes()
    n_x, m = X.shape
    if n_x == 0 or m == 0:
        raise ValueError(f"X must have at least one feature and one example; got shape "
                         f"{X.shape}")
    w_flat, out_dtype, w_shape = v.check_w(w, X)
    b = v.check_b(b)
    if isinstance(Y, da.Array):
        if Y.shape not in ((1, m), (m,)):
            raise ValueError(f"Y must have shape (1, {m}) or ({m},) to match X of shape "
                             f"{X.shape}; got shape {Y.shape}")
        Y = Y.reshape(m) if Y.ndim == 2 else Y
        y = inp.as_vector_like(Y, X.chunks[1], "Y", m)
    else:
        Y = np.asarray(Y)
        if Y.shape not in ((1, m), (m,)):
            raise ValueError(f"Y must have shape (1, {m}) or ({m},) to match X of shape "
                             f"{X.shape}; got shape {Y.shape}")
        y = inp.as_vector_like(Y.reshape(m), X.chunks[1], "Y", m)
    client = current_client(inp.check_client(client))
    persist = inp.check_persist(persist)
    if persist is None:
        persist = evaluations > 1 and X.nbytes <= PERSIST_FRACTION * memory_budget(client)
    store = ChunkStore(client, persist)
    offsets = offsets_of(X.chunks[1])
    targets = store.keep(store.map(inp.binary_chunk, [store.blocks(y)], dtype, offsets))
    store.run_everywhere(warm_kernels, backend, dtype, n_x, False, max(X.chunks[1]))
    data = ChunkedX(store, store.blocks(X), (n_x, m), dtype, offsets)
    store.host([data.chunks, targets], X.chunks[1])
    return ChunkKernels(backend, transpose=False), data, targets, w_flat, out_dtype, \
        w_shape, b


def propagate(w, b, X, Y, *, backend=DEFAULT_BACKEND, client=None, persist=None):
    """Cost and gradients of the course on a dask ``X`` (one pass over the chunks).

    Parameters
    ----------
    w : array_like, shape (n_x, 1) or (n_x,)
    b : float
    X : dask array, shape (n_x, m)
        Chunked along the examples (chunks along the features are merged).
    Y : dask or NumPy array, shape (1, m) or (m,)
        Labels 0 or 1.
    backend : str, default "parallel"
        The kernel run in each task.
    client : distributed.Client, optional
        Default: the current client, else Dask's local scheduler.
    persist : bool, optional
        Keep the chunks in memory (pointless for one pass: default False).

    Returns
    -------
    grads : dict
        ``{"dw": dw, "db": db}``, ``dw`` shaped like ``w``.
    cost : float
        Equal to :func:`fastlogreg.propagate` on the computed X to rounding.
    """
    kernels, data, targets, w_flat, dtype, w_shape, b = _setup(
        w, b, X, Y, backend, client, persist, evaluations=1)
    dw = np.empty(data.shape[0])
    try:
        loss, db, n_bad = kernels.value_and_grad(w_flat, b, data, targets, np.empty(0), True,
                                                 True, dw)
    finally:
        data.store.close()
    if n_bad:
        raise FloatingPointError(f"w^T X + b overflowed for {n_bad} example(s): "
                                 "inputs are finite but too large")
    m = data.shape[1]
    cost = loss / m
    dw /= m
    return {"dw": dw.astype(dtype, copy=False).reshape(w_shape), "db": float(db / m)}, \
        float(cost)


def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False, *,
             backend=DEFAULT_BACKEND, callback=None, progress=False, client=None,
             persist=None):
    """The course's batch gradient descent on a dask ``X``: one pass per iteration.

    The loop of :func:`fastlogreg.optimize` (the same code), each iteration's
    propagate running as one task per chunk.  Parameters and returns as for
    :func:`fastlogreg.optimize`, plus ``client`` and ``persist`` (as for
    :func:`propagate`; by default the chunks are persisted when they fit in
    half the workers' memory).

    Returns
    -------
    params, grads, costs
        As :func:`fastlogreg.optimize`; equal to its results to rounding.
    """
    num_iterations = check_num_iterations(num_iterations)
    learning_rate = check_learning_rate(learning_rate)
    kernels, data, targets, w_flat, dtype, w_shape, b = _setup(
        w, b, X, Y, backend, client, persist, evaluations=max(num_iterations, 1))
    try:
        return run_optimize(kernels, data, targets, w_flat, b, dtype, w_shape, num_iterations,
                            learning_rate, print_cost, callback, progress)
    finally:
        data.store.close()
