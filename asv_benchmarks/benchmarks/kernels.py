"""The public kernels, timed on every backend beside the ``numpy`` reference.

One class per kernel, each over (backend, dtype, shape).  ``setup`` warms the
exact call up (same dtype, same layout), so no JIT compilation is timed.
"""

import fastlogreg as flr

from .common import CourseProblem


class Forward(CourseProblem):
    """``A = sigmoid(w^T X + b)``."""

    def run(self, backend):
        return flr.forward(self.w, self.b, self.X, backend=backend)

    def time_forward(self, backend, dtype, shape):
        self.run(backend)


class Cost(CourseProblem):
    """``J = mean(L(a, y))``, the loss pass only."""

    def run(self, backend):
        return flr.cost(self.w, self.b, self.X, self.Y, backend=backend)

    def time_cost(self, backend, dtype, shape):
        self.run(backend)


class Gradients(CourseProblem):
    """``dw, db``, the gradient pass only."""

    def run(self, backend):
        return flr.gradients(self.w, self.b, self.X, self.Y, backend=backend)

    def time_gradients(self, backend, dtype, shape):
        self.run(backend)


class Propagate(CourseProblem):
    """Cost and gradients in one call: the kernel gradient descent repeats."""

    def run(self, backend):
        return flr.propagate(self.w, self.b, self.X, self.Y, backend=backend)

    def time_propagate(self, backend, dtype, shape):
        self.run(backend)

    def peakmem_propagate(self, backend, dtype, shape):
        # asv reports the peak resident memory of the process, X included:
        # compare backends with each other, not with X's size alone.
        self.run(backend)
