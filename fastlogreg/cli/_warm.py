"""The compiled backends' first calls, shared with a helper process when it pays.

``compare`` calls every compiled backend once before timing it: Numba compiles
each kernel on its first call (seconds each, on one core) and caches it on
disk, or loads it from that cache.  With an empty cache the main job spent
about 20 s compiling ``loop``, ``parallel`` and ``vectorized`` one after the
other while the second core idled, since Numba compiles one function at a
time per process.

:func:`warm_up` therefore starts one helper process (``python -m
fastlogreg.cli._warm``) that makes the same first calls on a copy of the
data.  The work is cut into units (a backend's kernels, its Gram-span
training), which both processes take in the same order, longest compile
first; each unit goes to whichever process claims it first (a file created
with ``O_EXCL``).  On an empty cache the helper compiles its share into
Numba's cache while this process compiles the rest, and this process then
loads the helper's share from the cache.  With a filled cache this process
loads its first unit quickly and stops the helper: the first calls are then
all made here, as without a helper.  If the helper fails, this process makes
the first calls it missed itself: the helper can cost time, never a result.
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .._sparse import is_sparse

#: The units of first calls, longest compile first (README's compile table:
#: about 6.6, 4.7, 3.4, 3.2, 3.1 and 1.2 s of CPU here): a backend's kernels
#: with its course training loop (``parallel`` runs its public kernels through
#: that loop), then its Gram-span training.  Both processes claim in this order.
UNITS = (("parallel", "kernels"), ("loop", "kernels"), ("vectorized", "kernels"),
         ("parallel", "gram"), ("loop", "gram"), ("vectorized", "gram"))
#: The ``compare`` jobs of each unit.
UNIT_JOBS = {"kernels": ("forward", "cost", "gradients", "propagate", "train"),
             "gram": ("train_gram",)}
#: A first unit made in less time than this came from a filled cache (a load
#: took 0.05 s dense and 0.5-0.8 s sparse here; compiling the first unit,
#: ``parallel``'s kernels, 3-7 s): the helper is stopped then, since loading
#: a unit in the helper and again here cost more than loading it here once.
CACHED_FIRST_UNIT_S = 2.0
#: How long the helper may still run once this process has made its own
#: first calls (its share of compiles is a few tens of seconds at most).
HELPER_TIMEOUT_S = 600.0


def _claim(folder, unit):
    """Claim ``unit`` for this process; False when the other process has it."""
    try:
        os.close(os.open(os.path.join(folder, ".".join(unit) + ".claim"),
                         os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def _save_data(folder, X, Y):
    """Write X and Y where the helper reads them, keeping dtype, layout and format."""
    if is_sparse(X):
        import scipy.sparse
        scipy.sparse.save_npz(os.path.join(folder, "X.npz"), X, compressed=False)
    else:
        np.save(os.path.join(folder, "X.npy"), X)
        if not X.flags.writeable:   # Numba types read-only arrays apart: same signature
            open(os.path.join(folder, "X.readonly"), "w").close()
    np.save(os.path.join(folder, "Y.npy"), Y)


def _load_data(folder):
    """The helper's copy of X and Y (:func:`_save_data`)."""
    sparse_path = os.path.join(folder, "X.npz")
    if os.path.exists(sparse_path):
        import scipy.sparse
        X = scipy.sparse.load_npz(sparse_path)
    else:
        X = np.load(os.path.join(folder, "X.npy"))
        X.flags.writeable = not os.path.exists(os.path.join(folder, "X.readonly"))
    return X, np.load(os.path.join(folder, "Y.npy"))


def first_calls(name, part, X, Y, learning_rate):
    """Make backend ``name``'s first call of the jobs of ``part``; return the seconds taken.

    ``part`` is a key of :data:`UNIT_JOBS`.  The calls are ``compare``'s own
    jobs (one training iteration), so they compile (or load) exactly the
    signatures that the timed calls use.
    """
    from ._compare import _jobs, probe_weights

    jobs = _jobs(name, probe_weights(X.shape[0]), X, Y, 1, learning_rate)
    start = time.perf_counter()
    for job in UNIT_JOBS[part]:
        jobs[job]()
    return time.perf_counter() - start


def _units(names):
    """The units of ``names`` in claiming order (backends outside :data:`UNITS` last)."""
    units = [unit for unit in UNITS if unit[0] in names]
    return units + [(name, part) for name in names for part in UNIT_JOBS
                    if (name, part) not in units]


def _usable_cpus():
    """CPUs this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _helper_command(folder, learning_rate, names):
    """The helper's argv: this interpreter running :func:`_helper_main`."""
    return [sys.executable, "-m", "fastlogreg.cli._warm", folder, repr(learning_rate), *names]


def warm_up(names, X, Y, learning_rate, *, helper=True, command=_helper_command):
    """Make the first calls of the compiled backends ``names``, two processes at a time.

    Parameters
    ----------
    names : sequence of str
        Compiled backends (``loop``, ``parallel``, ``vectorized``).
    X, Y : array_like
        ``compare``'s training data (dense or sparse), as the jobs take it.
    learning_rate : float
    helper : bool, default True
        Share the work with a helper process; it is used only with at least
        two backends and two CPUs.
    command : callable, optional
        ``command(folder, learning_rate, names)``, the helper's argv (tests
        replace it).

    Returns
    -------
    seconds : dict
        Per backend, the seconds its first calls took in this process: a
        compile, or a load from the cache that the helper filled.
    processes : int
        1, or 2 when the helper made at least one backend's first calls.
    """
    units = _units(names)
    seconds = dict.fromkeys(names, 0.0)
    done = set()

    def make(unit):
        spent = first_calls(*unit, X, Y, learning_rate)
        seconds[unit[0]] += spent
        done.add(unit)
        return spent

    with tempfile.TemporaryDirectory(prefix="fastlogreg-warm-") as folder:
        proc = None
        if helper and len(names) >= 2 and _usable_cpus() >= 2:
            _save_data(folder, X, Y)
            with open(os.path.join(folder, "helper.log"), "wb") as log:
                try:
                    proc = subprocess.Popen(command(folder, learning_rate, names),
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                except OSError:     # e.g. no interpreter to start: all of it here
                    pass
        if proc is None:
            for unit in units:
                make(unit)
            return seconds, 1
        try:
            for unit in units:
                if _claim(folder, unit) and make(unit) < CACHED_FIRST_UNIT_S and len(done) == 1:
                    proc.kill()     # a filled cache: the rest is made here (below)
            if len(done) == len(units):
                proc.kill()         # it has nothing of ours to finish
            try:
                proc.wait(timeout=HELPER_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass                # stopped below; what it held is made here
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        helped = len(done) < len(units) and proc.returncode == 0
        for unit in units:
            if unit not in done:    # from the helper's cache, or compiled here if it failed
                make(unit)
    return seconds, 2 if helped else 1


def _helper_main(argv):
    """The helper (argv ``folder learning_rate names...``): claim and make units in order."""
    folder, learning_rate, names = argv[0], float(argv[1]), argv[2:]
    X, Y = _load_data(folder)
    for unit in _units(names):
        if _claim(folder, unit):
            first_calls(*unit, X, Y, learning_rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(_helper_main(sys.argv[1:]))
