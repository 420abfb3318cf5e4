"""``LogisticRegression`` on Dask: the in-memory estimator's objective, chunks elsewhere."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._objective import (
    Problem,
    check_params,
    check_sw_sum,
    encode_classes,
    fit_one_vs_rest,
    minimize_lbfgs,
    quiet_blas,
    warm_start_point,
)
from ..backends import BACKENDS, DEFAULT_BACKEND
from . import _inputs as inp
from ._chunks import (
    PERSIST_FRACTION,
    ChunkedX,
    ChunkKernels,
    ChunkStore,
    Labels,
    current_client,
    memory_budget,
    offsets_of,
    warm_kernels,
)

#: The fitted attributes copied to and from the in-memory estimator.
_FITTED = ("classes_", "coef_", "intercept_", "n_iter_", "n_features_in_")


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """L2-penalized logistic regression on Dask arrays and DataFrames.

    The objective, parameters and results of
    :class:`fastlogreg.sklearn.LogisticRegression` (L-BFGS with L-BFGS-B's
    iterates on the fused value-and-gradient kernel), with the data in chunks on a Dask cluster:
    each evaluation of the objective runs the backend's kernel once per chunk,
    where the chunk lives, and adds the chunks' small results on the client
    in chunk order (the same bits on any number of workers, given the chunks).

    Parameters
    ----------
    C, fit_intercept, tol, max_iter, backend, verbose, warm_start
        As for :class:`fastlogreg.sklearn.LogisticRegression`.  ``backend``
        runs in every task; ``"parallel"`` uses as many Numba threads as the
        worker has threads, one task at a time per worker process.
    solver : {"lbfgs"}, default "lbfgs"
    client : distributed.Client, optional
        Where to run.  None: the current client (``distributed.default_client``)
        when there is one, else Dask's local threaded scheduler.  Not pickled.
    persist : bool, optional
        Keep the chunks in the workers' memory between evaluations (True), or
        read them from the source at every evaluation (False: out-of-core).
        None: persist when the data take at most
        :data:`fastlogreg.dask._chunks.PERSIST_FRACTION` of the workers' total
        memory limit.

    Attributes
    ----------
    classes_, coef_, intercept_, n_iter_, n_features_in_
        NumPy, as for the in-memory estimator.

    Notes
    -----
    ``X`` may be a dask array (chunked by rows; chunks along the features are
    merged), a dask DataFrame (numeric columns), or NumPy (then the in-memory
    estimator fits it).  ``y`` and ``sample_weight`` are dask arrays/Series
    partitioned like ``X`` (known chunk boundaries that differ are rechunked
    like ``X``), or NumPy when ``X``'s chunk sizes are known.
    """

    def __init__(self, C=1.0, *, fit_intercept=True, solver="lbfgs", tol=1e-4, max_iter=100,
                 backend=DEFAULT_BACKEND, verbose=0, warm_start=False, client=None,
                 persist=None):
        self.C = C
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.backend = backend
        self.verbose = verbose
        self.warm_start = warm_start
        self.client = client
        self.persist = persist

    def __getstate__(self):
        """Pickle without the client (it holds sockets and threads)."""
        state = dict(super().__getstate__())  # a copy: sklearn returns __dict__ itself
        state["client"] = None
        return state

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y, sample_weight=None, *, callback=None):
        """Fit the model.

        Parameters
        ----------
        X : dask array or DataFrame of shape (n_samples, n_features), or NumPy
        y : dask array or Series of shape (n_samples,), or NumPy
            Labels: any two or more distinct values.
        sample_weight : like ``y``, optional
        callback : callable, optional
            ``callback(iteration, objective)`` after every L-BFGS iteration
            (e.g. a progress bar).

        Returns
        -------
        self : LogisticRegression

        Raises
        ------
        ValueError
            Invalid parameters; NaN or inf in ``X`` or ``y``; chunks of ``X``
            and ``y`` that do not line up; fewer than two classes.
        """
        params = check_params(self, solvers=("lbfgs",), backends=BACKENDS)
        persist = inp.check_persist(self.persist)
        client = current_client(inp.check_client(self.client))
        if not inp.is_dask(X):
            return self._fit_in_memory(X, y, sample_weight)
        names = inp.feature_names(X)
        X = inp.as_samples_array(X)
        rows = X.chunks[0]
        n_features = X.shape[1]
        y = inp.as_vector_like(y, rows, "y", X.shape[0])
        sw = None
        if sample_weight is not None:
            sw = inp.as_vector_like(sample_weight, rows, "sample_weight", X.shape[0])
            sw = sw.astype(np.float64)
        offsets = offsets_of(rows)
        itemsize = n_features * X.dtype.itemsize
        if persist is None and offsets is not None:  # the size is known before the scan
            persist = X.shape[0] * itemsize <= PERSIST_FRACTION * memory_budget(client)

        # One pass over the labels (and weights): classes, counts, sums, checks;
        # on the chunks kept for the fit when the size was known (X is read
        # in the meantime).
        def keep_chunks(store):
            store.run_everywhere(warm_kernels, params["backend"], X.dtype, n_features, True,
                                 None if offsets is None else max(rows))
            parts = store.blocks(X, y, sw)
            store.host(parts, None if offsets is None else rows)
            return parts

        store = ChunkStore(client, bool(persist))
        try:
            x_parts, y_parts, sw_parts = keep_chunks(store)
            n_samples, classes, sw_sum = _scan_labels(store, y_parts, sw_parts, offsets)
            n_problems = encode_classes(classes)

            if persist is None:  # rows of unknown count: decided now, kept from now on
                persist = n_samples * itemsize <= PERSIST_FRACTION * memory_budget(client)
                if persist:
                    store = ChunkStore(client, persist)
                    x_parts, y_parts, sw_parts = keep_chunks(store)
            data = ChunkedX(store, x_parts, (n_features, n_samples), X.dtype, offsets)
            sw_chunks = sw_parts

            kernels = ChunkKernels(params["backend"], transpose=True)
            problem = Problem(kernels, data, np.empty(0) if sw_chunks is None else sw_chunks,
                              sw_sum, params["C"], params["fit_intercept"])
            start = warm_start_point(self, classes, n_features, n_problems)

            def fit_one(positive, w0, b0):
                return minimize_lbfgs(problem, Labels(y_parts, classes[positive]), w0, b0, params,
                                      callback=callback, stacklevel=5)

            with quiet_blas(params["backend"]):
                coef, intercept, n_iter = fit_one_vs_rest(n_problems, n_features, start,
                                                          fit_one)
        finally:
            store.close()  # the fit's actors end with it
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = n_iter
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def _fit_in_memory(self, X, y, sample_weight):
        """NumPy X: the in-memory estimator fits it (dask y or weights are computed)."""
        y = y.compute() if inp.is_dask(y) else y
        if inp.is_dask(sample_weight):
            sample_weight = sample_weight.compute()
        local = self._local()
        if self.warm_start and hasattr(self, "coef_"):
            for name in _FITTED:
                setattr(local, name, getattr(self, name))
        local.fit(X, y, sample_weight=sample_weight)
        for name in _FITTED:
            setattr(self, name, getattr(local, name))
        for name in ("feature_names_in_",):
            if hasattr(local, name):
                setattr(self, name, getattr(local, name))
        return self

    def _local(self):
        from ..sklearn import LogisticRegression as Local
        return Local(C=self.C, fit_intercept=self.fit_intercept, solver=self.solver,
                     tol=self.tol, max_iter=self.max_iter, backend=self.backend,
                     verbose=self.verbose, warm_start=self.warm_start)

    def to_local(self):
        """The equivalent fitted :class:`fastlogreg.sklearn.LogisticRegression`.

        Returns
        -------
        fastlogreg.sklearn.LogisticRegression
            Same parameters, copies of the fitted attributes.
        """
        check_is_fitted(self)
        local = self._local()
        for name in _FITTED + ("feature_names_in_",):
            if hasattr(self, name):
                setattr(local, name, np.copy(getattr(self, name))
                        if name != "n_features_in_" else getattr(self, name))
        return local

    # --------------------------------------------------------------- prediction

    def _blockwise(self, method, X, n_columns, dtype):
        """``to_local().method`` on every chunk of dask X; NumPy X: in memory."""
        check_is_fitted(self)
        local = self.to_local()
        if not inp.is_dask(X):
            return getattr(local, method)(X)
        inp.check_feature_names(self, X)
        X = inp.as_samples_array(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but LogisticRegression is "
                             f"expecting {self.n_features_in_} features as input")
        if hasattr(local, "feature_names_in_"):  # checked above; the chunks are arrays
            del local.feature_names_in_
        func = getattr(local, method)
        if n_columns is None:
            return X.map_blocks(func, drop_axis=1, dtype=dtype)
        return X.map_blocks(func, chunks=(X.chunks[0], (n_columns,)), dtype=dtype)

    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``; a dask array for dask input.

        Returns
        -------
        array of shape (n_samples,) or (n_samples, n_classes)
        """
        n = None if len(self.classes_) == 2 else len(self.classes_)
        return self._blockwise("decision_function", X, n, np.float64)

    def predict(self, X):
        """Predicted class labels; a dask array for dask input."""
        return self._blockwise("predict", X, None, self.classes_.dtype)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes); a dask array for dask input."""
        return self._blockwise("predict_proba", X, len(self.classes_), np.float64)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`; a dask array for dask input."""
        return self._blockwise("predict_log_proba", X, len(self.classes_), np.float64)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``(X, y)`` (weighted by ``sample_weight``), a float.

        Returns
        -------
        float
        """
        if not inp.is_dask(X):
            y = y.compute() if inp.is_dask(y) else y
            if inp.is_dask(sample_weight):
                sample_weight = sample_weight.compute()
            return float(self.to_local().score(X, y, sample_weight=sample_weight))
        pred = self.predict(X)
        rows = pred.chunks[0]
        y = inp.as_vector_like(y, rows, "y", pred.shape[0])
        sw = None
        if sample_weight is not None:
            sw = inp.as_vector_like(sample_weight, rows, "sample_weight", pred.shape[0])
        store = ChunkStore(current_client(self.client), persist=False)
        parts = store.gather(store.map(
            _accuracy_chunk, [list(pred.to_delayed().ravel()), list(y.to_delayed().ravel()),
                              None if sw is None else list(sw.to_delayed().ravel())]))
        correct = total = 0.0
        for c, t in parts:
            correct += c
            total += t
        return float(correct / total)


def _accuracy_chunk(pred, y, sw, index):
    """Weighted count of correct predictions and total weight of one chunk."""
    if pred.shape[0] != y.shape[0]:
        raise ValueError(f"chunk {index} of X has {pred.shape[0]} samples but chunk {index} "
                         f"of y has {y.shape[0]}: the chunks must line up")
    hit = pred == y
    if sw is None:
        return float(hit.sum()), float(hit.shape[0])
    return float(sw[hit].sum()), float(sw.sum())


def _scan_labels(store, y_parts, sw_parts, offsets):
    """One pass over the labels (and weights) in the store's chunks.

    Returns
    -------
    n_samples : int
    classes : ndarray
        The distinct labels, sorted.
    sw_sum : float
        The weights' sum (``n_samples`` without weights), checked.

    Raises
    ------
    ValueError
        No samples, NaN or bad labels or weights (named by row and chunk),
        fewer than two classes.
    """
    stats = store.run(inp.check_labels_chunk, [y_parts, sw_parts], offsets)
    n_samples = sum(s[0] for s in stats)
    if n_samples == 0:
        raise ValueError("X and y must have at least one sample; got 0")
    classes = np.unique(np.concatenate([s[1] for s in stats]))
    check_classification_targets(classes)
    sw_sum = n_samples
    if sw_parts is not None:
        sw_sum = 0.0
        for s in stats:  # chunk order: the same sum everywhere
            sw_sum += s[2]
    return n_samples, classes, check_sw_sum(float(sw_sum))
