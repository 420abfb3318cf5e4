"""Batch gradient descent, written once for every backend.

:func:`descend` runs a segment of iterations.  Its global ``value_and_grad``
is bound per backend (see :func:`bind_descent`): compiled backends get a
nopython build calling their compiled kernel, so a whole segment runs without
returning to Python; ``python`` and ``numpy`` run the same body as plain
Python, the course's loop as taught.
"""

import numpy as np

from ._jit import _clone, jit
from ._scalar import is_finite


def value_and_grad(w, b, X, y, sw, want_cost, want_grad, dw_out, work):  # pragma: no cover
    """Placeholder bound to a backend's kernel by :func:`bind_descent`."""
    raise NotImplementedError


def descend(w, b, X, y, sw, dw, work, n_steps, lr, scale, l2, fit_intercept, record):
    """Run ``n_steps`` iterations of gradient descent, updating ``w`` in place.

    The objective is ``scale * sum_i s_i L_i + l2 / 2 * ||w||^2``: the course's
    cost with ``scale = 1 / m``, ``l2 = 0``; scikit-learn's penalised one,
    divided by a constant, otherwise.

    Parameters
    ----------
    w : ndarray of float64, shape (n,)
        Weights, updated in place.
    b : float
        Bias.
    X, y, sw
        Data as the bound kernel expects them (already laid out).
    dw : ndarray of float64, shape (n,)
        Receives the last iteration's gradient with respect to ``w``.
    work : tuple
        The kernel's trailing arguments (block size and gradient group for the
        explicit-loop kernels, buffers for the vectorized ones), passed to the
        bound kernel as one tuple.
    n_steps : int
        Iterations to run; -1: no iteration, one evaluation of the bound
        kernel at ``(w, b)`` with ``want_cost=record``,
        ``want_grad=fit_intercept`` (see below).
    lr : float
        Learning rate.
    scale, l2 : float
        Objective weights (see above).
    fit_intercept : bool
        Update ``b`` (else it stays as given).
    record : bool
        Compute the cost at the first iteration (a record point); the others
        skip the loss and its ``log1p``.

    Returns
    -------
    b : float
        Updated bias.
    cost : float
        Cost at the first iteration when ``record``, else NaN.
    db : float
        Last iteration's gradient with respect to ``b``.
    stop : int
        -1 when all went well, else the iteration (within this segment) at
        which a logit, the gradient or the cost stopped being finite; ``w``
        and ``b`` are then those before that iteration's update.

    With ``n_steps == -1`` it returns the kernel's ``(loss_sum, db_sum, 0.0,
    n_bad)`` instead, ``w`` and ``b`` untouched: the parallel build's public
    kernels run through the training loop this way (``BlockedKernels``),
    because its kernel is inlined into the loop: a separate public build
    would compile the same parallel body a second time (about 4 s).
    """
    cost = np.nan
    db = 0.0
    evaluate = n_steps < 0
    for it in range(1 if evaluate else n_steps):
        want_cost = record and it == 0
        # One call site: an inlined kernel is copied (and compiled) per call.
        # work is passed whole: a call with *work could not be inlined (see
        # bind_descent).  want_grad is a computed bool, not the literal True,
        # which would compile a second (Literal[bool]) signature of a kernel
        # that the public functions compile with a plain bool.
        want_grad = fit_intercept or not evaluate
        loss, db_sum, n_bad = value_and_grad(w, b, X, y, sw, want_cost, want_grad, dw, work)
        if evaluate:
            return loss, db_sum, 0.0, n_bad
        db = scale * db_sum
        dw *= scale
        if l2 != 0.0:
            dw += l2 * w
        if want_cost:
            # Not np.dot(w, w): a BLAS call wakes OpenBLAS's threads, whose
            # spinning then halves the speed of the parallel kernel (measured).
            cost = scale * loss + 0.5 * l2 * np.sum(w * w)
            if not is_finite(cost):
                return b, cost, db, it
        if n_bad > 0 or not is_finite(db) or not is_finite(dw.sum()):
            return b, cost, db, it
        w -= lr * dw
        if fit_intercept:
            b -= lr * db
    return b, cost, db, -1


def bind_descent(kernel, name, compiled, parallel=False):
    """:func:`descend` calling ``kernel``, compiled or as plain Python.

    Parameters
    ----------
    kernel : callable
        ``kernel(w, b, X, y, sw, want_cost, want_grad, dw_out, work)``, the
        compiled kernels' convention (trailing arguments in one tuple); a Numba
        dispatcher when ``compiled``.  Plain-Python kernels take ``*work``.
    name : str
        Distinguishes the copy (and its Numba cache file).
    compiled : bool
        Compile in nopython mode (the kernel must be compiled too).
    parallel : bool, default False
        Compile the loop parallel: ``kernel`` must then be an inlined
        (``inline="always"``) serial dispatcher whose ``prange`` loops become
        the loop's own (see ``BlockedKernels``).
    """
    if compiled:
        bind = {"value_and_grad": kernel}
    else:
        bind = {"value_and_grad": without_work(kernel)}
    return bind_loop(descend, bind, name, compiled, parallel=parallel)


def bind_loop(loop, bind, name, compiled, cache=True, parallel=False):
    """``loop`` with the globals in ``bind`` replaced, compiled or as plain Python.

    The training loops (:func:`descend`, and
    :func:`fastlogreg._gram_descent.descend_gram`) are written once and bound
    per backend through this function; see :func:`bind_descent` for the
    parameters.
    """
    if compiled:
        return jit(loop, suffix="_" + name, bind=bind, cache=cache, parallel=parallel)
    plain = _clone(loop, "_" + name, bind)

    def run_quietly(*args):
        # A diverging step may overflow w; the next iteration detects it and
        # reports FloatingPointError, so NumPy's warning would only be noise
        # (compiled code does not warn).
        with np.errstate(over="ignore", invalid="ignore"):
            return plain(*args)
    return run_quietly


def without_work(kernel):
    """A plain-Python kernel taking ``*work``, called as the loops call kernels (``work`` last)."""
    def call(*args):
        return kernel(*args[:-1], *args[-1])
    return call
