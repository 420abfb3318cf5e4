"""Print fastlogreg's performance ratios (issue 5 targets), measured side by side.

Every figure is a ratio of two timings taken in the same process (or, for
start-up, of fresh processes), best of several repeats, so machine noise
largely cancels.  Run from the repository root::

    python tools/perf_report.py            # all targets
    python tools/perf_report.py --quick    # smaller arrays, fewer repeats
    python tools/perf_report.py --markdown # a table for README.md
    python tools/perf_report.py --update-readme   # write that table into README.md
    python tools/perf_report.py --backends # propagate of every backend / numpy
    python tools/perf_report.py --roofline [--update-readme]  # time per pass / one gemv
    python tools/perf_report.py --gram     # model() on cat-like data: auto (gram) / numpy
    python tools/perf_report.py --compile  # compile / cache-load seconds per backend, kernel

Needs the ``bench`` extra (threadpoolctl) and, for target 9, scikit-learn.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import fastlogreg as flr


def best_time(func, repeat, number=1):
    """Best wall time of ``number`` calls, over ``repeat`` repeats (after a warm-up)."""
    func()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def best_times(funcs, repeat):
    """Best time of each function, each measured in its own run of calls.

    Not interleaved: right after a BLAS call, OpenBLAS's threads keep
    spinning and take cores from Numba's (and the other way round), which
    would measure the interference, not either implementation.  A short
    pause before each run lets the other side's threads go to sleep.
    """
    best = []
    for func in funcs:
        time.sleep(0.2)
        best.append(best_time(func, repeat))
    return best


def make_data(n, m, dtype, seed=0, order="C"):
    """Seeded data in the course layout: X (n, m) (C order unless asked), Y (1, m), w (n, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m), dtype=np.float32 if dtype == "float32" else np.float64)
    X = np.asarray(X, order=order)
    w = (rng.standard_normal((n, 1)) / np.sqrt(n)).astype(X.dtype)
    Y = (rng.random((1, m)) < 0.5).astype(X.dtype)
    return w, 0.1, X, Y


class Ratio(float):
    """A ratio (the median of several measurements) that keeps them, hence its range."""

    def __new__(cls, values):
        self = super().__new__(cls, float(np.median(values)))
        self.values = [float(v) for v in values]
        self.low, self.high = min(self.values), max(self.values)
        return self

    def inverse(self):
        """The reciprocal ratio (e.g. a speed-up from a time ratio)."""
        return Ratio([1.0 / v for v in self.values])


def ratios_over_rounds(funcs, repeat, rounds):
    """Per-round ``time(funcs[0]) / time(funcs[k])`` for k >= 1, as :class:`Ratio`.

    Each round times every function (best of ``repeat``); the ratio is taken
    within the round, so that drifts of the machine between rounds (memory
    bandwidth moved by +-15 % over minutes here) cancel.
    """
    per_round = [best_times(funcs, repeat) for _ in range(rounds)]
    return [Ratio([t[0] / t[k] for t in per_round]) for k in range(1, len(funcs))]


def in_processes(name, processes, **kwargs):
    """``name(**kwargs)`` (a function of this module returning Ratios) in fresh processes.

    The rounds of all processes are pooled.  Fresh processes matter as much as
    rounds here: the same measurement in another process (other physical
    pages for X, hence other cache sets and DRAM banks) moved by up to 30 %
    for the cache-resident 12288x209 data.
    """
    if processes <= 1:
        return globals()[name](**kwargs)
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import perf_report as p; "
            "r = getattr(p, sys.argv[2])(**json.loads(sys.argv[3])); "
            "r = r if isinstance(r, dict) else {'': r}; "
            "print(json.dumps({k: v.values for k, v in r.items()}))")
    here = os.path.dirname(os.path.abspath(__file__))
    pooled = {}
    for _ in range(processes):
        res = subprocess.run([sys.executable, "-c", code, here, name, json.dumps(kwargs)],
                             capture_output=True, text=True, check=True)
        for key, values in json.loads(res.stdout.splitlines()[-1]).items():
            pooled.setdefault(key, []).extend(values)
    ratios = {key: Ratio(values) for key, values in pooled.items()}
    return ratios[""] if list(ratios) == [""] else ratios


def propagate_ratio(n, m, dtype, repeat, backend="parallel", with_gemv=False, order="C",
                    rounds=3):
    """(ours / numpy, ours / gemv) for one public propagate call."""
    w, b, X, Y = make_data(n, m, dtype, order=order)
    wr = w.ravel()
    funcs = [lambda: flr.propagate(w, b, X, Y, backend=backend),
             lambda: flr.propagate(w, b, X, Y, backend="numpy")]
    if with_gemv:
        funcs.append(lambda: wr @ X)
    ratios = ratios_over_rounds(funcs, repeat, rounds)
    result = {"ours_over_numpy": ratios[0]}
    if with_gemv:
        result["ours_over_gemv"] = ratios[1]
    return result


def roofline(shapes, repeat, rounds):
    """Where the time of the fused kernel goes, as multiples of one gemv ``w @ X``.

    For each (n, m, dtype, order): the ``parallel`` kernel computing only the
    logits (one read of X), the full fused kernel (logits, loss, gradient:
    the gradient re-reads each block of X from cache), and the ``numpy``
    backend (two BLAS passes over X and m-sized temporaries), each over the
    time of one BLAS gemv reading X once (the bandwidth bound).
    """
    from fastlogreg.backends import get_backend
    kernels = get_backend("parallel")
    lines = ["| X (n x m, dtype, layout) | logits pass / gemv | fused propagate / gemv "
             "| numpy propagate / gemv | gemv (ms) | gemv (GB/s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for shape in shapes:
        over, gemv_ms = _roofline_row(kernels, *shape, repeat, rounds)
        nbytes = shape[0] * shape[1] * np.dtype(shape[2]).itemsize
        lines.append(f"| {shape[0]}x{shape[1]}, {shape[2]}, {shape[3]} | "
                     + " | ".join(f"{r:.2f}" for r in over)
                     + f" | {gemv_ms:.3g} | {nbytes / gemv_ms / 1e6:.0f} |")
    return "\n".join(lines)


def _roofline_row(kernels, n, m, dtype, order, repeat, rounds):
    """([logits, fused, numpy] over gemv, gemv milliseconds) for one data set."""
    w, b, X, Y = make_data(n, m, dtype, order=order)
    wf, wr, y = w.ravel().astype(np.float64), w.ravel(), Y.ravel()
    sw, dw = np.empty(0), np.empty(n)
    funcs = [lambda: wr @ X,
             lambda: kernels.value_and_grad(wf, b, X, y, sw, False, False, dw),
             lambda: kernels.value_and_grad(wf, b, X, y, sw, True, True, dw),
             lambda: flr.propagate(w, b, X, Y, backend="numpy")]
    gemv_ms = best_times(funcs[:1], repeat)[0] * 1e3
    return [1.0 / r for r in ratios_over_rounds(funcs, repeat, rounds)], gemv_ms


#: (features, examples, dtype) of the F-ordered data whose block sizes
#: ``--blocks`` compares.
BLOCK_SHAPES = [(1000, 100000, "float64"), (1000, 100000, "float32"), (500, 200000, "float64"),
                (2000, 50000, "float64")]
#: Sample-major block sizes (KiB) that ``--blocks`` times; 0 stands for this CPU's default.
BLOCK_KIB = (0, 16, 32, 64, 128, 256, 1024)


def block_sizes(shapes, repeat, rounds):
    """The fused ``parallel`` kernel on F-ordered X with several sample-major block sizes.

    Each block size is set with :func:`dataclasses.replace` on the current
    tiling (``sample_major_block_bytes``) and timed, interleaved with one
    gemv ``w @ X``, in one process; the table gives kernel / gemv (median
    over rounds, and its range).
    """
    lines = ["| X (n x m, dtype, F) | block (KiB) | examples per block | fused kernel / gemv "
             "| range |", "|---|---:|---:|---:|---|"]
    for shape in shapes:
        lines += _block_rows(*shape, repeat, rounds)
    return "\n".join(lines)


def _block_rows(n, m, dtype, repeat, rounds):
    """The rows of :func:`block_sizes` for one data set."""
    import dataclasses

    from fastlogreg import _tiling
    from fastlogreg.backends import get_backend
    kernels = get_backend("parallel")
    base = _tiling.current_tiling()
    w, b, X, Y = make_data(n, m, dtype, order="F")
    wf, wr, y = w.ravel().astype(np.float64), w.ravel(), Y.ravel()
    sw, dw = np.empty(0), np.empty(n)
    funcs = [lambda: kernels.value_and_grad(wf, b, X, y, sw, True, True, dw), lambda: wr @ X]
    rows = []
    for kib in BLOCK_KIB:
        tiling = base if kib == 0 else dataclasses.replace(base,
                                                           sample_major_block_bytes=kib << 10)
        _tiling._current = tiling
        try:
            ratio = ratios_over_rounds(funcs, repeat, rounds)[0]
        finally:
            _tiling._current = base
        label = f"{tiling.sample_major_block_bytes >> 10} (default)" if kib == 0 else kib
        rows.append(f"| {n}x{m}, {dtype} | {label} | {tiling.sample_major_block(n, X.itemsize)} "
                    f"| {ratio:.3g} | {_range(ratio)} |")
    return rows


def optimize_ratio(n, m, iterations, backend, repeat, reference="numpy", order="C",
                   rounds=1):
    """Time of ``optimize`` on ``backend`` over its time on ``reference`` (a :class:`Ratio`)."""
    w, b, X, Y = make_data(n, m, "float64", order=order)
    w0 = np.zeros_like(w)

    def run(name):
        return lambda: flr.optimize(w0, 0.0, X, Y, iterations, 0.01, backend=name)
    return ratios_over_rounds([run(backend), run(reference)], repeat, rounds)[0]


def gram_model_ratio(repeat, rounds, backend="parallel"):
    """``model()`` on the cat-like data, ``method="auto"`` over the numpy backend's primal loop.

    The course's run: 12288 x 209 (F order, as the course flattens its
    pictures), 2000 iterations at learning rate 0.005, from zeros.  ``auto``
    takes ``"gram"`` there (``K = X^T X`` once, then 209 x 209 per iteration).
    Both are timed in this process, in turn (:func:`ratios_over_rounds`).
    """
    from fastlogreg._gram_descent import choose_method
    from fastlogreg.datasets import make_cat_like
    data = make_cat_like()
    chosen = choose_method(*data[0].shape, 2000, backend)

    def run(**kwargs):
        return lambda: flr.model(*data, num_iterations=2000, learning_rate=0.005, **kwargs)
    ratio = ratios_over_rounds([run(backend=backend, method="auto"),
                                run(backend="numpy", method="primal")], repeat, rounds)[0]
    return ratio, chosen


def single_thread_ratios(shapes, repeat):
    """``loop`` / ``vectorized`` propagate, one Numba thread and one BLAS thread."""
    code = f"""
import json, sys
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from threadpoolctl import threadpool_limits
import fastlogreg as flr
from perf_report import best_times, make_data
out = {{}}
with threadpool_limits(1):
    for n, m in {shapes!r}:
        w, b, X, Y = make_data(n, m, "float64")
        t = best_times([lambda k=k: flr.propagate(w, b, X, Y, backend=k)
                        for k in ("loop", "vectorized")], {repeat})
        out[f"{{n}}x{{m}}"] = t[0] / t[1]
print(json.dumps(out))
"""
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout)


#: What :func:`startup_seconds` times in a fresh process, from before ``import numpy``.
STARTUP_CODE = {
    # X above PARALLEL_MIN_ELEMENTS, so that the parallel build itself runs.
    "propagate": ("import numpy as np, fastlogreg as flr; "
                  "X = np.ones((100, 3000)); Y = (np.arange(3000) % 2).reshape(1, -1); "
                  "flr.propagate(np.zeros((100, 1)), 0.0, X, Y, backend='parallel')"),
    # What any first call of Numba-compiled code costs before fastlogreg's own
    # work: NumPy, Numba, and Numba's target set-up (which imports scipy.linalg
    # to find BLAS).
    "floor": ("import numpy, numba; from numba.core.registry import cpu_target; "
              "cpu_target.target_context.refresh()"),
}


def startup_seconds(cache_dir, what="propagate", processes=1):
    """Seconds for a fresh process to run ``STARTUP_CODE[what]``: the median of ``processes``.

    Timed inside the child from before its first import (the interpreter's own
    start is not counted), with ``NUMBA_CACHE_DIR=cache_dir``.
    """
    code = (f"import time; t = time.perf_counter(); {STARTUP_CODE[what]}; "
            "print(time.perf_counter() - t)")
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    times = []
    for _ in range(processes):
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        times.append(float(res.stdout.strip()))
    return float(np.median(times))


#: The kernels of the compile-time table, each first called in this order.
COMPILE_KERNELS = ("forward", "propagate", "optimize primal", "optimize gram")


def compile_seconds(backend):
    """Wall and CPU seconds of the first call of each kernel of ``backend``, in this process.

    Meant for a fresh process (:func:`compile_table`): each first call
    compiles the kernels it needs, or loads them from ``NUMBA_CACHE_DIR``.
    The data are the course's shape and layout (12288 x 209 float64, F
    order: the main job's code paths, above the parallel threshold); a
    kernel shared with an earlier one (``optimize`` runs ``propagate``'s
    kernel) is charged to the earlier one.
    """
    X = np.asfortranarray(np.random.default_rng(0).random((12288, 209)))
    Y = (np.arange(209) % 3 == 0).astype(np.float64).reshape(1, -1)
    w = np.full((12288, 1), 1e-4)
    # Validation's compiled helpers (the label check) are not a backend's.
    flr.propagate(w[:1], 0.0, X[:1, :2], Y[:, :2], backend="numpy")
    calls = {
        "forward": lambda: flr.forward(w, 0.0, X, backend=backend),
        "propagate": lambda: flr.propagate(w, 0.0, X, Y, backend=backend),
        "optimize primal": lambda: flr.optimize(w, 0.0, X, Y, 1, 0.005, backend=backend,
                                                method="primal"),
        "optimize gram": lambda: flr.optimize(w, 0.0, X, Y, 1, 0.005, backend=backend,
                                              method="gram"),
    }
    out = {}
    for kernel in COMPILE_KERNELS:
        wall, cpu = time.perf_counter(), time.process_time()
        calls[kernel]()
        out[kernel] = (time.perf_counter() - wall, time.process_time() - cpu)
    return out


def _compile_child(backend, cache_dir):
    """:func:`compile_seconds` in a fresh process with ``NUMBA_CACHE_DIR=cache_dir``."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import perf_report as p; "
            "print(json.dumps(p.compile_seconds(sys.argv[2])))")
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("NUMBA_DISABLE_JIT", None)
    res = subprocess.run([sys.executable, "-c", code, here, backend], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.splitlines()[-1])


def compile_table(backends=("loop", "parallel", "vectorized")):
    """Compile and cache-load seconds per backend and kernel, as a Markdown table.

    Per backend, a fresh process with an empty ``NUMBA_CACHE_DIR`` makes the
    first call of each kernel (compilation), then a second fresh process with
    the cache it filled does the same (loading).  Wall seconds, with CPU
    seconds in parentheses: on a shared machine CPU time is the steadier of
    the two (compilation is single-threaded).  Each backend starts from its
    own empty cache, so shared helpers are charged to every backend that
    uses them.
    """
    lines = ["| backend | kernel | first call, empty cache (s) | cached load (s) |",
             "|---|---|---:|---:|"]
    totals = {}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="fastlogreg-compile-") as cache_dir:
            cold = _compile_child(backend, cache_dir)
            warm = _compile_child(backend, cache_dir)
        for kernel in COMPILE_KERNELS:
            (cw, cc), (ww, wc) = cold[kernel], warm[kernel]
            lines.append(f"| {backend} | {kernel} | {cw:.2f} ({cc:.2f}) | {ww:.3f} ({wc:.3f}) |")
            total = totals.setdefault(backend, [0.0, 0.0, 0.0, 0.0])
            for k, v in enumerate((cw, cc, ww, wc)):
                total[k] += v
    for backend, (cw, cc, ww, wc) in totals.items():
        lines.append(f"| {backend} | **all** | {cw:.2f} ({cc:.2f}) | {ww:.3f} ({wc:.3f}) |")
    return "\n".join(lines)


def peak_memory_ratio(n, m):
    """Peak traced allocation of one parallel propagate over X.nbytes."""
    import tracemalloc
    w, b, X, Y = make_data(n, m, "float64")
    flr.propagate(w, b, X, Y)
    tracemalloc.start()
    flr.propagate(w, b, X, Y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / X.nbytes


def estimator_ratio(n_samples, n_features):
    """fastlogreg's LogisticRegression fit time over scikit-learn's, same problem."""
    try:
        from sklearn.datasets import make_classification
        from sklearn.linear_model import LogisticRegression as SkLR

        from fastlogreg.sklearn import LogisticRegression
    except ImportError as exc:
        return {"skipped": str(exc)}
    X, y = make_classification(n_samples, n_features, n_informative=50, random_state=0)
    t0 = time.perf_counter()
    ours = LogisticRegression(C=1.0, tol=1e-6).fit(X, y)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = SkLR(C=1.0, tol=1e-6).fit(X, y)
    t_ref = time.perf_counter() - t0
    agree = float(np.mean(ours.predict(X) == ref.predict(X)))
    return {"ours_over_sklearn": t_ours / t_ref, "prediction_agreement": agree}


def run(quick, processes):
    """Measure every target; return rows ``(target, figure, goal)``.

    Ratios of timings are :class:`Ratio`: medians over rounds in
    ``processes`` fresh processes, with their range.
    """
    big = (1000, 20000) if quick else (1000, 100000)
    tall = (10, 100000) if quick else (10, 1000000)
    repeat = 3 if quick else 5
    rounds = 2 if quick else 3
    rows = []
    for dtype, label in (("float64", "1"), ("float32", "2")):
        for order in ("C", "F"):
            r = in_processes("propagate_ratio", processes, n=big[0], m=big[1], dtype=dtype,
                             repeat=repeat, with_gemv=True, order=order, rounds=rounds)
            shape = f"{dtype} {big[0]}x{big[1]} {order}"
            rows.append((f"{label}. propagate parallel {shape} / numpy",
                         r["ours_over_numpy"], "<= 0.55"))
            rows.append((f"{label}. propagate parallel {shape} / gemv w@X",
                         r["ours_over_gemv"], "<= 1.3"))
    r = in_processes("propagate_ratio", processes, n=tall[0], m=tall[1], dtype="float64",
                     repeat=repeat, rounds=rounds)
    rows.append((f"3. propagate parallel {tall[0]}x{tall[1]} C / numpy", r["ours_over_numpy"],
                 "<= 0.35"))
    for order in ("C", "F"):   # F: the course's layout (images flattened, transposed)
        r = in_processes("propagate_ratio", processes, n=12288, m=209, dtype="float64",
                         repeat=repeat * 10, order=order, rounds=rounds)
        rows.append((f"4. propagate parallel 12288x209 {order} / numpy",
                     r["ours_over_numpy"], "<= 0.6"))
        rows.append((f"4. optimize 300 it parallel 12288x209 {order} / numpy",
                     in_processes("optimize_ratio", processes, n=12288, m=209, iterations=300,
                                  backend="parallel", repeat=2, order=order), "<= 0.6"))
    r = in_processes("propagate_ratio", processes, n=2, m=1000, dtype="float64",
                     repeat=repeat * 40, rounds=rounds)
    rows.append(("5. propagate parallel 2x1000 / numpy", r["ours_over_numpy"], "<= 0.7"))
    for order in ("C", "F"):
        speedup = in_processes("optimize_ratio", processes, n=2, m=1000, iterations=2000,
                               backend="loop", repeat=repeat, order=order).inverse()
        rows.append((f"5. optimize 2000 it numpy / loop, 2x1000 {order} (speed-up)", speedup,
                     ">= 10"))
    ratio, chosen = gram_model_ratio(1, rounds)
    rows.append((f"10. model() cat-like 2000 it: parallel auto ({chosen}) / numpy primal",
                 ratio, "<= 0.05"))
    shapes = [(12288, 209), (1000, 20000), (10, 200000)]
    for shape, ratio in single_thread_ratios(shapes, repeat).items():
        rows.append((f"6. one thread: loop / vectorized {shape}", ratio, "<= 1.25"))
    with tempfile.TemporaryDirectory() as empty:
        cold = startup_seconds(empty)
        warm = startup_seconds(empty, processes=5)
        floor = startup_seconds(empty, "floor", processes=5)
    rows.append(("7. import + first parallel propagate, warm cache (s, median of 5)", warm,
                 "<= 0.5"))
    rows.append(("7. its floor: import numpy, numba + Numba's set-up (s, median of 5)", floor,
                 "-"))
    rows.append(("7. import + first parallel propagate, empty cache (s)", cold, "<= 10"))
    rows.append(("8. propagate peak traced allocation / X.nbytes",
                 peak_memory_ratio(*big), "~ 0"))
    est = estimator_ratio(20000 if quick else 100000, 1000)
    if "ours_over_sklearn" in est:
        rows.append(("9. LogisticRegression.fit / scikit-learn's (lbfgs, tol 1e-6)",
                     est["ours_over_sklearn"], "<= 0.33"))
        rows.append(("9. prediction agreement with scikit-learn", est["prediction_agreement"],
                     "1.0"))
    else:
        rows.append(("9. LogisticRegression.fit / scikit-learn's", float("nan"),
                     est["skipped"]))
    return rows


def backend_ratios(repeat=5):
    """Propagate time of every compiled backend over numpy's, per shape and layout."""
    names = ("numpy", "loop", "parallel", "vectorized")
    lines = ["| shape, layout | " + " | ".join(names[1:]) + " | numpy (ms) |",
             "|---|" + "---:|" * len(names)]
    for n, m in ((12288, 209), (1000, 100000)):
        for order in ("F", "C"):
            data = make_data(n, m, "float64", order=order)
            times = best_times([lambda k=k, d=data: flr.propagate(*d, backend=k)
                                for k in names], repeat if m > 1000 else 30)
            ratios = " | ".join(f"{t / times[0]:.2f}" for t in times[1:])
            lines.append(f"| {n}x{m}, {order} | {ratios} | {times[0] * 1e3:.3g} |")
    return "\n".join(lines)


def _header():
    """Versions, threads and load of this run, one line."""
    import numba

    from fastlogreg.cli._common import cpu_summary
    try:
        layer = numba.threading_layer()
    except ValueError:      # no parallel kernel ran in this process (--compile)
        layer = "not started"
    return (f"CPU: {cpu_summary()}\n\n"
            f"fastlogreg {flr.__version__}, numba {numba.__version__}, numpy "
            f"{np.__version__}, threading layer {layer}, "
            f"{numba.get_num_threads()} threads, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} ({time.strftime('%Y-%m-%d')})")


def _readme_section(name, body):
    """Write ``body`` into README's ``name`` section for this kind of CPU.

    README keeps one table per kind of machine the project runs on (``perf-amd``,
    ``perf-intel``, ...): each run replaces only the table of the CPU it ran on.
    """
    from readme_section import replace_section

    from fastlogreg.cli._common import cpu_model

    model = cpu_model().lower()
    kind = next((vendor for vendor in ("intel", "amd") if vendor in model), "other")
    replace_section(f"{name}-{kind}", body)


def _range(value):
    """``"low-high"`` for a :class:`Ratio`, empty for a single measurement."""
    return f"{value.low:.3g}-{value.high:.3g}" if isinstance(value, Ratio) else ""


ROOFLINE_SHAPES = [(1000, 100000, "float64", "C"), (1000, 100000, "float64", "F"),
                   (1000, 100000, "float32", "C"), (1000, 100000, "float32", "F"),
                   (12288, 209, "float64", "C"), (12288, 209, "float64", "F"),
                   (10, 1000000, "float64", "C")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repeats")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--backends", action="store_true",
                        help="only the per-backend propagate ratios (float64)")
    parser.add_argument("--processes", type=int, default=None,
                        help="fresh processes per ratio (default 3, 1 with --quick)")
    parser.add_argument("--roofline", action="store_true",
                        help="only the time of the logits pass, the fused kernel and numpy "
                             "as multiples of one gemv (with --update-readme: into README)")
    parser.add_argument("--gram", action="store_true",
                        help="only target 10: model() on the cat-like data, method='auto' "
                             "(gram) over numpy's primal loop")
    parser.add_argument("--compile", action="store_true",
                        help="only the compile-time table (seconds per backend and kernel, "
                             "empty cache and cached load; also printed by the default run)")
    parser.add_argument("--startup", action="store_true",
                        help="only target 7: a fresh process's import and first cached "
                             "parallel propagate, and the floor that NumPy and Numba set")
    parser.add_argument("--blocks", action="store_true",
                        help="only the fused kernel on F-ordered X with several block sizes, "
                             "over one gemv (how Tiling.sample_major_block_bytes was chosen)")
    parser.add_argument("--update-readme", action="store_true",
                        help="write the Markdown table between README.md's perf markers")
    args = parser.parse_args(argv)
    if args.processes is None:
        args.processes = 1 if args.quick else 3
    if args.backends:
        print(backend_ratios())
        return
    if args.gram:
        ratio, chosen = gram_model_ratio(1, 2 if args.quick else 3)
        print(_header())
        print(f"model() cat-like 12288x209 F, 2000 it at 0.005: parallel method='auto' "
              f"({chosen}) / numpy method='primal': {ratio:.3g} (rounds {_range(ratio)}; "
              "goal <= 0.05)")
        return
    if args.blocks:
        table = block_sizes(BLOCK_SHAPES[:1] if args.quick else BLOCK_SHAPES,
                            3 if args.quick else 5, 2 if args.quick else 3)
        print(_header())    # after the kernels ran: it names their threading layer
        print()
        print(table)
        return
    if args.roofline:
        table = roofline(ROOFLINE_SHAPES, 3 if args.quick else 5, 2 if args.quick else 5)
        print(table)
        if args.update_readme:
            _readme_section("roofline", _header() + "\n\n" + table)
        return
    if args.startup:
        with tempfile.TemporaryDirectory() as cache_dir:
            cold = startup_seconds(cache_dir)
            warm = startup_seconds(cache_dir, processes=5)
            floor = startup_seconds(cache_dir, "floor", processes=5)
        print(_header())
        print(f"import + first parallel propagate: empty cache {cold:.2f} s, cached "
              f"{warm:.3f} s (median of 5 fresh processes; goal <= 0.5); floor (import "
              f"numpy, numba + Numba's set-up) {floor:.3f} s")
        return
    if args.compile:
        table = compile_table()
        print(_header())
        print()
        print(table)
        if args.update_readme:
            _readme_section("compile", _header() + "\n\n" + table)
        return
    rows = run(args.quick, args.processes)
    header = _header()
    if args.markdown or args.update_readme:
        lines = [header, "", "| target | measured | range over rounds | goal |",
                 "|---|---:|---|---|"]
        lines += [f"| {name} | {value:.3g} | {_range(value)} | {goal} |"
                  for name, value, goal in rows]
        table = "\n".join(lines)
        print(table)
        if args.update_readme:
            _readme_section("perf", table)
    else:
        print(header)
        for name, value, goal in rows:
            print(f"{name:<66} {value:8.3g} {_range(value):>13}   (goal {goal})")
    print()
    print("Compile time: first call of each kernel in a fresh process (wall, CPU in ())")
    table = compile_table()
    print(table)
    if args.update_readme:
        _readme_section("compile", header + "\n\n" + table)


if __name__ == "__main__":
    main()
