"""``compare``'s warm-up: the compiled backends' first calls, shared with a helper process.

What is checked: every unit of first calls is made exactly once between the
two processes (claims), the helper makes the same calls on a faithful copy of
the data, and a helper that fails or never starts costs no result: this
process then makes the calls it missed.  The data are tiny and of the dtype
and layouts other tests use, so the calls load what those tests compiled.
"""

import os
import sys
import time

import numpy as np
import pytest
import scipy.sparse

from fastlogreg.cli import _warm

NAMES = ["loop", "vectorized"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.standard_normal((6, 40)))
    Y = (rng.random((1, 40)) < 0.5).astype(np.float64)
    return X, Y


def _read_only(X):
    X.flags.writeable = False
    return X


def _claim_all_then(code):
    """A helper command that claims every unit before this process can, then runs ``code``."""
    def command(folder, learning_rate, names):
        for unit in _warm._units(names):
            assert _warm._claim(folder, unit)
        return [sys.executable, "-c", code]
    return command


def test_units_cover_each_backend_once_longest_first():
    units = _warm._units(["vectorized", "parallel", "loop"])
    assert sorted(units) == sorted((n, p) for n in ("vectorized", "parallel", "loop")
                                   for p in _warm.UNIT_JOBS)
    assert units[0] == ("parallel", "kernels")
    # A backend outside the table still gets all its jobs, after the others.
    assert _warm._units(["other", "loop"])[-2:] == [("other", "kernels"), ("other", "gram")]
    jobs = [job for part in _warm.UNIT_JOBS.values() for job in part]
    assert sorted(jobs) == sorted(("forward", "cost", "gradients", "propagate", "train",
                                   "train_gram"))


def test_claims_are_exclusive(tmp_path):
    assert _warm._claim(str(tmp_path), ("loop", "gram"))
    assert not _warm._claim(str(tmp_path), ("loop", "gram"))
    assert _warm._claim(str(tmp_path), ("loop", "kernels"))


@pytest.mark.parametrize("make", [
    lambda rng: np.asfortranarray(rng.standard_normal((5, 7))),
    lambda rng: np.ascontiguousarray(rng.standard_normal((5, 7)).astype(np.float32)),
    lambda rng: scipy.sparse.random_array((5, 7), density=0.4, format="csc", rng=rng),
    lambda rng: scipy.sparse.random(5, 7, density=0.4, format="csr", dtype=np.float32,
                                    random_state=rng),
    lambda rng: _read_only(np.asfortranarray(rng.standard_normal((5, 7)))),
], ids=["F-float64", "C-float32", "csc-array", "csr-matrix-float32", "F-read-only"])
def test_the_helpers_copy_of_the_data_is_faithful(tmp_path, make):
    # Numba types a read-only array apart from a writeable one: the flag is kept.
    X = make(np.random.default_rng(1))
    Y = np.ones((1, 7))
    _warm._save_data(str(tmp_path), X, Y)
    X2, Y2 = _warm._load_data(str(tmp_path))
    np.testing.assert_array_equal(Y2, Y)
    assert X2.dtype == X.dtype and X2.shape == X.shape
    if scipy.sparse.issparse(X):
        assert X2.format == X.format and X2.indices.dtype == X.indices.dtype
        np.testing.assert_array_equal(X2.toarray(), X.toarray())
    else:
        assert X2.flags.f_contiguous == X.flags.f_contiguous
        assert X2.flags.c_contiguous == X.flags.c_contiguous
        assert X2.flags.writeable == X.flags.writeable
        np.testing.assert_array_equal(X2, X)


def test_the_helper_makes_every_unit_it_claims(tmp_path, data):
    X, Y = data
    _warm._save_data(str(tmp_path), X, Y)
    assert _warm._helper_main([str(tmp_path), "0.01", *NAMES]) == 0
    claimed = sorted(name for name in os.listdir(tmp_path) if name.endswith(".claim"))
    assert claimed == sorted(f"{n}.{p}.claim" for n, p in _warm._units(NAMES))


def test_warm_up_with_the_real_helper(data):
    X, Y = data
    seconds, processes = _warm.warm_up(NAMES, X, Y, 0.01)
    assert list(seconds) == NAMES and all(s > 0 for s in seconds.values())
    assert processes in (1, 2)      # who claims first is a race: both are right


def test_what_the_helper_claimed_is_loaded_here(data):
    X, Y = data
    seconds, processes = _warm.warm_up(NAMES, X, Y, 0.01,
                                       command=_claim_all_then("raise SystemExit(0)"))
    assert processes == 2
    assert list(seconds) == NAMES and all(s > 0 for s in seconds.values())


@pytest.mark.parametrize("code", ["raise SystemExit(3)", "import os; os.abort()"])
def test_a_failing_helper_costs_no_result(data, code):
    X, Y = data
    seconds, processes = _warm.warm_up(NAMES, X, Y, 0.01, command=_claim_all_then(code))
    assert processes == 1       # everything was made here after all
    assert list(seconds) == NAMES and all(s > 0 for s in seconds.values())


def test_a_helper_that_cannot_start_costs_no_result(data):
    X, Y = data
    seconds, processes = _warm.warm_up(
        NAMES, X, Y, 0.01, command=lambda folder, lr, names: [os.path.join(folder, "missing")])
    assert processes == 1
    assert list(seconds) == NAMES and all(s > 0 for s in seconds.values())


def test_no_helper_for_one_backend_or_when_asked(data, monkeypatch):
    X, Y = data

    def no_command(*args):
        raise AssertionError("no helper expected")

    assert _warm.warm_up(["loop"], X, Y, 0.01, command=no_command)[1] == 1
    assert _warm.warm_up(NAMES, X, Y, 0.01, helper=False, command=no_command)[1] == 1
    monkeypatch.setattr(_warm, "_usable_cpus", lambda: 1)
    assert _warm.warm_up(NAMES, X, Y, 0.01, command=no_command)[1] == 1


def test_a_filled_cache_stops_the_helper(data, monkeypatch):
    """The first unit loads quickly from the cache: the helper is stopped, not waited for.

    The stand-in helper holds the last unit's claim and would sleep for a
    minute; without the rule this process would wait for it (up to the
    timeout, here 30 s) before making that unit itself.
    """
    X, Y = data
    _warm.warm_up(NAMES, X, Y, 0.01, helper=False)      # a filled cache for this data
    monkeypatch.setattr(_warm, "HELPER_TIMEOUT_S", 30.0)

    def command(folder, learning_rate, names):
        assert _warm._claim(folder, _warm._units(names)[-1])
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    start = time.perf_counter()
    seconds, processes = _warm.warm_up(NAMES, X, Y, 0.01, command=command)
    assert time.perf_counter() - start < 20
    assert processes == 1 and all(s > 0 for s in seconds.values())


def test_a_helper_past_its_timeout_is_stopped(data, monkeypatch):
    """A helper still running at the timeout is stopped, and what it held is made here."""
    X, Y = data
    monkeypatch.setattr(_warm, "CACHED_FIRST_UNIT_S", 0.0)     # wait for the helper
    monkeypatch.setattr(_warm, "HELPER_TIMEOUT_S", 0.5)

    def command(folder, learning_rate, names):
        assert _warm._claim(folder, _warm._units(names)[-1])
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    seconds, processes = _warm.warm_up(NAMES, X, Y, 0.01, command=command)
    assert processes == 1 and all(s > 0 for s in seconds.values())
