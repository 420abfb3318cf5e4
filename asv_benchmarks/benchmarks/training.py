"""Batch gradient descent: ``fastlogreg.optimize`` for a fixed number of iterations.

Skipped on commits that do not have ``optimize`` yet.
"""

import fastlogreg as flr

from .common import SHAPES, TRAINING_DTYPES, TRAINING_ITERATIONS, CourseProblem, require


class Optimize(CourseProblem):
    """``optimize(w, b, X, Y, num_iterations=TRAINING_ITERATIONS)``.

    The iteration count is a (single-valued) parameter so that it shows in
    the stored results and the graphs.
    """

    param_names = CourseProblem.param_names + ["num_iterations"]
    params = [CourseProblem.params[0], TRAINING_DTYPES, SHAPES, [TRAINING_ITERATIONS]]

    def setup(self, backend, dtype, shape, num_iterations):
        self.optimize = require(flr, "optimize")
        self.num_iterations = num_iterations
        super().setup(backend, dtype, shape)

    def run(self, backend, num_iterations=2):
        # The warm-up runs two iterations: iteration 0 (which records the
        # cost) and a later one go through every kernel optimize uses.
        return self.optimize(self.w, self.b, self.X, self.Y, num_iterations=num_iterations,
                             learning_rate=0.009, print_cost=False, backend=backend)

    def time_optimize(self, backend, dtype, shape, num_iterations):
        self.run(backend, num_iterations)
