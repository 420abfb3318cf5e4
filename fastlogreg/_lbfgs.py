"""L-BFGS without bounds, following scipy's L-BFGS-B iterate for iterate.

The estimators fit with the iterates scikit-learn's ``lbfgs`` solver takes
(scipy's L-BFGS-B, no bounds), so that they stop where it stops and give the
same coefficients.  On wide data L-BFGS-B itself became the cost: on
200,000 x 1,000,000 sparse text its single-threaded updates took 90 ms an
iteration, more than the gradient.  Without bounds, L-BFGS-B's step is the
L-BFGS step (its subspace minimization over all variables is the inverse of
its compact quasi-Newton matrix, ``H0 = I / theta``, ``theta = y'y / s'y``),
so this driver computes the same step in two compiled passes over the saved
pairs (:mod:`fastlogreg._lbfgs_kernels`) and keeps everything else as
L-BFGS-B does it:

* the first step ``-g`` with length ``min(1 / ||g||, 1e10)``, then 1;
* the Moré-Thuente search with ``ftol=1e-3``, ``gtol=0.9``, ``xtol=0.1``,
  at most ``max_ls`` trials (:mod:`fastlogreg._line_search`);
* a pair skipped when ``s'y <= eps * (-g'd) * stp``, the memory dropped and
  the iteration restarted from ``-g`` when a search fails (abnormal
  termination when it fails from ``-g``);
* stopping: ``max |g| <= gtol``, or the relative decrease of ``f`` at most
  ``ftol``, tested after the iteration count (``max_iter``) and the
  evaluation count (``max_fun``) as scipy's driver tests them.

The results agree with scipy's L-BFGS-B to rounding (``tests/test_lbfgs.py``
compares iterates, counts and messages), at a fraction of its time on wide
problems (``tools/bench_sparse.py``).
"""

import math
from dataclasses import dataclass

import numpy as np

from . import _lbfgs_kernels as k
from ._line_search import MoreThuente

__all__ = ["LbfgsResult", "minimize"]

_EPS = np.finfo(np.float64).eps
_STPMAX = 1e10

CONV_GRAD = "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"
CONV_F = "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH"
STOP_ITER = "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
STOP_FUN = "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"
ABNORMAL = "ABNORMAL: "


@dataclass
class LbfgsResult:
    """What :func:`minimize` found.

    Attributes
    ----------
    x : ndarray of float64
        The last accepted iterate.
    fun : float
        The objective there.
    n_iter : int
        Accepted line searches (scipy's ``nit``).
    n_fun : int
        Objective evaluations (scipy's ``nfev``).
    status : int
        0 converged, 1 iteration or evaluation limit, 2 the line search failed.
    message : str
    """

    x: np.ndarray
    fun: float
    n_iter: int
    n_fun: int
    status: int
    message: str


class _Memory:
    """The saved pairs in a ring buffer, with the inner products the step needs.

    ``R[i, j] = s_i . y_j`` and ``YY[i, j] = y_i . y_j`` are indexed by slot;
    ``gs``, ``gy`` hold ``s_j . g`` and ``y_j . g`` for the current gradient;
    ``order`` lists the slots in use, oldest first.
    """

    def __init__(self, n, m, parallel):
        self.S = np.empty((m, n))
        self.Y = np.empty((m, n))
        self.R = np.zeros((m, m))
        self.YY = np.zeros((m, m))
        self.gs = np.zeros(m)
        self.gy = np.zeros(m)
        self.m = m
        self.order = []
        self.gamma = 1.0         # H0 = gamma I, gamma = 1 / theta
        self._update = k.update_memory[parallel]
        self._direction = k.step_direction[parallel]
        self._dot = k.block_dot[parallel]
        self._trial = k.trial_point[parallel]
        self._n_blocks = k.n_blocks(n)
        self._dir_partials = np.empty((self._n_blocks, 2))
        self._dot_partials = np.empty((self._n_blocks, 2))

    def reset(self):
        """Forget every pair (L-BFGS-B's restart)."""
        self.order = []
        self.gamma = 1.0

    def dot_and_max(self, a, b):
        """``(a . b, max |a|)`` in one pass, summed in fixed blocks."""
        parts = self._dot_partials
        self._dot(a, b, parts)
        return float(k.sum_blocks(parts[:, 0])), float(np.max(parts[:, 1]))

    def trial_point(self, x, d, stp, out):
        """``out = x + stp d``."""
        self._trial(x, d, stp, out)

    def update(self, g_new, g_old, d, stp, sy, store):
        """Add the accepted step's pair (``store``); dot ``g_new`` with every pair.

        ``sy`` is ``s . y`` as L-BFGS-B computes it, from the line search's
        directional derivatives: the pair's ``R`` diagonal and its ``theta``.
        """
        if store:
            slot = len(self.order) if len(self.order) < self.m else self.order.pop(0)
            self.order.append(slot)
        if not self.order:
            return
        slots = np.array(self.order, dtype=np.int64)
        parts = np.empty((self._n_blocks, 4, slots.shape[0]))
        self._update(g_new, g_old, d, stp, self.S, self.Y, slots, store, parts)
        ys, yy, gs, gy = k.sum_blocks(parts)
        self.gs[slots] = gs
        self.gy[slots] = gy
        if store:
            new = slots[-1]
            self.R[slots, new] = ys
            self.R[new, new] = sy
            self.YY[slots, new] = yy
            self.YY[new, slots] = yy
            self.gamma = sy / yy[-1]

    def direction(self, g, x, d, x_unit):
        """Write ``d = -H g``; return ``(g . d, d . d, unit)``.

        With ``unit`` True, ``x_unit`` holds ``x + d`` (the step-1 trial).
        """
        if not self.order:
            np.negative(g, out=d)
            dd = self.dot_and_max(d, d)[0]
            return -dd, dd, False
        slots = np.array(self.order, dtype=np.int64)
        cs, cy = k.direction_coefficients(self.R[np.ix_(slots, slots)],
                                          self.YY[np.ix_(slots, slots)],
                                          self.gs[slots], self.gy[slots], self.gamma)
        parts = self._dir_partials
        self._direction(g, x, self.gamma, self.S, self.Y, slots, cs, cy, d, x_unit, parts)
        gd, dd = k.sum_blocks(parts)
        return float(gd), float(dd), True


def minimize(fun, x0, *, gtol, ftol, max_iter, max_fun=15000, max_ls=50, memory=10,
             parallel=True, callback=None):
    """Minimize ``fun`` from ``x0`` by L-BFGS-B's iterates (no bounds).

    Parameters
    ----------
    fun : callable
        ``fun(x, grad) -> f``: the objective at ``x``, its gradient written
        into ``grad`` (both float64 arrays of ``x0``'s shape).
    x0 : ndarray of float64, shape (n,)
    gtol : float
        Stop when the largest gradient component is at most ``gtol``.
    ftol : float
        Stop when ``(f_old - f) / max(|f_old|, |f|, 1) <= ftol``.
    max_iter, max_fun : int
        Limits on iterations and evaluations (tested after each iteration).
    max_ls : int
        Trials per line search.
    memory : int
        Pairs kept (scipy's ``maxcor``).
    parallel : bool
        Run the passes over the pairs on Numba's threads (same bits either
        way for a given build: the sums go over fixed blocks).
    callback : callable, optional
        ``callback(n_iter, f)`` after every iteration.

    Returns
    -------
    LbfgsResult
    """
    n = x0.shape[0]
    mem = _Memory(n, memory, parallel)
    x = np.array(x0, dtype=np.float64)
    g = np.empty(n)
    x_try = np.empty(n)
    g_try = np.empty(n)
    d = np.empty(n)
    f = fun(x, g)
    n_fun = 1
    if mem.dot_and_max(g, g)[1] <= gtol:
        return LbfgsResult(x, f, 0, n_fun, 0, CONV_GRAD)
    n_iter = 0
    first = True             # L-BFGS-B's iter == 0: the first step is scaled
    while True:
        gd, dd, unit = mem.direction(g, x, d, x_try)
        stp, n_eval, f_try, gd_try, g_max, failure = _line_search(
            fun, x, d, f, gd, dd, first, unit, x_try, g_try, mem, max_ls)
        n_fun += n_eval
        if failure:
            if not mem.order:
                return LbfgsResult(x, f, n_iter, n_fun, 2, ABNORMAL + failure)
            mem.reset()          # L-BFGS-B's restart: drop the pairs, step along -g
            first = False
            continue
        first = False
        n_iter += 1
        f_old = f
        if callback is not None:
            callback(n_iter, f_try)
        done = None
        if n_iter >= max_iter:
            done = (1, STOP_ITER)
        elif n_fun > max_fun:
            done = (1, STOP_FUN)
        elif g_max <= gtol:
            done = (0, CONV_GRAD)
        elif f_old - f_try <= ftol * max(abs(f_old), abs(f_try), 1.0):
            done = (0, CONV_F)
        if done is not None:
            return LbfgsResult(x_try, f_try, n_iter, n_fun, *done)
        sy = (gd_try - gd) * stp
        store = sy > _EPS * (-gd * stp)
        mem.update(g_try, g, d, stp, sy, store)
        x, x_try = x_try, x
        g, g_try = g_try, g
        f = f_try


def _line_search(fun, x, d, f, gd, dd, first, unit, x_try, g_try, mem, max_ls):
    """One Moré-Thuente search along ``d``, evaluating into ``x_try``, ``g_try``.

    ``unit``: ``x_try`` already holds ``x + d``, the trial at step 1.
    Returns ``(stp, n_evaluations, f, g . d, max |g|, failure)`` at the
    accepted step; ``failure`` is None or why the search failed (the caller
    keeps ``x``).
    """
    if not gd < 0.0:
        return 0.0, 0, f, gd, math.nan, "THE DIRECTION IS NOT A DESCENT DIRECTION"
    stp = min(1.0 / math.sqrt(dd), _STPMAX) if first else 1.0
    search = MoreThuente(stpmax=_STPMAX)
    task, stp = search.start(stp, f, gd)
    n_eval = 0
    while task == "FG":
        if n_eval >= max_ls:
            return stp, n_eval, f, gd, math.nan, "THE LINE SEARCH TOOK MAX_LS TRIALS"
        if not (n_eval == 0 and unit and stp == 1.0):
            mem.trial_point(x, d, stp, x_try)
        f_try = fun(x_try, g_try)
        n_eval += 1
        gd_try, g_max = mem.dot_and_max(g_try, d)
        task, stp = search.next(f_try, gd_try)
    if task.startswith("ERROR"):
        return stp, n_eval, f, gd, math.nan, task
    return stp, n_eval, f_try, gd_try, g_max, None
