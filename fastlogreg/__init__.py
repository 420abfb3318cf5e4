"""fastlogreg: the course's logistic regression as fast, checked Numba kernels.

Importing the package compiles nothing; each kernel is compiled (or loaded
from Numba's cache) on its first call.
"""

from .api import (
                  cost,
                  forward,
                  gradients,
                  initialize_with_zeros,
                  predict,
                  propagate,
                  sigmoid,
                  value_and_grad,
)
from .backends import BACKENDS, DEFAULT_BACKEND
from .training import model, optimize

__version__ = "0.1.0"

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "cost", "forward", "gradients",
           "initialize_with_zeros", "model", "optimize", "predict", "propagate", "sigmoid",
           "value_and_grad"]
