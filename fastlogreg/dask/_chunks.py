"""Where the chunks live and how their partial sums come back.

The Dask drivers (the estimator and the course API) see the data as a list of
chunks and the fused kernel as :class:`ChunkKernels`, which has the backend
interface of :mod:`fastlogreg.backends` (``value_and_grad``,
``prepare_descent``): the objective code of :mod:`fastlogreg._objective` and
the descent loop of :mod:`fastlogreg._descent` run unchanged on top of it.

One evaluation is one task per chunk running the backend's
``value_and_grad`` kernel on that chunk; each returns ``(loss, db, n_bad,
dw)`` (O(n_features) bytes) and the client adds them in chunk order, so the
result depends only on the chunks, not on which worker ran what: the same
bits for one worker, two, or Dask's local scheduler.

:class:`ChunkStore` holds per-chunk handles in one of three modes:

``futures``
    A distributed client and persisted chunks: handles are futures of chunks
    kept in the workers' memory.  An evaluation is one direct call per worker
    to a :class:`ChunkHost` actor living there, which runs the kernel on each
    of the worker's chunks (:meth:`ChunkStore.run`): one network round trip,
    bypassing the scheduler.  A scheduled task per chunk (``client.map``) costs
    about 20 ms per evaluation in scheduler bookkeeping and batched messages,
    as much as the kernels on a million rows, and the actor call about 3 ms
    (measured with ``tools/bench_dask.py``).  When a call fails (a worker
    died), that evaluation and the rest of the fit run as one task per chunk:
    the scheduler recomputes a lost worker's chunks from the source graph, and
    the results, added in chunk order either way, keep the same bits.
``local``
    No distributed client, persisted: the chunks are NumPy arrays in this
    process (read by Dask's local scheduler); an evaluation calls the kernel
    on each of them from a pool of this process's threads, as a ChunkHost
    does on a worker (``dask.compute`` of one task per chunk cost 10-15 ms
    per evaluation).
``graph``
    Not persisted (out-of-core): handles are the source's ``Delayed`` chunks;
    each evaluation reads every chunk from the source again (one small graph
    per evaluation), so only a few chunks are in memory at any time.
"""

import contextvars
import logging
import math
from concurrent.futures import ThreadPoolExecutor

import dask
import numba
import numpy as np
from dask.delayed import Delayed

from .. import _validation as v
from .._descent import bind_descent
from .._tiling import PARALLEL_MIN_ELEMENTS
from ..backends import get_backend

logger = logging.getLogger(__name__)

#: Persist by default when the data take at most this fraction of the
#: workers' total memory limit (distributed starts spilling at 60 %).
PERSIST_FRACTION = 0.5


def current_client(client):
    """``client``, else the current distributed client, else None (local scheduler)."""
    if client is not None:
        return client
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):
        return None


def memory_budget(client):
    """Bytes the chunks may take: the workers' total memory limit, or this machine's."""
    from distributed.system import MEMORY_LIMIT
    if client is None:
        return MEMORY_LIMIT
    workers = client.scheduler_info()["workers"].values()
    limits = [w.get("memory_limit") or 0 for w in workers]
    if not limits or 0 in limits:  # a worker without a limit: the host's memory
        return MEMORY_LIMIT
    return sum(limits)


class ChunkStore:
    """Per-chunk handles (futures, arrays or delayed) and the two ways to run tasks.

    Parameters
    ----------
    client : distributed.Client or None
    persist : bool
        Keep the chunks in memory (workers', or this process's without client).
    """

    def __init__(self, client, persist):
        self.client = client
        self._hosts = []  # (chunk numbers, ChunkHost actor future); None: not used
        self._held = {}  # key: future of every chunk the hosts hold
        self._actors = None  # the hosts' actor proxies, once started
        self._setup = None  # what each ChunkHost runs first (run_everywhere)
        if client is not None and persist:
            self.mode = "futures"
        elif persist:
            self.mode = "local"
        else:
            self.mode = "graph"

    def blocks(self, array, *more):
        """Handles of the chunks of a dask array chunked along axis 0 only.

        With ``more`` arrays (None passes as None): a list of handle lists,
        one per array, computed in one round trip to the scheduler.
        """
        arrays = [array, *more]
        if self.mode == "futures":
            # Arrays the caller persisted on this client already have futures.
            handles = [None if a is None else persisted_futures(a, self.client)
                       for a in arrays]
            parts = [None if a is None or h is not None else list(a.to_delayed().ravel())
                     for a, h in zip(arrays, handles, strict=True)]
            futures = iter(self.client.compute([p for ps in parts if ps for p in ps]))
            handles = [h if ps is None else [next(futures) for _ in ps]
                       for h, ps in zip(handles, parts, strict=True)]
        else:
            handles = [None if a is None else self.keep(list(a.to_delayed().ravel()))
                       for a in arrays]
        return handles if more else handles[0]

    def map(self, func, chunked, *args):
        """One task per chunk: ``func(*chunk_args, index, *args)``; returns handles.

        ``chunked`` is a list of per-chunk handle lists (None entries pass None).
        """
        n = len(chunked[0])
        columns = [[None] * n if c is None else list(c) for c in chunked]
        if self.mode == "futures":
            # One message for all the chunks' tasks (a submit per chunk costs
            # a round of the event loop each: 2-4x the client-side time).
            return self.client.map(_catching, [func] * n, *columns, list(range(n)),
                                   *[[a] * n for a in args], pure=False)
        task = dask.delayed(_catching, pure=False)
        return [task(func, *[c[i] for c in columns], i, *args) for i in range(n)]

    def keep(self, handles):
        """Handles made resident where the chunks are kept: arrays in ``local`` mode.

        Futures are resident already; in ``graph`` mode they stay lazy (read
        from the source by every evaluation).
        """
        if self.mode == "local" and handles and isinstance(handles[0], Delayed):
            return [as_shipped(chunk) for chunk in dask.compute(*handles, scheduler="threads")]
        return handles

    def gather(self, handles):
        """The results of ``handles``, in chunk order (the first error is raised)."""
        if self.mode == "futures":
            try:
                results = self.client.gather(handles)
            except BaseException:
                self.client.cancel(handles)
                raise
        else:
            scheduler = self.client if self.client is not None else "threads"
            results = dask.compute(*handles, scheduler=scheduler)
        return _raise_first_failure(results)

    def host(self, chunked, sizes=None):
        """Start one :class:`ChunkHost` per worker holding these chunks (``futures`` mode).

        Chunk ``i`` of every handle list goes to a worker that holds
        ``chunked[0][i]`` (X's chunk), so only the small chunks (labels,
        weights) move, unless the workers hold unequal shares: then
        :func:`balance` gives chunks of the busiest workers to the least busy
        ones, holding chunks or not (Dask copies each such chunk there once,
        as the host starts), so that no worker runs more than its share of
        every evaluation.  From then on, :meth:`run` calls whose chunks are
        all held go through the hosts.  Other modes: nothing to do.

        Parameters
        ----------
        chunked : list of lists of futures (or None)
        sizes : list of int, optional
            The work in each chunk (its rows); default: equal.
        """
        if self.mode != "futures" or self._hosts is None:
            return
        anchors = chunked[0]
        who_has = self.client.who_has(anchors)
        if not all(who_has.get(f.key) for f in anchors):  # not all computed yet
            from distributed import wait
            with self.client.as_current():  # wait() uses the default client
                wait(anchors)
            who_has = self.client.who_has(anchors)
        if sizes is None or any(math.isnan(s) for s in sizes):  # unknown: equal
            sizes = [1] * len(anchors)
        workers = self.client.scheduler_info()["workers"]
        by_worker = balance([who_has[f.key] for f in anchors], sizes, sorted(workers))
        for address, indices in by_worker.items():
            held = {c[i].key: c[i] for c in chunked if c is not None for i in indices}
            self._held.update(held)
            # Dask resolves the futures in ``held`` to the arrays on that worker.
            future = self.client.submit(ChunkHost, held, self._setup, actor=True,
                                        workers=[address], allow_other_workers=False,
                                        pure=False)
            # The actor future is kept: releasing it would end the actor.
            self._hosts.append((indices, future))
        self._actors = None

    def close(self):
        """End the hosts now, not whenever the store is garbage collected.

        Only the actors' own keys are cancelled, never the chunks' (they may
        be the caller's persisted data).
        """
        if self._hosts:
            self.client.cancel([future for _, future in self._hosts])
        self._hosts = []
        self._held = {}
        self._actors = None

    def run(self, func, chunked, *args):
        """:meth:`map` then :meth:`gather`: the results in chunk order.

        In ``futures`` mode through the workers' :class:`ChunkHost` actors
        when they hold every chunk (one call per worker), falling back to
        one task per chunk for good once a call fails.
        """
        if self.mode == "local":  # arrays in this process: no scheduler needed
            n = len(chunked[0])
            calls = [[None if c is None else c[i] for c in chunked] + [i, *args]
                     for i in range(n)]
            return _raise_first_failure(
                _call_on_threads(func, calls, numba.config.NUMBA_NUM_THREADS))
        if self.mode == "futures" and self._hosts and all(
                f.key in self._held for c in chunked if c is not None for f in c):
            try:
                results = self._run_on_hosts(func, chunked, args)
            except Exception as error:  # a worker lost (or unreachable): the scheduler's way
                logger.info("fastlogreg.dask: a ChunkHost call failed (%r); one task per "
                            "chunk from now on", error)
                self._hosts = None
            else:
                return _raise_first_failure(results)
        return self.gather(self.map(func, chunked, *args))

    def _run_on_hosts(self, func, chunked, args):
        """One :meth:`ChunkHost.map` call per worker; the results in chunk order."""
        if self._actors is None:  # the hosts started: their proxies, once
            self._actors = [future.result() for _, future in self._hosts]
        calls = []
        for (indices, _), actor in zip(self._hosts, self._actors, strict=True):
            keys = [[None if c is None else c[i].key for c in chunked] for i in indices]
            calls.append((indices, actor.map(func, indices, keys, args)))
        results = [None] * len(chunked[0])
        for indices, call in calls:
            for i, result in zip(indices, call.result(), strict=True):
                results[i] = result
        return results

    def run_everywhere(self, func, *args):
        """``func(*args)`` where the chunk tasks run, before the first of them.

        In every worker process (``client.run``), else here.  In ``futures``
        mode each :class:`ChunkHost` runs it as it starts instead, saving a
        round trip through the scheduler (tasks after a fallback load the
        kernels as they run).
        """
        if self.mode == "futures":
            self._setup = (func, args)
        elif self.client is not None:
            self.client.run(func, *args)
        else:
            func(*args)


def persisted_futures(array, client):
    """The futures of ``array``'s chunks in chunk order, when it is persisted on ``client``.

    ``client.compute`` of the chunks of an array persisted already makes a
    round trip to the scheduler for futures of the same keys (about 10 ms a
    fit).  Returns None when any chunk is still a task of the graph (the
    array was not persisted, or operations were applied after ``persist``).
    """
    from dask.core import flatten
    from distributed import futures_of

    futures = {future.key: future for future in futures_of(array)
               if future.client is client}
    keys = list(flatten(array.__dask_keys__()))
    if not keys or not all(key in futures for key in keys):
        return None
    return [futures[key] for key in keys]


def balance(holders, sizes, workers=()):
    """Which worker runs which chunk: local chunks first, then evened out.

    Parameters
    ----------
    holders : list of sequences of str
        Per chunk, the workers holding it (``Client.who_has``).
    sizes : list of int
        Per chunk, its work (rows).
    workers : sequence of str
        Every worker that may run chunks, holding some or not.

    Returns
    -------
    dict
        Worker address: sorted chunk numbers, for every worker given a chunk.

    Notes
    -----
    Each chunk goes to its least-loaded holder.  Then, while it shortens the
    longest share, the busiest worker hands the least-loaded one the chunk
    that best halves their difference.  An evaluation lasts as long as its
    busiest worker: 5 chunks against 3 (as ``persist`` placed 8 chunks on two
    workers) made every evaluation take 5/4 of an even split, for a one-time
    copy of one chunk.  Results never depend on this: the sums are added in
    chunk order.
    """
    load = dict.fromkeys(workers, 0)
    load.update((address, 0) for chunk_holders in holders for address in chunk_holders)
    owner = []
    for chunk_holders, size in zip(holders, sizes, strict=True):
        address = min(chunk_holders, key=lambda a: (load[a], a))
        load[address] += size
        owner.append(address)
    while len(load) > 1:
        busiest = max(load, key=lambda a: (load[a], a))
        idlest = min(load, key=lambda a: (load[a], a))
        gap = load[busiest] - load[idlest]
        movable = [i for i, a in enumerate(owner) if a == busiest and 0 < sizes[i] < gap]
        if not movable:
            break
        i = min(movable, key=lambda i: (abs(gap - 2 * sizes[i]), i))
        owner[i] = idlest
        load[busiest] -= sizes[i]
        load[idlest] += sizes[i]
    by_worker = {}
    for i, address in enumerate(owner):
        by_worker.setdefault(address, []).append(i)
    return by_worker


class ChunkHost:
    """A Dask actor holding the chunks one worker keeps; runs a function on them.

    Parameters
    ----------
    chunks : dict
        Key: chunk array (Dask resolves the futures it was given to the
        arrays already in this worker's memory).
    setup : tuple or None
        ``(func, args)`` to call first (loading the kernels), or None.
    """

    def __init__(self, chunks, setup):
        from distributed import get_worker
        self.chunks = chunks
        self.threads = get_worker().state.nthreads
        if setup is not None:
            setup[0](*setup[1])

    def map(self, func, indices, keys, args):
        """``func(*chunk_args, index, *args)`` per chunk, as the task path calls it.

        ``keys[k]`` are the keys of chunk ``indices[k]``'s arguments (None:
        pass None).  Runs on the worker's threads (the actor's own thread is
        one); each thread gets a copy of the worker's context, so that the
        kernels see the worker (:func:`_task_threads`).
        """
        calls = [[None if key is None else self.chunks[key] for key in chunk_keys] + [i, *args]
                 for i, chunk_keys in zip(indices, keys, strict=True)]
        return _call_on_threads(func, calls, self.threads)


def _call_on_threads(func, calls, threads):
    """``_catching(func, *call)`` for every call, on up to ``threads`` threads, in order.

    Each thread gets a copy of the caller's context (a worker's, so that the
    kernels see it: :func:`_task_threads`).
    """
    if threads == 1 or len(calls) == 1:
        return [_catching(func, *call) for call in calls]
    with ThreadPoolExecutor(min(threads, len(calls))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, _catching, func, *call)
                   for call in calls]
        return [future.result() for future in futures]


# ------------------------------------------------------------------ chunk tasks

class _Failed:
    """A chunk task's exception, returned rather than raised (see :func:`_catching`)."""

    def __init__(self, error):
        self.error = error


def _raise_first_failure(results):
    """``results`` as a list; the error of the first failed chunk in chunk order raised."""
    for result in results:  # whichever failed first in time: the same message every run
        if isinstance(result, _Failed):
            raise result.error
    return list(results)


def _catching(func, *args):
    """``func(*args)``, its ValueError/TypeError/FloatingPointError returned as :class:`_Failed`.

    A task that raises would make the error of whichever chunk failed first in
    time reach the user; returned, the client raises the error of the first
    chunk in order: the same message on every run and any cluster.
    """
    for arg in args:  # an upstream chunk task failed: pass its error on
        if isinstance(arg, _Failed):
            return arg
    try:
        return func(*args)
    except (ValueError, TypeError, FloatingPointError) as error:
        return _Failed(error)


def as_shipped(chunk):
    """``chunk`` in the memory layout it has after a trip to a worker.

    A chunk reaches a worker through pickle, which keeps a C- or
    F-contiguous array's order and turns any other strided array (a view
    such as ``da.from_array``'s column slices) into a C-ordered copy.  The
    kernels' vectorized reductions add in an order that depends on the
    layout they were compiled for, so a chunk read in this process (local
    scheduler, threaded workers) must look the same as a shipped one for
    the sums, and the coefficients, to keep the same bits on every cluster.
    """
    if (isinstance(chunk, np.ndarray)
            and not (chunk.flags.c_contiguous or chunk.flags.f_contiguous)):
        return np.ascontiguousarray(chunk)
    return chunk


def _task_threads():
    """Numba threads for one task: the worker's threads (it runs one kernel at a time)."""
    try:
        from distributed import get_worker
        n = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        n = numba.config.NUMBA_NUM_THREADS
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def run_kernel(backend, w, b, XT, y, sw, want_cost, want_grad, dw):
    """The backend's ``value_and_grad`` on one chunk, never oversubscribed.

    ``parallel`` runs under the registry's process-wide lock (Numba's
    workqueue layer aborts when two threads enter parallel code at once) with
    as many Numba threads as the worker has threads: one task at a time uses
    the worker's share of the cores.  The other backends are serial and run
    concurrently on the worker's threads (Numba releases the GIL).
    ``set_num_threads`` is thread-local and restored afterwards.
    """
    kernels = get_backend(backend)
    if backend != "parallel":
        return kernels.value_and_grad(w, b, XT, y, sw, want_cost, want_grad, dw)
    previous = numba.get_num_threads()
    numba.set_num_threads(_task_threads())
    try:
        return kernels.value_and_grad(w, b, XT, y, sw, want_cost, want_grad, dw)
    finally:
        numba.set_num_threads(previous)


def _chunk_error(what, index, offsets, i):
    """``what`` located at row ``i`` of chunk ``index`` (global row when offsets are known)."""
    if offsets is not None:
        return f"{what}[{offsets[index] + i}] (row {i} of chunk {index})"
    return f"{what} row {i} of chunk {index}"


def value_and_grad_chunk(X, y, sw, index, w, b, want_cost, want_grad, backend, transpose,
                         offsets, positive):
    """Kernel sums of one chunk: ``(loss_sum, db_sum, n_bad, dw_sum or None)``.

    Parameters
    ----------
    X : ndarray
        The chunk: ``(rows, n_features)`` with ``transpose`` (the estimator),
        else ``(n_x, m_chunk)`` (the course's layout).
    y : ndarray
        The chunk's labels: 0/1 targets in X's dtype, or with ``positive``
        the estimator's labels.
    sw : ndarray of float64, or None
        The chunk's sample weights (None: all ones).
    index : int
        Chunk number (for error messages).
    w, b, want_cost, want_grad, backend
        As for the backend kernel.
    transpose : bool
    offsets : list of int or None
        First row of every chunk, when known.
    positive : object or None
        The label whose examples are the positive ones (the targets, made
        here at every evaluation: 0.1 ms per 100,000 labels, against a
        round trip of tasks to keep them), or None.

    Raises
    ------
    ValueError
        Chunks of X and y (or sample_weight) that do not line up; NaN or
        infinity in the chunk of X, located in the whole data.
    """
    # Views read in this process: the layout a worker would see.
    X, y, sw = as_shipped(X), as_shipped(y), as_shipped(sw)
    XT = X.T if transpose else X
    m = XT.shape[1]
    if positive is not None:
        y = (y == positive).astype(X.dtype)
    for name, arr in (("y", y), ("sample_weight", sw)):
        if arr is not None and arr.shape[0] != m:
            raise ValueError(f"chunk {index} of X has {m} examples but chunk {index} of "
                             f"{name} has {arr.shape[0]}: the chunks of X and {name} must "
                             "line up (same number of chunks, same lengths)")
    dw = np.zeros(XT.shape[0])
    if m == 0:  # an empty partition
        return 0.0, 0.0, 0, dw if want_grad else None
    sw = np.empty(0) if sw is None else sw
    loss, db, n_bad = run_kernel(backend, w, b, XT, y, sw, want_cost, want_grad, dw)
    if n_bad:
        j, i = v._first_nonfinite_2d(XT)
        if j >= 0:
            where = (f"X[{offsets[index] + i}, {j}]" if offsets is not None
                     else f"X[row {i} of chunk {index}, column {j}]")
            raise ValueError(f"Input X contains NaN or infinity: {where} = {XT[j, i]} "
                             f"(chunk {index})")
    return float(loss), float(db), int(n_bad), dw if want_grad else None


def warm_kernels(backend, dtype, n_features, transpose, rows=None):
    """Compile (or load from Numba's cache) the chunk kernels for one dtype, both layouts.

    Parameters
    ----------
    backend, dtype, n_features, transpose
        As the chunk tasks will run them.
    rows : int, optional
        Examples in the largest chunk, when known: the warm-up uses that many
        (capped), so it compiles the build the tasks run, serial or parallel
        (small chunks never need the parallel one).  Else enough for the
        parallel build.
    """
    enough = PARALLEL_MIN_ELEMENTS // n_features + 1
    m = max(enough if rows is None else min(rows, enough), 8)
    key = (backend, np.dtype(dtype).str, n_features, transpose, m)
    if key in _WARMED:  # this process ran these shapes already: nothing to load
        return
    w = np.zeros(n_features)
    for order in ("C", "F"):
        shape = (m, n_features) if transpose else (n_features, m)
        X = np.zeros(shape, dtype=dtype, order=order)
        y = np.zeros(m, dtype=dtype)
        XT = X.T if transpose else X
        run_kernel(backend, w, 0.0, XT, y, np.empty(0), True, True, np.empty(n_features))
        run_kernel(backend, w, 0.0, XT, y, np.ones(m), True, True, np.empty(n_features))
    _WARMED.add(key)


#: The ``warm_kernels`` arguments already run in this process.
_WARMED = set()


class ChunkKernels:
    """The backend interface over chunks held by a :class:`ChunkStore`.

    ``value_and_grad(w, b, X, y, sw, ...)`` takes per-chunk handle lists for
    ``X`` (:class:`ChunkedX`), ``y`` and ``sw`` (or an empty array: no
    weights) and returns the sums over all chunks, added in chunk order.

    Parameters
    ----------
    backend : str
        The backend whose kernel runs in each task.
    transpose : bool
        Chunks are ``(rows, n_features)`` (the estimator) rather than
        ``(n_x, m_chunk)`` (the course).
    """

    def __init__(self, backend, transpose):
        self.backend = backend
        self.transpose = transpose

    def value_and_grad(self, w, b, X, y, sw, want_cost, want_grad, dw_out):
        """Loss sum, residual sum and non-finite count; gradient sum to ``dw_out``."""
        store = X.store
        sw_chunks = sw if isinstance(sw, list) else None
        labels, positive = (y.chunks, y.positive) if isinstance(y, Labels) else (y, None)
        parts = store.run(value_and_grad_chunk, [X.chunks, labels, sw_chunks],
                          np.array(w, dtype=np.float64), float(b), bool(want_cost),
                          bool(want_grad), self.backend, self.transpose, X.offsets, positive)
        loss = db = 0.0
        n_bad = 0
        if want_grad:
            dw_out[:] = 0.0
        for part_loss, part_db, part_bad, part_dw in parts:
            loss += part_loss
            db += part_db
            n_bad += part_bad
            if want_grad:
                dw_out += part_dw
        return loss, db, n_bad

    def prepare_descent(self, X):
        """:func:`fastlogreg._descent.descend` over the chunks (plain Python driving tasks)."""
        return bind_descent(self.value_and_grad, "dask", compiled=False), X, ()


class Labels:
    """The chunks of the labels, with the label that counts as positive.

    The targets of one binary problem (one-vs-rest), made in each task from
    the labels kept for the whole fit.
    """

    def __init__(self, chunks, positive):
        self.chunks = chunks
        self.positive = positive


class ChunkedX:
    """The chunks of X as the kernels see them, with what the drivers need to know.

    Attributes
    ----------
    store : ChunkStore
    chunks : list
        Handles of the chunks.
    shape : tuple
        ``(n_features, n_examples)``: the kernels' layout (``n_examples`` may be NaN).
    dtype : numpy.dtype
    offsets : list of int or None
        First example of each chunk, when the chunk sizes are known.
    """

    def __init__(self, store, chunks, shape, dtype, offsets):
        self.store = store
        self.chunks = chunks
        self.shape = shape
        self.dtype = dtype
        self.offsets = offsets


def offsets_of(sizes):
    """First index of each chunk from the chunk sizes, or None when any is unknown."""
    if any(isinstance(s, float) and math.isnan(s) for s in sizes):
        return None
    return [int(s) for s in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
