"""Sparse X (scipy CSR and CSC) through every public function and backend.

The oracle is the ``numpy`` backend on the dense ``X.toarray()`` (scipy
itself, for duplicates: ``toarray`` sums them).  float64 results agree to
1e-12; float32 data are held to a bound derived from where float32 rounding
happens (see :func:`_float32_bounds`).
"""

import functools
import tracemalloc

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import BACKENDS, WARNINGS_AS_ERRORS

import fastlogreg as flr
from fastlogreg._sparse import SparseX, as_sparse_X
from fastlogreg.backends import get_backend
from fastlogreg.backends import sparse as sk
from fastlogreg.datasets import make_sparse_classification

pytestmark = WARNINGS_AS_ERRORS

FORMATS = ("csc", "csr")
COMPILED = ("loop", "parallel", "vectorized")
#: Small shapes (every backend, python included): one example, one feature, tall, wide.
SMALL = [(1, 1, 1.0), (7, 13, 0.3), (40, 300, 0.1), (300, 40, 0.1)]
#: Above PARALLEL_MIN_NNZ with several chunks in both formats (see test_chunks_are_many).
LARGE = (3000, 4000, 0.04)
U32 = np.finfo(np.float32).eps / 2
U64 = np.finfo(np.float64).eps / 2


@functools.cache
def _case(n, m, density, seed=0):
    """``(w, b, X_csc_float64, Y)``: random sparsity, values of both signs, |z| = O(1)."""
    rng = np.random.default_rng([seed, n, m])
    X = sp.random_array((n, m), density=density, format="csc", rng=rng,
                        data_sampler=rng.standard_normal)
    w = rng.standard_normal((n, 1)) / np.sqrt(max(1.0, density * n))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return w, 0.3, X, Y


def sparse_X(X, fmt, *, dtype=np.float64, index=np.int32, cls="array"):
    """``X`` converted to a format, value dtype, index dtype and class (fresh arrays)."""
    X = X.asformat(fmt).astype(dtype)
    maker = {"array": {"csc": sp.csc_array, "csr": sp.csr_array},
             "matrix": {"csc": sp.csc_matrix, "csr": sp.csr_matrix}}[cls][fmt]
    out = maker((X.data.copy(), X.indices.astype(index), X.indptr.astype(index)),
                shape=X.shape, copy=False)
    assert out.indices.dtype == index or cls == "matrix"
    return out


def oracle(w, b, X, Y, sw=None):
    """Dense numpy-backend results: ``(A, cost, dw, db)``."""
    D = X.toarray()
    A = flr.forward(w, b, D, backend="numpy")
    cost, dw, db = flr.value_and_grad(w, b, D, Y, sample_weight=sw, backend="numpy")
    return A, cost, dw, db


def assert_matches(got, want, X, err_msg=""):
    """float64: 1e-12 relative, with an absolute floor at the scale of the sums."""
    A, cost, dw, db = got
    A0, cost0, dw0, db0 = want
    scale = 1e-12 * max(1.0, abs(X).sum(axis=1).max() / X.shape[1])
    np.testing.assert_allclose(A, A0, rtol=1e-12, atol=1e-15, err_msg=err_msg)
    np.testing.assert_allclose(cost, cost0, rtol=1e-12, atol=1e-15, err_msg=err_msg)
    np.testing.assert_allclose(dw, dw0, rtol=1e-12, atol=scale, err_msg=err_msg)
    np.testing.assert_allclose(db, db0, rtol=1e-12, atol=1e-15, err_msg=err_msg)


def run_all(w, b, X, Y, backend, sw=None):
    A = flr.forward(w, b, X, backend=backend)
    cost, dw, db = flr.value_and_grad(w, b, X, Y, sample_weight=sw, backend=backend)
    return A, cost, dw, db


# ------------------------------------------------------------- against the oracle


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", SMALL, ids=[f"{n}x{m}" for n, m, _ in SMALL])
def test_every_function_matches_dense_oracle(backend, fmt, shape):
    w, b, X, Y = _case(*shape)
    S = sparse_X(X, fmt)
    A0, cost0, dw0, db0 = oracle(w, b, X, Y)
    grads, cost = flr.propagate(w, b, S, Y, backend=backend)
    assert_matches((flr.forward(w, b, S, backend=backend), cost, grads["dw"], grads["db"]),
                   (A0, cost0, dw0, db0), X)
    assert grads["dw"].shape == w.shape
    np.testing.assert_allclose(flr.cost(w, b, S, Y, backend=backend), cost0, rtol=1e-12)
    dw, db = flr.gradients(w, b, S, Y, backend=backend)
    np.testing.assert_allclose(dw, dw0, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(flr.predict(w, b, S, backend=backend),
                                  flr.predict(w, b, X.toarray(), backend="numpy"))
    sw = np.random.default_rng(1).random(X.shape[1]) * 2
    assert_matches(run_all(w, b, S, Y, backend, sw), oracle(w, b, X, Y, sw), X)


@pytest.mark.parametrize("fmt", FORMATS)
def test_large_matches_dense_oracle(compiled_backend, fmt):
    w, b, X, Y = _case(*LARGE)
    S = sparse_X(X, fmt)
    sw = np.random.default_rng(2).random(X.shape[1])
    assert_matches(run_all(w, b, S, Y, compiled_backend, sw), oracle(w, b, X, Y, sw), X)
    assert_matches(run_all(w, b, S, Y, "numpy"), oracle(w, b, X, Y), X)


def test_course_example_sparse(backend):
    w, b = np.array([[1.], [2.]]), 2.
    X = sp.csc_array(np.array([[1., 2., -1.], [3., 4., -3.2]]))
    grads, cost = flr.propagate(w, b, X, np.array([[1, 0, 1]]), backend=backend)
    np.testing.assert_allclose(grads["dw"].ravel(), [0.99845601, 2.39507239], atol=1e-8)
    np.testing.assert_allclose([grads["db"], cost], [0.00145557813678, 5.801545319394553],
                               rtol=1e-10)


def _float32_bounds(w, X32, Y, loose):
    """Bounds on |float32 result - float64 math on the same float32 values|.

    Compiled backends cast w to float32 (relative error u) and form each
    product ``w_j x_ij`` in float32 (another u), summing in float64: the logit
    error is e_i <= 2.01 u sum_j |w_j x_ij|.  ``numpy`` (scipy in float32)
    also sums in float32: e_i <= (k_i + 2) u sum_j |w_j x_ij| for an example
    with k_i nonzeros, and its elementwise steps add a few u; its gradient
    sums m_j float32 terms of |dZ| <= 1.  Then sigmoid' <= 1/4 and
    |d loss / d z| <= 1 carry e_i to A, dZ and the cost.
    """
    X = X32.astype(np.float64)
    D = abs(X.toarray())
    wa = abs(w.ravel())
    t = wa @ D
    k = (D != 0).sum(axis=0)
    m = X.shape[1]
    slack = 64 * U64 * (t + 1)
    if not loose:
        e = 2.01 * U32 * t + slack
        eA = e / 4
        return eA, e.mean(), D @ eA / m, eA.mean()
    e = (k + 2) * U32 * t + slack
    eA = e / 4 + 4 * U32
    mj = (D != 0).sum(axis=1)
    dw = D @ eA / m + (mj + 2) * U32 * D.sum(axis=1) / m
    return eA, (e + 8 * U32 * (1 + abs(np.log(2) + t))).mean(), dw, eA.mean() + m * U32


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", [SMALL[2], LARGE], ids=["small", "large"])
def test_float32_within_derived_bound(backend, fmt, shape):
    if backend == "python" and shape == LARGE:
        pytest.skip("plain Python on 480000 nonzeros: minutes")
    w, b, X, Y = _case(*shape)
    S = sparse_X(X, fmt, dtype=np.float32)
    got = run_all(w, b, S, Y, backend)
    want = oracle(w, b, S.astype(np.float64), Y)
    bounds = _float32_bounds(w, S, Y, loose=backend == "numpy")
    assert got[0].dtype == np.float64 and got[2].dtype == np.float64   # w float64 promotes
    for name, g, r, bound in zip(("A", "cost", "dw", "db"), got, want, bounds, strict=True):
        err = np.abs(np.asarray(g, dtype=np.float64).ravel() - np.asarray(r).ravel())
        assert np.all(err <= np.asarray(bound).ravel()), (name, float(np.max(err)))
    # float32 w with float32 X: outputs stay float32
    A32 = flr.forward(w.astype(np.float32), b, S, backend=backend)
    assert A32.dtype == np.float32


# ----------------------------------------------------------------- robustness


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gather_row_length_threshold(compiled_backend, fmt, dtype):
    """Compressed rows just under, at and over the gather's lanes threshold.

    CSC rows are examples (their logits are gathers), CSR rows are features
    (their gradient entries are gathers); each length appears three times,
    among shorter and longer rows, so the prefetch runs across row ends.
    """
    t = sk.GATHER_LANES_MIN
    lengths = [0, 1, 3, 4, 5, t - 1, t, t + 1, 2 * t + 3] * 3
    rng = np.random.default_rng([7, t])
    n_minor = 2 * t + 10
    indptr = np.cumsum([0] + lengths)
    indices = np.concatenate([np.sort(rng.choice(n_minor, k, replace=False)) for k in lengths])
    data = rng.standard_normal(indptr[-1])
    if fmt == "csc":
        X = sp.csc_array((data, indices, indptr), shape=(n_minor, len(lengths)))
    else:
        X = sp.csr_array((data, indices, indptr), shape=(len(lengths), n_minor))
    w = rng.standard_normal((X.shape[0], 1)) / np.sqrt(t)
    Y = (rng.random((1, X.shape[1])) < 0.5).astype(np.float64)
    S = X.astype(dtype)
    got = run_all(w, 0.3, S, Y, compiled_backend)
    if dtype == np.float64:
        assert_matches(got, oracle(w, 0.3, X, Y), X)
        return
    want = oracle(w, 0.3, S.astype(np.float64), Y)
    bounds = _float32_bounds(w, S, Y, loose=False)
    for name, g, r, bound in zip(("A", "cost", "dw", "db"), got, want, bounds, strict=True):
        err = np.abs(np.asarray(g, dtype=np.float64).ravel() - np.asarray(r).ravel())
        assert np.all(err <= np.asarray(bound).ravel()), (name, float(np.max(err)))


def _non_canonical(X):
    """The same matrix (as scipy sums it) with unsorted indices, duplicates, explicit zeros."""
    rng = np.random.default_rng(5)
    data, indices, indptr = [], [], [0]
    for i in range(X.shape[1]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        v, j = X.data[lo:hi], X.indices[lo:hi]
        half = rng.random(v.shape[0])
        v = np.concatenate([v * half, v * (1 - half), [0.0]])       # duplicates, a zero
        j = np.concatenate([j, j, [rng.integers(X.shape[0])]])
        order = rng.permutation(v.shape[0])                           # unsorted
        data.append(v[order])
        indices.append(j[order])
        indptr.append(indptr[-1] + v.shape[0])
    return sp.csc_array((np.concatenate(data), np.concatenate(indices).astype(np.int32),
                         np.array(indptr, dtype=np.int32)), shape=X.shape)


def _snapshot(S):
    return (S.data.copy(), S.indices.copy(), S.indptr.copy(), S.has_sorted_indices,
            S.has_canonical_format)


def _assert_unchanged(S, snap):
    np.testing.assert_array_equal(S.data, snap[0])
    np.testing.assert_array_equal(S.indices, snap[1])
    np.testing.assert_array_equal(S.indptr, snap[2])
    assert (S.has_sorted_indices, S.has_canonical_format) == snap[3:]


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_canonical_input(backend, fmt):
    w, b, X, Y = _case(40, 300, 0.1)
    N = _non_canonical(X)
    S = N
    if fmt == "csr":   # a non-canonical CSR: the transposed CSC's arrays as CSR of X
        C = _non_canonical(X.T.tocsc())
        S = sp.csr_array((C.data, C.indices, C.indptr), shape=X.shape)
    assert not S.has_canonical_format
    snap = _snapshot(S)
    assert_matches(run_all(w, b, S, Y, backend), oracle(w, b, X, Y), X)
    _assert_unchanged(S, snap)


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_rows_columns_and_nnz_zero(backend, fmt):
    w, b, X, Y = _case(40, 300, 0.1)
    X = X.tolil()
    X[5, :] = 0          # a feature that never occurs
    X[:, 7] = 0          # an example with no nonzero
    X[:, 100:120] = 0
    X = X.tocsc()
    S = sparse_X(X, fmt)
    assert_matches(run_all(w, b, S, Y, backend), oracle(w, b, X, Y), X)
    Z = sparse_X(sp.csc_array(X.shape), fmt)
    assert Z.nnz == 0
    A, cost, dw, db = run_all(w, b, Z, Y, backend)
    np.testing.assert_allclose(A, np.full((1, 300), 1 / (1 + np.exp(-b))), rtol=1e-15)
    np.testing.assert_array_equal(dw, 0.0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_only_and_memory_mapped(compiled_backend, fmt, tmp_path):
    w, b, X, Y = _case(40, 300, 0.1)
    S = sparse_X(X, fmt)
    arrays = []
    for name in ("data", "indices", "indptr"):
        np.save(tmp_path / f"{name}.npy", getattr(S, name))
        arrays.append(np.load(tmp_path / f"{name}.npy", mmap_mode="r"))
    M = type(S)(tuple(arrays), shape=S.shape, copy=False)
    assert not M.data.flags.writeable and np.shares_memory(M.data, arrays[0])
    assert_matches(run_all(w, b, M, Y, compiled_backend), oracle(w, b, X, Y), X)
    flr.optimize(w, b, M, Y, 3, 0.1, backend=compiled_backend)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("cls", ["array", "matrix"])
@pytest.mark.parametrize("index", [np.int32, np.int64, "mixed"])
def test_index_dtypes_and_classes(fmt, cls, index):
    w, b, X, Y = _case(40, 300, 0.1)
    S = sparse_X(X, fmt, index=np.int32 if index == "mixed" else index, cls=cls)
    if index == "mixed":   # as scipy's *_matrix classes can leave them
        S.indptr = S.indptr.astype(np.int64)
        assert S.indices.dtype == np.int32
    checked = as_sparse_X(S)
    assert checked.indices.dtype == checked.indptr.dtype
    if index == "mixed":
        assert checked.copied == ("indices",)     # the int32 one becomes int64, only it
    else:
        assert checked.copied == ()
        assert checked.data is S.data and checked.indices is S.indices
    for backend in ("loop", "parallel", "vectorized", "numpy"):
        assert_matches(run_all(w, b, S, Y, backend), oracle(w, b, X, Y), X)


@pytest.mark.parametrize("kind", [np.int64, np.bool_])
def test_int_and_bool_values_become_float64(kind):
    w, b, X, Y = _case(40, 300, 0.1)
    S = sp.csc_array((np.ones(X.nnz, dtype=kind), X.indices, X.indptr), shape=X.shape)
    checked = as_sparse_X(S)
    assert checked.dtype == np.float64 and checked.copied == ("data",)
    D = S.toarray().astype(np.float64)
    np.testing.assert_allclose(flr.forward(w, b, S, backend="loop"),
                               flr.forward(w, b, D, backend="numpy"), rtol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_values_same_error_as_dense(backend, fmt, bad):
    w, b, X, Y = _case(40, 300, 0.1)
    S = sparse_X(X, fmt)
    D = S.toarray()
    k = S.nnz // 2
    S.data[k] = bad
    D[...] = S.toarray()
    for call in (lambda X_: flr.forward(w, b, X_, backend=backend),
                 lambda X_: flr.propagate(w, b, X_, Y, backend=backend)):
        with pytest.raises(ValueError, match="X must be finite") as sparse_err:
            call(S)
        with pytest.raises(ValueError, match="X must be finite") as dense_err:
            call(D)
        assert str(sparse_err.value) == str(dense_err.value)


def test_overflowing_logits_and_bad_input():
    X = sp.csc_array(np.array([[1e300, 0.0], [1e300, 1.0]]))
    w = np.array([[1e10], [1e10]])
    with pytest.raises(FloatingPointError, match="overflowed"):
        flr.forward(w, 0.0, X, backend="loop")
    with pytest.raises(TypeError, match="format 'coo'.*tocsr"):
        flr.forward(w, 0.0, X.tocoo(), backend="loop")
    with pytest.raises(ValueError, match=r"w must have shape \(2, 1\)"):
        flr.forward(np.ones((3, 1)), 0.0, X, backend="loop")
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 2\)"):
        flr.cost(w, 0.0, X, np.ones((1, 3)), backend="loop")
    with pytest.raises(ValueError, match="at least one example"):
        flr.forward(w, 0.0, sp.csc_array((2, 0)), backend="loop")
    with pytest.raises(TypeError, match="real numbers"):
        flr.forward(w, 0.0, sp.csc_array(np.eye(2, dtype=complex)), backend="loop")


# ---------------------------------------------------------- training entry points


@pytest.mark.parametrize("fmt", FORMATS)
def test_optimize_and_model_match_dense(backend, fmt):
    w, b, X, Y = _case(40, 300, 0.1)
    S = sparse_X(X, fmt)
    iters = 200 if backend != "python" else 20
    p, g, c = flr.optimize(w, b, S, Y, iters, 0.5, backend=backend)
    p0, g0, c0 = flr.optimize(w, b, X.toarray(), Y, iters, 0.5, backend="numpy")
    np.testing.assert_allclose(p["w"], p0["w"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, c0, rtol=1e-10)
    d = flr.model(S, Y, S[:, :50] if fmt == "csc" else S.tocsc()[:, :50], Y[:, :50],
                  num_iterations=iters, learning_rate=0.5, backend=backend)
    d0 = flr.model(X.toarray(), Y, X.toarray()[:, :50], Y[:, :50], num_iterations=iters,
                   learning_rate=0.5, backend="numpy")
    np.testing.assert_allclose(d["w"], d0["w"], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(d["Y_prediction_test"], d0["Y_prediction_test"])


# ------------------------------------------------------------ determinism, chunks


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parallel_bitwise_identical_any_thread_count(fmt, dtype):
    w, b, X, Y = _case(*LARGE)
    S = sparse_X(X, fmt, dtype=dtype)
    assert sk.n_chunks_for(as_sparse_X(S)) > 1 and S.nnz >= sk.PARALLEL_MIN_NNZ

    def digest(backend):
        A, cost, dw, db = run_all(w, b, S, Y, backend)
        return A.tobytes() + dw.tobytes() + repr((cost, db)).encode()

    want = digest("loop")
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            assert digest("parallel") == want, threads
    finally:
        numba.set_num_threads(before)


def _with_nnz(nnz, fmt, n=600):
    """A matrix with exactly ``nnz`` stored entries (consecutive positions)."""
    m = nnz // n + 2
    flat = np.arange(nnz)
    rows, cols = flat % n, flat // n
    values = np.sin(flat + 1.0)
    return sp.coo_array((values, (rows, cols)), shape=(n, m)).asformat(fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_parallel_threshold(fmt, delta):
    S = _with_nnz(sk.PARALLEL_MIN_NNZ + delta, fmt)
    checked = as_sparse_X(S)
    parallel = get_backend("parallel").sparse
    uses_serial = parallel._for(checked) is parallel._serial
    assert uses_serial == (delta < 0)
    n, m = S.shape
    rng = np.random.default_rng(0)
    w, Y = rng.standard_normal(n) * 0.05, (rng.random(m) < 0.5).astype(float)
    a = flr.value_and_grad(w, 0.1, S, Y, backend="parallel")
    c = flr.value_and_grad(w, 0.1, S, Y, backend="loop")
    assert a[0] == c[0] and a[2] == c[2] and a[1].tobytes() == c[1].tobytes()
    assert_matches((flr.forward(w, 0.1, S, backend="parallel"), *a),
                   oracle(w, 0.1, sp.csc_array(S), Y), S)


# The split CSC kernel: one chunk (no room for a partial gradient), sorted
# indices, at least two threads, and room for n_parts + 1 rows of m.

SPLIT_N, SPLIT_NNZ = 20_000, sk.PARALLEL_MIN_NNZ + 8_859
needs_two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                       reason="the split kernel runs on 2 threads or more")


def _split_m():
    """The most examples for which SPLIT_NNZ float64 entries leave room for 2 ranges."""
    def rows_of_room(m):  # X.nbytes for int32 indices, then the budget in rows of m
        return (12 * SPLIT_NNZ + 4 * (m + 1)) // sk.PARTIALS_FRACTION // (8 * m)
    return max(m for m in range(100, 20_000) if rows_of_room(m) >= 3)


def _split_case(m, dtype=np.float64, seed=3, index=np.int32):
    """``(w, b, S, Y, X)``: SPLIT_NNZ distinct random entries, sorted CSC (n_x, m)."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(SPLIT_N * m, SPLIT_NNZ, replace=False)
    X = sp.coo_array((rng.standard_normal(SPLIT_NNZ), (flat % SPLIT_N, flat // SPLIT_N)),
                     shape=(SPLIT_N, m)).tocsc()
    S = sparse_X(X, "csc", dtype=dtype, index=index)
    w = rng.standard_normal((SPLIT_N, 1)) * 0.3
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return w, 0.2, S, Y, X


@needs_two_threads
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_split_threshold(delta):
    """At and around the most examples the budget allows: the split kernel runs
    exactly when it may, and gives the one-chunk fused pass's bits."""
    m = _split_m() + (delta > 0) - 7 * (delta < 0)
    w, b, S, Y, X = _split_case(m)
    checked = as_sparse_X(S)
    assert sk.n_chunks_for(checked) == 1 and checked.nnz >= sk.PARALLEL_MIN_NNZ
    before = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        assert (sk.split_parts(checked, 2) == 2) == (delta <= 0)
        assert sk.split_parts(checked, 1) == 0  # one thread: the fused pass
        a = flr.value_and_grad(w, b, S, Y, backend="parallel")
    finally:
        numba.set_num_threads(before)
    c = flr.value_and_grad(w, b, S, Y, backend="loop")
    assert a[0] == c[0] and a[2] == c[2] and a[1].tobytes() == c[1].tobytes()
    assert_matches((flr.forward(w, b, S, backend="parallel"), *a), oracle(w, b, X, Y), X)


@needs_two_threads
@pytest.mark.parametrize("dtype, index", [(np.float64, np.int32), (np.float32, np.int32),
                                          (np.float64, np.int64)])
def test_split_bitwise_identical_any_thread_count(dtype, index):
    """With and without weights, for every thread count (ranges of features)."""
    w, b, S, Y, X = _split_case(_split_m() // 3, dtype, index=index)
    sw = np.random.default_rng(4).random(S.shape[1]) * 2
    checked = as_sparse_X(S)
    assert sk.split_parts(checked, 2) == 2
    want = [flr.value_and_grad(w, b, S, Y, sample_weight=weights, backend="loop")
            for weights in (None, sw)]
    before = numba.get_num_threads()
    try:
        for threads in sorted({2, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            assert 2 <= sk.split_parts(checked, threads) <= threads
            for weights, (cost, dw, db) in zip((None, sw), want, strict=True):
                got = flr.value_and_grad(w, b, S, Y, sample_weight=weights, backend="parallel")
                assert (got[0], got[2]) == (cost, db) and got[1].tobytes() == dw.tobytes()
        numba.set_num_threads(2)  # training: the split pass inlined in the parallel loop
        trained = [flr.optimize(w, b, S, Y, 7, 0.5, backend=backend, method="primal")
                   for backend in ("parallel", "loop")]
    finally:
        numba.set_num_threads(before)
    (params, grads, costs), (params0, grads0, costs0) = trained
    assert params["w"].tobytes() == params0["w"].tobytes() and params["b"] == params0["b"]
    assert grads["dw"].tobytes() == grads0["dw"].tobytes() and costs == costs0
    if dtype == np.float64:
        assert_matches(run_all(w, b, S, Y, "parallel", sw), oracle(w, b, X, Y, sw), X)


@needs_two_threads
def test_split_needs_sorted_indices():
    """Unsorted indices (bisection would be wrong): the fused pass, right results."""
    w, b, S, Y, X = _split_case(_split_m() // 2)
    rng = np.random.default_rng(5)
    data, indices = S.data.copy(), S.indices.copy()
    for i in range(S.shape[1]):  # shuffle each example's entries
        k0, k1 = S.indptr[i], S.indptr[i + 1]
        order = k0 + rng.permutation(k1 - k0)
        data[k0:k1], indices[k0:k1] = data[order], indices[order]
    U = sp.csc_array((data, indices, S.indptr.copy()), shape=S.shape)
    assert not U.has_sorted_indices
    assert sk.split_parts(as_sparse_X(U), 2) == 0
    assert sk.split_parts(as_sparse_X(S), 2) == 2
    assert_matches(run_all(w, b, U, Y, "parallel"), oracle(w, b, X, Y), X)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("nnz", [sk.MIN_CHUNK_NNZ - 1, sk.MIN_CHUNK_NNZ, 3 * sk.MIN_CHUNK_NNZ - 1,
                                 3 * sk.MIN_CHUNK_NNZ, 200 * sk.MIN_CHUNK_NNZ])
def test_chunk_count_rules(fmt, nnz):
    S = as_sparse_X(_with_nnz(nnz, fmt, n=64))
    k = sk.n_chunks_for(S)
    n, m = S.shape
    assert 1 <= k <= sk.MAX_CHUNKS
    assert k <= max(1, nnz // sk.MIN_CHUNK_NNZ)
    if nnz < 2 * sk.MIN_CHUNK_NNZ:
        assert k == 1
    part, sums = sk.workspace(S)[:2]
    assert part.nbytes <= max(S.nbytes // sk.PARTIALS_FRACTION, 8 * m if fmt == "csr" else 0)
    if fmt == "csc":
        assert part.shape == (k - 1, n) and sums.shape == (k, 3)
    else:
        assert part.shape == (k, m)


@pytest.mark.parametrize("n_parts", [1, 2, 3, 7, 64])
def test_major_split_balances_nonzeros(n_parts):
    S = sp.csc_array(sp.random(50, 1000, density=0.05, random_state=3)).tocsc()
    S = sp.csc_array(S[:, np.argsort(np.diff(S.indptr))])    # skewed columns
    bounds = [sk.major_split(S.indptr, c, n_parts) for c in range(n_parts + 1)]
    assert bounds[0] == 0 and bounds[-1] == S.shape[1]
    assert all(a <= b for a, b in zip(bounds, bounds[1:], strict=False))
    per = [S.indptr[b] - S.indptr[a] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert sum(per) == S.nnz
    assert max(per) <= S.nnz / n_parts + np.diff(S.indptr).max()


@pytest.mark.parametrize("budget", [1, 2, 40, 10**9])
def test_csc_block_end_cuts_blocks(budget):
    """Blocks of the fused CSC pass: they tile the range, hold at most
    ``CSC_BLOCK_EXAMPLES`` examples and ``budget`` entries, or one example."""
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 60, 1500)
    counts[100:700] = 0                                  # empty examples, many in a row
    indptr = np.concatenate([[5], 5 + np.cumsum(counts)]).astype(np.int32)
    for i0, i1 in [(0, 1500), (3, 1400), (99, 701)]:
        start, seen = i0, []
        while start < i1:
            end = sk.csc_block_end(indptr, start, i1, budget)
            assert start < end <= min(i1, start + sk.CSC_BLOCK_EXAMPLES)
            assert end == start + 1 or indptr[end] - indptr[start] <= budget
            if end < min(i1, start + sk.CSC_BLOCK_EXAMPLES):     # stopped by the budget
                assert indptr[end + 1] - indptr[start] > budget
            seen.append(end - start)
            start = end
        assert sum(seen) == i1 - i0


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csc_blocks_give_the_same_bits(dtype, weighted):
    """The fused CSC pass gives the same bits for any block size (one example,
    a few, the whole cap), and the dense oracle's results."""
    n, m = 300, 1300                                     # m > CSC_BLOCK_EXAMPLES
    X = sp.random_array((n, m), density=0.05, format="csc", rng=np.random.default_rng(8))
    S = as_sparse_X(sparse_X(X, "csc", dtype=dtype))
    rng = np.random.default_rng(9)
    w = rng.standard_normal(n) * 0.3
    y = (rng.random(m) < 0.5).astype(dtype)
    sw = rng.random(m) * 2 if weighted else np.zeros(0)
    kernel = get_backend("loop").sparse.value_and_grad_csc
    part, sums, block_nnz = sk.workspace(S)
    assert block_nnz >= 1 and part.shape[0] == 0                       # one chunk
    results = []
    for budget in (1, 20, 200, 10**9):
        dw = np.empty(n)
        loss, db, bad = kernel(w, 0.2, S.kernel_args(), y, sw, True, True, dw,
                               (part, sums, budget))
        results.append((loss, db, bad, dw.tobytes()))
    assert all(r == results[0] for r in results)
    if dtype == np.float64:
        cost, dw0, db0 = flr.value_and_grad(w.reshape(-1, 1), 0.2, X.toarray(), y.reshape(1, -1),
                                            sample_weight=sw if weighted else None,
                                            backend="numpy")
        np.testing.assert_allclose(results[0][0] / m, cost, rtol=1e-12)
        np.testing.assert_allclose(results[0][1] / m, db0, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.frombuffer(results[0][3]) / m, dw0.ravel(), rtol=1e-12,
                                   atol=1e-15)


@numba.njit
def _partial_logits(w, data, indices, indptr, part):
    sk._csr_partial_logits(w, data, indices, indptr, part)


def test_csr_logits_round_w_row_by_row():
    """The CSR scatter takes ``w[j]`` in float32 for float32 data, row by row, uncopied.

    Reference: each product formed by NumPy in float32 from ``w`` cast first,
    then added into float64 logits in storage order (``np.add.at`` adds in
    that order; one chunk below ``MIN_CHUNK_NNZ``): the same bits.  (float64
    products may be fused into the adds, depending on the CPU: other tests
    hold them to the dense oracle.)
    """
    dtype = np.float32
    X = sp.random_array((400, 300), density=0.05, format="csr", dtype=dtype,
                        rng=np.random.default_rng(5))
    assert X.nnz < sk.MIN_CHUNK_NNZ
    w = np.random.default_rng(6).standard_normal(400)    # float64: rounding matters
    part = np.full((1, 300), np.nan)
    _partial_logits(w, X.data, X.indices, X.indptr, part)
    rows = np.repeat(np.arange(400), np.diff(X.indptr))
    products = (X.data * w.astype(dtype)[rows]).astype(np.float64)
    assert products.dtype == np.float64 and (X.data * w.astype(dtype)[rows]).dtype == dtype
    expected = np.zeros(300)
    np.add.at(expected, X.indices, products)
    np.testing.assert_array_equal(part[0], expected)


# ---------------------------------------------------------------------- memory


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("backend", ["loop", "parallel"])
def test_propagate_memory_is_a_fraction_of_X(backend, fmt):
    # The proportions (100 draws per example, ~15 nonzeros per feature), 1/10 scale.
    X, Y = make_sparse_classification(20000, 100000, draws=100, seed=3, format=fmt)
    w = np.zeros((X.shape[0], 1))
    flr.propagate(w, 0.0, X, Y, backend=backend)     # compile outside the measurement
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        flr.propagate(w, 0.0, X, Y, backend=backend)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    assert peak < 0.10 * nbytes, (peak, nbytes)


def test_sparse_container_is_not_densified():
    _, _, X, _ = _case(*LARGE)
    checked = flr._validation.check_X(X)
    assert isinstance(checked, SparseX) and checked.data is X.data
    assert checked.shape == X.shape and checked.nnz == X.nnz
    assert BACKENDS == flr.BACKENDS


@pytest.mark.parametrize("fmt", FORMATS)
def test_gram_method_on_sparse_X(backend, fmt):
    w, b, X, Y = _case(40, 300, 0.1)
    S = sparse_X(X, fmt)
    iters = 30 if backend == "python" else 200
    p, g, c = flr.optimize(w, b, S, Y, iters, 0.5, method="gram", backend=backend)
    p0, g0, c0 = flr.optimize(w, b, X.toarray(), Y, iters, 0.5, method="primal",
                              backend="numpy")
    np.testing.assert_allclose(p["w"], p0["w"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g["dw"], g0["dw"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c, c0, rtol=1e-10)
