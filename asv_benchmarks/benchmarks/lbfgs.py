"""The estimators' L-BFGS: its two passes over the saved pairs, and the whole
optimizer beside scipy's L-BFGS-B (whose iterates it takes).

The optimizer is timed on a cheap objective (a diagonal quadratic, one pass
over ``x``) so that the optimizer's own cost is what is measured: on wide data
that cost is what separated fastlogreg's fit from its kernels.  Skipped on
commits without ``fastlogreg._lbfgs``.
"""

import importlib

import numpy as np

from .common import PROFILE, SEED, Benchmark, best_times, fix_threads

#: Coefficients: the issue's sparse problem has 1,000,001.
SIZES = {"quick": ["100000"], "regular": ["100000", "1000000"],
         "large": ["100000", "1000000"]}[PROFILE]
#: Iterations per timed optimizer run (the objective is cheap, so few do).
ITERATIONS = 10
MEMORY = 10


def _modules():
    try:
        return (importlib.import_module("fastlogreg._lbfgs"),
                importlib.import_module("fastlogreg._lbfgs_kernels"))
    except ImportError:
        raise NotImplementedError("no fastlogreg._lbfgs in this commit") from None


def _quadratic(n):
    """``f(x) = 0.5 sum h_i x_i^2 - x . c`` with ``h`` over four decades."""
    rng = np.random.default_rng(SEED)
    h = 10.0 ** rng.uniform(-2, 2, n)
    c = rng.standard_normal(n)

    def fun(x, grad):
        # No BLAS call: OpenBLAS's threads, left spinning after one, take the
        # cores from the optimizer's Numba threads (a 20 us pass took 6 ms);
        # the estimators' objectives call none either.
        np.multiply(h, x, out=grad)
        f = 0.5 * float(np.sum(grad * x)) - float(np.sum(c * x))
        grad -= c
        return f
    return fun


class LbfgsPasses(Benchmark):
    """One update of the memory (the new pair and every inner product) and one step.

    The passes are private kernels: a commit whose passes take other
    arguments is skipped.
    """

    param_names = ["n", "parallel"]
    params = [SIZES, [False, True]]

    def setup(self, n, parallel):
        _, kernels = _modules()
        fix_threads()
        n = int(n)
        rng = np.random.default_rng(SEED)
        self.S = rng.standard_normal((MEMORY, n))
        self.Y = rng.standard_normal((MEMORY, n))
        self.g, self.g_old, self.d, self.x_unit = (rng.standard_normal(n) for _ in range(4))
        self.slots = np.arange(MEMORY, dtype=np.int64)
        self.coef = rng.standard_normal(MEMORY)
        self.parts = np.empty((kernels.n_blocks(n), 4, MEMORY))
        self.dir_parts = np.empty((kernels.n_blocks(n), 2))
        self.update = kernels.update_memory[parallel]
        self.direction = kernels.step_direction[parallel]
        try:
            self.time_update_memory(n, parallel)
            self.time_step_direction(n, parallel)
        except TypeError:
            raise NotImplementedError("other L-BFGS pass arguments in this commit") from None

    def time_update_memory(self, n, parallel):
        self.update(self.g, self.g_old, self.d, 0.5, self.S, self.Y, self.slots, True,
                    self.parts)

    def time_step_direction(self, n, parallel):
        self.direction(self.g, self.g_old, 0.3, self.S, self.Y, self.slots, self.coef,
                       self.coef, self.d, self.x_unit, self.dir_parts)


class LbfgsOverScipy(Benchmark):
    """``ITERATIONS`` iterations of fastlogreg's L-BFGS against scipy's L-BFGS-B.

    The track is ``time(scipy) / time(fastlogreg)``, both from zero on the
    same quadratic with the estimators' settings.
    """

    unit = "speed-up over scipy"
    param_names = ["n"]
    params = [SIZES]

    def setup(self, n):
        lbfgs, _ = _modules()
        from scipy import optimize

        fix_threads()
        fun = _quadratic(int(n))
        x0 = np.zeros(int(n))
        ftol = 64 * np.finfo(float).eps

        def ours():
            lbfgs.minimize(fun, x0, gtol=0.0, ftol=ftol, max_iter=ITERATIONS, memory=MEMORY)

        def one_arg(x):
            grad = np.empty_like(x)
            return fun(x, grad), grad

        def scipy():
            optimize.minimize(one_arg, x0, jac=True, method="L-BFGS-B",
                              options={"maxiter": ITERATIONS, "maxls": 50, "gtol": 0.0,
                                       "ftol": ftol, "maxcor": MEMORY})
        self.ours, self.scipy = ours, scipy
        ours()
        scipy()

    def time_minimize(self, n):
        self.ours()

    def track_speedup(self, n):
        t_ours, t_scipy = best_times(self.ours, self.scipy, repeat=3)
        return t_scipy / t_ours
