"""Values asv graphs across commits: speed-up ratios, accuracy, thread counts.

A ratio of two timings taken in the same process, sampled in turn, survives
machine noise and machine changes far better than either timing alone.
"""

import numpy as np

import fastlogreg as flr

from .common import (
    BACKENDS,
    COMPILED_BACKENDS,
    DTYPES,
    LAYOUTS,
    SHAPES,
    SMALLEST_SHAPE,
    TRACKED_KERNELS,
    Benchmark,
    best_times,
    blas_threads,
    course_data,
    fix_threads,
    numba_threads,
    skip_unless_supported,
)


def kernel_call(kernel, backend, data):
    """A no-argument callable running public ``kernel`` on ``backend``."""
    w, b, X, Y = data
    func = getattr(flr, kernel)
    if kernel == "forward":
        return lambda: func(w, b, X, backend=backend)
    return lambda: func(w, b, X, Y, backend=backend)


class SpeedupOverNumpy(Benchmark):
    """``time(numpy) / time(backend)`` of one kernel: above 1 is faster than the
    course's NumPy code."""

    unit = "speed-up over numpy"
    param_names = ["kernel", "backend", "dtype", "shape", "layout"]
    params = [TRACKED_KERNELS, COMPILED_BACKENDS, DTYPES, SHAPES, LAYOUTS]

    def setup(self, kernel, backend, dtype, shape, layout):
        skip_unless_supported("numpy", shape)
        skip_unless_supported(backend, shape)
        fix_threads()
        data = course_data(shape, dtype, layout)
        self.reference = kernel_call(kernel, "numpy", data)
        self.candidate = kernel_call(kernel, backend, data)
        self.reference()  # warm-up: compile / load from cache
        self.candidate()

    def track_speedup(self, kernel, backend, dtype, shape, layout):
        t_reference, t_candidate = best_times(self.reference, self.candidate)
        return t_reference / t_candidate


class RatioToGemv(Benchmark):
    """``time(propagate) / time(w @ X)``: how close the fused kernel comes to the
    one-pass bound, a single BLAS gemv reading X once (1.0 would be ideal)."""

    unit = "propagate time / gemv time"
    param_names = ["backend", "dtype", "shape", "layout"]
    params = [COMPILED_BACKENDS, DTYPES, SHAPES, LAYOUTS]

    def setup(self, backend, dtype, shape, layout):
        skip_unless_supported(backend, shape)
        fix_threads()
        w, b, X, Y = data = course_data(shape, dtype, layout)
        w_flat = np.ascontiguousarray(w.ravel())
        self.gemv = lambda: w_flat @ X
        self.candidate = kernel_call("propagate", backend, data)
        self.gemv()
        self.candidate()

    def track_ratio_to_gemv(self, backend, dtype, shape, layout):
        t_gemv, t_candidate = best_times(self.gemv, self.candidate)
        return t_candidate / t_gemv


class SpeedupLoopOverPython(Benchmark):
    """``time(python) / time(loop)`` at the smallest shape: what compiling the
    course's explicit loops buys."""

    unit = "speed-up over python"
    param_names = ["kernel", "dtype"]
    params = [TRACKED_KERNELS, DTYPES]

    def setup(self, kernel, dtype):
        skip_unless_supported("python")
        skip_unless_supported("loop")
        fix_threads()
        data = course_data(SMALLEST_SHAPE, dtype)
        self.python = kernel_call(kernel, "python", data)
        self.loop = kernel_call(kernel, "loop", data)
        self.python()
        self.loop()

    def track_speedup(self, kernel, dtype):
        t_python, t_loop = best_times(self.python, self.loop)
        return t_python / t_loop


def _max_abs_difference(results, references):
    return max(float(np.max(np.abs(np.asarray(r, dtype=np.float64)
                                   - np.asarray(ref, dtype=np.float64))))
               for r, ref in zip(results, references, strict=True))


class MaxAbsDifference(Benchmark):
    """``max |backend - numpy|`` over forward's ``A`` and propagate's ``dw``,
    ``db`` and cost, on the same data and dtype."""

    unit = "max abs difference"
    param_names = ["backend", "dtype", "shape"]
    params = [[b for b in BACKENDS if b != "numpy"], DTYPES, SHAPES]

    def setup(self, backend, dtype, shape):
        skip_unless_supported("numpy", shape)
        skip_unless_supported(backend, shape)
        fix_threads()
        self.data = course_data(shape, dtype)

    def _outputs(self, backend):
        w, b, X, Y = self.data
        A = flr.forward(w, b, X, backend=backend)
        grads, cost = flr.propagate(w, b, X, Y, backend=backend)
        return A, grads["dw"], grads["db"], cost

    def track_max_abs_difference(self, backend, dtype, shape):
        return _max_abs_difference(self._outputs(backend), self._outputs("numpy"))


class Threads(Benchmark):
    """The thread counts the suite ran with (``common.fix_threads``), recorded
    beside the results so that a change of threads is not read as a change of
    code."""

    unit = "threads"

    def track_numba_threads(self):
        return numba_threads()

    def track_blas_threads(self):
        return blas_threads()
