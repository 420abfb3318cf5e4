"""The ``fastlogreg`` command: compare the backends, train a model, predict with it.

``fastlogreg`` with no subcommand (or with only options) runs ``compare`` on
the embedded default problem (:func:`fastlogreg.datasets.make_cat_like`).
Errors print one line on stderr and exit with code 2, without a traceback.

Subcommands
-----------
compare
    Time forward, cost, gradients, propagate and N training iterations on
    every backend; print the times, the speed-ups over ``numpy`` and
    ``python``, the largest difference from the ``numpy`` reference and the
    accuracy after training.
train
    The course's ``model``: gradient descent from zeros, the cost every 100
    iterations, the train/test accuracy; ``--plot`` the learning curve,
    ``--save`` the model.  ``--dask ADDRESS|local``: L-BFGS on a Dask cluster
    instead (:mod:`fastlogreg.cli._dask`, which also reads zarr and parquet).
predict
    Labels from a saved model for the examples of a data file.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

from .. import BACKENDS, DEFAULT_BACKEND, __version__
from ..datasets import (
    CAT_N_FEATURES,
    CAT_N_TEST,
    CAT_N_TRAIN,
    DEFAULT_SEED,
    DataError,
    load_data,
    make_cat_like,
    make_sparse_classification,
    read_npz,
)
from ._common import CLIError, accuracy, machine_info, note, progress_bar, write_line
from ._dask import add_dask_options, is_lazy_format, load_course_data

__all__ = ["main", "build_parser"]

SUBCOMMANDS = ("compare", "train", "predict")
#: The course's learning rate for the cat pictures.
DEFAULT_LEARNING_RATE = 0.005
DEFAULT_COMPARE_ITERATIONS = 300
DEFAULT_TRAIN_ITERATIONS = 2000
DEFAULT_PYTHON_BUDGET = 10.0


class _UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit."""

    def __init__(self, prog, message):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and do not exit."""

    def error(self, message):
        raise _UsageError(self.prog, message)


# ----------------------------------------------------------------- argument types

def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return value


def _density(text):
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be <= 1, got {text}")
    return value


def _backend_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return list(BACKENDS)
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of backends")
    for name in names:
        if name not in BACKENDS:
            raise argparse.ArgumentTypeError(
                f"unknown backend {name!r}; choose from {', '.join(BACKENDS)} (or 'all')")
    return list(dict.fromkeys(names))


def _backend(text):
    if text not in BACKENDS:
        raise argparse.ArgumentTypeError(
            f"unknown backend {text!r}; choose from {', '.join(BACKENDS)}")
    return text


# ----------------------------------------------------------------------- parser

def _add_data_options(parser, *, examples_flag):
    group = parser.add_argument_group("data (default: the embedded cat-like problem)")
    group.add_argument("--data", metavar="FILE",
                       help=".npz with X_train, Y_train [, X_test, Y_test] in the course "
                            "layout (n_features, m), dense or sparse; .csv with one example "
                            "per row, a header, a 'label' column and an optional 'split' "
                            "column (train/test); svmlight/libsvm (.svm, .svmlight, .libsvm: "
                            "sparse, one example per line); for train also .zarr (arrays X, "
                            "y [, X_test, y_test], one example per row) or .parquet "
                            "(columns as .csv)")
    group.add_argument("--density", type=_density, metavar="D",
                       help="embedded sparse text-like data instead (CSC, Zipf feature "
                            "frequencies, TF-IDF values, unit-norm examples) with about D "
                            "x n_features tokens per example (0 < D <= 1)")
    group.add_argument("--n-features", type=_int_at_least(1), metavar="N",
                       help=f"features of the embedded data (default {CAT_N_FEATURES})")
    group.add_argument(examples_flag, dest="n_examples", type=_int_at_least(1), metavar="M",
                       help=f"training examples of the embedded data (default {CAT_N_TRAIN})")
    group.add_argument("--n-test", type=_int_at_least(0), metavar="M",
                       help=f"test examples of the embedded data (default {CAT_N_TEST})")
    group.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help=f"seed of the embedded data (default {DEFAULT_SEED})")
    group.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                       help="dtype of X (default float64)")


def _add_run_options(parser, *, iterations):
    parser.add_argument("--iterations", type=_int_at_least(0), default=iterations, metavar="N",
                        help=f"gradient-descent iterations (default {iterations})")
    parser.add_argument("--learning-rate", type=_positive_float,
                        default=DEFAULT_LEARNING_RATE, metavar="LR",
                        help=f"gradient-descent step (default {DEFAULT_LEARNING_RATE})")
    parser.add_argument("--threads", type=_int_at_least(1), metavar="N",
                        help="threads of the parallel backend (and of BLAS where "
                             "threadpoolctl is installed); default: all cores")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar (there is none when stderr is not a terminal)")


def build_parser():
    """The ``fastlogreg`` argument parser (subcommands compare, train, predict).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(
        prog="fastlogreg",
        description="The course's logistic regression on five backends (python, numpy, "
                    "and three Numba styles: loop, parallel, vectorized). Without a "
                    "subcommand, runs 'compare' on the embedded default problem.",
        epilog="Run 'fastlogreg SUBCOMMAND --help' for the options of each subcommand.")
    parser.add_argument("--version", action="version", version=f"fastlogreg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")

    compare = sub.add_parser(
        "compare", help="time and check every backend (the default)",
        description="Time forward, cost, gradients, propagate and N training iterations on "
                    "every backend, after a warm-up call that compiles the Numba kernels; "
                    "print times, speed-ups, agreement with numpy and accuracies.")
    _add_data_options(compare, examples_flag="--n-examples")
    _add_run_options(compare, iterations=DEFAULT_COMPARE_ITERATIONS)
    compare.add_argument("--backends", type=_backend_list, default=list(BACKENDS),
                         metavar="LIST",
                         help=f"comma-separated subset of {','.join(BACKENDS)} (default all)")
    compare.add_argument("--repeat", type=_int_at_least(1), default=7, metavar="N",
                         help="timed repeats per kernel; the best counts (default 7)")
    compare.add_argument("--python-budget", type=_non_negative_float,
                         default=DEFAULT_PYTHON_BUDGET, metavar="SECONDS",
                         help="seconds the plain-Python backend may take; jobs whose "
                              "estimate does not fit are skipped "
                              f"(default {DEFAULT_PYTHON_BUDGET:g})")
    compare.add_argument("--plot", metavar="FILE.png",
                         help="plot kernel times (log scale) and learning curves")
    compare.add_argument("--json", metavar="FILE", help="write all measurements as JSON")
    compare.set_defaults(run=_cmd_compare)

    train = sub.add_parser(
        "train", help="train a model as the course's model() does",
        description="Gradient descent from zeros (the course's model()): prints the cost "
                    "every 100 iterations and the train/test accuracy.")
    _add_data_options(train, examples_flag="--n-examples")
    _add_run_options(train, iterations=DEFAULT_TRAIN_ITERATIONS)
    train.add_argument("--backend", type=_backend, default=DEFAULT_BACKEND,
                       help=f"backend (default {DEFAULT_BACKEND})")
    train.add_argument("--plot", metavar="FILE.png", help="plot the learning curve")
    train.add_argument("--save", metavar="MODEL.npz",
                       help="save the model (w, b and how it was trained)")
    add_dask_options(train)
    train.set_defaults(run=_cmd_train)

    predict = sub.add_parser(
        "predict", help="predict labels with a saved model",
        description="Predict 0/1 labels with a model saved by 'fastlogreg train --save'. "
                    "Prints the accuracy where the file has labels.")
    predict.add_argument("--model", required=True, metavar="MODEL.npz",
                         help="model saved by 'fastlogreg train --save'")
    predict.add_argument("--data", required=True, metavar="FILE",
                         help=".npz (X, or X_train [and X_test], course layout) or .csv "
                              "(one example per row; 'label' and 'split' columns optional)")
    predict.add_argument("--backend", type=_backend, default=DEFAULT_BACKEND,
                         help=f"backend (default {DEFAULT_BACKEND})")
    predict.add_argument("--output", metavar="FILE",
                         help="write the predictions: .csv (columns split,prediction) or "
                              ".npz (Y_prediction_train [, Y_prediction_test])")
    predict.set_defaults(run=_cmd_predict)
    return parser


# ---------------------------------------------------------------------- helpers

def _check_writable(path, flag):
    """Fail early (before a long run) when an output file cannot be created."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{flag} {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{flag} {path}: is a directory")


def _set_threads(threads):
    """Apply ``--threads`` to Numba (and BLAS via threadpoolctl when present)."""
    if threads is None:
        return None
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if threads > limit:
        raise CLIError(f"--threads {threads}: at most {limit} here (NUMBA_NUM_THREADS); "
                       f"set NUMBA_NUM_THREADS to allow more")
    numba.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def _get_data(args):
    """The data set of a run: from ``--data`` or the embedded generator.

    Returns
    -------
    data : Dataset-like tuple
        ``(X_train, Y_train, X_test, Y_test)``; the test pair may be None.
    description : str
    true_model : tuple or None
        ``(w_true, b_true)`` of the embedded data.
    """
    dtype = np.dtype(args.dtype)
    if args.data is not None:
        given = [flag for flag, value in (("--n-features", args.n_features),
                                          ("--n-examples", args.n_examples),
                                          ("--n-test", args.n_test)) if value is not None]
        if args.density is not None:
            given.insert(0, "--density")
        if given:
            raise CLIError(f"{given[0]} sets the size of the embedded data; it cannot be "
                           f"used with --data")
        load = load_course_data if is_lazy_format(args.data) else load_data
        X_train, Y_train, X_test, Y_test = load(args.data)
        X_train = X_train.astype(dtype, copy=False)
        if X_test is not None:
            X_test = X_test.astype(dtype, copy=False)
        return (X_train, Y_train, X_test, Y_test), f"data from {args.data}", None
    n_features = CAT_N_FEATURES if args.n_features is None else args.n_features
    n_train = CAT_N_TRAIN if args.n_examples is None else args.n_examples
    n_test = CAT_N_TEST if args.n_test is None else args.n_test
    if args.density is not None:
        return _sparse_data(args, n_features, n_train, n_test, dtype)
    data, true_model = make_cat_like(args.seed, n_features=n_features, n_train=n_train,
                                     n_test=n_test, dtype=dtype, return_model=True)
    if n_test == 0:
        data = (data[0], data[1], None, None)
    return data, f"embedded cat-like data (seed {args.seed})", true_model


def _sparse_data(args, n_features, n_train, n_test, dtype):
    """Embedded text-like sparse data (``--density``): the train/test split of one draw."""
    draws = max(1, round(args.density * n_features))
    X, Y, true_model = make_sparse_classification(
        n_train + n_test, n_features, draws=draws, seed=args.seed, dtype=dtype,
        return_model=True)
    data = (X[:, :n_train], Y[:, :n_train], X[:, n_train:] if n_test else None,
            Y[:, n_train:] if n_test else None)
    return (data, f"embedded sparse text-like data ({draws} Zipf draws per example, "
                  f"seed {args.seed})", true_model)


def _describe_X(X):
    if getattr(X, "format", None) in ("csr", "csc"):
        density = X.nnz / (X.shape[0] * X.shape[1])
        return (f"{X.shape[0]} x {X.shape[1]} {X.dtype} ({X.format.upper()}, {X.nnz} "
                f"nonzeros, density {density:.2g}, {X.indices.dtype} indices)")
    order = "C-ordered" if X.flags.c_contiguous else (
        "F-ordered" if X.flags.f_contiguous else "strided")
    return f"{X.shape[0]} x {X.shape[1]} {X.dtype} ({order})"


def _true_accuracies(true_model, data):
    w_true, b_true = true_model
    parts = []
    for name, X, Y in (("train", data[0], data[1]), ("test", data[2], data[3])):
        if X is not None:
            prediction = ((X.T @ w_true.ravel()).reshape(1, -1) + b_true > 0).astype(np.float64)
            parts.append(f"{name} {accuracy(prediction, Y):.1f} %")
    return ", ".join(parts)


def _load_note(info):
    """The machine's load when it was measured (busy machines give noisy timings)."""
    load = info.get("load_average")
    if load is None:
        return ""
    text = f"; load average {load:.1f}"
    if info["logical_cpus"] and load > 0.75 * info["logical_cpus"]:
        text += " (a busy machine: timings are noisy)"
    return text


# --------------------------------------------------------------------- commands

def _cmd_compare(args):
    from ._compare import run_compare
    from ._report import plot_compare, render_tables, require_matplotlib, write_json

    if args.plot:
        require_matplotlib()
    _check_writable(args.plot, "--plot")
    _check_writable(args.json, "--json")
    limiter = _set_threads(args.threads)
    data, source, true_model = _get_data(args)
    X_train, Y_train, X_test, Y_test = data
    started = time.perf_counter()
    results = run_compare(X_train, Y_train, X_test, Y_test, backends=args.backends,
                          iterations=args.iterations, learning_rate=args.learning_rate,
                          repeat=args.repeat, python_budget=args.python_budget,
                          progress=args.progress, on_note=note)
    if limiter is not None:
        limiter.unregister()
    info = machine_info()
    lines = [f"fastlogreg compare: {source}",
             f"  X_train {_describe_X(X_train)}"
             + (f", X_test {X_test.shape[0]} x {X_test.shape[1]}" if X_test is not None
                else ", no test set"),
             f"  training: {args.iterations} iterations from zeros at learning rate "
             f"{args.learning_rate:g}"
             + (f"; the true model's accuracy: {_true_accuracies(true_model, data)}"
                if true_model is not None else ""),
             f"  CPU: {info['cpu_summary']} ({info['logical_cpus']} logical CPUs); Numba threads: "
             f"{info['numba_threads']}"
             + (f" ({info['threading_layer']} layer)" if info["threading_layer"] else "")
             + (f"; BLAS: {info['blas']}" if "blas" in info else ""),
             f"  Python {info['python']}, NumPy {info['numpy']}, Numba {info['numba']}"
             + _load_note(info)]
    first = [f"{name} {entry['first_call']:.2f} s" for name, entry in results["backends"].items()
             if entry["first_call"] is not None]
    if first:
        warm = results["warm_up"]
        lines.append("  first call, not timed below (Numba compile or cache load): "
                     + ", ".join(first)
                     + (f"; {warm['seconds']:.1f} s in all, compiles shared with a helper "
                        "process" if warm["processes"] > 1 else ""))
    print("\n".join(lines))
    print()
    print(render_tables(results, iterations=args.iterations, repeat=args.repeat))
    elapsed = time.perf_counter() - started
    print(f"\n(compare took {elapsed:.1f} s)")
    title = (f"fastlogreg compare: X {X_train.shape[0]} x {X_train.shape[1]} {X_train.dtype}, "
             f"{info['numba_threads']} threads, {info['cpu']}"
             + (f" (load average {info['load_average']:.1f} on {info['logical_cpus']} CPUs)"
                if info.get("load_average") is not None else ""))
    if args.plot:
        plot_compare(args.plot, results, title=title, iterations=args.iterations,
                     learning_rate=args.learning_rate)
        print(f"plot written to {args.plot}")
    if args.json:
        payload = {
            "command": "compare", "source": source,
            "shape": {"n_features": X_train.shape[0], "n_train": X_train.shape[1],
                      "n_test": None if X_test is None else X_test.shape[1]},
            "dtype": str(X_train.dtype), "iterations": args.iterations,
            "learning_rate": args.learning_rate, "repeat": args.repeat,
            "python_budget_s": args.python_budget, "machine": info,
            "elapsed_s": elapsed, **results,
        }
        write_json(args.json, payload)
        print(f"measurements written to {args.json}")
    return 0


def _cmd_train(args):
    import fastlogreg as flr

    from ._report import plot_learning_curve, require_matplotlib

    if args.plot:
        require_matplotlib()
    _check_writable(args.plot, "--plot")
    _check_writable(args.save, "--save")
    if args.dask:
        from ._dask import train_on_dask
        if args.plot:
            raise CLIError("--plot draws gradient descent's curve; not available with --dask")
        source = f"data from {args.data}" if args.data else "embedded cat-like data"
        return train_on_dask(args, source, lambda: _get_data(args)[0])
    limiter = _set_threads(args.threads)
    data, source, _ = _get_data(args)
    X_train, Y_train, X_test, Y_test = data
    print(f"fastlogreg train: {source}; X_train {_describe_X(X_train)}"
          + (f", X_test {X_test.shape[0]} x {X_test.shape[1]}" if X_test is not None else "")
          + f"; backend {args.backend}")
    bar = progress_bar(args.iterations, enabled=args.progress, desc="train", unit="it")
    done = [0]

    def on_record(iteration, cost):
        # Called after each segment of up to 100 iterations with the cost at its start.
        write_line(bar, f"Cost after iteration {iteration}: {cost:f}")
        if bar is not None:
            steps = min(iteration + 100, args.iterations) - done[0]
            bar.update(steps)
            done[0] += steps

    w0 = np.zeros((X_train.shape[0], 1))
    started = time.perf_counter()
    try:
        params, _, costs = flr.optimize(w0, 0.0, X_train, Y_train, args.iterations,
                                        args.learning_rate, backend=args.backend,
                                        callback=on_record)
    finally:
        if bar is not None:
            bar.close()
        if limiter is not None:
            limiter.unregister()
    elapsed = time.perf_counter() - started
    w, b = params["w"], params["b"]
    if not (np.isfinite(costs).all() and np.isfinite(w).all() and math.isfinite(b)):
        raise CLIError(f"training diverged with learning rate {args.learning_rate:g} (the cost "
                       "or the weights are no longer finite); try a smaller --learning-rate")
    for name, X, Y in (("train", X_train, Y_train), ("test", X_test, Y_test)):
        if X is not None:  # the course's accuracy lines
            print(f"{name} accuracy: {accuracy(flr.predict(w, b, X, backend=args.backend), Y)} %")
    print(f"({args.iterations} iterations in {elapsed:.2f} s on the {args.backend} backend)")
    if args.save:
        np.savez(args.save, w=np.asarray(w, dtype=np.float64), b=np.float64(b),
                 costs=np.asarray(costs, dtype=np.float64),
                 learning_rate=np.float64(args.learning_rate),
                 num_iterations=np.int64(args.iterations), backend=np.str_(args.backend),
                 fastlogreg_version=np.str_(__version__))
        print(f"model saved to {args.save}")
    if args.plot:
        plot_learning_curve(args.plot, costs, learning_rate=args.learning_rate,
                            title=f"fastlogreg train: {X_train.shape[0]} x {X_train.shape[1]}, "
                                  f"{args.backend} backend")
        print(f"learning curve written to {args.plot}")
    return 0


def _load_model(path):
    """``(w, b)`` from a file written by ``fastlogreg train --save``."""
    if not os.path.exists(path):
        raise CLIError(f"--model {path}: no such file")
    try:
        arrays = read_npz(path, "model")
    except DataError as exc:
        raise CLIError(f"--model {exc}") from None
    if "w" not in arrays or "b" not in arrays:
        raise CLIError(f"--model {path}: expected arrays 'w' and 'b' "
                       f"(a file from 'fastlogreg train --save')")
    w, b = arrays["w"], arrays["b"]
    if w.dtype.kind not in "fiu" or w.ndim not in (1, 2) or (w.ndim == 2 and w.shape[1] != 1) \
            or w.size == 0:
        raise CLIError(f"--model {path}: w must be numeric of shape (n, 1) or (n,); "
                       f"got {w.dtype} {w.shape}")
    if b.dtype.kind not in "fiu" or b.size != 1:
        raise CLIError(f"--model {path}: b must be one number; got {b.dtype} {b.shape}")
    w = w.astype(np.float64).reshape(-1, 1)
    b = float(b.reshape(()))
    if not (np.isfinite(w).all() and math.isfinite(b)):
        raise CLIError(f"--model {path}: w and b must be finite (NaN or inf found)")
    return w, b


def _cmd_predict(args):
    import fastlogreg as flr

    _check_writable(args.output, "--output")
    suffix = os.path.splitext(args.output)[1].lower() if args.output else None
    if suffix not in (None, ".csv", ".npz"):
        raise CLIError(f"--output {args.output}: use a .csv or .npz file name")
    w, b = _load_model(args.model)
    data = load_data(args.data, labels_required=False)
    parts = [("train", data.X_train, data.Y_train)]
    if data.X_test is not None:
        parts.append(("test", data.X_test, data.Y_test))
    predictions = {}
    for name, X, Y in parts:
        if X.shape[0] != w.shape[0]:
            raise CLIError(f"--data {args.data}: the model has {w.shape[0]} features but the "
                           f"{name} data has {X.shape[0]} (X is (n_features, m))")
        prediction = flr.predict(w, b, X, backend=args.backend)
        predictions[name] = prediction
        line = (f"{name}: {X.shape[1]} examples, {int(prediction.sum())} predicted 1, "
                f"{X.shape[1] - int(prediction.sum())} predicted 0")
        if Y is not None:
            line += f"; accuracy: {accuracy(prediction, Y)} %"
        print(line)
    if args.output:
        if suffix == ".npz":
            np.savez(args.output, **{f"Y_prediction_{name}": p for name, p in
                                     predictions.items()})
        else:
            with open(args.output, "w") as handle:
                handle.write("split,prediction\n")
                for name, p in predictions.items():
                    handle.writelines(f"{name},{int(v)}\n" for v in p.ravel())
        print(f"predictions written to {args.output}")
    return 0


# ------------------------------------------------------------------------- main

def _one_line(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def main(argv=None):
    """Run the ``fastlogreg`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.  No
        subcommand (or only options) means ``compare``.

    Returns
    -------
    int
        The exit code: 0 on success, 2 on any usage or data error (reported
        as one line on stderr, no traceback), 130 when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "compare")
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            args = build_parser().parse_args(["compare"])
        return args.run(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # e.g. `fastlogreg | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except _UsageError as exc:
        print(f"{exc.prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (CLIError, DataError, ValueError, TypeError, FloatingPointError, OSError,
            MemoryError) as exc:
        if os.environ.get("FASTLOGREG_TRACEBACK"):  # for debugging the command itself
            raise
        message = _one_line(exc)
        if isinstance(exc, MemoryError):
            message = f"out of memory ({message}); try smaller --n-features/--n-examples"
        elif isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        print(f"fastlogreg: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastlogreg: interrupted", file=sys.stderr)
        return 130
