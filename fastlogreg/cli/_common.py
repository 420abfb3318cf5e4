"""Shared pieces of the command line: the error type, progress bars, machine facts, formats."""

import os
import platform
import sys


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit code 2, no traceback."""


def progress_bar(total, *, enabled=True, desc=None, unit="step"):
    """A tqdm bar on stderr, or None when disabled, not a terminal, or tqdm is missing.

    Parameters
    ----------
    total : int
        Number of steps.
    enabled : bool, default True
        False for ``--no-progress``.
    desc : str, optional
        Label at the bar's left.
    unit : str, default "step"

    Returns
    -------
    tqdm.tqdm or None
    """
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the "progress" extra is optional: no bar, no error
        return None
    # disable=None: no bar when stderr is not a terminal (logs, pipes, tests).
    return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=None,
                file=sys.stderr, dynamic_ncols=True)


def write_line(bar, text):
    """Print ``text`` to stdout without breaking a progress bar."""
    if bar is not None and not getattr(bar, "disable", True):
        bar.write(text, file=sys.stdout)
    else:
        print(text, flush=True)


def note(text, *, quiet=False):
    """A status note on stderr (never part of the results on stdout)."""
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo where there is one), or a best guess."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_vector_isa():
    """The widest x86 vector extension the CPU reports (``AVX-512``, ``AVX2``, ...), or ``""``."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"),
                                       ("avx", "AVX"), ("sse2", "SSE2")):
                        if flag in flags:
                            return name
                    return ""
    except OSError:
        pass
    return ""


def cpu_summary():
    """One line naming the CPU, its vector extension and the cache sizes the kernels use.

    Example: ``"AMD EPYC, AVX-512; caches L1d 32 KiB, L2 1024 KiB, L3 32768 KiB (sysfs)"``.
    """
    from .._tiling import current_tiling

    caches = current_tiling().caches
    isa = cpu_vector_isa()
    return (f"{cpu_model()}{', ' + isa if isa else ''}; caches L1d {caches.l1d // 1024} KiB, "
            f"L2 {caches.l2 // 1024} KiB, L3 {caches.l3 // 1024} KiB ({caches.source})")


def machine_info():
    """Facts that explain a timing: CPU, cores, Numba threads, BLAS, versions.

    Returns
    -------
    dict
    """
    import numba
    import numpy as np

    info = {
        "cpu": cpu_model(),
        "cpu_summary": cpu_summary(),
        "logical_cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(terse=True),
    }
    try:
        info["load_average"] = os.getloadavg()[0]    # 1-minute average, Unix only
    except (AttributeError, OSError):
        info["load_average"] = None
    try:
        info["threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        info["threading_layer"] = None
    try:
        from threadpoolctl import threadpool_info
        blas = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
        if blas:
            info["blas"] = f"{blas[0].get('internal_api')}, {blas[0].get('num_threads')} threads"
    except Exception:  # optional and informative only
        pass
    return info


def format_seconds(seconds):
    """``0.00123`` -> ``"1.23 ms"``: three significant digits, ASCII units."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def format_ratio(ratio, *, estimated=False):
    """A speed-up as ``"12.3x"``; ``~`` marks one computed from an estimate."""
    if ratio is None:
        return "-"
    if ratio >= 100:
        text = f"{ratio:.0f}x"
    elif ratio >= 1:
        text = f"{ratio:.1f}x"
    elif ratio >= 0.01:
        text = f"{ratio:.2f}x"
    else:
        text = f"{ratio:.2g}x"
    return ("~" + text) if estimated else text


def format_table(title, header, rows):
    """A plain-text table: first column left-aligned, the others right-aligned.

    Parameters
    ----------
    title : str
        Printed above the table.
    header : list of str
    rows : list of list of str

    Returns
    -------
    str
    """
    table = [list(header)] + [list(row) for row in rows]
    widths = [max(len(row[j]) for row in table) for j in range(len(header))]
    lines = [title]
    for i, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in
                                              zip(row[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def accuracy(prediction, labels):
    """The course's accuracy in percent: ``100 - mean(|Y_hat - Y|) * 100``."""
    import numpy as np

    return float(100.0 - np.mean(np.abs(np.ravel(prediction) - np.ravel(labels))) * 100.0)
