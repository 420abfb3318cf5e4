"""Bad input: the right exception, a message naming the argument, and no mutation."""

import re
import warnings

import numpy as np
import pytest
from conftest import BACKENDS, WARNINGS_AS_ERRORS, problem

import fastlogreg as flr

pytestmark = WARNINGS_AS_ERRORS

FUNCS_XY = ("cost", "gradients", "propagate")
FUNCS_X = ("forward", "predict")


def _call(name, w, b, X, Y=None, backend="loop"):
    f = getattr(flr, name)
    if name in FUNCS_X:
        return f(w, b, X, backend=backend)
    return f(w, b, X, Y, backend=backend)


def _good():
    w, b, X, Y = problem(2, 5)
    return w.copy(), b, X.copy(), Y.copy()


@pytest.mark.parametrize("name", FUNCS_XY + FUNCS_X)
@pytest.mark.parametrize("X", [np.ones(3), np.ones((2, 3, 1)), np.float64(1.0)],
                         ids=["1d", "3d", "0d"])
def test_X_not_2d(name, X):
    w = np.ones((2, 1))
    with pytest.raises(ValueError, match=r"X must be a 2-D") as exc:
        _call(name, w, 0.0, X, np.ones((1, 3)))
    assert str(X.shape) in str(exc.value)


@pytest.mark.parametrize("name", FUNCS_XY + FUNCS_X)
def test_w_shape_mismatch(name):
    _, b, X, Y = _good()
    for bad in (np.ones((3, 1)), np.ones((1, 2)), np.ones(3), np.ones((2, 2)), np.ones((2, 1, 1))):
        with pytest.raises(ValueError, match=r"^w must have shape \(2, 1\) or \(2,\)") as exc:
            _call(name, bad, b, X, Y)
        assert f"got shape {bad.shape}" in str(exc.value)
        assert "(2, 5)" in str(exc.value)        # X's shape is named too


@pytest.mark.parametrize("name", FUNCS_XY)
def test_Y_shape_mismatch(name):
    w, b, X, _ = _good()
    for bad in (np.ones((1, 4)), np.ones(6), np.ones((5, 1)), np.ones((2, 5)), np.ones((1, 5, 1))):
        with pytest.raises(ValueError, match=r"^Y must have shape \(1, 5\) or \(5,\)") as exc:
            _call(name, w, b, X, bad)
        assert f"got shape {bad.shape}" in str(exc.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("label", [2.0, -1.0, 0.5, np.nan, np.inf, -np.inf])
def test_labels_outside_01(label, backend):
    w, b, X, Y = _good()
    Y[0, 3] = label
    with pytest.raises(ValueError, match=r"^Y must contain only labels 0 and 1") as exc:
        flr.propagate(w, b, X, Y, backend=backend)
    assert "index 3" in str(exc.value)
    with pytest.raises(ValueError, match="Y"):
        flr.cost(w, b, X, Y.astype(np.float32), backend=backend)


def test_integer_labels_outside_01():
    w, b, X, _ = _good()
    with pytest.raises(ValueError, match="^Y must contain only labels 0 and 1"):
        flr.gradients(w, b, X, np.array([0, 1, 2, 0, 1]))


def _nonfinite_case(bad, w_kind, layout, dtype, m=70):
    n = 3
    X = np.ones((n, m), dtype)
    X[1, m // 2] = bad
    X = np.asfortranarray(X) if layout == "F" else X
    w = np.zeros((n, 1), dtype) if w_kind == "zeros" else np.ones((n, 1), dtype)
    return w, X, np.ones((1, m))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("w_kind", ["zeros", "ones"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", ["forward", "propagate", "cost", "gradients", "predict"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_nonfinite_X(backend, name, bad, w_kind, layout, dtype):
    """NaN/inf in X is a ValueError naming X and the position, on every backend,
    including with the course's zero initial weights (0 * nan must not hide it)."""
    for b, m in ((0.5, 70), (0.0, 5)):
        w, X, Y = _nonfinite_case(bad, w_kind, layout, dtype, m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # see the next test
            with pytest.raises(ValueError,
                               match=re.escape("X must be finite") + rf".*X\[1, {m // 2}\]"):
                _call(name, w, b, X, Y, backend=backend)


@pytest.mark.parametrize("w_kind", ["zeros", "ones"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("backend", BACKENDS)
def test_nonfinite_X_raises_without_warning(backend, bad, w_kind):
    """The ValueError comes alone: no RuntimeWarning from 0 * inf on the way (with
    warnings as errors, such a warning would replace the ValueError)."""
    w, X, Y = _nonfinite_case(bad, w_kind, "C", np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="X must be finite"):
            flr.propagate(w, 0.5, X, Y, backend=backend)
        with pytest.raises(ValueError, match="X must be finite"):
            flr.forward(w, 0.5, X, backend=backend)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", FUNCS_XY + FUNCS_X)
def test_nonfinite_w_and_b(name, bad):
    w, b, X, Y = _good()
    w[1, 0] = bad
    with pytest.raises(ValueError, match=r"^w must be finite"):
        _call(name, w, b, X, Y)
    w[1, 0] = 0.0
    for bb in (bad, np.float32(bad), np.array(bad)):
        with pytest.raises(ValueError, match=r"^b must be finite"):
            _call(name, w, bb, X, Y)


@pytest.mark.parametrize("name", FUNCS_XY + FUNCS_X)
def test_no_examples_or_features(name):
    with pytest.raises(ValueError, match=r"X must have at least one example.*\(2, 0\)"):
        _call(name, np.ones((2, 1)), 0.0, np.ones((2, 0)), np.ones((1, 0)))
    with pytest.raises(ValueError, match=r"X must have at least one feature.*\(0, 3\)"):
        _call(name, np.ones((0, 1)), 0.0, np.ones((0, 3)), np.ones((1, 3)))


BAD_DTYPES = {
    "complex": lambda a: a.astype(np.complex128),
    "object": lambda a: a.astype(object),
    "string": lambda a: a.astype(str),
    "bytes": lambda a: a.astype(bytes),
    "datetime": lambda a: a.astype("datetime64[s]"),
}


@pytest.mark.parametrize("kind", sorted(BAD_DTYPES))
@pytest.mark.parametrize("arg", ["X", "w", "Y"])
@pytest.mark.parametrize("name", FUNCS_XY + FUNCS_X)
def test_bad_dtypes(name, arg, kind):
    if arg == "Y" and name in FUNCS_X:
        pytest.skip("forward/predict take no Y")
    w, b, X, Y = _good()
    args = {"w": w, "X": X, "Y": Y}
    args[arg] = BAD_DTYPES[kind](args[arg])
    with pytest.raises(TypeError, match=rf"^{arg} must hold real numbers"):
        _call(name, args["w"], b, args["X"], args["Y"])


@pytest.mark.parametrize("b", [1j, np.complex128(1.0), "1.0", b"1", None, [1.0], object()],
                         ids=["complex", "np-complex", "str", "bytes", "None", "list", "object"])
def test_bad_b_type(b):
    w, _, X, Y = _good()
    with pytest.raises((TypeError, ValueError), match=r"^b must"):
        flr.propagate(w, b, X, Y)


def test_b_not_scalar():
    w, _, X, Y = _good()
    with pytest.raises(ValueError, match=r"^b must be a scalar"):
        flr.propagate(w, np.ones(2), X, Y)


def test_b_forms_accepted():
    w, _, X, Y = _good()
    ref = flr.propagate(w, 0.5, X, Y)
    for b in (np.float32(0.5), np.float64(0.5), np.array(0.5), np.array([[0.5]])):
        grads, J = flr.propagate(w, b, X, Y)
        np.testing.assert_array_equal(grads["dw"], ref[0]["dw"])
        assert J == ref[1]


@pytest.mark.parametrize("name", FUNCS_XY + FUNCS_X + ("sigmoid", "initialize_with_zeros"))
def test_backend_is_keyword_only(name):
    import inspect
    params = inspect.signature(getattr(flr, name)).parameters
    if name in ("sigmoid", "initialize_with_zeros"):
        return  # documented without a backend (design.md's API listing)
    assert params["backend"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["backend"].default == flr.DEFAULT_BACKEND
    assert flr.DEFAULT_BACKEND in ("loop", "parallel", "vectorized")


@pytest.mark.parametrize("backend", ["fortran", "", "NUMPY", None, 3])
@pytest.mark.parametrize("name", FUNCS_XY + FUNCS_X)
def test_unknown_backend(name, backend):
    w, b, X, Y = _good()
    with pytest.raises(ValueError, match=r"backend must be one of") as exc:
        _call(name, w, b, X, Y, backend=backend)
    for valid in BACKENDS:
        assert repr(valid) in str(exc.value)
    assert repr(backend) in str(exc.value)


def test_backends_constant():
    assert flr.BACKENDS == ("python", "numpy", "loop", "parallel", "vectorized")


def test_sigmoid_bad_dtype():
    for z in (np.array([1j]), np.array(["a"]), np.array([None], dtype=object)):
        with pytest.raises(TypeError, match="^z must hold real numbers"):
            flr.sigmoid(z)


@pytest.mark.parametrize("backend", BACKENDS)
def test_overflowing_logits_raise(backend):
    """Finite but huge inputs: w^T x overflows; a clear error, never a silent NaN."""
    X = np.full((2, 3), 1e308)
    w = np.full((2, 1), 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="overflow"):
            flr.propagate(w, 0.0, X, np.ones((1, 3)), backend=backend)


# -- inputs are never modified ------------------------------------------------------

def _snapshot(*arrays):
    return [(a.copy(order="K"), a.flags.writeable, a.flags.c_contiguous, a.flags.f_contiguous,
             a.strides) for a in arrays]


def _assert_unchanged(arrays, snap):
    for a, (copy, wr, c, f, strides) in zip(arrays, snap, strict=True):
        np.testing.assert_array_equal(a, copy)
        assert (a.flags.writeable, a.flags.c_contiguous, a.flags.f_contiguous, a.strides) == \
            (wr, c, f, strides)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_not_modified(backend, dtype):
    w, b, X, Y = problem(3, 65, layout="F")
    X = (X > 0).astype(dtype, order="F") if dtype == np.bool_ else X.astype(dtype, order="F")
    w = w.astype(dtype) if dtype != np.bool_ else (w > 0)
    Y = Y.astype(dtype)
    Yflat = Y.ravel().copy()
    arrays = (w, X, Y, Yflat)
    snap = _snapshot(*arrays)
    flr.forward(w, b, X, backend=backend)
    flr.predict(w, b, X, backend=backend)
    flr.cost(w, b, X, Y, backend=backend)
    flr.gradients(w, b, X, Yflat, backend=backend)
    grads, _ = flr.propagate(w.ravel(), b, X, Y, backend=backend)
    _assert_unchanged(arrays, snap)
    # The outputs are fresh arrays, not views of the inputs.
    assert not np.shares_memory(grads["dw"], w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_not_modified_on_error(backend):
    w, b, X, Y = _good()
    X[0, 2] = np.nan
    Y[0, 1] = 1.0
    arrays = (w, X, Y)
    snap = _snapshot(*arrays)
    with pytest.raises(ValueError):
        flr.propagate(w, b, X, Y, backend=backend)
    Y2 = Y.copy()
    Y2[0, 0] = 3.0
    with pytest.raises(ValueError):
        flr.propagate(w, b, np.nan_to_num(X), Y2, backend=backend)
    _assert_unchanged(arrays, snap)


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_inputs(backend):
    w, b, X, Y = (a.copy() if isinstance(a, np.ndarray) else a for a in problem(3, 65))
    for a in (w, X, Y):
        a.flags.writeable = False
    grads, J = flr.propagate(w, b, X, Y, backend=backend)
    ref, J_ref = flr.propagate(w.copy(), b, X.copy(), Y.copy(), backend=backend)
    np.testing.assert_array_equal(grads["dw"], ref["dw"])
    assert J == J_ref
    np.testing.assert_array_equal(flr.forward(w, b, X, backend=backend),
                                  flr.forward(w.copy(), b, X.copy(), backend=backend))
    assert grads["dw"].flags.writeable
