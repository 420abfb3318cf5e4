"""Dispatch-path sweep: every code path of the compiled kernels, at and around its threshold.

For every compiled backend x dtype (float32, float64) x layout (C, F, a
strided view) and for the cache sizes of each kind of machine this project runs
on (plus tiny ones that put every threshold at small shapes), ``forward`` and
``value_and_grad`` (with and without ``sample_weight``) are compared with an
oracle computed in extended precision, on shapes at, below and above every
threshold that picks a code path or sizes a block (:func:`threshold_shapes`).

Tolerances are error bounds derived from the kernels' summation schemes
(:func:`logit_bound` and the bounds below it), not constants that happened to
pass.  The sweep also records every dispatch decision of the explicit-loop
backends and asserts that every path of :func:`fastlogreg.backends.blocked.all_paths`
was taken: a path added later cannot escape it.

CI runs this module twice more: under ``NUMBA_BOUNDSCHECK=1`` (every index
checked) and compiled for a baseline x86-64 (``NUMBA_CPU_NAME=generic``).
"""

import os

import numpy as np
import pytest
from bounds import U64, check_forward, check_value_and_grad, logit_bound, oracle, unit_roundoff
from conftest import WARNINGS_AS_ERRORS, make_X
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastlogreg as flr
from fastlogreg import _tiling
from fastlogreg._tiling import (
    CHUNK_ALIGN,
    FLOAT32_STRIP,
    MAX_CHUNKS,
    MIN_BLOCK,
    MIN_CHUNK_EXAMPLES,
    PACKED_MAX_FEATURES,
    PARALLEL_MIN_ELEMENTS,
    SAMPLE_MAJOR_BLOCK,
    WIDE_MAX_EXAMPLES,
    KiB,
    MiB,
    cache_sizes,
)
from fastlogreg.backends import blocked, get_backend

pytestmark = WARNINGS_AS_ERRORS

#: Cache sizes of the machines the kernels must hold on, and tiny ones.
MACHINES = {
    # AMD EPYC znver3 (AVX2): 32 KiB L1d, 512 KiB L2 per core, 32 MiB L3 for 2 CPUs.
    "znver3": dict(l1d=32 * KiB, l2=512 * KiB, l3=32 * MiB, l3_share=16 * MiB),
    # Intel with AVX-512: 48 KiB L1d, 2 MiB L2 per core (the kernels were tuned there).
    "avx512": dict(l1d=48 * KiB, l2=2 * MiB, l3=32 * MiB, l3_share=16 * MiB),
    # Every threshold at small shapes: blocks of a few examples, "wide" below 48 KiB.
    "tiny": dict(l1d=1 * KiB, l2=4 * KiB, l3=64 * KiB, l3_share=32 * KiB),
}
LAYOUTS = ("C", "F", "strided")
#: Shapes with more elements run on one backend and layout only (see test_sweep).
BIG_ELEMENTS = 1 << 21
#: The real machines' shapes kept by FASTLOGREG_SWEEP=small.
SMALL_ELEMENTS = 1 << 18
DTYPES = (np.float32, np.float64)
COMPILED = ("loop", "parallel", "vectorized")

def _around(value, low=1):
    """``value - 1, value, value + 1``, kept at or above ``low``."""
    return sorted({max(low, value - 1), max(low, value), value + 1})


def threshold_shapes(tiling, itemsize):
    """Shapes ``(n, m)`` at, below and above every threshold, for one tiling and dtype.

    Thresholds (all read from the library, none restated here): n = 1 and
    m = 1; the packed-layout feature count; the feature count where the
    sample-major gradient groups 8 examples instead of 4 (``wide_g_bytes``);
    the float32 strip length; the feature counts where the sample-major and the
    feature-major block sizes reach their smallest value, with m at, below and
    above one, two and ``MAX_CHUNKS + 1`` blocks; the chunk minimum
    (``MIN_CHUNK_EXAMPLES`` per chunk); the "wide" path's example count and
    byte size; the serial/parallel switch (``PARALLEL_MIN_ELEMENTS``).
    """
    shapes = {(1, 1), (1, 9), (7, 1), (2, 3)}
    # Packed layout: n <= PACKED_MAX_FEATURES (F order), with m around its blocks.
    block = tiling.feature_major_block(PACKED_MAX_FEATURES, itemsize)
    for n in _around(PACKED_MAX_FEATURES):
        shapes |= {(n, m) for m in (*_around(block), 2 * block + 3)}
    # The sample-major gradient's group of eight: n * 8 > wide_g_bytes.
    g = tiling.wide_g_bytes // 8
    shapes |= {(n, 37) for n in _around(g)}
    # float32 strips: one strip up to FLOAT32_STRIP features, several beyond.
    shapes |= {(n, 21) for n in (*_around(FLOAT32_STRIP), 2 * FLOAT32_STRIP + 1)}
    # Sample-major blocks: the smallest block (CHUNK_ALIGN) from n_sm features on.
    n_sm = tiling.sample_major_block_bytes // (CHUNK_ALIGN * itemsize)
    sm_blocks = {}
    for n in _around(n_sm):
        sm_blocks[n] = block = tiling.sample_major_block(n, itemsize)
        shapes |= {(n, m) for m in (*_around(block), *_around(2 * block))}
    n_big = max(sm_blocks)
    shapes.add((n_big, (MAX_CHUNKS + 1) * sm_blocks[n_big] + 3))   # chunks of several blocks
    # A mid-sized sample-major block (not a power of two).
    n_mid = tiling.sample_major_block_bytes // (5 * CHUNK_ALIGN * itemsize)
    block = tiling.sample_major_block(n_mid, itemsize)
    shapes |= {(n_mid, m) for m in (*_around(block), 3 * block + 5)}
    # Chunk minimum: m // MIN_CHUNK_EXAMPLES chunks at most.
    shapes |= {(5, m) for m in (*_around(MIN_CHUNK_EXAMPLES), *_around(2 * MIN_CHUNK_EXAMPLES))}
    # Feature-major blocks: MIN_BLOCK examples from n_fm features on (m past the
    # wide path's limit, so that the blocked kernels run).
    n_fm = tiling.feature_major_block_bytes // (MIN_BLOCK * itemsize)
    for n in _around(n_fm):
        block = tiling.feature_major_block(n, itemsize)
        shapes.add((n, max(WIDE_MAX_EXAMPLES + 1, 2 * block + 1)))
    # The "wide" path: m <= WIDE_MAX_EXAMPLES and n * m * itemsize <= wide_max_bytes.
    shapes |= {(3, m) for m in _around(WIDE_MAX_EXAMPLES)}
    m_w = 48
    n_w = tiling.wide_max_bytes // (m_w * itemsize)
    shapes |= {(n, m_w) for n in _around(n_w)} | {(n_w, m_w + 1)}
    # Serial/parallel switch of the parallel backend: X.size around the limit,
    # in shapes that take each layout's kernels.
    limit = PARALLEL_MIN_ELEMENTS
    for n in (1, 8, 2 * g + 8):
        shapes |= {(n, -(-size // n)) for size in (limit - n, limit, limit + n)}
    # Features past several strips and past the group of eight, over two blocks.
    n_f32 = max(2 * FLOAT32_STRIP + 1, g + 1)
    shapes.add((n_f32, 2 * tiling.sample_major_block(n_f32, itemsize) + 1))
    return sorted(shapes)


def layout_X(n, m, layout, dtype, seed):
    """X of shape (n, m): C, F, or a strided (non-contiguous) view of either order."""
    if layout == "strided":
        # Alternate the strided view's order, so both kinds of kernel see one.
        layout = "cols" if (n + m) % 2 else "T_strided"
    return make_X(n, m, layout, dtype, seed=seed)


def problem(n, m, layout, dtype):
    """Deterministic (w, b, X, Y, sw) with logits of order one."""
    seed = 7
    X = layout_X(n, m, layout, dtype, seed)
    rng = np.random.default_rng([seed, n, m])
    w = rng.standard_normal((n, 1)) * (2.0 / np.sqrt(n))
    b = -0.25
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    sw = rng.uniform(0.25, 2.0, m)
    return w, b, X, Y, sw


# --- The sweep ----------------------------------------------------------------


@pytest.fixture(scope="module")
def paths_taken():
    """Every Plan.path the explicit-loop backends took in this module, per backend."""
    return {"loop": set(), "parallel": set()}


@pytest.fixture
def record_paths(monkeypatch, paths_taken):
    """Record the path of every dispatch decision (BlockedKernels.plan)."""
    plan = blocked.BlockedKernels.plan
    loop = get_backend("loop").dense    # the dense kernels behind the name (sparse: .sparse)

    def recording_plan(self, X):
        result = plan(self, X)
        # The parallel backend's serial build is the loop backend's object:
        # attribute the call to whichever backend object was asked.
        paths_taken["loop" if self is loop else "parallel"].add(result.path)
        return result

    monkeypatch.setattr(blocked.BlockedKernels, "plan", recording_plan)
    return paths_taken


def _check_problem(backend, dtype, w, b, X, Y, sw, where):
    """forward and value_and_grad (without and with ``sw``) against the oracle's bounds."""
    kernels = get_backend(backend)
    n, m = X.shape
    before = X.copy()
    ref = oracle(w, b, X, Y, sw)
    path = kernels.plan(X).path if hasattr(kernels, "plan") else backend
    dz = logit_bound(backend, path, n, dtype, ref["z_abs"])
    grad_u = unit_roundoff(dtype) if backend == "vectorized" else U64
    where = f"{where} ({path})"
    # w is float64, so every output is float64 (u_out = U64).
    A = flr.forward(w, b, X, backend=backend)
    problems = [f"{where} forward: {p}" for p in check_forward(A, ref, dz, U64)]
    for weighted in (False, True):
        got = flr.value_and_grad(w, b, X, Y, sample_weight=sw if weighted else None,
                                 backend=backend)
        problems += [f"{where} value_and_grad(sw={weighted}): {p}"
                     for p in check_value_and_grad(got, ref, dz, m, weighted, grad_u)]
    np.testing.assert_array_equal(X, before)
    return problems


def _sweep_one(backend, machine, layout, dtype, shapes):
    """Run forward and value_and_grad on every shape; return the violations found."""
    problems = []
    for n, m in shapes:
        w, b, X, Y, sw = problem(n, m, layout, dtype)
        where = f"{backend} {machine} {np.dtype(dtype).name} {layout} {n}x{m}"
        problems += _check_problem(backend, dtype, w, b, X, Y, sw, where)
    return problems


@pytest.mark.parametrize("machine", list(MACHINES))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend", COMPILED)
def test_sweep(backend, layout, dtype, machine, record_paths):
    with cache_sizes(**MACHINES[machine]) as tiling:
        shapes = threshold_shapes(tiling, np.dtype(dtype).itemsize)
        if machine != "tiny":
            # The real machines' feature-major and wide thresholds lie at tens
            # of MiB, and concern C order only (F order runs sample-major): run
            # those shapes on one backend and layout.  The tiny machine puts
            # the same thresholds at small shapes for every backend and layout.
            # FASTLOGREG_SWEEP=small (CI's bounds-checked and baseline-CPU
            # runs, where kernels run several times slower) keeps the real
            # machines' shapes under SMALL_ELEMENTS: the tiny machine still
            # takes every path there.
            small = os.environ.get("FASTLOGREG_SWEEP", "full") == "small"
            limit = SMALL_ELEMENTS if small else BIG_ELEMENTS
            run_big = (backend, layout) == ("parallel", "C") and not small
            shapes = [s for s in shapes if s[0] * s[1] <= limit or run_big]
        problems = _sweep_one(backend, machine, layout, dtype, shapes)
    assert not problems, "\n".join(problems[:20])


def test_sweep_took_every_path(paths_taken):
    """Runs after the sweep (same module, defined after it): every path was taken."""
    if not any(paths_taken.values()):
        pytest.skip("the sweep did not run (deselected)")
    assert paths_taken["loop"] == blocked.all_paths(parallel=False)
    assert paths_taken["parallel"] == blocked.all_paths(parallel=True)


# --- Block arithmetic ------------------------------------------------------------


@pytest.mark.parametrize("machine", list(MACHINES))
@pytest.mark.parametrize("itemsize", (4, 8))
def test_blocks_never_outgrow_their_buffers(machine, itemsize):
    """Every block the kernels are given fits the block-sized buffers, for every shape.

    The bug this guards against: a sample-major block of 20 examples (12288
    float32 features, 1 MiB blocks) was cut at multiples of 8 into parts of 16
    and 24, and the second overran ``z`` (out-of-bounds writes, wrong results).
    """
    with cache_sizes(**MACHINES[machine]) as tiling:
        for n in (*range(1, 40), 127, 1000, 4095, 4096, 4097, 12288, 100000, 10 ** 7):
            for block in (tiling.feature_major_block(n, itemsize),
                          tiling.sample_major_block(n, itemsize)):
                assert block % CHUNK_ALIGN == 0 and CHUNK_ALIGN <= block
                assert block <= max(SAMPLE_MAJOR_BLOCK, 1024)
                for m in (1, 7, 8, 9, block - 1, block, block + 1, 3 * block - 5, 40, 209,
                          (MAX_CHUNKS + 2) * block + 11):
                    n_chunks = _tiling.plan_chunks(m, block)
                    covered = 0           # blocks must tile 0:m in order
                    for c in range(n_chunks):
                        start, stop, n_blocks = _tiling.chunk_blocks(c, n_chunks, m, block)
                        for k in range(n_blocks):
                            lo, hi = _tiling.part_bounds(k, n_blocks, start, stop)
                            assert lo == covered and 0 < hi - lo <= block, (n, m, block, lo, hi)
                            covered = hi
                    assert covered == m


def test_cache_detection_and_override(tmp_path):
    """Sizes come from sysfs, else defaults; the override changes the tiling and restores it."""
    for level, kind, size, shared in ((1, "Data", "48K", "0"), (1, "Instruction", "32K", "0"),
                                      (2, "Unified", "2048K", "0"),
                                      (3, "Unified", "32768K", "0-3")):
        d = tmp_path / f"index{level}{kind[0]}"
        d.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size),
                            ("shared_cpu_list", shared)):
            (d / name).write_text(f"{value}\n")
    caches = _tiling.detect_caches(str(tmp_path), environ={})
    assert (caches.l1d, caches.l2, caches.l3, caches.l3_share) == (
        48 * KiB, 2 * MiB, 32 * MiB, 8 * MiB)
    assert caches.source == "sysfs"
    env = {"FASTLOGREG_CACHE_SIZES": "32K,512K,16M"}
    caches = _tiling.detect_caches(str(tmp_path), environ=env)
    assert (caches.l1d, caches.l2, caches.l3) == (32 * KiB, 512 * KiB, 16 * MiB)
    with pytest.raises(ValueError, match="FASTLOGREG_CACHE_SIZES"):
        _tiling.detect_caches(str(tmp_path), environ={"FASTLOGREG_CACHE_SIZES": "big"})
    before = _tiling.current_tiling()
    with cache_sizes(l1d=16 * KiB, l2=8 * KiB) as tiling:
        assert _tiling.current_tiling() is tiling
        assert tiling.sample_major_block_bytes == 16 * KiB
        assert tiling.gram_strip_bytes == 4 * KiB
    assert _tiling.current_tiling() is before
    # No cache information at all: defaults, never larger than the small machine.
    assert _tiling.detect_caches(str(tmp_path / "missing"), environ={}).l2 > 0


# --- Property-based: shapes, dtypes, layouts and strides drawn across the thresholds ----

TINY = MACHINES["tiny"]


@st.composite
def sweep_cases(draw):
    """A backend, dtype, layout and shape drawn around the tiny machine's thresholds."""
    with cache_sizes(**TINY) as tiling:
        near = sorted({n for n, _ in threshold_shapes(tiling, 8)
                       if n <= 4 * FLOAT32_STRIP})
    n = draw(st.one_of(st.integers(1, 12), st.sampled_from(near), st.integers(1, 2200)))
    m = draw(st.one_of(st.integers(1, 80), st.integers(1, 1200)).filter(
        lambda m: n * m <= 600_000))
    layout = draw(st.sampled_from(("C", "F", "cols", "rows", "T_strided", "reversed")))
    dtype = draw(st.sampled_from(DTYPES))
    backend = draw(st.sampled_from(COMPILED))
    scale = draw(st.sampled_from((0.1, 2.0, 30.0)))     # logits up to saturation
    seed = draw(st.integers(0, 2 ** 16))
    return backend, dtype, layout, n, m, scale, seed


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(sweep_cases())
def test_drawn_shapes_within_bounds(case):
    backend, dtype, layout, n, m, scale, seed = case
    X = make_X(n, m, layout, dtype, seed=seed)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, 1)) * (scale / np.sqrt(n))
    b = float(rng.normal())
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    sw = rng.uniform(0.25, 2.0, m)
    with cache_sizes(**TINY):
        problems = _check_problem(backend, dtype, w, b, X, Y, sw, f"{case}")
    assert not problems, "\n".join(problems[:10])


# --- The reports that started this sweep ------------------------------------------


@pytest.mark.parametrize("machine", [*MACHINES, "detected"])
@pytest.mark.parametrize("m", (40, 209))
def test_course_shaped_float32_f_order(machine, m):
    """12288 float32 features in F order (the course's layout): right on every machine.

    Reported on znver3: ``forward`` off by up to 1.6, ``propagate`` giving
    dw of 1e270 or NaN, IndexError under NUMBA_BOUNDSCHECK=1.
    """
    rng = np.random.default_rng(m)
    X = np.asfortranarray(rng.random((12288, m), dtype=np.float32))
    w = rng.standard_normal((12288, 1)) * 0.01
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    sw = rng.uniform(0.25, 2.0, m)
    sizes = MACHINES.get(machine, {})
    with cache_sizes(**sizes):
        for backend in ("loop", "parallel"):
            problems = _check_problem(backend, np.float32, w, 0.0, X, Y, sw, machine)
            assert not problems, "\n".join(problems[:10])


@pytest.fixture(scope="module")
def cat_like():
    from fastlogreg.datasets import make_cat_like

    return make_cat_like()


@pytest.mark.parametrize("backend", COMPILED)
def test_course_float32_cat_training(cat_like, backend):
    """The course's model() on float32 cat-like data gives the float64 costs to 1e-4.

    Reported on znver3: "training diverged at iteration 1" on float32 data.
    """
    train_x, train_y, test_x, test_y = cat_like
    ref = flr.model(train_x, train_y, test_x, test_y, num_iterations=2000,
                    learning_rate=0.005, backend="numpy")
    got = flr.model(train_x.astype(np.float32, order="F"), train_y,
                    test_x.astype(np.float32, order="F"), test_y, num_iterations=2000,
                    learning_rate=0.005, backend=backend)
    np.testing.assert_allclose(got["costs"], ref["costs"], rtol=0, atol=1e-4)
    assert np.mean(got["Y_prediction_test"] == ref["Y_prediction_test"]) >= 0.98
