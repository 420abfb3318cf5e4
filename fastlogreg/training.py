"""The course's training: ``optimize`` (batch gradient descent) and ``model``.

On the compiled backends the iterations run in nopython mode, in segments
that end at the record points (every 100 iterations): Python is visited only
there, to record the cost, print it, call the callback and move the progress
bar.  ``python`` and ``numpy`` run the same loop in plain Python, as taught.
"""

import math
import numbers

import numpy as np

from . import _validation as v
from ._gram_descent import GramDescent, check_method, choose_method
from ._sparse import SparseX
from .api import predict
from .backends import DEFAULT_BACKEND, get_backend, get_gram_kernels

#: The course records (and prints) the cost every this many iterations.
RECORD_EVERY = 100


def check_learning_rate(learning_rate):
    """A finite float > 0, or a ValueError/TypeError naming ``learning_rate``."""
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate must be a real number; got "
                        f"{type(learning_rate).__name__} {learning_rate!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be finite and > 0; got {learning_rate}")
    return float(learning_rate)


def check_num_iterations(num_iterations):
    """An int >= 0, or a ValueError/TypeError naming ``num_iterations``."""
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, numbers.Integral):
        raise TypeError(f"num_iterations must be an integer; got "
                        f"{type(num_iterations).__name__} {num_iterations!r}")
    if num_iterations < 0:
        raise ValueError(f"num_iterations must be >= 0; got {num_iterations}")
    return int(num_iterations)


def _progress_bar(total, enabled):
    """A tqdm bar over ``total`` iterations, or None when not asked for."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError("progress=True needs tqdm: pip install 'fastlogreg[progress]'") from None
    return tqdm(total=total, unit="it", leave=False)


def gradient_descent(kernels, w, b, X, y, sw, num_iterations, learning_rate, *,
                     scale, l2=0.0, fit_intercept=True, on_record=None, progress=False,
                     gram=None, span=None):
    """Drive :func:`fastlogreg._descent.descend` from record point to record point.

    With ``gram`` (a backend's Gram kernels), the iterations run in the span
    of the examples instead (:mod:`fastlogreg._gram_descent`): same
    iterates up to rounding, same costs, callbacks and errors.

    Parameters
    ----------
    kernels : backend object
        From :func:`fastlogreg.backends.get_backend`.
    w : ndarray of float64, shape (n,)
        Initial weights; updated in place.
    b : float
    X, y, sw
        Validated data (``sw`` may be empty).
    num_iterations : int
    learning_rate : float
    scale, l2, fit_intercept
        See :func:`fastlogreg._descent.descend`.
    on_record : callable, optional
        ``on_record(iteration, cost)`` at every record point.
    progress : bool
        Show a tqdm progress bar.
    gram : object, optional
        From :func:`fastlogreg.backends.get_gram_kernels`: use ``method="gram"``.
        Ignored when no iteration runs, or when ``X^T X`` overflows (the
        primal loop then reports the divergence as usual).
    span : GramDescent, optional
        A Gram-space descent to continue (``K`` computed once for several
        calls; ``w`` must be the weights it ended at, and is set again): used
        instead of ``gram``.  Must be finite.

    Returns
    -------
    b : float
    dw : ndarray of float64, shape (n,)
        Gradient of the last iteration (at the inputs when no iteration ran).
    db : float
    costs : list of float
        The cost at iterations 0, 100, 200, ...

    Raises
    ------
    FloatingPointError
        When the cost, a logit or the gradient stops being finite, naming the
        iteration and the learning rate.
    """
    dw = np.zeros_like(w)
    if span is None and gram is not None and num_iterations > 0:
        span = GramDescent(gram, w, X, y, sw, scale, l2, fit_intercept)
        if not span.finite:
            span = None
    if span is not None:
        segment = span.run
    else:
        descend, X_kernel, work = kernels.prepare_descent(X)

        def segment(b, steps, learning_rate, record):
            return descend(w, b, X_kernel, y, sw, dw, work, steps, learning_rate, scale, l2,
                           fit_intercept, record)
    costs = []
    bar = _progress_bar(num_iterations, progress)
    db = math.nan
    if num_iterations == 0:
        # No iteration: report the gradient at the inputs, leave them unchanged.
        _, _, db, _ = descend(w.copy(), b, X_kernel, y, sw, dw, work, 1, learning_rate,
                              scale, l2, fit_intercept, False)
    try:
        for start in range(0, num_iterations, RECORD_EVERY):
            steps = min(RECORD_EVERY, num_iterations - start)
            b, cost, db, stop = segment(b, steps, learning_rate, True)
            if stop >= 0:
                raise FloatingPointError(
                    f"training diverged at iteration {start + stop} with learning_rate="
                    f"{learning_rate}: the cost or the gradient is no longer finite; "
                    "try a smaller learning_rate")
            costs.append(float(cost))
            if on_record is not None:
                on_record(start, float(cost))
            if bar is not None:
                bar.update(steps)
    finally:
        if bar is not None:
            bar.close()
    if span is not None:
        w[:], dw[:] = span.weights_and_gradient()
    return b, dw, db, costs


def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False, *,
             backend=DEFAULT_BACKEND, callback=None, progress=False, method="auto"):
    """Learn ``w`` and ``b`` by batch gradient descent, as the course's ``optimize``.

    Parameters
    ----------
    w : array_like, shape (n_x, 1) or (n_x,)
        Initial weights (not modified).
    b : float
        Initial bias.
    X : array_like, shape (n_x, m)
    Y : array_like, shape (1, m) or (m,)
        Labels 0 or 1.
    num_iterations : int, default 100
        Iterations (>= 0; 0 returns the inputs unchanged and no costs).
    learning_rate : float, default 0.009
        Step size, finite and > 0.
    print_cost : bool, default False
        Print ``Cost after iteration %i: %f`` every 100 iterations.
    backend : str, default "parallel"
    callback : callable, optional
        ``callback(iteration, cost)`` every 100 iterations (iteration 0 too).
    progress : bool, default False
        Show a progress bar (needs tqdm).
    method : {"auto", "primal", "gram"}, default "auto"
        ``"primal"``: each iteration passes over X (``O(n m)``).  ``"gram"``:
        iterate in the span of the examples, ``w = w0 + X a``, with
        ``K = X^T X`` computed once (``O(n m^2)``), each iteration then
        ``O(m^2)``; the same iterates up to rounding.  ``"auto"`` takes
        ``"gram"`` when it is predicted faster and K fits in memory
        (:func:`fastlogreg._gram_descent.choose_method`).

    Returns
    -------
    params : dict
        ``{"w": w, "b": b}``, ``w`` shaped like the input.
    grads : dict
        ``{"dw": dw, "db": db}`` of the last iteration (before its update);
        with ``num_iterations=0``, the gradient at the inputs.
    costs : list of float
        Costs at iterations 0, 100, 200, ...

    Raises
    ------
    FloatingPointError
        When training diverges (the cost stops being finite).

    Examples
    --------
    The course's example (100 iterations at 0.009):

    >>> import numpy as np, fastlogreg as flr
    >>> w, b = np.array([[1.], [2.]]), 2.
    >>> X, Y = np.array([[1., 2., -1.], [3., 4., -3.2]]), np.array([[1, 0, 1]])
    >>> params, grads, costs = flr.optimize(w, b, X, Y, 100, 0.009)
    >>> print(np.round(params["w"].ravel(), 8), round(params["b"], 8))
    [0.19033591 0.12259159] 1.92535983
    """
    kernels = get_backend(backend)
    X = v.check_X(X)
    w_flat, dtype, w_shape = v.check_w(w, X)
    b = v.check_b(b)
    y = v.check_Y(Y, X)
    num_iterations = check_num_iterations(num_iterations)
    learning_rate = check_learning_rate(learning_rate)
    method = check_method(method)
    if method == "auto" and isinstance(X, SparseX):
        # The predicted costs are those of dense X; a sparse pass costs its
        # nonzeros, which the primal loop's fused kernels exploit.
        method = "primal"
    if method == "auto":
        method = choose_method(X.shape[0], X.shape[1], num_iterations, backend)
    gram = get_gram_kernels(backend) if method == "gram" else None
    return run_optimize(kernels, X, y, w_flat, b, dtype, w_shape, num_iterations,
                        learning_rate, print_cost, callback, progress, gram=gram)


def run_optimize(kernels, X, y, w_flat, b, dtype, w_shape, num_iterations, learning_rate,
                 print_cost, callback, progress, gram=None):
    """:func:`optimize` on validated inputs (``fastlogreg.dask.optimize`` calls it too).

    ``X`` is what ``kernels.prepare_descent`` takes (an array, or chunks held
    by Dask) with ``X.shape == (n_x, m)``; ``dtype`` and ``w_shape`` shape
    the outputs; ``gram``: the Gram-space kernels for ``method="gram"`` (see
    :func:`gradient_descent`).  Returns ``(params, grads, costs)`` as :func:`optimize`.
    """
    def on_record(iteration, cost):
        if print_cost:
            print(f"Cost after iteration {iteration}: {cost:f}")  # the course's %i: %f
        if callback is not None:
            callback(iteration, cost)

    b, dw, db, costs = gradient_descent(kernels, w_flat, b, X, y, np.empty(0),
                                        num_iterations, learning_rate,
                                        scale=1.0 / X.shape[1], on_record=on_record,
                                        progress=progress, gram=gram)
    params = {"w": w_flat.astype(dtype).reshape(w_shape), "b": float(b)}
    grads = {"dw": dw.astype(dtype).reshape(w_shape), "db": float(db)}
    return params, grads, costs


def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5,
          print_cost=False, *, backend=DEFAULT_BACKEND, callback=None, progress=False,
          method="auto"):
    """Train from zeros and predict, as the course's ``model``.

    Parameters
    ----------
    X_train : array_like, shape (n_x, m_train)
    Y_train : array_like, shape (1, m_train) or (m_train,)
    X_test : array_like, shape (n_x, m_test)
    Y_test : array_like, shape (1, m_test) or (m_test,)
    num_iterations : int, default 2000
    learning_rate : float, default 0.5
    print_cost : bool, default False
        Print the cost every 100 iterations and the train/test accuracy.
    backend : str, default "parallel"
    callback, progress, method
        As for :func:`optimize`.

    Returns
    -------
    dict
        ``costs``, ``Y_prediction_test``, ``Y_prediction_train``, ``w``, ``b``,
        ``learning_rate``, ``num_iterations``, as in the course.
    """
    X_train = v.check_X(X_train)
    X_test = v.check_X(X_test)
    if X_test.shape[0] != X_train.shape[0]:
        raise ValueError(f"X_test must have {X_train.shape[0]} features like X_train; "
                         f"got shape {X_test.shape}")
    Y_test_flat = v.check_Y(Y_test, X_test)
    w = np.zeros((X_train.shape[0], 1))
    params, _, costs = optimize(w, 0.0, X_train, Y_train, num_iterations, learning_rate,
                                print_cost, backend=backend, callback=callback,
                                progress=progress, method=method)
    w, b = params["w"], params["b"]
    Y_prediction_train = predict(w, b, X_train, backend=backend)
    Y_prediction_test = predict(w, b, X_test, backend=backend)
    if print_cost:
        Y_train_flat = v.check_Y(Y_train, X_train)
        for name, pred, truth in (("train", Y_prediction_train, Y_train_flat),
                                  ("test", Y_prediction_test, Y_test_flat)):
            accuracy = 100 - np.mean(np.abs(pred.ravel() - truth)) * 100
            print(f"{name} accuracy: {accuracy} %")
    return {"costs": costs, "Y_prediction_test": Y_prediction_test,
            "Y_prediction_train": Y_prediction_train, "w": w, "b": b,
            "learning_rate": learning_rate, "num_iterations": num_iterations}
