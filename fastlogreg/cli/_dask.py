"""``fastlogreg train --dask``: fit on a Dask cluster; zarr and parquet data.

Formats (one example per row, unlike the course layout of ``.npz``):

``.zarr``
    A zarr group with arrays ``X`` of shape ``(n_samples, n_features)``,
    ``y`` of shape ``(n_samples,)`` (0/1), optionally ``X_test`` and ``y_test``.
    Read chunk by chunk (its chunks become the tasks' chunks).
``.parquet``
    A file or a folder of files: a ``label`` column (0/1), an optional
    ``split`` column (``train``/``test``), every other column a feature.

``--dask ADDRESS`` fits :class:`fastlogreg.dask.LogisticRegression` (L-BFGS,
``--C``, ``--tol``, at most ``--iterations`` iterations) on the scheduler at
ADDRESS, or on a new ``LocalCluster`` for ``local``; any data format works
(in-memory formats are chunked by rows).  Without ``--dask`` zarr and parquet
data are read into memory for the course's gradient descent.
"""

import os
import time

import numpy as np

from ..datasets import DataError, Dataset
from ._common import CLIError, progress_bar, write_line

#: Suffixes read with Dask (folders as well as files).
LAZY_SUFFIXES = (".zarr", ".parquet", ".pq")


def add_dask_options(parser):
    """``--dask``, ``--C``, ``--tol`` for ``fastlogreg train``."""
    group = parser.add_argument_group("fitting on Dask (pip install 'fastlogreg[dask]')")
    group.add_argument("--dask", metavar="ADDRESS",
                       help="fit fastlogreg.dask.LogisticRegression (L-BFGS, at most "
                            "--iterations iterations) on the Dask scheduler at ADDRESS "
                            "(e.g. tcp://10.0.0.1:8786), or 'local' for a LocalCluster here")
    group.add_argument("--C", dest="C", type=float, default=1.0,
                       help="with --dask: inverse L2 strength, 'inf' for none (default 1)")
    group.add_argument("--tol", type=float, default=1e-4,
                       help="with --dask: L-BFGS gradient tolerance (default 1e-4)")


def is_lazy_format(path):
    """True for a zarr or parquet path."""
    return path is not None and os.path.splitext(os.fspath(path).rstrip("/"))[1].lower() \
        in LAZY_SUFFIXES


def open_lazy(path):
    """``(X, y, X_test, y_test)`` as dask arrays, one example per row (tests may be None).

    Raises
    ------
    DataError
        Missing file, unreadable store, missing arrays or columns.
    """
    path = os.fspath(path).rstrip("/")
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    try:
        import dask.array as da
    except ImportError:
        raise DataError(f"{path}: reading zarr or parquet needs Dask: pip install "
                        "'fastlogreg[dask]'") from None
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".zarr":
            import zarr
            group = zarr.open_group(path, mode="r")
            names = set(group.array_keys())
            if not {"X", "y"} <= names:
                raise DataError(f"{path}: a zarr group with arrays 'X' (n_samples, "
                                f"n_features) and 'y' is expected; found {sorted(names)}")
            arrays = [da.from_zarr(path, component=name) if name in names else None
                      for name in ("X", "y", "X_test", "y_test")]
            return tuple(arrays)
        import dask.dataframe as dd
        frame = dd.read_parquet(path)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader error becomes one line
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    if "label" not in frame.columns:
        raise DataError(f"{path}: a 'label' column is expected; found "
                        f"{list(frame.columns)[:10]}")
    features = [c for c in frame.columns if c not in ("label", "split")]
    if not features:
        raise DataError(f"{path}: no feature column besides 'label' and 'split'")
    parts = [frame]
    if "split" in frame.columns:
        parts = [frame[frame["split"] != "test"], frame[frame["split"] == "test"]]
    out = []
    for part in parts:
        out += [part[features].to_dask_array(lengths=True),
                part["label"].to_dask_array(lengths=True)]
    if len(out) == 4 and out[0].shape[0] and not out[2].shape[0]:
        out[2:] = [None, None]
    return tuple(out) + (None,) * (4 - len(out))


def load_course_data(path):
    """A zarr or parquet data set in memory, in the course's layout (as ``load_data``)."""
    X, y, X_test, y_test = open_lazy(path)
    import dask
    X, y, X_test, y_test = dask.compute(X, y, X_test, y_test)
    pairs = []
    for name, features, labels in (("train", X, y), ("test", X_test, y_test)):
        if features is None:
            pairs += [None, None]
            continue
        features = np.asarray(features)
        if features.dtype not in (np.float32, np.float64):
            features = features.astype(np.float64)
        labels = np.asarray(labels, dtype=np.float64).reshape(1, -1)
        bad = ~np.isin(labels, (0.0, 1.0))
        if bad.any():
            raise DataError(f"{path}: {name} labels must be 0 or 1; got "
                            f"{labels[bad][0]!r}")
        if not np.isfinite(features).all():
            raise DataError(f"{path}: {name} X contains NaN or infinity")
        pairs += [features.T, labels]
    return Dataset(*pairs)


def _connect(address):
    """A client for ``address`` (``local``: a new LocalCluster); returns (client, close)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CLIError("--dask needs Dask: pip install 'fastlogreg[dask]'") from None
    if address == "local":
        cluster = LocalCluster(dashboard_address=":0")
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()
        return client, close
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise CLIError(f"--dask {address}: cannot connect to a Dask scheduler ({exc})") \
            from None
    return client, client.close


def _as_dask(features, labels, chunk_rows=100_000):
    """In-memory course-layout data as dask arrays, one example per row."""
    import dask.array as da
    X = da.from_array(np.ascontiguousarray(features.T), chunks=(chunk_rows, -1))
    return X, da.from_array(labels.ravel(), chunks=chunk_rows)


def train_on_dask(args, source, load_in_memory):
    """``fastlogreg train --dask``: L-BFGS on the cluster, accuracies, ``--save``."""
    from fastlogreg.dask import LogisticRegression

    if args.C <= 0 or args.tol < 0:
        raise CLIError(f"--C must be > 0 and --tol >= 0; got {args.C:g} and {args.tol:g}")
    if is_lazy_format(args.data):
        X, y, X_test, y_test = open_lazy(args.data)
    else:
        data = load_in_memory()
        X, y = _as_dask(data[0], data[1])
        X_test, y_test = (None, None) if data[2] is None else _as_dask(data[2], data[3])
    client, close = _connect(args.dask)
    try:
        print(f"fastlogreg train --dask {args.dask}: {source}; X {X.shape[0]} x {X.shape[1]} "
              f"{X.dtype} in {X.numblocks[0]} chunks; {len(client.scheduler_info()['workers'])}"
              f" worker(s); backend {args.backend}")
        bar = progress_bar(args.iterations, enabled=args.progress, desc="lbfgs", unit="it")
        objectives = []

        def on_iteration(iteration, objective):
            objectives.append(objective)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(objective=f"{objective:.6g}")

        estimator = LogisticRegression(C=args.C, tol=args.tol, max_iter=args.iterations,
                                       backend=args.backend, client=client)
        started = time.perf_counter()
        try:
            estimator.fit(X, y, callback=on_iteration)
        finally:
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - started
        if not set(estimator.classes_.tolist()) <= {0, 1}:
            raise CLIError(f"labels must be 0 or 1; got classes {estimator.classes_.tolist()}")
        for name, features, labels in (("train", X, y), ("test", X_test, y_test)):
            if features is not None:
                write_line(None, f"{name} accuracy: "
                                 f"{100 * estimator.score(features, labels):.1f} %")
    finally:
        close()
    print(f"({estimator.n_iter_[0]} L-BFGS iterations in {elapsed:.2f} s on Dask, "
          f"backend {args.backend}; final objective "
          f"{objectives[-1] if objectives else float('nan'):.10g})")
    if args.save:
        from .. import __version__
        np.savez(args.save, w=estimator.coef_.reshape(-1, 1), b=np.float64(
                 estimator.intercept_[0]), costs=np.asarray(objectives, dtype=np.float64),
                 learning_rate=np.float64(np.nan),
                 num_iterations=np.int64(estimator.n_iter_[0]),
                 backend=np.str_(args.backend), solver=np.str_("lbfgs"),
                 C=np.float64(args.C), fastlogreg_version=np.str_(__version__))
        print(f"model saved to {args.save}")
    return 0
