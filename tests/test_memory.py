"""A contiguous float X is never copied (nothing X-sized is allocated).

tracemalloc sees NumPy allocations made from Python (copies, masks,
``astype``, ``ascontiguousarray``); memory that Numba allocates inside
compiled code is not traced, so this checks the public and validation
layers, which is where copies would happen.
"""

import tracemalloc

import numpy as np
import pytest
from conftest import BACKENDS, WARNINGS_AS_ERRORS, problem

import fastlogreg as flr

pytestmark = WARNINGS_AS_ERRORS


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_no_copy_of_contiguous_X(backend, layout, dtype):
    n, m = (64, 4000) if backend != "python" else (16, 4000)
    w, b, X, Y = problem(n, m, layout=layout, dtype=dtype)
    flr.propagate(w, b, X, Y, backend=backend)      # compile outside the measurement
    flr.forward(w, b, X, backend=backend)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        flr.propagate(w, b, X, Y, backend=backend)
        flr.forward(w, b, X, backend=backend)
        flr.predict(w, b, X, backend=backend)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # m-sized temporaries are fine (a few x 32 KB); an X-sized one is not.
    assert peak < X.nbytes / 4, (peak, X.nbytes)
