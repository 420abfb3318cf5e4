"""What ``fastlogreg compare`` and ``train`` show: tables, JSON and plots."""

import json
import math

from ._common import CLIError, format_ratio, format_seconds, format_table
from ._compare import JOBS

_PLOT_HINT = "pip install 'fastlogreg[plot]'"


def format_estimate(seconds):
    """An estimated duration, rounded as a guess deserves: ``"1800 s"``, ``"3.2 s"``."""
    return f"{seconds:.0f} s" if seconds >= 100 else f"{seconds:.2g} s"


def job_label(job, iterations):
    """Column name of a job (training jobs carry their iteration count and method)."""
    if job == "train":
        return f"train {iterations} it"
    if job == "train_gram":
        return f"train {iterations} it, gram"
    return job


def _time_or_estimate(entry, job):
    """Seconds and whether they are estimated (skipped, or timed on fewer examples and scaled)."""
    seconds = entry["time"].get(job)
    if seconds is not None:
        return seconds, job in entry.get("timed_examples", {})
    estimate = entry["skipped"].get(job)
    return estimate, estimate is not None


def speedup(results, backend, job, baseline):
    """``time(baseline) / time(backend)`` and whether an estimate went into it."""
    table = results["backends"]
    if baseline not in table or backend not in table:
        return None, False
    mine, mine_est = _time_or_estimate(table[backend], job)
    base, base_est = _time_or_estimate(table[baseline], job)
    if mine is None or base is None or mine <= 0:
        return None, False
    return base / mine, mine_est or base_est


def render_tables(results, *, iterations, repeat):
    """The comparison as four plain-text tables.

    Parameters
    ----------
    results : dict
        From :func:`fastlogreg.cli._compare.run_compare`.
    iterations, repeat : int
        For the column and table titles.

    Returns
    -------
    str
    """
    backends = results["backends"]
    labels = [job_label(job, iterations) for job in JOBS]
    blocks = []

    rows = []
    scaled = set()
    for name, entry in backends.items():
        row = [name]
        for job in JOBS:
            if entry["time"].get(job) is not None:
                k = entry.get("timed_examples", {}).get(job)
                row.append(format_seconds(entry["time"][job]) if k is None
                           else "~" + format_seconds(entry["time"][job]))
                if k is not None:
                    scaled.add(k)
            else:
                row.append(f"skipped (est. {format_estimate(entry['skipped'][job])})")
        rows.append(row)
    title = f"time per call (best of up to {repeat}, {results['cell_budget_s']:g} s per cell)"
    if scaled:
        title += (f"; ~ = timed on the first {min(scaled)}-{max(scaled)} examples, scaled"
                  if len(scaled) > 1 else f"; ~ = timed on the first {min(scaled)} examples, "
                  "scaled")
    blocks.append(format_table(title, ["backend"] + labels, rows))

    for baseline in ("numpy", "python"):
        if baseline not in backends:
            continue
        rows = []
        for name in backends:
            if name == baseline:
                continue
            cells = []
            for job in JOBS:
                ratio, estimated = speedup(results, name, job, baseline)
                cells.append(format_ratio(ratio, estimated=estimated))
            rows.append([name] + cells)
        if rows:
            title = f"speed-up over {baseline} (higher is faster)"
            if baseline == "python" and (backends["python"]["skipped"]
                                         or backends["python"].get("timed_examples")):
                title += "; ~ = against the python estimate"
            blocks.append(format_table(title, ["backend"] + labels, rows))

    rows = []
    for name, entry in backends.items():
        def diff(value, name=name):
            if name == results["reference"]:
                return "reference"
            return "-" if value is None else f"{value:.2g}"

        def percent(value):
            return "-" if value is None else f"{value:.1f} %"

        gram = entry.get("max_diff_train_gram")
        rows.append([name, diff(entry["max_diff_kernels"]), diff(entry["max_diff_train"]),
                     "-" if gram is None else f"{gram:.2g}",
                     percent(entry["train_accuracy"]), percent(entry["test_accuracy"])])
    blocks.append(format_table(
        "agreement with the numpy reference and accuracy after training",
        ["backend", "max |diff| kernels", f"max |diff| w,b,costs after {iterations} it",
         "same, gram", "train accuracy", "test accuracy"], rows))
    return "\n\n".join(blocks)


def write_json(path, payload):
    """Write ``payload`` as indented JSON (NaN/inf become null)."""
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    with open(path, "w") as handle:
        json.dump(clean(payload), handle, indent=2)
        handle.write("\n")


def require_matplotlib():
    """Import matplotlib with the file-only Agg backend, or a one-line CLIError."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CLIError(f"--plot needs matplotlib: {_PLOT_HINT}") from None
    return plt


_STYLES = {
    "python": ("tab:gray", "o", "-"),
    "numpy": ("tab:blue", "s", "--"),
    "loop": ("tab:orange", "^", "-."),
    "parallel": ("tab:green", "D", ":"),
    "vectorized": ("tab:red", "v", (0, (5, 1))),
}


def plot_compare(path, results, *, title, iterations, learning_rate):
    """Two panels: time per job and backend (log scale), and the learning curves.

    Parameters
    ----------
    path : str
        PNG (or any format matplotlib infers from the suffix) to write.
    results : dict
        From :func:`fastlogreg.cli._compare.run_compare`.
    title : str
        Figure title (data shape, dtype, CPU).
    iterations : int
    learning_rate : float
    """
    plt = require_matplotlib()
    backends = results["backends"]
    fig, (ax_time, ax_cost) = plt.subplots(1, 2, figsize=(13, 5.2),
                                           gridspec_kw={"width_ratios": [1.6, 1]})
    n = len(backends)
    width = 0.8 / max(n, 1)
    for i, (name, entry) in enumerate(backends.items()):
        color = _STYLES.get(name, ("black", "o", "-"))[0]
        for j, job in enumerate(JOBS):
            x = j - 0.4 + width * (i + 0.5)
            seconds, estimated = _time_or_estimate(entry, job)
            if seconds is None:
                continue
            ax_time.bar(x, seconds, width, color=color, alpha=0.35 if estimated else 0.9,
                        hatch="//" if estimated else None, edgecolor=color,
                        label=name if j == 0 else None)
            if estimated:
                ax_time.text(x, seconds * 0.8, "estimate", ha="center", va="top", fontsize=7,
                             rotation=90)
    ax_time.set_yscale("log")
    ax_time.set_xticks(range(len(JOBS)))
    ax_time.set_xticklabels([job_label(job, iterations) for job in JOBS])
    ax_time.set_ylabel("seconds per call (log scale, lower is faster)")
    ax_time.set_title("time per kernel and backend (hatched: estimated, not timed on all of X)")
    ax_time.grid(axis="y", which="both", alpha=0.3)
    ax_time.legend(title="backend", fontsize=8, loc="upper left")

    plotted = False
    for name, entry in backends.items():
        costs = entry.get("costs")
        if not costs:
            continue
        color, marker, style = _STYLES.get(name, ("black", "o", "-"))
        steps = [100 * k for k in range(len(costs))]
        if entry.get("final_cost") is not None:  # the cost after the last iteration
            steps.append(iterations)
            costs = [*costs, entry["final_cost"]]
        ax_cost.plot(steps, costs, color=color, marker=marker, linestyle=style,
                     markersize=5, markerfacecolor="none", label=name)
        plotted = True
    ax_cost.set_xlabel("iteration")
    ax_cost.set_ylabel("cost J")
    ax_cost.set_title(f"learning curves (learning rate {learning_rate:g}); "
                      "backends overlap", fontsize=10)
    ax_cost.grid(alpha=0.3)
    if plotted:
        ax_cost.legend(title="backend", fontsize=8)
    else:
        ax_cost.text(0.5, 0.5, "no training run", ha="center", transform=ax_cost.transAxes)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curve(path, costs, *, learning_rate, title):
    """The course's learning-curve plot: cost every 100 iterations.

    Parameters
    ----------
    path : str
    costs : list of float
    learning_rate : float
    title : str
    """
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot([100 * k for k in range(len(costs))], costs, marker="o")
    ax.set_ylabel("cost")
    ax.set_xlabel("iteration")
    ax.set_title(f"{title}\nlearning rate = {learning_rate:g}", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
