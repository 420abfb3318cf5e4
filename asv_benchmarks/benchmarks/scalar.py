"""The kernels' own transcendentals, per value: ``exp``, ``log1p`` and the sigmoid.

Every fused kernel computes its residuals and losses with
:mod:`fastlogreg._scalar`'s vectorizable ``exp_nonpositive`` and
``log1p_unit``; on small problems (2 x 1000 training) they are most of an
iteration.  Each is timed in a compiled loop over 100,000 values, as the
kernels call it (the loop vectorizes), beside NumPy's ``np.exp`` and
``np.log1p`` on the same values.
"""

import numpy as np
from numba import njit

from fastlogreg._jit import FASTMATH
from fastlogreg._scalar import exp_nonpositive, log1p_unit, sigmoid_scalar

from .common import Benchmark

_FUNCTIONS = {"exp_nonpositive": exp_nonpositive, "log1p_unit": log1p_unit,
              "sigmoid_scalar": sigmoid_scalar}


def _apply(f):
    """A compiled ``out[i] = f(x[i])`` loop, with the kernels' fastmath flags and error model."""
    @njit(fastmath=set(FASTMATH), error_model="numpy")
    def apply(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return apply


class Transcendentals(Benchmark):
    """Nanoseconds per value are the time divided by 100,000."""

    param_names = ["function"]
    params = [list(_FUNCTIONS) + ["numpy.exp", "numpy.log1p"]]

    def setup(self, function):
        rng = np.random.default_rng(0)
        # exp of -|z| for logits of a few units; log1p of its result.
        self.x = -np.abs(rng.standard_normal(100_000) * 4.0)
        if "log1p" in function:
            self.x = np.exp(self.x)
        elif function == "sigmoid_scalar":
            self.x = -self.x * rng.choice([-1.0, 1.0], self.x.size)
        self.out = np.empty_like(self.x)
        if function.startswith("numpy."):
            ufunc = getattr(np, function.split(".")[1])
            self.call = lambda: ufunc(self.x, out=self.out)
        else:
            apply = _apply(_FUNCTIONS[function])
            self.call = lambda: apply(self.x, self.out)
        self.call()   # compile outside the timing

    def time_transcendental(self, function):
        self.call()
