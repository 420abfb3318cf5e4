"""The ``fastlogreg`` command line: every subcommand, option family and error path.

Most tests call :func:`fastlogreg.cli.main` in-process (it returns the exit
code); a few run ``python -m fastlogreg`` in a subprocess to check the real
exit status and stderr.  Sizes are tiny so the whole file stays fast.
"""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import fastlogreg.cli as cli
from fastlogreg import BACKENDS
from fastlogreg.cli import _compare
from fastlogreg.cli._common import format_ratio, format_seconds, progress_bar, write_line
from fastlogreg.datasets import make_cat_like, save_data

SMALL = ["--n-features", "20", "--n-examples", "30", "--n-test", "10"]
QUICK = [*SMALL, "--iterations", "200", "--repeat", "1", "--no-progress"]
FAST_BACKENDS = ["--backends", "numpy,loop"]


def run(capsys, *argv):
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """An .npz (train + test), an X-only .npz, a .csv with split and a label-less .csv."""
    folder = tmp_path_factory.mktemp("data")
    data = make_cat_like(3, n_features=12, n_train=40, n_test=15)
    save_data(folder / "d.npz", *data)
    np.savez(folder / "x_only.npz", X=data.test_set_x)
    with open(folder / "d.csv", "w") as handle:
        handle.write(",".join(f"px{j}" for j in range(12)) + ",label,split\n")
        for X, Y, split in ((data[0], data[1], "train"), (data[2], data[3], "test")):
            for column, label in zip(X.T, Y.ravel(), strict=True):
                handle.write(",".join(f"{v:.6f}" for v in column) + f",{int(label)},{split}\n")
    with open(folder / "nolabel.csv", "w") as handle:
        handle.write(",".join(f"px{j}" for j in range(12)) + "\n")
        for column in data[2].T:
            handle.write(",".join(f"{v:.6f}" for v in column) + "\n")
    return folder


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, data_files):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    assert cli.main(["train", "--data", str(data_files / "d.npz"), "--iterations", "300",
                     "--learning-rate", "0.05", "--backend", "loop", "--save", str(path),
                     "--no-progress"]) == 0
    return path


# ------------------------------------------------------------------------ compare

def test_bare_command_runs_compare_on_the_embedded_problem(capsys, monkeypatch):
    # Shrink the embedded defaults so that the bare command is quick in tests.
    monkeypatch.setattr(cli, "CAT_N_FEATURES", 20)
    monkeypatch.setattr(cli, "CAT_N_TRAIN", 30)
    monkeypatch.setattr(cli, "CAT_N_TEST", 10)
    monkeypatch.setattr(cli, "DEFAULT_COMPARE_ITERATIONS", 100)
    code, out, err = run(capsys)
    assert code == 0, err
    assert "fastlogreg compare: embedded cat-like data (seed 1)" in out
    assert "X_train 20 x 30 float64" in out and "X_test 20 x 10" in out
    assert "Numba threads:" in out and "CPU:" in out
    for title in ("time per call (best of up to 7, 0.15 s per cell)", "speed-up over numpy",
                  "speed-up over python", "agreement with the numpy reference"):
        assert title in out
    for name in BACKENDS:
        assert f"\n  {name} " in out
    assert "skipped" not in out          # tiny data: the python backend fits its budget


def test_options_without_subcommand_mean_compare(capsys):
    code, out, _ = run(capsys, *QUICK, *FAST_BACKENDS)
    assert code == 0
    assert "fastlogreg compare" in out and "train 200 it" in out


def test_compare_json_holds_every_measurement(capsys, tmp_path):
    path = tmp_path / "out.json"
    code, out, err = run(capsys, "compare", *QUICK, "--json", str(path))
    assert code == 0, err
    assert f"measurements written to {path}" in out
    payload = json.loads(path.read_text())
    assert payload["shape"] == {"n_features": 20, "n_train": 30, "n_test": 10}
    assert payload["dtype"] == "float64" and payload["iterations"] == 200
    assert list(payload["backends"]) == list(BACKENDS)
    accuracies = set()
    for name, entry in payload["backends"].items():
        assert set(entry["time"]) == {"forward", "cost", "gradients", "propagate", "train",
                                      "train_gram"}
        assert all(t > 0 for t in entry["time"].values()), name
        assert entry["max_diff_kernels"] < 1e-12 and entry["max_diff_train"] < 1e-10
        assert entry["max_diff_train_gram"] < 1e-10
        assert len(entry["costs"]) == 2
        accuracies.add((entry["train_accuracy"], entry["test_accuracy"]))
        assert (entry["first_call"] is None) == (name in ("python", "numpy"))
    assert len(accuracies) == 1          # every backend trains the same model
    assert payload["warm_up"]["processes"] in (1, 2) and payload["warm_up"]["seconds"] > 0


def test_compare_python_budget_skips_with_an_estimate(capsys, tmp_path):
    path = tmp_path / "out.json"
    code, out, _ = run(capsys, "compare", *QUICK, "--backends", "python,numpy",
                       "--python-budget", "0", "--json", str(path))
    assert code == 0
    python_row = next(line for line in out.splitlines() if line.startswith("  python "))
    assert python_row.count("skipped (est. ") == 6
    assert "~ = against the python estimate" in out and "~" in out.split("speed-up over python")[1]
    entry = json.loads(path.read_text())["backends"]["python"]
    assert set(entry["skipped"]) == set(entry["time"]) and all(v > 0 for v in
                                                               entry["skipped"].values())
    assert all(v is None for v in entry["time"].values())


def test_compare_without_numpy_still_checks_against_it(capsys, tmp_path):
    path = tmp_path / "out.json"
    code, out, _ = run(capsys, "compare", *QUICK, "--backends", "loop,vectorized",
                       "--json", str(path))
    assert code == 0
    assert "speed-up over numpy" not in out and "speed-up over python" not in out
    for entry in json.loads(path.read_text())["backends"].values():
        assert entry["max_diff_kernels"] < 1e-12


def test_compare_float32_threads_and_repeat(capsys):
    code, out, _ = run(capsys, "compare", *SMALL, "--iterations", "100", "--dtype", "float32",
                       "--threads", "1", "--repeat", "2", "--backends", "numpy,parallel",
                       "--no-progress")
    assert code == 0
    assert "float32" in out and "Numba threads: 1" in out and "best of up to 2" in out


def test_time_call_samples_until_repeat_or_budget():
    calls = []
    best, samples, result = _compare._time_call(lambda: calls.append(1) or len(calls),
                                                repeat=4, budget=10.0)
    # Four samples: the first call, then three loops of `number` calls each.
    assert result == 1 and len(samples) == 4 and best == min(samples)
    assert len(calls) > 4 and (len(calls) - 1) % 3 == 0   # fast calls: loops of several

    def slow():
        calls.append(1)
        time.sleep(0.02)

    calls.clear()
    best, samples, _ = _compare._time_call(slow, repeat=7, budget=0.05)
    # 20 ms calls, each timed alone: sampling stops once 50 ms are spent.
    assert 2 <= len(calls) == len(samples) <= 3 and best >= 0.02
    calls.clear()
    _, samples, _ = _compare._time_call(slow, repeat=7, budget=0.0)
    assert len(calls) == len(samples) == 1       # at least one call, even without a budget
    calls.clear()
    _, samples, _ = _compare._time_call(slow, repeat=1, budget=10.0)
    assert len(calls) == len(samples) == 1


def test_python_examples_fit_the_cell_budget():
    assert _compare.python_examples(0.1, 209, budget=0.25) == 209
    assert _compare.python_examples(1.0, 209, budget=0.25) == 26      # half the budget
    assert _compare.python_examples(1e6, 209, budget=0.25) == 1


def test_compare_times_slow_python_jobs_on_fewer_examples(capsys, tmp_path, monkeypatch):
    # A budget this small makes every python kernel job run on a prefix of X.
    monkeypatch.setattr(_compare, "CELL_BUDGET_S", 1e-9)
    path = tmp_path / "out.json"
    code, out, _ = run(capsys, "compare", *QUICK, "--backends", "python,numpy",
                       "--json", str(path))
    assert code == 0
    entry = json.loads(path.read_text())["backends"]["python"]
    assert set(entry["timed_examples"]) == {"forward", "cost", "gradients", "propagate"}
    assert all(k == 1 for k in entry["timed_examples"].values())
    # Checked against numpy on the same examples: the agreement stays at rounding.
    assert entry["max_diff_kernels"] < 1e-12
    python_row = next(line for line in out.splitlines() if line.startswith("  python "))
    assert python_row.count("~") == 4 and "timed on the first 1 examples, scaled" in out


def test_compare_on_data_files(capsys, data_files):
    for name in ("d.npz", "d.csv"):
        code, out, err = run(capsys, "compare", "--data", str(data_files / name),
                             "--iterations", "100", "--repeat", "1", *FAST_BACKENDS)
        assert code == 0, err
        assert f"data from {data_files / name}" in out and "X_train 12 x 40" in out


def test_compare_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "compare.png"
    code, out, _ = run(capsys, "compare", *QUICK, "--backends", "python,numpy,loop",
                       "--python-budget", "0", "--plot", str(path))
    assert code == 0 and f"plot written to {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_zero_iterations(capsys):
    code, out, _ = run(capsys, "compare", *SMALL, "--iterations", "0", "--repeat", "1",
                       *FAST_BACKENDS)
    assert code == 0 and "train 0 it" in out


# -------------------------------------------------------------------------- train

def test_train_embedded_prints_the_course_lines(capsys, tmp_path):
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "train", *SMALL, "--iterations", "250", "--backend", "loop",
                         "--save", str(model))
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("Cost")] == [
        "Cost after iteration 0", "Cost after iteration 100", "Cost after iteration 200"]
    assert "Cost after iteration 0: 0.693147" in lines
    assert any(line.startswith("train accuracy: ") and line.endswith(" %") for line in lines)
    assert any(line.startswith("test accuracy: ") for line in lines)
    saved = np.load(model)
    assert saved["w"].shape == (20, 1) and saved["costs"].shape == (3,)
    assert int(saved["num_iterations"]) == 250 and str(saved["backend"]) == "loop"


def test_train_on_files_and_plot(capsys, tmp_path, data_files):
    pytest.importorskip("matplotlib")
    for name in ("d.npz", "d.csv"):
        plot = tmp_path / f"{name}.png"
        code, out, _ = run(capsys, "train", "--data", str(data_files / name),
                           "--iterations", "100", "--backend", "numpy", "--plot", str(plot))
        assert code == 0 and "test accuracy" in out
        assert plot.read_bytes()[:4] == b"\x89PNG"


def test_train_csv_without_split_has_no_test_set(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n0.1,0.9,1\n0.8,0.2,0\n0.2,0.7,1\n")
    code, out, _ = run(capsys, "train", "--data", str(path), "--iterations", "100",
                       "--learning-rate", "1", "--backend", "vectorized", "--dtype", "float32")
    assert code == 0 and "train accuracy: 100.0 %" in out and "test accuracy" not in out


def test_train_divergence_is_an_error(capsys, data_files):
    code, _, err = run(capsys, "train", "--data", str(data_files / "d.npz"),
                       "--iterations", "200", "--learning-rate", "1e300", "--backend", "numpy")
    assert_one_line_error(code, err, "diverged", "learning")


# ------------------------------------------------------------------------ predict

def test_predict_npz_with_labels(capsys, model_file, data_files, tmp_path):
    out_csv = tmp_path / "p.csv"
    code, out, _ = run(capsys, "predict", "--model", str(model_file),
                       "--data", str(data_files / "d.npz"), "--output", str(out_csv))
    assert code == 0
    assert out.startswith("train: 40 examples, ") and "accuracy: " in out
    assert "test: 15 examples" in out
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "split,prediction" and len(rows) == 1 + 40 + 15
    assert {row.split(",")[1] for row in rows[1:]} <= {"0", "1"}


def test_predict_unlabelled_data(capsys, model_file, data_files, tmp_path):
    for name in ("x_only.npz", "nolabel.csv"):
        out_npz = tmp_path / f"{name}.npz"
        code, out, _ = run(capsys, "predict", "--model", str(model_file),
                           "--data", str(data_files / name), "--output", str(out_npz),
                           "--backend", "numpy")
        assert code == 0 and "train: 15 examples" in out and "accuracy" not in out
        assert np.load(out_npz)["Y_prediction_train"].shape == (1, 15)


def test_predict_matches_the_library(capsys, model_file, data_files, tmp_path):
    import fastlogreg as flr

    saved = np.load(model_file)
    X = np.load(data_files / "x_only.npz")["X"]
    out_npz = tmp_path / "p.npz"
    assert cli.main(["predict", "--model", str(model_file), "--data",
                     str(data_files / "x_only.npz"), "--output", str(out_npz)]) == 0
    np.testing.assert_array_equal(np.load(out_npz)["Y_prediction_train"],
                                  flr.predict(saved["w"], float(saved["b"]), X))


# ------------------------------------------------------------------------- errors

@pytest.mark.parametrize("argv, fragments", [
    (["compare", "--backends", "loop,nope"], ["unknown backend 'nope'", "python, numpy"]),
    (["compare", "--backends", ","], ["comma-separated"]),
    (["train", "--backend", "gpu"], ["unknown backend 'gpu'"]),
    (["compare", "--n-features", "-3"], ["--n-features", ">= 1", "-3"]),
    (["compare", "--n-examples", "0"], ["--n-examples", ">= 1"]),
    (["compare", "--n-test", "-1"], ["--n-test", ">= 0"]),
    (["train", "--iterations", "-5"], ["--iterations", ">= 0"]),
    (["compare", "--repeat", "0"], ["--repeat"]),
    (["compare", "--threads", "0"], ["--threads"]),
    (["compare", "--iterations", "ten"], ["expected an integer"]),
    (["train", "--learning-rate", "nan"], ["--learning-rate", "finite and > 0"]),
    (["train", "--learning-rate", "-1"], ["--learning-rate"]),
    (["compare", "--python-budget", "-1"], ["--python-budget"]),
    (["compare", "--dtype", "int8"], ["--dtype"]),
    (["frobnicate"], ["invalid choice", "frobnicate"]),
    (["compare", "--no-such-option"], ["unrecognized arguments"]),
    (["predict", "--data", "x.npz"], ["--model"]),
])
def test_usage_errors_are_one_line(capsys, argv, fragments):
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)
    assert "usage:" not in err and out == ""


def _bad_files(folder):
    (folder / "garbage.npz").write_bytes(b"this is not an npz")
    np.save(folder / "array.npy", np.ones(3))
    (folder / "array.npz").write_bytes((folder / "array.npy").read_bytes())
    save_data(folder / "ok.npz", np.ones((2, 3)), np.ones((1, 3)))
    (folder / "truncated.npz").write_bytes((folder / "ok.npz").read_bytes()[:50])
    np.savez(folder / "nan.npz", X_train=np.array([[0.0, np.nan]]), Y_train=np.ones(2))
    np.savez(folder / "shape.npz", X_train=np.ones((2, 3)), Y_train=np.ones((1, 5)))
    np.savez(folder / "labels.npz", X_train=np.ones((2, 3)), Y_train=np.full(3, 2.0))
    np.savez(folder / "rank1.npz", X_train=np.ones(3), Y_train=np.ones(3))
    (folder / "bad.csv").write_text("a,label\n1,0\nhello,1\n")
    (folder / "data.txt").write_text("1 2 3")


@pytest.mark.parametrize("name, fragment", [
    ("missing.npz", "no such file"),
    ("garbage.npz", "not a zip archive"),
    ("array.npz", "single .npy array"),
    ("truncated.npz", "corrupt"),
    ("nan.npz", "NaN or inf"),
    ("shape.npz", "Y must have shape (1, 3)"),
    ("labels.npz", "labels must be 0 or 1"),
    ("rank1.npz", "must be 2-D"),
    ("bad.csv", "'hello' is not a number"),
    ("data.txt", "unknown data format"),
])
@pytest.mark.parametrize("command", ["compare", "train"])
def test_data_file_errors_are_one_line(capsys, tmp_path, name, fragment, command):
    _bad_files(tmp_path)
    code, _, err = run(capsys, command, "--data", str(tmp_path / name), "--iterations", "1",
                       "--no-progress")
    assert_one_line_error(code, err, fragment, name)


def test_data_with_embedded_size_is_an_error(capsys, data_files):
    code, _, err = run(capsys, "compare", "--data", str(data_files / "d.npz"),
                       "--n-examples", "5")
    assert_one_line_error(code, err, "--n-examples", "--data")


def test_too_many_threads(capsys):
    code, _, err = run(capsys, "compare", *SMALL, "--threads", "100000")
    assert_one_line_error(code, err, "--threads 100000", "NUMBA_NUM_THREADS")


@pytest.mark.parametrize("option", ["--plot", "--json"])
def test_output_folder_must_exist(capsys, tmp_path, option):
    pytest.importorskip("matplotlib")
    target = tmp_path / "no" / "such" / "out.png"
    code, _, err = run(capsys, "compare", *QUICK, option, str(target))
    assert_one_line_error(code, err, option, "does not exist")


def test_output_is_a_directory(capsys, tmp_path, model_file, data_files):
    code, _, err = run(capsys, "predict", "--model", str(model_file), "--data",
                       str(data_files / "d.npz"), "--output", str(tmp_path))
    assert_one_line_error(code, err, "--output", "is a directory")


def test_train_save_folder_must_exist(capsys, tmp_path):
    code, _, err = run(capsys, "train", *SMALL, "--save", str(tmp_path / "x" / "m.npz"))
    assert_one_line_error(code, err, "--save", "does not exist")


def test_predict_errors(capsys, tmp_path, model_file, data_files):
    _bad_files(tmp_path)
    np.savez(tmp_path / "no_w.npz", b=1.0)
    np.savez(tmp_path / "nan_w.npz", w=np.array([[np.nan]]), b=0.0)
    np.savez(tmp_path / "w3d.npz", w=np.ones((2, 2, 2)), b=0.0)
    np.savez(tmp_path / "b_vec.npz", w=np.ones((12, 1)), b=np.ones(2))
    np.savez(tmp_path / "w_str.npz", w=np.array(["a"]), b=0.0)
    np.savez(tmp_path / "small.npz", w=np.ones((3, 1)), b=0.0)
    d = str(data_files / "d.npz")
    cases = [
        (["--model", str(tmp_path / "none.npz"), "--data", d], ["--model", "no such file"]),
        (["--model", str(tmp_path / "garbage.npz"), "--data", d], ["--model", "not an .npz"]),
        (["--model", str(tmp_path / "no_w.npz"), "--data", d], ["expected arrays 'w' and 'b'"]),
        (["--model", str(tmp_path / "nan_w.npz"), "--data", d], ["finite"]),
        (["--model", str(tmp_path / "w3d.npz"), "--data", d], ["w must be numeric"]),
        (["--model", str(tmp_path / "w_str.npz"), "--data", d], ["w must be numeric"]),
        (["--model", str(tmp_path / "b_vec.npz"), "--data", d], ["b must be one number"]),
        (["--model", str(tmp_path / "small.npz"), "--data", d], ["3 features", "12"]),
        (["--model", str(model_file), "--data", str(tmp_path / "nan.npz")], ["NaN"]),
        (["--model", str(model_file), "--data", d, "--output", str(tmp_path / "p.txt")],
         [".csv or .npz"]),
    ]
    for argv, fragments in cases:
        code, _, err = run(capsys, "predict", *argv)
        assert_one_line_error(code, err, *fragments)


def test_missing_matplotlib_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import fails
    code, _, err = run(capsys, "compare", *QUICK, "--plot", str(tmp_path / "x.png"))
    assert_one_line_error(code, err, "--plot needs matplotlib", "fastlogreg[plot]")
    code, _, err = run(capsys, "train", *SMALL, "--plot", str(tmp_path / "x.png"))
    assert_one_line_error(code, err, "matplotlib")


def test_missing_tqdm_means_no_bar(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert progress_bar(10) is None
    code, out, _ = run(capsys, "compare", *SMALL, "--iterations", "100", "--repeat", "1",
                       *FAST_BACKENDS)
    assert code == 0 and "time per call" in out


def test_progress_bar_and_write_line(capsys):
    pytest.importorskip("tqdm")
    assert progress_bar(3, enabled=False) is None
    bar = progress_bar(3)          # stderr is captured, not a terminal: a disabled bar
    write_line(bar, "hello")
    bar.close()
    assert capsys.readouterr().out == "hello\n"


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "compare" in out and "predict" in out
    code, out, _ = run(capsys, "compare", "--help")
    assert code == 0 and "--python-budget" in out and "--plot" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("fastlogreg ")


def test_formats():
    assert format_seconds(0.00123) == "1.23 ms" and format_seconds(2.5) == "2.5 s"
    assert format_seconds(4.2e-7) == "420 ns" and format_seconds(None) == "-"
    assert format_ratio(1234.4) == "1234x" and format_ratio(12.34) == "12.3x"
    assert format_ratio(0.25) == "0.25x" and format_ratio(0.00123) == "0.0012x"
    assert format_ratio(5, estimated=True) == "~5.0x" and format_ratio(None) == "-"


# ----------------------------------------------------------------- real processes

def test_python_dash_m_runs_and_exits_zero(tmp_path):
    path = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "fastlogreg", *QUICK, *FAST_BACKENDS,
                           "--json", str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "time per call" in proc.stdout and path.exists()


@pytest.mark.parametrize("argv, fragment", [
    (["--backends", "nope"], "unknown backend"),
    (["train", "--data", "/no/such/file.npz"], "no such file"),
])
def test_python_dash_m_errors_exit_2_with_one_line(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "fastlogreg", *argv],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
