"""``fastlogreg.dask.LogisticRegression`` on a LocalCluster, dask-ml's beside it.

The issue's setting: ``LocalCluster(n_workers=2, threads_per_worker=1)``
(worker processes), float64 with 50 features in 8 chunks persisted on the
workers before timing, ``C=1``, ``tol=1e-6``.  Rows per profile: ``quick``
100,000, ``regular`` 1,000,000 (the issue's), ``large`` 4,000,000.  dask-ml's
``LogisticRegression(solver="lbfgs")`` is the reference to beat; it runs only
where dask-ml is installed (it is not a dependency).  ``track_ratio_to_in_memory``
times the Dask fit and the in-memory ``fastlogreg.sklearn`` fit side by side
in one process.  Skipped on commits without ``fastlogreg.dask``.
"""

import importlib
import time

import numpy as np

from .common import PROFILE, SEED

N_SAMPLES = {"quick": 100_000, "regular": 1_000_000, "large": 4_000_000}[PROFILE]
N_FEATURES = 50
N_CHUNKS = 8
PARAMS = {"C": 1.0, "tol": 1e-6, "max_iter": 1000}


def _estimator(implementation):
    try:
        if implementation == "fastlogreg":
            return importlib.import_module("fastlogreg.dask").LogisticRegression(**PARAMS)
        module = importlib.import_module("dask_ml.linear_model")
        return module.LogisticRegression(solver="lbfgs", **PARAMS)
    except ImportError:
        raise NotImplementedError(f"{implementation} is not installed") from None


class DaskFit:
    """Fit on data persisted on a two-worker LocalCluster."""

    params = [["fastlogreg", "dask-ml"]]
    param_names = ["implementation"]
    timeout = 600
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, implementation):
        _estimator(implementation)  # NotImplementedError: asv skips
        import dask.array as da
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    dashboard_address=":0")
        self.client = Client(self.cluster)
        rows = -(-N_SAMPLES // N_CHUNKS)
        rng = da.random.default_rng(SEED)
        X = rng.standard_normal((N_SAMPLES, N_FEATURES), chunks=(rows, N_FEATURES))
        w = np.random.default_rng(SEED).standard_normal(N_FEATURES) / np.sqrt(N_FEATURES)
        y = (rng.random(N_SAMPLES, chunks=rows) < 1 / (1 + da.exp(-(X @ w)))).astype(int)
        self.X, self.y = self.client.persist([X, y])
        _estimator(implementation).fit(self.X[:4096], self.y[:4096])  # warm the workers

    def teardown(self, implementation):
        if hasattr(self, "cluster"):  # asv tears down after a skipped setup too
            self.client.close()
            self.cluster.close()

    def time_fit(self, implementation):
        _estimator(implementation).fit(self.X, self.y)

    def track_ratio_to_in_memory(self, implementation):
        """Seconds of the Dask fit over seconds of the in-memory fit (best of 3 each)."""
        local = importlib.import_module("fastlogreg.sklearn").LogisticRegression(**PARAMS)
        X, y = self.client.compute([self.X, self.y], sync=True)
        local.fit(X[:4096], y[:4096])
        best_dask = best_local = np.inf
        for _ in range(3):
            start = time.perf_counter()
            _estimator(implementation).fit(self.X, self.y)
            best_dask = min(best_dask, time.perf_counter() - start)
            start = time.perf_counter()
            local.fit(X, y)
            best_local = min(best_local, time.perf_counter() - start)
        return best_dask / best_local

    track_ratio_to_in_memory.unit = "ratio"
