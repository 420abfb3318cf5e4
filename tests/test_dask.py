"""fastlogreg.dask against the in-memory estimator, scikit-learn and itself on 1 or 2 workers.

Tolerances.  The Dask fit minimizes the same objective as the in-memory one,
its sums formed chunk by chunk instead of block by block: every evaluation
agrees to a few ulps (relative 1e-15 on these well-conditioned data), and
L-BFGS-B, run to ``tol=1e-10`` from the same start, then follows the same
iterates to within the conditioning of the problem times that (cond(H) <
1e2 here): 1e-11 relative, with an absolute floor of 1e-12 for coefficients
near zero.  scikit-learn's lbfgs stops at its own ``tol``: 1e-4.
"""

import os
import pickle
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import fastlogreg as flr  # noqa: E402
from fastlogreg.dask import LogisticRegression, optimize, propagate  # noqa: E402
from fastlogreg.sklearn import LogisticRegression as Local  # noqa: E402

TIGHT = {"tol": 1e-10, "max_iter": 500}
RTOL, ATOL = 1e-11, 1e-12


def _cluster(n_workers, **kwargs):
    kwargs.setdefault("processes", False)
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                    dashboard_address=":0", **kwargs)


@pytest.fixture(scope="module")
def two_workers():
    """A threaded LocalCluster of two one-thread workers; not the default client."""
    with _cluster(2) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n, d = 4000, 6
    X = rng.standard_normal((n, d))
    X[:, 1] *= 3.0
    w = rng.standard_normal(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w - 0.3)))).astype(np.int64)
    sw = rng.uniform(0.2, 2.0, n)
    return X, y, sw


def _dask(X, y, chunk=1000):
    return da.from_array(X, chunks=(chunk, X.shape[1])), da.from_array(y, chunks=chunk)


def _assert_fits_equal(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=atol)


def _assert_same_float32_optimum(a, b, X, labels):
    """Two one-vs-rest fits on float32 data, equal as far as float32 can tell.

    A float32 logit ``w . x + b`` of ``d`` terms is off by at most about
    ``delta = (d + 1) eps32 (sum_j |w_j x_j| + |b|)``, and the loss, whose
    derivative is below 1 in magnitude, by no more: each fit minimized its
    objective to within about ``delta`` of the float64 one, and stopped where
    that noise hides any decrease.  So each binary objective (float64, computed
    here) must agree to ``2 delta`` (mean over the examples); if each fit is
    within ``2 delta`` of the optimum, strong convexity (``lambda`` the
    smallest eigenvalue of the Hessian) puts each within ``sqrt(4 delta /
    lambda)`` of it, and the two within twice that of each other.
    """
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    eps32 = np.finfo(np.float32).eps
    for k, label in enumerate(a.classes_):
        t = (labels == label).astype(np.float64)
        theta = [np.append(f.coef_[k], f.intercept_[k]) for f in (a, b)]
        values = []
        for fitted, th in zip((a, b), theta, strict=True):
            z = Xb @ th
            values.append(np.mean(np.logaddexp(0.0, z) - t * z)
                          + th[:-1] @ th[:-1] / (2 * fitted.C * n))
        delta = (d + 1) * eps32 * np.mean(np.abs(Xb * theta[1]).sum(axis=1))
        assert abs(values[0] - values[1]) <= 2 * delta
        p = 1 / (1 + np.exp(-(Xb @ theta[1])))
        hessian = (Xb * (p * (1 - p))[:, None]).T @ Xb / n
        hessian[:-1, :-1] += np.eye(d) / (b.C * n)
        radius = 2 * np.sqrt(4 * delta / np.linalg.eigvalsh(hessian)[0])
        assert np.linalg.norm(theta[0] - theta[1]) <= radius


def _assert_same_bits(a, b):
    assert np.array_equal(a.coef_, b.coef_)
    assert np.array_equal(a.intercept_, b.intercept_)
    assert np.array_equal(a.n_iter_, b.n_iter_)


def test_import_fastlogreg_does_not_import_dask():
    code = ("import sys, fastlogreg, fastlogreg.sklearn, fastlogreg.cli; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed'));"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ estimator


def test_matches_in_memory_and_sklearn(data):
    from sklearn.linear_model import LogisticRegression as Reference
    X, y, _ = data
    Xd, yd = _dask(X, y)
    fitted = LogisticRegression(**TIGHT).fit(Xd, yd)
    _assert_fits_equal(fitted, Local(**TIGHT).fit(X, y))
    ref = Reference(tol=1e-10, max_iter=1000).fit(X, y)
    _assert_fits_equal(fitted, ref, rtol=1e-4, atol=1e-4)
    for name in ("coef_", "intercept_", "classes_", "n_iter_"):
        assert isinstance(getattr(fitted, name), np.ndarray)
    assert fitted.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("backend", ["parallel", "loop"])
def test_fit_runs_lbfgs_with_one_blas_thread(data, backend, monkeypatch):
    """The client runs L-BFGS-B while the kernels run (on workers, or here): its BLAS
    calls would wake OpenBLAS threads that spin and take cores from the kernels, so
    a ``parallel`` fit limits BLAS to one thread, as the in-memory estimator does,
    and restores it after; other backends keep the caller's setting."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastlogreg.dask import _chunks

    def blas_threads():
        pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        if not pools:
            pytest.skip("no BLAS library that threadpoolctl controls")
        return max(p["num_threads"] for p in pools)

    seen = []
    evaluate = _chunks.ChunkKernels.value_and_grad

    def spy(self, *args):
        seen.append(blas_threads())
        return evaluate(self, *args)

    monkeypatch.setattr(_chunks.ChunkKernels, "value_and_grad", spy)
    X, y, _ = data
    caller = blas_threads()
    LogisticRegression(backend=backend).fit(*_dask(X, y))
    assert seen and set(seen) == {1 if backend == "parallel" else caller}
    assert blas_threads() == caller


def test_bitwise_same_on_local_scheduler_one_and_two_workers(data, two_workers):
    X, y, sw = data
    Xd, yd = _dask(X, y)
    swd = da.from_array(sw, chunks=1000)
    local = LogisticRegression(C=0.5).fit(Xd, yd, sample_weight=swd)
    two = LogisticRegression(C=0.5, client=two_workers).fit(Xd, yd, sample_weight=swd)
    _assert_same_bits(local, two)
    # The serial kernel in every task: the same bits as the parallel one.
    loop = LogisticRegression(C=0.5, backend="loop", client=two_workers).fit(
        Xd, yd, sample_weight=swd)
    _assert_same_bits(local, loop)
    # Read from the source at every evaluation: the same chunks, the same bits.
    unpersisted = LogisticRegression(C=0.5, client=two_workers, persist=False).fit(
        Xd, yd, sample_weight=swd)
    _assert_same_bits(local, unpersisted)
    with _cluster(1) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        one = LogisticRegression(C=0.5, client=client).fit(Xd, yd, sample_weight=swd)
    _assert_same_bits(local, one)
    _assert_fits_equal(local, Local(C=0.5).fit(X, y, sample_weight=sw))


def test_default_client_is_used(data):
    X, y, _ = data
    Xd, yd = _dask(X, y)
    with _cluster(1) as cluster, distributed.Client(cluster) as client:
        fitted = LogisticRegression().fit(Xd, yd)
        assert client.run(lambda: 1)  # the cluster is alive and was the one used
    _assert_same_bits(fitted, LogisticRegression().fit(Xd, yd))


def test_parallel_kernels_on_two_threads_per_worker():
    """Chunks big enough for the parallel build, two tasks at once in one worker:
    the process-wide lock serializes them (no workqueue abort), same bits as serial."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120_000, 6))
    y = (X[:, 0] + rng.standard_normal(len(X)) > 0).astype(int)
    Xd, yd = _dask(X, y, chunk=30_000)  # 180,000 elements per chunk: parallel build
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        parallel = LogisticRegression(backend="parallel", client=client).fit(Xd, yd)
        # The serial kernel on both threads of the worker's ChunkHost.
        loop = LogisticRegression(backend="loop", client=client).fit(Xd, yd)
    reference = LogisticRegression(backend="loop").fit(Xd, yd)
    _assert_same_bits(parallel, reference)
    _assert_same_bits(loop, reference)


def test_chunk_hosts_give_the_task_results(two_workers):
    """A persisted store answers through one ChunkHost actor per worker holding
    chunks, with the results of one task per chunk, in chunk order; a chunk's
    error is the first failed chunk's, as on the task path."""
    from fastlogreg.dask._chunks import ChunkStore
    X = da.from_array(np.arange(48.0).reshape(12, 4), chunks=(3, 4))
    store = ChunkStore(two_workers, persist=True)
    chunks = store.blocks(X)
    unheld = store.blocks(X)  # other futures of the same data: not held, tasks
    store.host([chunks])
    hosted = store.run(_chunk_sum, [chunks], 10.0)
    assert sorted(i for indices, _ in store._hosts for i in indices) == [0, 1, 2, 3]
    assert hosted == store.run(_chunk_sum, [unheld], 10.0)
    assert hosted == store.gather(store.map(_chunk_sum, [chunks], 10.0))
    assert hosted == [(i, X[3 * i:3 * i + 3].sum().compute() + 10.0) for i in range(4)]
    with pytest.raises(ValueError, match="chunk 1 is bad"):
        store.run(_chunk_sum, [chunks], -1.0)
    assert store._hosts  # a chunk's error is an answer, not a lost worker


def test_chunk_hosts_share_the_work(two_workers):
    """Chunks all kept by one worker are shared out: each worker's host runs
    half of them (one chunk copied per move), with the same results."""
    from fastlogreg.dask._chunks import ChunkStore
    first = sorted(two_workers.scheduler_info()["workers"])[0]
    values = np.arange(48.0).reshape(12, 4) + 0.5  # keys of its own: not already kept
    X = two_workers.persist(da.from_array(values, chunks=(3, 4)), workers=[first])
    store = ChunkStore(two_workers, persist=True)
    chunks = store.blocks(X)
    with two_workers.as_current():
        distributed.wait(chunks)
    assert {w for ws in two_workers.who_has(chunks).values() for w in ws} == {first}
    store.host([chunks], [3, 3, 3, 3])
    try:
        assert sorted(len(indices) for indices, _ in store._hosts) == [2, 2]
        hosted = store.run(_chunk_sum, [chunks], 0.0)
        assert store._hosts  # answered by the hosts, not the fallback
        assert hosted == [(i, values[3 * i:3 * i + 3].sum()) for i in range(4)]
    finally:
        store.close()


def test_blocks_of_a_persisted_array_are_its_futures(two_workers):
    """An array persisted on the client hands its own futures over (no compute
    round trip); lazy or derived arrays are computed, with the same values."""
    from fastlogreg.dask._chunks import ChunkStore, persisted_futures
    values = np.arange(60.0).reshape(15, 4) - 0.25  # keys of its own
    lazy = da.from_array(values, chunks=(4, 4))
    X = two_workers.persist(lazy)
    y = two_workers.persist(da.from_array(values[:, 0], chunks=4))
    keys = list(X.__dask_keys__())
    assert [f.key for f in persisted_futures(X, two_workers)] == [k[0] for k in keys]
    assert persisted_futures(lazy, two_workers) is None
    assert persisted_futures(X + 1.0, two_workers) is None
    assert persisted_futures(X[:8], two_workers) is None
    store = ChunkStore(two_workers, persist=True)
    x_parts, y_parts, none, derived = store.blocks(X, y, None, X * 2.0)
    assert [f.key for f in x_parts] == [k[0] for k in keys]
    assert none is None and len(derived) == 4
    got = two_workers.gather([*x_parts, *y_parts, *derived])
    np.testing.assert_array_equal(np.concatenate(got[:4]), values)
    np.testing.assert_array_equal(np.concatenate(got[4:8]), values[:, 0])
    np.testing.assert_array_equal(np.concatenate(got[8:]), 2.0 * values)


@pytest.mark.parametrize("holders, sizes, expected", [
    # as persist left 8 chunks: 5 on one worker, 3 on the other -> 4 and 4
    ([["a"], ["a"], ["b"], ["a"], ["a"], ["b"], ["a"], ["b"]], [1] * 8,
     {"a": [1, 3, 4, 6], "b": [0, 2, 5, 7]}),
    ([["a"]] * 3, [5, 5, 2], {"a": [0, 1, 2]}),  # one worker: nothing to move
    ([["a"], ["a", "b"], ["a"]], [4, 4, 4], {"a": [0, 2], "b": [1]}),  # a replica used first
    ([["a"], ["a"], ["b"]], [10, 1, 1], {"a": [0], "b": [1, 2]}),  # sizes, not counts
    ([["a"], ["b"]], [3, 1], {"a": [0], "b": [1]}),  # no move would shorten the longest
    ([["a"]] * 4, [1] * 4, {"a": [2, 3], "b": [0, 1]}),  # a worker without chunks gets some
])
def test_balance_evens_out_the_work(holders, sizes, expected):
    from fastlogreg.dask._chunks import balance
    got = balance(holders, sizes, ["a", "b"] if expected.keys() >= {"b"} else ["a"])
    assert got == expected
    assert sorted(i for indices in got.values() for i in indices) == list(range(len(sizes)))


def _chunk_sum(chunk, index, offset):
    if offset < 0 and index >= 1:
        raise ValueError(f"chunk {index} is bad")
    return index, float(chunk.sum()) + offset


@pytest.mark.parametrize("params", [
    {"C": np.inf}, {"C": 0.01, "fit_intercept": False}, {"C": 3.0, "solver": "lbfgs"},
])
def test_parameters_follow_in_memory(data, params):
    X, y, sw = data
    Xd, yd = _dask(X, y, chunk=700)
    fitted = LogisticRegression(**params, **TIGHT).fit(Xd, yd, sample_weight=sw)
    _assert_fits_equal(fitted, Local(**params, **TIGHT).fit(X, y, sample_weight=sw))
    if not params.get("fit_intercept", True):
        assert fitted.intercept_.tolist() == [0.0]


def test_multiclass_string_labels_and_float32(data):
    X, _, _ = data
    labels = np.array(["cat", "dog", "eel"])[np.argmax(X[:, :3], axis=1)]
    Xd = da.from_array(X.astype(np.float32), chunks=(1000, 6))
    yd = da.from_array(labels, chunks=1000)
    fitted = LogisticRegression(**TIGHT).fit(Xd, yd)
    ref = Local(**TIGHT).fit(X.astype(np.float32), labels)
    assert fitted.classes_.tolist() == ["cat", "dog", "eel"]
    assert fitted.coef_.shape == (3, 6)
    # float32 data: each chunk's sums round in float32 products (see README), so
    # the objective is known to float32 rounding only; both fits stop in that
    # noise (its relative decrease reaches 64 eps first), wherever it lets them.
    _assert_same_float32_optimum(fitted, ref, X, labels)
    proba = fitted.predict_proba(Xd)
    assert isinstance(proba, da.Array) and proba.shape == (X.shape[0], 3)
    np.testing.assert_allclose(proba.compute(), fitted.to_local().predict_proba(
        X.astype(np.float32)), rtol=1e-12)
    assert fitted.predict(Xd).compute().tolist() == ref.predict(X.astype(np.float32)).tolist()


def test_dataframe_input_and_column_chunks(data):
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame["label"] = np.where(y == 1, "yes", "no")
    ddf = dd.from_pandas(frame, npartitions=3)
    fitted = LogisticRegression(**TIGHT).fit(ddf.drop(columns="label"), ddf["label"])
    features = frame.drop(columns="label")
    ref = Local(**TIGHT).fit(features, np.where(y == 1, "yes", "no"))
    _assert_fits_equal(fitted, ref)
    # Column names recorded as scikit-learn does, checked at prediction.
    np.testing.assert_array_equal(fitted.feature_names_in_, ref.feature_names_in_)
    X_frame = ddf.drop(columns="label")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning from the chunks
        np.testing.assert_array_equal(fitted.predict(X_frame).compute(), ref.predict(features))
    with pytest.raises(ValueError, match="feature names should match"):
        fitted.predict(X_frame[X_frame.columns[::-1]])
    np.testing.assert_array_equal(fitted.to_local().feature_names_in_, ref.feature_names_in_)
    # An X chunked along the features too: the chunks are merged by rows.
    Xd = da.from_array(X, chunks=(1000, 2))
    refit = fitted.fit(Xd, np.where(y == 1, "yes", "no"))  # arrays: the names are gone
    assert not hasattr(refit, "feature_names_in_")
    _assert_fits_equal(refit, Local(**TIGHT).fit(X, np.where(y == 1, "yes", "no")))


def test_predictions_are_dask_and_score_is_a_float(data, two_workers):
    X, y, _ = data
    Xd, yd = _dask(X, y)
    fitted = LogisticRegression(client=two_workers).fit(Xd, yd)
    local = fitted.to_local()
    assert isinstance(local, Local)
    _assert_same_bits(local, fitted)
    for method, shape in (("decision_function", (X.shape[0],)),
                          ("predict_proba", (X.shape[0], 2)),
                          ("predict_log_proba", (X.shape[0], 2)),
                          ("predict", (X.shape[0],))):
        out = getattr(fitted, method)(Xd)
        assert isinstance(out, da.Array) and out.shape == shape, method
        np.testing.assert_array_equal(out.compute(), getattr(local, method)(X))
        np.testing.assert_array_equal(getattr(fitted, method)(X), getattr(local, method)(X))
    score = fitted.score(Xd, yd)
    assert isinstance(score, float) and score == local.score(X, y)
    assert fitted.score(Xd, yd, sample_weight=np.ones(len(y))) == score


def test_numpy_input_is_the_in_memory_fit(data):
    X, y, sw = data
    _assert_same_bits(LogisticRegression().fit(X, y, sample_weight=sw),
                      Local().fit(X, y, sample_weight=sw))


def test_warm_start_and_pickle_without_client(data, two_workers):
    X, y, _ = data
    Xd, yd = _dask(X, y)
    clf = LogisticRegression(warm_start=True, client=two_workers, **TIGHT).fit(Xd, yd)
    first = clf.n_iter_[0]
    clf.fit(Xd, yd)
    assert clf.n_iter_[0] < first
    clone = pickle.loads(pickle.dumps(clf))
    assert clone.client is None and clf.client is two_workers
    _assert_same_bits(clone, clf)


# ------------------------------------------------------------- bad input, faults


def test_nan_in_one_chunk_is_named(data, two_workers):
    X, y, _ = data
    X = X.copy()
    X[2345, 4] = np.nan
    Xd, yd = _dask(X, y)
    for client in (None, two_workers):
        with pytest.raises(ValueError, match=r"X contains NaN.*X\[2345, 4\].*chunk 2"):
            LogisticRegression(client=client).fit(Xd, yd)


def test_bad_labels_are_named(data, two_workers):
    X, y, _ = data
    Xd, _ = _dask(X, y)
    y_nan = y.astype(float)
    y_nan[3001] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN.*y\[3001\] \(chunk 3\)"):
        LogisticRegression(client=two_workers).fit(Xd, da.from_array(y_nan, chunks=1000))
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(Xd, da.from_array(y + 0.5 * (y == 0), chunks=1000))
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(Xd, da.zeros(len(y), chunks=1000))
    with pytest.raises(ValueError, match=r"sample_weight must be finite and >= 0.*\[11\]"):
        LogisticRegression().fit(Xd, y, sample_weight=-np.arange(len(y), dtype=float) + 10)


def test_chunks_that_do_not_line_up(data, two_workers):
    X, y, _ = data
    Xd, _ = _dask(X, y)
    with pytest.raises(ValueError, match="y has 3999 samples but X has 4000"):
        LogisticRegression().fit(Xd, y[:-1])
    # Unknown chunk sizes (boolean selection): found by the tasks, chunk named.
    keep = Xd[:, 0] > -np.inf
    y_odd = da.from_array(y, chunks=((900, 1100, 1000, 1000),))
    with pytest.raises(ValueError, match="chunk 0 of X has 1000 examples but chunk 0 of "
                                         "y has 900"):
        LogisticRegression(client=two_workers).fit(Xd[keep], y_odd[y_odd > -1])
    with pytest.raises(ValueError, match="X has 4 chunks of rows, y has 3"):
        y3 = da.from_array(y, chunks=1400)
        LogisticRegression().fit(Xd[keep], y3[y3 > -1])
    # Known but different boundaries: y is rechunked like X.
    fitted = LogisticRegression().fit(Xd, da.from_array(y, chunks=1500))
    _assert_same_bits(fitted, LogisticRegression().fit(Xd, da.from_array(y, chunks=1000)))


def test_invalid_parameters(data):
    X, y, _ = data
    Xd, yd = _dask(X, y)
    for params, message in (({"solver": "gd"}, "solver must be 'lbfgs'"),
                            ({"persist": "yes"}, "persist must be"),
                            ({"client": "tcp://x"}, "client must be"),
                            ({"C": -1.0}, "C must be a positive")):
        with pytest.raises(ValueError, match=message):
            LogisticRegression(**params).fit(Xd, yd)
    with pytest.raises(TypeError, match="must hold real numbers"):
        LogisticRegression().fit(Xd.astype(complex), yd)


def test_worker_killed_during_fit_gives_the_same_result(data, caplog):
    """Processes: a worker killed between two evaluations loses its chunks and
    its ChunkHost; the call to it fails, the evaluation runs as one task per
    chunk, the scheduler recomputes the lost chunks from the source graph and
    the fit ends as without."""
    caplog.set_level("INFO", logger="fastlogreg.dask._chunks")
    X, y, _ = data
    Xd, yd = _dask(X, y)
    reference = LogisticRegression(backend="loop").fit(Xd, yd)
    with _cluster(2, processes=True) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        killed = []

        def kill_one(iteration, objective):
            if iteration == 2 and not killed:
                address, pid = sorted(pids.items())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(address)

        fitted = LogisticRegression(backend="loop", client=client).fit(
            Xd, yd, callback=kill_one)
    assert killed
    assert "ChunkHost call failed" in caplog.text  # the fast path ran, then fell back
    _assert_same_bits(fitted, reference)


def test_out_of_core_reads_chunks_from_zarr(data, tmp_path):
    """A memory limit below the data's size: chunks are not persisted, every
    evaluation reads them from the zarr store, and the fit is unchanged."""
    zarr = pytest.importorskip("zarr")  # noqa: F841
    import dask
    X, y, _ = data
    da.from_array(X, chunks=(500, 6)).to_zarr(str(tmp_path / "X.zarr"))
    Xz = da.from_zarr(str(tmp_path / "X.zarr"))
    off = {f"distributed.worker.memory.{k}": False
           for k in ("target", "spill", "pause", "terminate")}
    with dask.config.set(off), _cluster(2, memory_limit="64kB") as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        from fastlogreg.dask._chunks import PERSIST_FRACTION, memory_budget
        assert X.nbytes > PERSIST_FRACTION * memory_budget(client)
        fitted = LogisticRegression(client=client, **TIGHT).fit(Xz, y)
        assert not client.has_what() or all(
            "from-zarr" not in str(k) for keys in client.has_what().values() for k in keys)
    _assert_fits_equal(fitted, Local(**TIGHT).fit(X, y))
    _assert_same_bits(fitted, LogisticRegression(**TIGHT).fit(da.from_array(X, chunks=500), y))


# ------------------------------------------------------------------ course API


@pytest.fixture(scope="module")
def course(data):
    X, y, _ = data
    return X.T.copy(), y.reshape(1, -1)


@pytest.mark.parametrize("client_name", ["local", "two_workers"])
def test_propagate_matches_in_memory(course, client_name, request):
    client = None if client_name == "local" else request.getfixturevalue("two_workers")
    XT, Y = course
    w = np.linspace(-1, 1, XT.shape[0]).reshape(-1, 1)
    Xd = da.from_array(XT, chunks=(3, 900))  # rows merged, 5 chunks of examples
    grads, cost = propagate(w, 0.25, Xd, Y, client=client)
    ref_grads, ref_cost = flr.propagate(w, 0.25, XT, Y)
    assert grads["dw"].shape == w.shape
    np.testing.assert_allclose(grads["dw"], ref_grads["dw"], rtol=1e-12, atol=1e-15)
    assert cost == pytest.approx(ref_cost, rel=1e-13)
    assert grads["db"] == pytest.approx(ref_grads["db"], rel=1e-12, abs=1e-15)
    grads_y, _ = propagate(w, 0.25, Xd, da.from_array(Y[0], chunks=1000), client=client)
    np.testing.assert_array_equal(grads_y["dw"], grads["dw"])


def test_course_example_values():
    w, b = np.array([[1.], [2.]]), 2.
    X, Y = np.array([[1., 2., -1.], [3., 4., -3.2]]), np.array([[1, 0, 1]])
    grads, cost = propagate(w, b, da.from_array(X, chunks=(2, 2)), Y)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], rtol=1e-8)
    assert grads["db"] == pytest.approx(0.00145557813678, rel=1e-10)
    assert cost == pytest.approx(5.801545319394553, rel=1e-13)
    params, _, costs = optimize(w, b, da.from_array(X, chunks=(2, 2)), Y, 100, 0.009)
    np.testing.assert_allclose(params["w"].ravel(), [0.19033591, 0.12259159], rtol=1e-7)
    assert params["b"] == pytest.approx(1.92535983, rel=1e-8)
    assert costs[0] == pytest.approx(5.801545319394553, rel=1e-13)


def test_optimize_matches_in_memory(course, two_workers, capsys):
    XT, Y = course
    Xd = da.from_array(XT, chunks=(6, 1000))
    w0 = np.zeros((XT.shape[0], 1))
    seen = []
    params, grads, costs = optimize(w0, 0.0, Xd, Y, 250, 0.5, print_cost=True,
                                    client=two_workers, callback=lambda i, c: seen.append(i))
    ref_params, ref_grads, ref_costs = flr.optimize(w0, 0.0, XT, Y, 250, 0.5)
    np.testing.assert_allclose(params["w"], ref_params["w"], rtol=1e-12, atol=1e-14)
    assert params["b"] == pytest.approx(ref_params["b"], rel=1e-12)
    np.testing.assert_allclose(grads["dw"], ref_grads["dw"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-13)
    assert seen == [0, 100, 200]
    assert "Cost after iteration 200:" in capsys.readouterr().out
    local_params, _, _ = optimize(w0, 0.0, Xd, Y, 250, 0.5)
    np.testing.assert_array_equal(local_params["w"], params["w"])


@pytest.mark.parametrize("make", [
    lambda a: a, lambda a: np.asfortranarray(a), lambda a: a[:, 3:40], lambda a: a[::2],
    lambda a: a.T[5:30], lambda a: np.asfortranarray(a)[2:20, 1:5], lambda a: a[:1, 7:8],
    lambda a: a[3], lambda a: a[:, 5], lambda a: a.ravel()[::3]],
    ids=["C", "F", "column-slice", "row-step", "transposed-slice", "F-block", "one",
         "1-D row", "1-D column", "1-D step"])
def test_as_shipped_is_the_layout_pickle_gives(make):
    """Chunks read in this process take the layout a worker receives through pickle."""
    from fastlogreg.dask._chunks import as_shipped
    chunk = make(np.arange(60 * 48, dtype=np.float64).reshape(60, 48))
    shipped = pickle.loads(pickle.dumps(chunk))
    ours = as_shipped(chunk)
    np.testing.assert_array_equal(ours, chunk)
    assert ours.flags.c_contiguous == shipped.flags.c_contiguous
    assert ours.flags.f_contiguous == shipped.flags.f_contiguous
    assert (ours is chunk) == (chunk.flags.c_contiguous or chunk.flags.f_contiguous)


@pytest.mark.parametrize("client_name,persist", [("local", True), ("local", False),
                                                 ("two_workers", True), ("two_workers", False)])
def test_chunk_views_reach_the_kernel_as_shipped(course, client_name, persist, request,
                                                 monkeypatch):
    """``from_array``'s column slices of a course X are strided views in this process
    (local scheduler, threaded workers) but C-ordered copies on a worker that unpickled
    them; the kernels add in a layout-dependent order (an AVX-512 CPU gave the local
    scheduler and two workers different last bits), so every chunk reaches the kernel
    contiguous, and the results agree bitwise."""
    from fastlogreg.dask import _chunks
    client = None if client_name == "local" else request.getfixturevalue("two_workers")
    XT, Y = course
    Xd = da.from_array(XT, chunks=(6, 1000))
    seen = []
    kernel = _chunks.run_kernel

    def spy(backend, w, b, X, *args):
        seen.append((X.flags.c_contiguous, X.flags.f_contiguous))
        return kernel(backend, w, b, X, *args)

    monkeypatch.setattr(_chunks, "run_kernel", spy)
    w = np.linspace(-1, 1, XT.shape[0])
    grads, cost = propagate(w, 0.5, Xd, Y, client=client, persist=persist)
    assert len(seen) >= 4 and all(c or f for c, f in seen)
    copies = [np.ascontiguousarray(XT[:, i:i + 1000]) for i in range(0, XT.shape[1], 1000)]
    ref_grads, ref_cost = propagate(w, 0.5, da.concatenate(
        [da.from_array(c, chunks=c.shape) for c in copies], axis=1), Y)
    np.testing.assert_array_equal(grads["dw"], ref_grads["dw"])
    assert (grads["db"], cost) == (ref_grads["db"], ref_cost)


def test_course_bad_input(course, two_workers):
    XT, Y = course
    Xd = da.from_array(XT, chunks=(6, 1000))
    bad = Y.astype(float).copy()
    bad[0, 2222] = 2.0
    with pytest.raises(ValueError, match=r"only labels 0 and 1; got 2.0 at index 2222 "
                                         r"\(chunk 2\)"):
        propagate(np.zeros(6), 0.0, Xd, bad, client=two_workers)
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 4000\)"):
        propagate(np.zeros(6), 0.0, Xd, Y[:, :10])
    with pytest.raises(ValueError, match=r"w must have shape \(6, 1\) or \(6,\)"):
        optimize(np.zeros(5), 0.0, Xd, Y)
    with pytest.raises(TypeError, match="dask array"):
        propagate(np.zeros(6), 0.0, XT, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a diverging run raises, it does not warn
        with pytest.raises(FloatingPointError, match="diverged"):
            optimize(np.zeros(6), 0.0, Xd * 1e155, Y, 200, 1e150)


# ------------------------------------------------------------------ command line


def test_cli_train_on_dask_from_zarr_and_parquet(data, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    zarr = pytest.importorskip("zarr")
    from fastlogreg.cli import main
    X, y, _ = data
    group = zarr.open_group(str(tmp_path / "d.zarr"), mode="w")
    group.create_array("X", data=X, chunks=(1000, X.shape[1]))
    group.create_array("y", data=y, chunks=(1000,))
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame["label"] = y
    frame["split"] = np.where(np.arange(len(y)) < 3000, "train", "test")
    frame.to_parquet(tmp_path / "d.parquet")
    reference = LogisticRegression().fit(da.from_array(X, chunks=1000), y)
    with _cluster(2) as cluster:
        code = main(["train", "--dask", cluster.scheduler_address, "--data",
                     str(tmp_path / "d.zarr"), "--save", str(tmp_path / "m.npz")])
        assert code == 0
        out = capsys.readouterr().out
        assert "in 4 chunks; 2 worker(s)" in out and "train accuracy:" in out
        model = np.load(tmp_path / "m.npz")
        np.testing.assert_array_equal(model["w"].ravel(), reference.coef_[0])
        assert model["b"] == reference.intercept_[0]
        assert main(["train", "--dask", cluster.scheduler_address, "--data",
                     str(tmp_path / "d.parquet"), "--C", "inf"]) == 0
        out = capsys.readouterr().out
        assert "X 3000 x 6" in out and "test accuracy:" in out
    # Without --dask, the same files are read into memory for gradient descent.
    assert main(["train", "--data", str(tmp_path / "d.zarr"), "--iterations", "10",
                 "--no-progress"]) == 0
    assert "6 x 4000" in capsys.readouterr().out
    assert main(["train", "--data", str(tmp_path / "missing.zarr")]) == 2
    assert "no such file" in capsys.readouterr().err
