"""fastlogreg's L-BFGS against scipy's L-BFGS-B, the iterates it follows.

The oracle is scipy itself: the same function from the same start must give
the same iteration and evaluation counts, the same stopping reason and the
same point to rounding.  The compiled passes are checked on their own
against NumPy (the classic two-loop recursion for the step), at and around
the block size their sums are split by.
"""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import optimize

from fastlogreg import _lbfgs
from fastlogreg import _lbfgs_kernels as k
from fastlogreg._objective import LBFGS_MEMORY, Problem
from fastlogreg._validation import check_X
from fastlogreg.backends import get_backend

FTOL = 64 * np.finfo(float).eps


def _two_arg(fun):
    """``fun(x) -> (f, g)`` as ``fun(x, grad) -> f``."""
    def wrapped(x, grad):
        f, g = fun(x)
        grad[:] = g
        return f
    return wrapped


def _rosen(x):
    return optimize.rosen(x), optimize.rosen_der(x)


def _scipy(fun, x0, gtol, max_iter, max_ls=50):
    seen = []
    result = optimize.minimize(
        fun, x0, jac=True, method="L-BFGS-B",
        callback=lambda intermediate_result: seen.append(intermediate_result.fun),
        options={"maxiter": max_iter, "maxls": max_ls, "gtol": gtol, "ftol": FTOL,
                 "maxcor": LBFGS_MEMORY})
    return result, seen


def _ours(fun, x0, gtol, max_iter, max_ls=50, parallel=True):
    seen = []
    result = _lbfgs.minimize(_two_arg(fun), x0, gtol=gtol, ftol=FTOL, max_iter=max_iter,
                             max_ls=max_ls, parallel=parallel,
                             callback=lambda i, f: seen.append(f))
    return result, seen


def _assert_same_run(theirs, seen_theirs, ours, seen_ours, rtol):
    assert (ours.n_iter, ours.n_fun, ours.status) == (theirs.nit, theirs.nfev, theirs.status)
    assert ours.message.split(":")[0] == theirs.message.split(":")[0]
    # Objectives relative to the first one: near a minimum at 0 (Rosenbrock)
    # the values are differences of much larger terms.
    np.testing.assert_allclose(seen_ours, seen_theirs, rtol=rtol,
                               atol=rtol * np.abs(seen_theirs).max(initial=0.0))
    scale = max(1.0, float(np.abs(theirs.x).max()))
    assert np.abs(ours.x - theirs.x).max() <= rtol * scale


# Rosenbrock is not convex: rounding differences grow over long runs (at 50
# dimensions the two drift apart after about 80 iterations), so these are
# the sizes where both runs end before that.
@pytest.mark.parametrize("n, seed", [(2, 0), (5, 1), (10, 2), (3, 5)])
@pytest.mark.parametrize("parallel", [False, True])
def test_follows_lbfgsb_on_rosenbrock(n, seed, parallel):
    x0 = np.random.default_rng(seed).uniform(-2, 2, n)
    theirs, seen_theirs = _scipy(_rosen, x0, 1e-8, 1000)
    ours, seen_ours = _ours(_rosen, x0, 1e-8, 1000, parallel=parallel)
    assert theirs.nit > 20                       # a real run, with line searches
    _assert_same_run(theirs, seen_theirs, ours, seen_ours, rtol=1e-9)


@pytest.mark.parametrize("max_iter", [1, 2, 7])
def test_iteration_limit_as_lbfgsb(max_iter):
    x0 = np.full(4, -1.2)
    theirs, seen_theirs = _scipy(_rosen, x0, 1e-8, max_iter)
    ours, seen_ours = _ours(_rosen, x0, 1e-8, max_iter)
    assert theirs.status == 1
    _assert_same_run(theirs, seen_theirs, ours, seen_ours, rtol=1e-12)


@pytest.mark.parametrize("max_ls", [1, 2, 3])
def test_failed_line_searches_restart_as_lbfgsb(max_ls):
    """Few trials per search: searches fail, the memory is dropped, then abnormal end."""
    x0 = np.array([-1.2, 1.0, -0.5, 2.0])
    theirs, seen_theirs = _scipy(_rosen, x0, 1e-8, 500, max_ls=max_ls)
    ours, seen_ours = _ours(_rosen, x0, 1e-8, 500, max_ls=max_ls)
    _assert_same_run(theirs, seen_theirs, ours, seen_ours, rtol=1e-9)


def test_converged_start_takes_no_iteration():
    def quadratic(x):
        return 0.5 * float(x @ x), x.copy()
    x0 = np.full(3, 1e-9)
    theirs, _ = _scipy(quadratic, x0, 1e-6, 100)
    ours, _ = _ours(quadratic, x0, 1e-6, 100)
    assert (ours.n_iter, ours.n_fun, ours.status) == (theirs.nit, theirs.nfev, 0) == (0, 1, 0)
    np.testing.assert_array_equal(ours.x, x0)


def _logistic_problem(kind, n_samples, n_features, C, fit_intercept, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "dense":
        X = rng.standard_normal((n_samples, n_features))
    else:
        X = sp.random(n_samples, n_features, density=0.02, format="csr", random_state=seed,
                      data_rvs=lambda size: rng.standard_normal(size))
    w_true = rng.standard_normal(n_features) / np.sqrt(n_features) * 3
    p = 1 / (1 + np.exp(-(X @ w_true)))
    y = (rng.random(n_samples) < p).astype(np.float64)
    # The estimator's own layout: X.T as check_X takes it (CSR X: CSC X.T).
    problem = Problem(get_backend("parallel"), check_X(X.T), np.empty(0), float(n_samples),
                      C, fit_intercept)
    return problem, y


@pytest.mark.parametrize("kind, n_samples, n_features", [
    ("dense", 200, 30), ("dense", 150, k.BLOCK + 1), ("sparse", 400, 3 * k.BLOCK + 7)])
@pytest.mark.parametrize("C, fit_intercept", [(1.0, True), (0.1, False), (np.inf, True)])
def test_follows_lbfgsb_on_logistic_regression(kind, n_samples, n_features, C,
                                               fit_intercept):
    """The estimators' objective: the same counts and coefficients as L-BFGS-B."""
    problem, y = _logistic_problem(kind, n_samples, n_features, C, fit_intercept)
    fun = problem.objective(y, parallel=True)

    def one_arg(theta):
        grad = np.empty_like(theta)
        return fun(theta, grad), grad
    x0 = np.zeros(n_features + int(fit_intercept))
    theirs, seen_theirs = _scipy(one_arg, x0, 1e-6, 300)
    ours, seen_ours = _ours(one_arg, x0, 1e-6, 300)
    _assert_same_run(theirs, seen_theirs, ours, seen_ours, rtol=1e-8)


def test_same_bits_for_any_thread_count():
    problem, y = _logistic_problem("sparse", 300, 5 * k.BLOCK + 3, 1.0, True)
    fun = problem.objective(y, parallel=True)
    x0 = np.zeros(5 * k.BLOCK + 4)
    results = []
    for threads in (1, 2, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        try:
            results.append(_lbfgs.minimize(fun, x0, gtol=1e-8, ftol=FTOL, max_iter=200))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert results[0].n_iter > 10
    for other in results[1:]:
        assert other.n_iter == results[0].n_iter
        np.testing.assert_array_equal(other.x, results[0].x)


def _two_loop(g, pairs, gamma):
    """``-H g`` by Nocedal's two-loop recursion (pairs oldest first)."""
    q = g.copy()
    alphas = []
    for s, y in reversed(pairs):
        alpha = (s @ q) / (s @ y)
        q -= alpha * y
        alphas.append(alpha)
    r = gamma * q
    for (s, y), alpha in zip(pairs, reversed(alphas), strict=True):
        beta = (y @ r) / (s @ y)
        r += (alpha - beta) * s
    return -r


@pytest.mark.parametrize("n", [1, k.BLOCK - 1, k.BLOCK, k.BLOCK + 1, 2 * k.BLOCK + 5])
@pytest.mark.parametrize("n_updates", [1, 3, LBFGS_MEMORY, LBFGS_MEMORY + 5])
@pytest.mark.parametrize("parallel", [False, True])
def test_passes_match_numpy(n, n_updates, parallel):
    """Both passes, through a full ring buffer: dots and the step against NumPy."""
    rng = np.random.default_rng(n * 100 + n_updates)
    m = LBFGS_MEMORY
    S = np.full((m, n), np.nan)
    Y = np.full((m, n), np.nan)
    R = np.zeros((m, m))
    YY = np.zeros((m, m))
    order = []
    pairs = []
    g_old = rng.standard_normal(n)
    # Past m updates the oldest pair is overwritten, its slot reused.
    for _ in range(n_updates):
        d = -g_old + 0.1 * rng.standard_normal(n)
        stp = 0.5 + rng.random()
        g = g_old + stp * (d * (1 + rng.random(n)))      # a convex model's y
        slot = len(order) if len(order) < m else order.pop(0)
        order.append(slot)
        slots = np.array(order)
        parts = np.empty((k.n_blocks(n), 4, len(order)))
        k.update_memory[parallel](g, g_old, d, stp, S, Y, slots, True, parts)
        ys, yy, gs, gy = k.sum_blocks(parts)
        s_new, y_new = stp * d, g - g_old
        pairs = (pairs + [(s_new, y_new)])[-m:]
        np.testing.assert_array_equal(S[slot], s_new)
        np.testing.assert_array_equal(Y[slot], y_new)
        Sk = np.array([s for s, _ in pairs])
        Yk = np.array([y for _, y in pairs])
        np.testing.assert_allclose(ys, Sk @ y_new, rtol=1e-12, atol=1e-12 * n)
        np.testing.assert_allclose(yy, Yk @ y_new, rtol=1e-12, atol=1e-12 * n)
        np.testing.assert_allclose(gs, Sk @ g, rtol=1e-12, atol=1e-12 * n)
        np.testing.assert_allclose(gy, Yk @ g, rtol=1e-12, atol=1e-12 * n)
        R[slots, slot] = ys
        YY[slots, slot] = yy
        YY[slot, slots] = yy
        g_old = g
    gamma = (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1])
    cs, cy = k.direction_coefficients(R[np.ix_(slots, slots)], YY[np.ix_(slots, slots)],
                                      gs, gy, gamma)
    d = np.empty(n)
    x = rng.standard_normal(n)
    x_unit = np.empty(n)
    parts = np.empty((k.n_blocks(n), 2))
    k.step_direction[parallel](g, x, gamma, S, Y, slots, cs, cy, d, x_unit, parts)
    expected = _two_loop(g, pairs, gamma)
    np.testing.assert_allclose(d, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    np.testing.assert_array_equal(x_unit, x + d)
    gd, dd = k.sum_blocks(parts)
    np.testing.assert_allclose([gd, dd], [g @ d, d @ d], rtol=1e-12)
    dot_parts = np.empty((k.n_blocks(n), 2))
    k.block_dot[parallel](g, d, dot_parts)
    np.testing.assert_allclose(k.sum_blocks(dot_parts[:, 0]), g @ d, rtol=1e-12)
    assert dot_parts[:, 1].max() == np.abs(g).max()
    g[n // 2] = np.nan
    k.block_dot[parallel](g, d, dot_parts)
    assert np.isnan(dot_parts[:, 1].max())
