"""One place for Numba compilation settings.

Every compiled function in fastlogreg is made by :func:`jit`, so the fastmath
flags, the error model and the caching policy are set here and nowhere else.
"""

import hashlib
import os
import types
import warnings

import numba

#: ``reassoc`` lets LLVM vectorize floating-point reductions, ``contract``
#: allows fused multiply-add and ``nsz`` ignores the sign of zero.  ``nnan`` and
#: ``ninf`` are deliberately absent: they would let the compiler delete the
#: ``isfinite`` checks that validation relies on (numba#9383, #7701).  Even
#: without them, ``np.isfinite`` of a value computed in a ``reassoc`` function
#: was folded to True: compiled code uses ``_scalar.is_finite`` instead.
FASTMATH = frozenset({"contract", "reassoc", "nsz"})


def _source_stamp():
    """Short hash of the size and mtime of every fastlogreg source file.

    Numba checks only the timestamp of a cached function's own file, so a
    kernel whose callee in another module changed would load stale machine
    code (numba#1833); a cached training loop linked against an edited kernel
    even crashed.  Every compiled function's cache name carries this stamp:
    any edit to the package starts a fresh cache, never a stale one.
    """
    digest = hashlib.sha1()
    root = os.path.dirname(os.path.abspath(__file__))
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                digest.update(f"{folder[len(root):]}/{name}:{st.st_size}:{st.st_mtime_ns};"
                              .encode())
    return digest.hexdigest()[:10]


SOURCE_STAMP = _source_stamp()


def _clone(func, suffix, bind=None):
    """Return a copy of ``func`` whose qualified name ends in ``suffix``.

    Numba's on-disk cache is keyed by the function's qualified name and source
    line, not by the ``parallel`` flag nor by the globals a body calls, so one
    body compiled both serially and in parallel, or against two different
    kernels, would share (and overwrite) cache entries.  A renamed copy gets its
    own cache file while the source stays written once.  ``bind`` replaces
    global names seen by the copy (e.g. the kernel a training loop calls).
    """
    renames = {"co_name": func.__name__ + suffix}
    if hasattr(func.__code__, "co_qualname"):  # Python >= 3.11
        renames["co_qualname"] = func.__qualname__ + suffix
    code = func.__code__.replace(**renames)
    namespace = func.__globals__
    if bind:
        namespace = dict(namespace, **bind)
    clone = types.FunctionType(code, namespace, code.co_name,
                               func.__defaults__, func.__closure__)
    clone.__qualname__ = func.__qualname__ + suffix
    clone.__doc__ = func.__doc__
    clone.__module__ = func.__module__
    return clone


#: What ``parallel=True`` turns into: only explicit ``prange`` loops run on
#: threads.  Numba would otherwise also split array expressions and
#: reductions such as ``np.sum(w * w)`` over threads, whose partial sums, and
#: so whose bits, depend on the thread count; and each such conversion costs
#: compile time.
PRANGE_ONLY = {"prange": True, "numpy": False, "reduction": False, "setitem": False,
               "inplace_binop": False, "comprehension": False, "stencil": False,
               "fusion": False}


#: For code whose rounding must be exact (range reductions): ``reassoc``
#: would rewrite ``(x - k*hi) - k*lo`` as ``x - k*(hi + lo)``.
EXACT_FASTMATH = frozenset({"contract"})


def jit(func=None, *, parallel=False, suffix="", bind=None, fastmath=FASTMATH,
        inline="never", cache=True):
    """Compile ``func`` in nopython mode with fastlogreg's settings.

    Parameters
    ----------
    func : callable, optional
        The Python function to compile.  Without it, a decorator is returned.
    parallel : bool, default False
        Run ``numba.prange`` loops on Numba's thread pool (and nothing else:
        :data:`PRANGE_ONLY`).  A parallel build gets its own cache file.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The lazily compiled function: nothing is compiled before its first
        call, so importing fastlogreg compiles nothing.

    Notes
    -----
    ``cache=True`` writes machine code next to the sources (or to
    ``NUMBA_CACHE_DIR``); see :func:`_cached` for read-only installs.
    ``error_model="numpy"`` is what ``prange`` bodies use anyway; using it
    everywhere keeps serial and parallel builds alike and lets division
    vectorize.
    """
    if func is None:
        return lambda f: jit(f, parallel=parallel, suffix=suffix, bind=bind,
                             fastmath=fastmath, inline=inline, cache=cache)
    if parallel:
        suffix += "_parallel"
    func = _clone(func, f"{suffix}_{SOURCE_STAMP}", bind)
    options = dict(nogil=True, fastmath=set(fastmath), error_model="numpy", inline=inline,
                   parallel=dict(PRANGE_ONLY) if parallel else False)
    if not cache:
        return numba.njit(cache=False, **options)(func)
    return _cached(numba.njit, func, **options)


def ufunc(func):
    """A dynamic Numba ufunc from a scalar body, cached where possible.

    No signatures are given: a loop is compiled per dtype on first use, so
    importing fastlogreg compiles nothing.
    """
    return _cached(numba.vectorize, func, nopython=True)


def _cached(decorator, func, **options):
    """``decorator(cache=True, **options)(func)``, without the cache if it cannot be.

    Where no cache location is writable (a read-only install and no writable
    home), Numba refuses to decorate ("no locator available", numba#4908):
    compile without a cache instead of failing at import.
    """
    try:
        return decorator(cache=True, **options)(func)
    except RuntimeError as exc:
        if "no locator" not in str(exc):
            raise
        warnings.warn(f"fastlogreg: Numba cannot cache {func.__qualname__} ({exc}); "
                      "compiling without a cache", RuntimeWarning, stacklevel=3)
        return decorator(cache=False, **options)(func)
