"""fastlogreg on Dask: fit where the data are, one task per chunk per evaluation.

``pip install 'fastlogreg[dask]'``; ``import fastlogreg`` does not import
this module nor Dask.

* :class:`LogisticRegression`: the objective and results of
  :class:`fastlogreg.sklearn.LogisticRegression` on dask arrays and
  DataFrames (any Dask cluster, or Dask's local scheduler).
* :func:`propagate` and :func:`optimize`: the course's functions for a dask
  ``X`` of shape ``(n_x, m)`` chunked along the examples.

Every evaluation of the objective runs the fused value-and-gradient kernel
once per chunk, where the chunk lives, and adds the chunks' small results on
the client in chunk order: the same bits for any number of workers (given the
same chunks, on the same kind of CPU).
"""

from ._course import optimize, propagate
from ._estimator import LogisticRegression

__all__ = ["LogisticRegression", "optimize", "propagate"]
