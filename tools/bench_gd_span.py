"""``LogisticRegression(solver="gd")`` in the span of the examples against the primal loop.

On data of the course's shape (209 samples x 12288 features, labels from a
known logistic model), ``C=10, tol=1e-6, max_iter=3000``: the fit as
``solver="gd"`` chooses it (the Gram path, ``K = X X^T`` computed once) and
the same fit forced through the primal loop, side by side in one process,
alternating, best of ``--repeat``; per backend the time ratio, the iteration
counts and the largest coefficient difference.

    python tools/bench_gd_span.py [--repeat 3] [--backends loop parallel numpy]
"""

import argparse
import time

import numpy as np

import fastlogreg.sklearn as flr_sklearn
from fastlogreg.sklearn import LogisticRegression


def main(argv=None):
    """Print one line per backend; return 0 (a report, not a test)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["loop", "parallel", "numpy"])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    m, n = 209, 12288
    X = rng.standard_normal((m, n)) / np.sqrt(n)
    y = (rng.random(m) < 1 / (1 + np.exp(-(X @ rng.standard_normal(n))))).astype(np.int64)
    span = flr_sklearn._gram_span
    primal = lambda *a: None  # noqa: E731
    print(f"solver='gd', C=10, tol=1e-6, max_iter=3000 on {m} x {n} float64; "
          f"best of {args.repeat}, alternating")
    for backend in args.backends:
        params = {"solver": "gd", "C": 10.0, "tol": 1e-6, "max_iter": 3000, "backend": backend}
        best = {"span": np.inf, "primal": np.inf}
        fits = {}
        try:
            for _ in range(args.repeat + 1):  # the first round compiles: not counted
                for name, chooser in (("span", span), ("primal", primal)):
                    flr_sklearn._gram_span = chooser
                    start = time.perf_counter()
                    fits[name] = LogisticRegression(**params).fit(X, y)
                    elapsed = time.perf_counter() - start
                    if _ > 0:
                        best[name] = min(best[name], elapsed)
        finally:
            flr_sklearn._gram_span = span
        a, b = fits["span"], fits["primal"]
        diff = float(np.abs(a.coef_ - b.coef_).max() / np.abs(b.coef_).max())
        print(f"  {backend:>10}: span {best['span']:.3f} s, primal {best['primal']:.3f} s "
              f"-> {best['span'] / best['primal']:.3f}x | n_iter {a.n_iter_[0]} / "
              f"{b.n_iter_[0]} | max coef difference (relative) {diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
