"""Read bandwidth of one core over arrays of growing size: where the caches end.

    python tools/cache_bandwidth.py

Prints GB/s of ``np.sum`` (one thread) over float64 arrays of 1 MiB to
512 MiB, best of 5 rounds each.  ``np.sum`` is itself limited to about
45 GB/s, so the first rows show that limit rather than L2's bandwidth; the
steps further down show where each cache level ends on the running CPU (its
sysfs sizes may not say: a VM can report the host's whole L3).
"""

import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def bandwidth(n_bytes, rounds=5):
    """Best GB/s of ``np.sum`` over a float64 array of ``n_bytes``."""
    array = np.ones(n_bytes // 8)
    calls = max(1, 400 * 2**20 // n_bytes)
    array.sum()
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            array.sum()
        best = min(best, (time.perf_counter() - start) / calls)
    return n_bytes / best / 1e9


def main():
    for mib in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
        print(f"{mib:4d} MiB: {bandwidth(mib * 2**20):6.1f} GB/s")


if __name__ == "__main__":
    main()
