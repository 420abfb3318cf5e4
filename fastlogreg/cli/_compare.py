"""The measurements behind ``fastlogreg compare``.

Every backend runs the same six jobs on the same data: ``forward``, ``cost``,
``gradients``, ``propagate`` (at a fixed, seeded ``w``), ``train`` (the
course's ``optimize`` from zeros for N iterations, ``method="primal"``: a pass
over X per iteration) and ``train_gram`` (the same with ``method="gram"``: in
the span of the examples, ``K = X^T X`` once).  The compiled backends are
called once on the real data before any timing (Numba compiles, or loads from
its cache, on the first call of each signature), and that first-call time is
reported on its own; with an empty cache a helper process compiles some of
them meanwhile (:mod:`fastlogreg.cli._warm`).  Each job (a cell of the table) is then timed
adaptively, as :func:`timeit.Timer.autorange` would: the first call is a
sample, and further samples (each a loop long enough for the clock) follow
until ``repeat`` samples or a time budget per cell (:data:`CELL_BUDGET_S`)
is reached; the best sample counts.  A 1 ms kernel gets its ``repeat``
samples, a 150 ms training run one or two.

The ``python`` backend is plain Python: each of its jobs is first estimated
from a run on a few examples and runs only while the estimates fit a budget.
A job whose estimated call outlasts the cell budget is timed on the first
``k`` examples only (``k`` sized to the budget) and scaled by ``m / k``: its
loops cost the same per example, so the time is linear in ``m``.  Such times
are marked as estimates, and its results are checked against numpy's on the
same ``k`` examples.
"""

import gc
import math
import time

import numpy as np

import fastlogreg as flr

from ._common import accuracy, progress_bar
from ._warm import warm_up

JOBS = ("forward", "cost", "gradients", "propagate", "train", "train_gram")
#: The training jobs and their ``method``.
TRAIN_METHODS = {"train": "primal", "train_gram": "gram"}
#: A timed loop lasts at least this long (short loops, many of them: the best of
#: several short samples resists a busy machine better than a few long ones).
_TARGET_S = 0.005
#: Seconds of timing per cell (one job on one backend), first call included:
#: no more samples are taken once it is spent.  A fixed number of repeats
#: spent most of the main job's time on the training runs (0.1-0.3 s each).
CELL_BUDGET_S = 0.15
#: The python backend's estimate runs on about this many elements of X.
_PROBE_ELEMENTS = 20_000


def _time_call(fn, repeat, budget=None):
    """Best time per call of ``fn()``, sampled until ``repeat`` samples or ``budget`` seconds.

    The first call is the first sample; each further sample times a loop of
    ``number`` calls lasting about :data:`_TARGET_S` (one call when a call is
    longer).  Sampling stops after ``repeat`` samples, or as soon as the
    calls made so far have taken ``budget`` seconds: at least one call, at
    most ``1 + (repeat - 1) * number``.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeat : int
        Most samples (>= 1).
    budget : float, optional
        Seconds after which no further sample starts (default
        :data:`CELL_BUDGET_S`).

    Returns
    -------
    best : float
        Seconds per call, the minimum over the samples.
    samples : list of float
        Seconds per call of each sample, the first call's first.
    result : object
        What the first call returned.
    """
    budget = CELL_BUDGET_S if budget is None else budget
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        result = fn()
        single = time.perf_counter() - start
        samples = [single]
        spent = single
        number = max(1, int(_TARGET_S / max(single, 1e-9)))
        while len(samples) < repeat and spent < budget:
            start = time.perf_counter()
            for _ in range(number):
                fn()
            elapsed = time.perf_counter() - start
            spent += elapsed
            samples.append(elapsed / number)
        return min(samples), samples, result
    finally:
        if enabled:
            gc.enable()


def _jobs(backend, w, X, Y, iterations, learning_rate):
    """The jobs of one backend, as zero-argument callables."""
    w0 = np.zeros((X.shape[0], 1))
    jobs = {
        "forward": lambda: flr.forward(w, 0.0, X, backend=backend),
        "cost": lambda: flr.cost(w, 0.0, X, Y, backend=backend),
        "gradients": lambda: flr.gradients(w, 0.0, X, Y, backend=backend),
        "propagate": lambda: flr.propagate(w, 0.0, X, Y, backend=backend),
    }
    for job, method in TRAIN_METHODS.items():
        jobs[job] = (lambda method=method: flr.optimize(w0, 0.0, X, Y, iterations, learning_rate,
                                                        backend=backend, method=method))
    return jobs


def _outputs(job, result):
    """The arrays a job returned, flattened, for the comparison with the reference."""
    if job == "forward":
        return {"A": result}
    if job == "cost":
        return {"cost": result}
    if job == "gradients":
        return {"dw": result[0], "db": result[1]}
    if job == "propagate":
        return {"dw": result[0]["dw"], "db": result[0]["db"], "cost": result[1]}
    params, grads, costs = result
    return {"w": params["w"], "b": params["b"], "costs": np.asarray(costs, dtype=float)}


def _max_abs_diff(outputs, reference):
    """Largest ``|output - reference|`` over every array a job returned."""
    worst = 0.0
    for key, value in outputs.items():
        ref = np.asarray(reference[key], dtype=np.float64)
        value = np.asarray(value, dtype=np.float64)
        if value.shape != ref.shape:
            return math.inf
        if value.size:
            worst = max(worst, float(np.max(np.abs(value - ref))))
    return worst


def probe_weights(n_features, seed=0):
    """The fixed ``w`` the kernels are timed at: seeded, with logits of order one.

    Parameters
    ----------
    n_features : int
    seed : int, default 0

    Returns
    -------
    ndarray of float64, shape (n_features, 1)
    """
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_features, 1)) / math.sqrt(n_features)


def _python_estimates(w, X, Y, iterations, learning_rate):
    """Seconds each ``python`` job would take, from a timed run on a few examples."""
    n, m = X.shape
    k = min(m, max(1, _PROBE_ELEMENTS // n))
    small = _jobs("python", w, X[:, :k], Y[:, :k], min(iterations, 1), learning_rate)
    estimates = {}
    for job in JOBS[:-1]:
        start = time.perf_counter()
        small[job]()
        seconds = (time.perf_counter() - start) * (m / k)
        estimates[job] = seconds * iterations if job == "train" else seconds
    # Gram: K and each iteration grow as m^2; time 1 and 2 iterations to part them.
    seconds = []
    for steps in (1, 2):
        start = time.perf_counter()
        _jobs("python", w, X[:, :k], Y[:, :k], steps, learning_rate)["train_gram"]()
        seconds.append(time.perf_counter() - start)
    step = max(seconds[1] - seconds[0], 0.0)
    estimates["train_gram"] = ((seconds[0] - step) + step * iterations) * (m / k) ** 2
    return estimates


def python_examples(estimate, m, budget=None):
    """Examples to time a ``python`` job on: ``m``, or fewer if a call would outlast the budget.

    Parameters
    ----------
    estimate : float
        Estimated seconds of one call on all ``m`` examples.
    m : int
    budget : float, optional
        Seconds per cell (default :data:`CELL_BUDGET_S`); a call is sized to
        half of it (two samples).

    Returns
    -------
    int
        In ``1 .. m``.
    """
    budget = CELL_BUDGET_S if budget is None else budget
    if estimate <= budget:
        return m
    return max(1, min(m, int(m * 0.5 * budget / estimate)))


def run_compare(X_train, Y_train, X_test, Y_test, *, backends, iterations, learning_rate,
                repeat, python_budget, progress=True, on_note=None):
    """Time and check every job on every backend.

    Parameters
    ----------
    X_train, Y_train : ndarray
        ``(n_x, m)`` and ``(1, m)``: the timed data (and the training set).
    X_test, Y_test : ndarray or None
        Scored after training (the test accuracy), not timed.
    backends : sequence of str
    iterations : int
        Training iterations of the ``train`` job.
    learning_rate : float
    repeat : int
        Timed repeats per job (the best one counts).
    python_budget : float
        Seconds the ``python`` backend may spend; jobs whose estimates do
        not fit are skipped.
    progress : bool, default True
        Show a progress bar.
    on_note : callable, optional
        Receives one-line status notes (e.g. "compiling...").

    Returns
    -------
    dict
        ``{"backends": {name: {...}}, "reference": "numpy", "cell_budget_s": ...,
        "warm_up": {"processes": ..., "seconds": ...}}`` (the timing budget per
        cell; the processes that made the compiled backends' first calls, and
        the wall seconds that took); per backend:
        ``time`` (job -> best seconds or None), ``samples``, ``skipped`` (job ->
        estimated seconds), ``timed_examples`` (job -> examples a ``python`` job
        was timed on, where fewer than ``m``: its time is scaled to ``m``),
        ``first_call`` (seconds, compiled backends: a compile, or a load from
        the cache that the helper process filled),
        ``max_diff_kernels``, ``max_diff_train``, ``max_diff_train_gram`` (against
        numpy's primal training), ``train_accuracy``,
        ``test_accuracy``, ``costs`` (every 100 iterations), ``final_cost`` (after
        the last iteration).
    """
    w = probe_weights(X_train.shape[0])
    args = (w, X_train, Y_train, iterations, learning_rate)
    reference = {}
    if "numpy" not in backends:  # the oracle still defines "max |diff|"
        for job, fn in _jobs("numpy", *args).items():
            if job != "train_gram":     # both methods are checked against the primal loop
                reference[job] = _outputs(job, fn())
    compiled = [name for name in backends if name not in ("python", "numpy")]
    # Validation has small compiled helpers (e.g. the label check) that are
    # compiled or loaded on their first call: do that here, on a slice with
    # X's dtype, not inside the first timed numpy call (it took 0.2 s).
    flr.propagate(w[:1], 0.0, X_train[:1, :2], Y_train[:, :2], backend="numpy")
    # Every compiled backend's first call (a compile, or a cache load) before
    # any timing: with an empty cache a helper process compiles some of them
    # on the other core, which must not overlap a timed call.
    warm = {"processes": 1, "seconds": 0.0}
    first_call = {}
    if compiled:
        if on_note is not None:
            on_note("warming up the compiled backends (Numba compiles each kernel on its "
                    "first run and caches it; later runs load the cache)...")
        start = time.perf_counter()
        first_call, warm["processes"] = warm_up(compiled, X_train, Y_train, learning_rate)
        warm["seconds"] = time.perf_counter() - start
    bar = progress_bar(len(backends) * (len(JOBS) + 1), enabled=progress, desc="compare")
    results = {}
    try:
        # numpy first: it is the reference the others are checked against.
        for name in sorted(backends, key=lambda b: b != "numpy"):
            if bar is not None:
                bar.set_description(f"compare {name}")
            entry = {"time": {}, "samples": {}, "skipped": {}, "timed_examples": {},
                     "first_call": None}
            jobs = _jobs(name, *args)
            estimates = {}
            if name == "python":
                estimates = _python_estimates(*args)
                entry["estimate"] = estimates
            elif name in compiled:
                entry["first_call"] = first_call[name]
            if bar is not None:
                bar.update(1)
            spent = 0.0
            diffs = {}
            trained = None
            for job, fn in jobs.items():
                if name == "python" and spent + estimates[job] > python_budget:
                    entry["time"][job] = None
                    entry["skipped"][job] = estimates[job]
                else:
                    m = X_train.shape[1]
                    k = m
                    if name == "python" and job not in TRAIN_METHODS:
                        k = python_examples(estimates[job], m)
                    expected = reference.get(job.replace("_gram", ""))
                    if k < m:   # time k examples, check them against numpy's on the same k
                        part = (w, X_train[:, :k], Y_train[:, :k], iterations, learning_rate)
                        fn = _jobs(name, *part)[job]
                        expected = _outputs(job, _jobs("numpy", *part)[job]())
                        entry["timed_examples"][job] = k
                    start = time.perf_counter()
                    best, samples, result = _time_call(fn, repeat)
                    spent += time.perf_counter() - start
                    entry["time"][job] = best * m / k
                    entry["samples"][job] = [t * m / k for t in samples]
                    outputs = _outputs(job, result)
                    if name == "numpy" and job != "train_gram":
                        reference[job] = expected = outputs
                    # Both methods against numpy's course loop (method="primal").
                    diffs[job] = _max_abs_diff(outputs, expected)
                    if job == "train":
                        trained = result
                if bar is not None:
                    bar.update(1)
            kernel_diffs = [diffs[j] for j in JOBS if j in diffs and j not in TRAIN_METHODS]
            entry["max_diff_kernels"] = max(kernel_diffs) if kernel_diffs else None
            entry["max_diff_train"] = diffs.get("train")
            entry["max_diff_train_gram"] = diffs.get("train_gram")
            entry["train_accuracy"] = entry["test_accuracy"] = None
            entry["costs"] = entry["final_cost"] = None
            if trained is not None:
                params, _, costs = trained
                entry["costs"] = [float(c) for c in costs]
                entry["final_cost"] = flr.cost(params["w"], params["b"], X_train, Y_train,
                                               backend=name)
                entry["train_accuracy"] = accuracy(
                    flr.predict(params["w"], params["b"], X_train, backend=name), Y_train)
                if X_test is not None:
                    entry["test_accuracy"] = accuracy(
                        flr.predict(params["w"], params["b"], X_test, backend=name), Y_test)
            results[name] = entry
    finally:
        if bar is not None:
            bar.close()
    ordered = {name: results[name] for name in backends}
    return {"backends": ordered, "reference": "numpy", "jobs": list(JOBS),
            "cell_budget_s": CELL_BUDGET_S, "warm_up": warm}
