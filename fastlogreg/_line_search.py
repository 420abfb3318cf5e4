"""The Moré-Thuente line search, as L-BFGS-B runs it.

J. J. Moré and D. J. Thuente, "Line search algorithms with guaranteed
sufficient decrease", ACM TOMS 20 (1994) 286-307; the MINPACK-2 routines
``dcsrch`` and ``dcstep``, which L-BFGS-B (and so scikit-learn's ``lbfgs``)
calls with ``ftol=1e-3``, ``gtol=0.9``, ``xtol=0.1``.  :mod:`fastlogreg._lbfgs`
follows L-BFGS-B's iterates, so this is the same search, decision for
decision: the same trial steps give the same accepted step.

The search is a state machine over scalars (the function and its directional
derivative at each trial step): plain Python, a few microseconds a trial
against milliseconds for each evaluation it asks for.
"""

import math

__all__ = ["MoreThuente"]

_XTRAPL = 1.1   # extrapolate at least to stp + 1.1 (stp - stx)...
_XTRAPU = 4.0   # ... and at most to stp + 4 (stp - stx)


class MoreThuente:
    """A step satisfying the strong Wolfe conditions, one trial at a time.

    Finds ``stp`` with ``f(stp) <= f(0) + ftol stp f'(0)`` and
    ``|f'(stp)| <= gtol |f'(0)|`` (``f`` the objective along the direction).

    Parameters
    ----------
    ftol, gtol, xtol : float
        Sufficient decrease, curvature, and the relative width of the
        bracket below which the search gives up.
    stpmin, stpmax : float
        Bounds on the step.

    Notes
    -----
    Call :meth:`start` with the first trial step and ``f(0)``, ``f'(0)``,
    then :meth:`next` with ``f`` and ``f'`` at each trial step it returns.
    Both return ``(task, stp)``: ``task`` is ``"FG"`` (evaluate at ``stp``
    and call :meth:`next`), ``"CONVERGENCE"``, a ``"WARNING: ..."`` (no
    step meets both conditions: ``stp`` is the best found) or an
    ``"ERROR: ..."``.
    """

    def __init__(self, ftol=1e-3, gtol=0.9, xtol=0.1, stpmin=0.0, stpmax=1e10):
        self.ftol, self.gtol, self.xtol = ftol, gtol, xtol
        self.stpmin, self.stpmax = stpmin, stpmax

    def start(self, stp, f, g):
        """Begin a search at trial step ``stp`` from ``f(0) = f``, ``f'(0) = g``."""
        for bad, what in ((stp < self.stpmin, "STP .LT. STPMIN"),
                          (stp > self.stpmax, "STP .GT. STPMAX"),
                          (g >= 0.0, "INITIAL G .GE. ZERO")):
            if bad:
                return "ERROR: " + what, stp
        self.brackt = False
        self.stage = 1
        self.finit, self.ginit = f, g
        self.gtest = self.ftol * g
        self.width = self.stpmax - self.stpmin
        self.width1 = self.width / 0.5
        self.stx, self.fx, self.gx = 0.0, f, g
        self.sty, self.fy, self.gy = 0.0, f, g
        self.stmin = 0.0
        self.stmax = stp + _XTRAPU * stp
        self.stp = stp
        return "FG", stp

    def next(self, f, g):
        """Take ``f(stp)``, ``f'(stp)`` at the last trial; return the next task and step."""
        stp = self.stp
        ftest = self.finit + stp * self.gtest
        if self.stage == 1 and f <= ftest and g >= 0.0:
            self.stage = 2
        task = None
        if self.brackt and (stp <= self.stmin or stp >= self.stmax):
            task = "WARNING: ROUNDING ERRORS PREVENT PROGRESS"
        if self.brackt and self.stmax - self.stmin <= self.xtol * self.stmax:
            task = "WARNING: XTOL TEST SATISFIED"
        if stp == self.stpmax and f <= ftest and g <= self.gtest:
            task = "WARNING: STP = STPMAX"
        if stp == self.stpmin and (f > ftest or g >= self.gtest):
            task = "WARNING: STP = STPMIN"
        if f <= ftest and abs(g) <= self.gtol * -self.ginit:
            task = "CONVERGENCE"
        if task is not None:
            return task, stp

        if self.stage == 1 and f <= self.fx and f > ftest:
            # A lower value that still fails sufficient decrease: step on the
            # modified function psi(t) = f(t) - f(0) - ftol t f'(0).
            gt = self.gtest
            self.fx -= self.stx * gt
            self.fy -= self.sty * gt
            self.gx -= gt
            self.gy -= gt
            stp = self._step(stp, f - stp * gt, g - gt)
            self.fx += self.stx * gt
            self.fy += self.sty * gt
            self.gx += gt
            self.gy += gt
        else:
            stp = self._step(stp, f, g)

        if self.brackt:
            # Bisect when the bracket has not shrunk enough in two steps.
            if abs(self.sty - self.stx) >= 0.66 * self.width1:
                stp = self.stx + 0.5 * (self.sty - self.stx)
            self.width1 = self.width
            self.width = abs(self.sty - self.stx)
            self.stmin = min(self.stx, self.sty)
            self.stmax = max(self.stx, self.sty)
        else:
            self.stmin = stp + _XTRAPL * (stp - self.stx)
            self.stmax = stp + _XTRAPU * (stp - self.stx)
        stp = min(max(stp, self.stpmin), self.stpmax)
        if self.brackt and (stp <= self.stmin or stp >= self.stmax
                            or self.stmax - self.stmin <= self.xtol * self.stmax):
            stp = self.stx      # no progress possible: the best step so far
        self.stp = stp
        return "FG", stp

    def _step(self, stp, fp, dp):
        """``dcstep``: a safeguarded trial step; updates the bracket (stx, sty)."""
        stx, fx, dx = self.stx, self.fx, self.gx
        sty, fy, dy = self.sty, self.fy, self.gy
        stpmin, stpmax = self.stmin, self.stmax
        # dp times the sign of dx; NaN (no comparison holds) when dx == 0, as
        # dx / |dx| makes it in dcstep.
        sgnd = dp * (dx / abs(dx)) if dx != 0.0 else math.nan
        if fp > fx:
            # Higher value: a minimizer is bracketed.  The cubic step if it is
            # nearer stx than the quadratic one, else their mean.
            stpc = _cubic_step(stx, fx, dx, stp, fp, dp, stp < stx, from_sa=True)
            stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
            if abs(stpc - stx) < abs(stpq - stx):
                stpf = stpc
            else:
                stpf = stpc + (stpq - stpc) / 2.0
            self.brackt = True
        elif sgnd < 0.0:
            # Lower value, derivatives of opposite signs: bracketed.  The
            # cubic step if it is farther from stp than the secant step.
            stpc = _cubic_step(stx, fx, dx, stp, fp, dp, stp > stx, from_sa=False)
            stpq = stp + (dp / (dp - dx)) * (stx - stp)
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            self.brackt = True
        elif abs(dp) < abs(dx):
            # Lower value, same signs, the derivative's magnitude decreasing.
            theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
            s = max(abs(theta), abs(dx), abs(dp))
            gamma = s * math.sqrt(max(0.0, (theta / s) ** 2 - (dx / s) * (dp / s)))
            if stp > stx:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = (gamma + (dx - dp)) + gamma
            r = p / q
            if r < 0.0 and gamma != 0.0:
                stpc = stp + r * (stx - stp)
            elif stp > stx:
                stpc = stpmax
            else:
                stpc = stpmin
            stpq = stp + (dp / (dp - dx)) * (stx - stp)
            if self.brackt:
                stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
                if stp > stx:
                    stpf = min(stp + 0.66 * (sty - stp), stpf)
                else:
                    stpf = max(stp + 0.66 * (sty - stp), stpf)
            else:
                stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
                stpf = max(stpmin, min(stpmax, stpf))
        else:
            # Lower value, same signs, the derivative not decreasing.
            if self.brackt:
                stpf = _cubic_step(sty, fy, dy, stp, fp, dp, stp > sty, from_sa=False)
            elif stp > stx:
                stpf = stpmax
            else:
                stpf = stpmin

        if fp > fx:
            self.sty, self.fy, self.gy = stp, fp, dp
        else:
            if sgnd < 0.0:
                self.sty, self.fy, self.gy = stx, fx, dx
            self.stx, self.fx, self.gx = stp, fp, dp
        return stpf


def _cubic_step(sa, fa, da, stp, fp, dp, flip, from_sa):
    """Minimizer of the cubic through ``(sa, fa, da)`` and ``(stp, fp, dp)``.

    ``flip`` is the sign choice of the square root and ``from_sa`` the end
    the step is measured from (``sa``, the best point, or ``stp``), written
    as ``dcstep``'s three cubic cases write them, rounding included.
    """
    theta = 3.0 * (fa - fp) / (stp - sa) + da + dp
    s = max(abs(theta), abs(da), abs(dp))
    gamma = s * math.sqrt((theta / s) ** 2 - (da / s) * (dp / s))
    if flip:
        gamma = -gamma
    if from_sa:
        p = (gamma - da) + theta
        q = ((gamma - da) + gamma) + dp
        return sa + (p / q) * (stp - sa)
    p = (gamma - dp) + theta
    q = ((gamma - dp) + gamma) + da
    return stp + (p / q) * (sa - stp)
