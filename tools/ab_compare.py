"""Time ``propagate`` of this checkout against another commit, side by side in one process.

    python tools/ab_compare.py REV [SHAPE ...] [--rounds N] [--backend NAME]

``REV`` is any git revision; its ``fastlogreg/`` is extracted (``git archive``)
into a temporary folder and imported under another name next to the working
tree's, so both run in the same process on the same arrays.  Each round times
both (best of several calls each) and takes the ratio new / old; the median
and range over rounds are printed.  Alternating in one process cancels most of
the drift of a shared machine, which between processes moved timings by up to
30 % here: a 3 % change is visible this way and invisible across processes.

SHAPE is ``n x m`` and a layout, e.g. ``1000x100000:C`` or ``12288x209:F``,
optionally with ``:float32``.  Default: the performance targets' shapes.
Sparse text-like data (``make_sparse_classification``, 100 draws per example)
is ``text:n x m:csr`` or ``:csc``, e.g. ``text:1000000x200000:csr:float32``
(issue 12's size).
"""

import argparse
import importlib
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

DEFAULT_SHAPES = ["1000x100000:C", "1000x100000:F", "1000x100000:C:float32",
                  "1000x100000:F:float32", "10x1000000:C", "12288x209:C", "12288x209:F",
                  "2x1000:C", "2x1000:F"]


def import_revision(rev, folder):
    """Import ``fastlogreg`` as it is at git revision ``rev``, under another name."""
    archive = os.path.join(folder, "old.tar")
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", ROOT, "archive", rev, "fastlogreg"], stdout=out,
                       check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    # Relative imports only inside the package: a renamed copy is self-contained.
    name = "fastlogreg_at_rev"
    os.rename(os.path.join(folder, "fastlogreg"), os.path.join(folder, name))
    sys.path.insert(0, folder)
    return importlib.import_module(name)


def parse_shape(text):
    """``"1000x100000:C:float32"`` -> ``(1000, 100000, "C", "float32")``.

    For ``"text:..."`` the layout is the sparse format (``"csr"``, ``"csc"``).
    """
    parts = text.split(":")
    if parts[0] == "text":
        n, m, fmt, dtype = parse_shape(":".join(parts[1:]))
        return n, m, fmt.lower(), dtype
    n, m = (int(v) for v in parts[0].lower().split("x"))
    order = parts[1].upper() if len(parts) > 1 else "C"
    dtype = parts[2] if len(parts) > 2 else "float64"
    return n, m, order, dtype


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="git revision to compare against (e.g. HEAD, main~3)")
    parser.add_argument("shapes", nargs="*", default=DEFAULT_SHAPES,
                        help="n x m:layout[:dtype] (default: the targets' shapes)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--backend", default="parallel")
    args = parser.parse_args(argv)

    import fastlogreg as new
    with tempfile.TemporaryDirectory() as folder:
        old = import_revision(args.rev, folder)
        print(f"new: working tree, old: {args.rev}; propagate on {args.backend!r}, "
              f"median of {args.rounds} rounds (new / old time; below 1 is faster)")
        for text in args.shapes:
            ratios, t_new = compare(old, new, *parse_shape(text), args.backend, args.rounds)
            print(f"  {text:<24} {np.median(ratios):.3f}  "
                  f"[{min(ratios):.3f}-{max(ratios):.3f}]  new {t_new * 1e3:.3g} ms", flush=True)


def compare(old, new, n, m, order, dtype, backend, rounds):
    """Per-round new / old propagate time, and new's last time, on seeded data."""
    from perf_report import best_times, make_data
    if order in ("csr", "csc"):
        w, b, X, Y = _text_data(n, m, order, dtype)
    else:
        w, b, X, Y = make_data(n, m, dtype, order=order)
    nbytes = X.nbytes if isinstance(X, np.ndarray) else X.data.nbytes + X.indices.nbytes
    repeat = max(3, min(300, int(2e8 / nbytes)))
    funcs = [lambda: old.propagate(w, b, X, Y, backend=backend),
             lambda: new.propagate(w, b, X, Y, backend=backend)]
    ratios = []
    for _ in range(rounds):
        t_old, t_new = best_times(funcs, repeat)
        ratios.append(t_new / t_old)
    return ratios, t_new


def _text_data(n, m, fmt, dtype):
    """Seeded text-like ``(w, b, X, Y)``: X sparse ``(n, m)`` in format ``fmt``."""
    from fastlogreg.datasets import make_sparse_classification
    X, Y = make_sparse_classification(m, n, draws=100, seed=0, format=fmt)
    w = np.random.default_rng(1).standard_normal((n, 1)) * 0.1
    return w, 0.1, X.astype(dtype), Y


if __name__ == "__main__":
    main()
