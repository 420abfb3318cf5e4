"""Error bounds of the kernels' results, and the extended-precision oracle behind them.

Each bound follows from the summation scheme of a code path (see
:func:`logit_bound`) and from the accuracy of the scalar functions
(``fastlogreg/_scalar.py``): a tolerance that holds for any summation order the
compiler picks, on AVX2 and AVX-512 alike, instead of a constant measured on
one CPU.  Used by ``test_sweep.py`` and ``test_kernels.py``.
"""

import numpy as np

from fastlogreg._tiling import FLOAT32_STRIP, MAX_CHUNKS

#: Unit roundoff of the oracle's arithmetic (80-bit on x86-64 Linux; where
#: long double is double, the bounds below grow by the oracle's own error).
U_REF = float(np.finfo(np.longdouble).eps) / 2
U64 = 2.0 ** -53


def unit_roundoff(dtype):
    """``u``: half the machine epsilon of ``dtype``."""
    return float(np.finfo(dtype).eps) / 2


def gamma(k, u):
    """Higham's ``gamma_k = k u / (1 - k u)``: the relative error bound of ``k`` roundings."""
    return k * u / (1 - k * u)


def oracle(w, b, X, Y, sw):
    """The exact results, to long-double rounding, and the magnitudes the bounds need.

    Signed values (logits, activations, residuals, losses, gradients with and
    without ``sw``) are computed in long double from the exact values of the
    inputs.  Magnitudes (``sum_j |w_j x_ij|``, ``|X|``) only scale the bounds:
    they are computed in float64, rounded up by their own error bound.
    """
    Xl = np.asarray(X, dtype=np.longdouble)
    wl = np.asarray(w, dtype=np.longdouble).ravel()
    n, m = X.shape
    z = wl @ Xl + np.longdouble(b)
    X_abs = np.abs(np.asarray(X, dtype=np.float64))
    inflate = 1 + gamma(n + m + 2, U64)        # float64 sums of non-negative terms
    z_abs = (np.abs(np.asarray(w, dtype=np.float64)).ravel() @ X_abs + abs(b)) * inflate
    e = np.exp(-np.abs(z))
    a = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    y = np.asarray(Y, dtype=np.longdouble).ravel()
    sw = np.asarray(sw, dtype=np.longdouble)
    r = a - y
    dw_sums = Xl @ np.stack([r, sw * r], axis=1)    # unweighted, weighted
    loss = np.maximum(z, 0) - y * z + np.log1p(e)
    return {"z": z, "z_abs": z_abs, "a": a, "r": r, "loss": loss, "y": y, "sw": sw,
            "dw_sums": dw_sums, "X_abs": X_abs, "inflate": inflate}


def logit_bound(backend, path, n, dtype, z_abs):
    """Bound on ``|z - z_exact|`` per example, from the summation scheme of the path.

    With ``u`` the unit roundoff of X's dtype: ``w`` is rounded to X's dtype
    (one rounding for float32) and each product ``w_j x_ij`` is rounded in
    X's dtype (one more); products are then summed in X's dtype in groups
    whose summation tree has depth ``d``, and the groups are added in float64
    (at most ``n + 1`` more additions, counting ``b``).  So
    ``|z - z_exact| <= (gamma_{d+2}(u) + gamma_{n+2}(u64)) * (sum_j |w_j x_ij| + |b|)``,
    whatever order the compiler picks (reassociation, vector width), with

    * ``d = 3`` for the feature-major, wide and packed kernels (eight rows
      summed as ``((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))``);
    * ``d = S - 1`` for the sample-major kernels, ``S`` the strip length
      (``FLOAT32_STRIP`` features for float32, all ``n`` for float64): a strip
      is one reduction whose order LLVM picks by vector width;
    * ``d = n - 1`` for ``vectorized`` (BLAS: any order).
    """
    u = unit_roundoff(dtype)
    if backend == "vectorized":
        depth = n - 1
    elif "sample_major" in path:
        depth = (min(n, FLOAT32_STRIP) if u > U64 else n) - 1
    else:
        depth = 3
    return (gamma(depth + 2, u) + gamma(n + 2, U64) + (n + 2) * U_REF) * z_abs


#: Relative error of the float64 sigmoid: exp within 1 ulp (2u; 1.2 ulp without
#: FMA), 1 + e and the division one rounding each (fastlogreg/_scalar.py), plus
#: a rounding to spare.
C_SIGMOID = 5
#: The loss: the exp (2u) propagates through log1p (within 2 ulp: 4u), one
#: addition to the exact ``max(z, 0) - y z`` (u), one weighting (u).
C_LOSS = 8


def sigmoid_bound(dz, a, u_out):
    """``|a - a_exact|`` from the logit's error: ``|sigma'| <= 1/4``, ``|sigma''| <= 0.1``."""
    return dz / 4 + 0.05 * dz ** 2 + (C_SIGMOID * U64 + u_out) * a


def check_forward(A, ref, dz, u_out):
    """Every activation within its bound."""
    bound = sigmoid_bound(dz, ref["a"], u_out) + U_REF
    err = np.abs(np.asarray(A, dtype=np.longdouble).ravel() - ref["a"])
    return _violations("A", err, bound)


def check_value_and_grad(got, ref, dz, m, weighted, grad_u, u_out=U64):
    """Cost, dw and db within bounds derived from the logits' error ``dz``.

    ``grad_u`` is the unit roundoff of the gradient's accumulation: float64 for
    the explicit loops, X's dtype for ``vectorized`` (a BLAS gemv in X's dtype,
    on residuals rounded to it).  ``u_out``: unit roundoff of the dtype ``dw``
    is returned in.
    """
    cost, dw, db = got
    sw = ref["sw"] if weighted else np.ones(m, dtype=np.longdouble)
    r = sw * ref["r"]
    loss = sw * ref["loss"]
    # Residual of each example: propagated logit error, then its own rounding.
    dr = sw * (dz / 4 + 0.05 * dz ** 2 + (C_SIGMOID + 1) * U64) + grad_u * np.abs(r)
    dloss = sw * (np.abs(ref["r"]) * dz + dz ** 2 / 8) + C_LOSS * U64 * loss
    depth = m + 2 * MAX_CHUNKS + 8    # blocks, groups of eight, chunk merges
    bad = []
    J_ref = loss.sum() / m
    J_bound = (dloss.sum() + gamma(depth, U64) * loss.sum()) / m + 2 * U64 * abs(J_ref)
    bad += _violations("cost", abs(cost - J_ref), J_bound + m * U_REF)
    db_ref = r.sum() / m
    db_bound = (dr.sum() + gamma(depth, U64) * np.abs(r).sum()) / m + 2 * U64 * abs(db_ref)
    bad += _violations("db", abs(db - db_ref), db_bound + m * U_REF)
    dw_ref = ref["dw_sums"][:, int(weighted)] / m
    # Magnitudes in float64, rounded up (see oracle).
    X_abs, inflate = ref["X_abs"], ref["inflate"]
    x_dr = X_abs @ np.asarray(dr, dtype=np.float64) * inflate
    x_r = X_abs @ np.abs(np.asarray(r, dtype=np.float64)) * inflate
    dw_bound = ((x_dr + gamma(depth + 1, grad_u) * x_r) / m
                + (2 * U64 + u_out) * np.abs(dw_ref) + m * U_REF * x_r / m)
    err = np.abs(np.asarray(dw, dtype=np.longdouble).ravel() - dw_ref)
    bad += _violations("dw", err, dw_bound)
    return bad


def _violations(name, err, bound):
    """Descriptions of the entries of ``err`` above ``bound`` (empty when none)."""
    err, bound = np.atleast_1d(err), np.atleast_1d(bound)
    over = np.flatnonzero(~(err <= bound))
    if over.size == 0:
        return []
    k = over[np.argmax(err[over] / np.maximum(bound[over], 1e-300))]
    return [f"{name}[{k}]: |error| {float(err[k]):.3g} > bound {float(bound[k]):.3g} "
            f"({over.size} of {err.size} over)"]


