"""Batch gradient descent: ``fastlogreg.optimize`` for a fixed number of iterations.

Skipped on commits that do not have ``optimize`` yet, and for ``method``
values a commit does not know (``method=`` came with the Gram-space descent).
"""

import inspect

import fastlogreg as flr

from .common import (
    SHAPES,
    TRAINING_DTYPES,
    TRAINING_ITERATIONS,
    CourseProblem,
    parse_shape,
    require,
    warm_up,
)

#: ``"primal"``: a pass over X per iteration; ``"gram"``: ``K = X^T X`` once,
#: then m x m per iteration (at few iterations K dominates: the grid shows
#: the fixed cost, ``tools/perf_report.py --gram`` the course's 2000).
METHODS = ["primal", "gram"]
#: Gram is skipped where K (8 m^2 bytes) would pass this (10x1000000: 8 TB).
GRAM_MAX_BYTES = 2 << 30


class Optimize(CourseProblem):
    """``optimize(w, b, X, Y, num_iterations=TRAINING_ITERATIONS, method=method)``.

    The iteration count is a (single-valued) parameter so that it shows in
    the stored results and the graphs.
    """

    param_names = CourseProblem.param_names + ["num_iterations", "method"]
    params = [CourseProblem.params[0], TRAINING_DTYPES, SHAPES, [TRAINING_ITERATIONS], METHODS]

    def setup(self, backend, dtype, shape, num_iterations, method):
        self.optimize = require(flr, "optimize")
        if "method" not in inspect.signature(self.optimize).parameters:
            if method != "primal":
                raise NotImplementedError("optimize has no method= in this commit")
            self.kwargs = {}
        else:
            self.kwargs = {"method": method}
        if method == "gram" and backend == "python":
            raise NotImplementedError("python gram: K = X^T X in interpreted loops (3 s at "
                                      "2x1000), nothing worth tracking")
        if method == "gram" and 8 * parse_shape(shape)[1] ** 2 > GRAM_MAX_BYTES:
            raise NotImplementedError(f"X^T X of {shape} would not fit in memory")
        self.num_iterations = num_iterations
        super().setup(backend, dtype, shape)
        # The base class warms up once per (backend, dtype, shape): the other
        # method's kernels need their own warm-up.
        warm_up((type(self).__name__, backend, dtype, shape, method), lambda: self.run(backend))

    def run(self, backend, num_iterations=2):
        # The warm-up runs two iterations: iteration 0 (which records the
        # cost) and a later one go through every kernel optimize uses.
        return self.optimize(self.w, self.b, self.X, self.Y, num_iterations=num_iterations,
                             learning_rate=0.009, print_cost=False, backend=backend,
                             **self.kwargs)

    def time_optimize(self, backend, dtype, shape, num_iterations, method):
        self.run(backend, num_iterations)


class OptimizeFOrder(Optimize):
    """:class:`Optimize` (``method="primal"``) on an F-ordered X, the course's layout.

    At 2x1000 this is the "packed" layout, which training copies to C order
    once (``BlockedKernels.prepare_descent``); :class:`Optimize` runs C order.
    """

    layout = "F"
    params = [*Optimize.params[:-1], ["primal"]]
