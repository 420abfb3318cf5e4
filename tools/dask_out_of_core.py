"""Fit a zarr array several times larger than the workers' total memory limit.

Writes ``--rows`` x ``--features`` float64 to a zarr store on disk chunk by
chunk (never whole in memory), starts ``LocalCluster(n_workers=2,
threads_per_worker=1, processes=True, memory_limit=...)`` and fits
``fastlogreg.dask.LogisticRegression`` on ``da.from_zarr``: the data do not fit
in half the workers' memory, so the chunks are not persisted and every
evaluation reads them from the store again.  Prints the data / memory-limit
ratio, the fit time, whether any worker restarted (addresses and process ids
before and after), the workers' peak memory (sampled), and the largest
relative difference from the in-memory ``fastlogreg.sklearn`` fit of the same
data (``--no-check`` skips it: it loads the data in this process).

    python tools/dask_out_of_core.py [--rows 6000000] [--memory-limit 450MB]
"""

import argparse
import os
import tempfile
import threading
import time

import numpy as np


def write_zarr(path, rows, features, chunk_rows, seed=0):
    """Gaussian X and logistic-model labels, written chunk by chunk."""
    import dask
    import dask.array as da
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features))
    w = np.random.default_rng(seed).standard_normal(features) / np.sqrt(features)
    y = (rng.random(rows, chunks=chunk_rows) < 1 / (1 + da.exp(-(X @ w + 0.2)))).astype(
        np.int8)
    # One pass: X and y from the same chunks of X, on the threaded scheduler.
    dask.compute(X.to_zarr(os.path.join(path, "X"), compute=False),
                 y.to_zarr(os.path.join(path, "y"), compute=False), scheduler="threads")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=25_000)
    parser.add_argument("--memory-limit", default="450MB", help="per worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", help="where to write the zarr store (default: a temp dir)")
    parser.add_argument("--no-check", dest="check", action="store_false")
    args = parser.parse_args(argv)

    import dask.array as da
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    from fastlogreg.dask import LogisticRegression
    from fastlogreg.dask._chunks import PERSIST_FRACTION, memory_budget

    folder = tempfile.TemporaryDirectory(dir=args.dir)
    store = os.path.join(folder.name, "data.zarr")
    started = time.perf_counter()
    write_zarr(store, args.rows, args.features, args.chunk_rows)
    nbytes = args.rows * args.features * 8
    print(f"wrote {nbytes / 2**30:.2f} GiB ({args.rows} x {args.features} float64, chunks of "
          f"{args.chunk_rows} rows) to {store} in {time.perf_counter() - started:.1f} s")
    X = da.from_zarr(os.path.join(store, "X"))
    y = da.from_zarr(os.path.join(store, "y"))
    params = {"C": 1.0, "tol": 1e-6, "max_iter": 1000}
    LogisticRegression(**params).fit(X[:4096], y[:4096])  # compile here: workers load the cache
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=args.memory_limit, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        total = memory_budget(client)
        print(f"workers' total memory limit {total / 2**30:.2f} GiB: the data are "
              f"{nbytes / total:.1f}x that (persisted only below {PERSIST_FRACTION}x)")
        before = client.run(os.getpid)
        peak = {}
        done = threading.Event()

        def sample():
            while not done.wait(0.2):
                for address, info in client.scheduler_info()["workers"].items():
                    memory = info["metrics"]["memory"]
                    peak[address] = max(peak.get(address, 0), memory)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        fitted = LogisticRegression(**params).fit(X, y)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        after = client.run(os.getpid)
    restarted = before != after
    print(f"fit: {elapsed:.1f} s, {fitted.n_iter_[0]} L-BFGS iterations; worker restarts: "
          f"{'YES' if restarted else 'none'}; peak worker memory "
          + ", ".join(f"{v / 2**20:.0f} MiB" for v in peak.values())
          + f" (limit {parse_bytes(args.memory_limit) / 2**20:.0f} MiB each)")
    if args.check:
        from fastlogreg.sklearn import LogisticRegression as Local
        local = Local(**params).fit(X.compute(), y.compute())
        coef, ref = (np.append(e.coef_, e.intercept_) for e in (fitted, local))
        print(f"largest relative difference from the in-memory fit: "
              f"{np.max(np.abs(coef - ref)) / np.max(np.abs(ref)):.2e}")
    folder.cleanup()


if __name__ == "__main__":
    main()
