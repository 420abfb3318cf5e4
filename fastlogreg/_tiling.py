"""How examples are split into blocks and chunks, sized from the running CPU's caches.

The compiled kernels process examples in *blocks* small enough that a block of
``X`` stays in cache between computing the logits and accumulating the
gradient, and give each *chunk* of consecutive blocks its own partial sums.
Chunk boundaries depend only on ``(n, m)``, the dtype and the cache sizes,
never on the number of threads, and partials are added in chunk order: the
serial and parallel builds return the same bits for any ``NUMBA_NUM_THREADS``.

Block sizes and the thresholds that pick a code path come from the cache
sizes of the CPU that runs the code (:func:`detect_caches`: sysfs, else
``os.sysconf``, else :data:`DEFAULT_CACHES`), not from constants measured on
one CPU.  They are plain arguments of the kernels, so that nothing compiled
depends on them: :func:`cache_sizes` (or ``FASTLOGREG_CACHE_SIZES``, e.g.
``"32K,512K,32M"``) replaces the detected sizes, which is how the tests run
every code path with the sizes of other machines.
"""

import contextlib
import os
from dataclasses import dataclass

from ._jit import jit

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class CacheSizes:
    """Data-cache sizes, in bytes, as seen by one core.

    Attributes
    ----------
    l1d, l2 : int
        This core's level-1 data cache and level-2 cache.
    l3 : int
        The last-level cache, all of it.
    l3_share : int
        The part of ``l3`` that is this core's when every core sharing it
        works (``l3`` divided by the number of CPUs that share it).
    source : str
        Where the sizes came from: ``"sysfs"``, ``"sysconf"``, ``"defaults"``,
        ``"FASTLOGREG_CACHE_SIZES"`` or ``"override"``.
    """

    l1d: int
    l2: int
    l3: int
    l3_share: int
    source: str = "override"


#: Used where the running CPU's sizes cannot be read: the smaller of the two
#: kinds of machine this project runs on (AMD EPYC znver3: 32 KiB L1d, 512 KiB
#: L2 per core), with a modest last-level cache, so that nothing is sized
#: larger than a real cache.
DEFAULT_CACHES = CacheSizes(l1d=32 * KiB, l2=512 * KiB, l3=8 * MiB, l3_share=4 * MiB,
                            source="defaults")

_SYSFS_CACHE = "/sys/devices/system/cpu/cpu0/cache"


def _parse_size(text):
    """``"32K"``, ``"1024K"``, ``"32M"`` or a count of bytes, as an int."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": KiB, "M": MiB, "G": 1024 * MiB}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)


def _cpu_count(cpu_list):
    """Number of CPUs in a sysfs list such as ``"0-3,8"``."""
    count = 0
    for part in cpu_list.strip().split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def _read_sysfs(root=_SYSFS_CACHE):
    """``{level: (size, sharing_cpus)}`` of the data/unified caches of cpu0, or ``{}``."""
    found = {}
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return found
    for entry in entries:
        if not entry.startswith("index"):
            continue
        path = os.path.join(root, entry)
        try:
            with open(os.path.join(path, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(path, "level")) as f:
                level = int(f.read())
            with open(os.path.join(path, "size")) as f:
                size = _parse_size(f.read())
            try:
                with open(os.path.join(path, "shared_cpu_list")) as f:
                    sharing = _cpu_count(f.read())
            except OSError:
                sharing = 1
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size > 0:
            found[level] = (size, max(1, sharing))
    return found


def _read_sysconf():
    """``{level: (size, 1)}`` from ``os.sysconf`` (glibc), or ``{}``."""
    found = {}
    for level, name in ((1, "SC_LEVEL1_DCACHE_SIZE"), (2, "SC_LEVEL2_CACHE_SIZE"),
                        (3, "SC_LEVEL3_CACHE_SIZE")):
        try:
            size = os.sysconf(name)
        except (ValueError, OSError, AttributeError):
            continue
        if size and size > 0:
            found[level] = (size, 1)
    return found


def detect_caches(sysfs_root=_SYSFS_CACHE, environ=os.environ):
    """The running CPU's cache sizes.

    ``FASTLOGREG_CACHE_SIZES="L1D,L2,L3"`` (sizes such as ``32K``, ``1M``)
    overrides the detection; otherwise each level is read from sysfs, else
    from ``os.sysconf``, else taken from :data:`DEFAULT_CACHES`.  A machine
    without a level-3 cache uses its level-2 cache as the last level.

    Returns
    -------
    CacheSizes
    """
    text = environ.get("FASTLOGREG_CACHE_SIZES", "")
    if text:
        try:
            l1d, l2, l3 = (_parse_size(part) for part in text.split(","))
        except ValueError:
            raise ValueError("FASTLOGREG_CACHE_SIZES must be three sizes 'L1D,L2,L3' "
                             f"such as '32K,512K,32M'; got {text!r}") from None
        return CacheSizes(l1d, l2, l3, l3, source="FASTLOGREG_CACHE_SIZES")
    found, source = _read_sysfs(sysfs_root), "sysfs"
    if 1 not in found or 2 not in found:
        found, source = _read_sysconf(), "sysconf"
    if 1 not in found or 2 not in found:
        return DEFAULT_CACHES
    l1d, l2 = found[1][0], found[2][0]
    l3, sharing = found.get(3, found[2])
    return CacheSizes(l1d, l2, l3, max(l2, l3 // sharing), source=source)


@dataclass(frozen=True)
class Tiling:
    """Block sizes and path thresholds for one set of cache sizes.

    Attributes
    ----------
    caches : CacheSizes
    feature_major_block_bytes : int
        Bytes of a C-ordered X per block: a quarter of this core's share of
        the last-level cache, at least one L2.  Each block is read twice (logits,
        then gradient), the second time from cache.  Its row segments must stay
        long for the prefetchers (see README, "What bounds the kernels"): on
        the 32 MiB L3 of the machine it was tuned on (2 cores sharing it), 4 MiB.
    sample_major_block_bytes : int
        Bytes of an F-ordered X per block: one L1d (at least ``CHUNK_ALIGN``
        examples), so that the gradient's second read of the block comes
        from L1.  The block is one contiguous piece of X, so its first read
        streams whatever its size.  On the Intel Xeon (48 KiB L1d, 2 MiB L2)
        the fused kernel at 1000 x 100000 (F, float64) took 1.20-1.21 gemv
        with blocks of 8 examples (64 KiB) against 1.42-1.47 with the 1 MiB
        blocks (half of L2) it had before; at 500, 2000 and 250 features and
        in float32 too, blocks near L1d were 12-20 % faster than 1 MiB ones
        (``python tools/perf_report.py --blocks``).
    gram_strip_bytes : int
        The float64 strip of features that the Gram build (``K = X^T X``,
        :func:`fastlogreg.backends.gram_blocked.strip_length`) packs and
        multiplies from cache: half of L2.
    wide_g_bytes : int
        A float64 partial gradient larger than this (one L1d) is updated by
        eight examples per pass instead of four.
    wide_max_bytes : int
        A C-ordered X with few examples takes the feature-split ("wide") path
        only while it fits in three quarters of the last-level cache, where
        its second read comes from.
    sparse_block_bytes : int
        Stored entries (values and indices) of a block of examples of the fused
        CSC pass: a quarter of L2, so that they are still there when the block
        is read again, with the lines of ``w`` and of the gradient around them
        (blocks of 260-520 KB ran best on a CPU with 2 MiB of L2, 2 MB ones
        17 % slower).
    packed_copy_max_bytes : int
        Training on a "packed" X (F order, a handful of features) first copies
        it to C order, once, when it is at most this large (this core's share
        of the last-level cache): every iteration then runs the feature-major
        kernels, with the packed plan's blocks, on the copy instead of
        transposing each block again (the same bits).
    """

    caches: CacheSizes
    feature_major_block_bytes: int
    sample_major_block_bytes: int
    gram_strip_bytes: int
    wide_g_bytes: int
    wide_max_bytes: int
    sparse_block_bytes: int
    packed_copy_max_bytes: int

    @classmethod
    def from_caches(cls, caches):
        """The tiling derived from ``caches`` (see the attributes)."""
        return cls(caches=caches,
                   feature_major_block_bytes=max(caches.l2, caches.l3_share // 4),
                   sample_major_block_bytes=caches.l1d,
                   gram_strip_bytes=caches.l2 // 2,
                   wide_g_bytes=caches.l1d,
                   wide_max_bytes=(caches.l3 // 4) * 3,
                   sparse_block_bytes=caches.l2 // 4,
                   packed_copy_max_bytes=caches.l3_share)

    def feature_major_block(self, n, itemsize):
        """Examples per block when examples are contiguous (X is ``(n, m)``, C order).

        Parameters
        ----------
        n : int
            Number of features.
        itemsize : int
            Bytes per element of X.

        Returns
        -------
        int
            A multiple of ``CHUNK_ALIGN`` between ``MIN_BLOCK`` and
            ``MAX_BLOCK``, with ``n * block * itemsize`` about
            :attr:`feature_major_block_bytes`.
        """
        return examples_per_block(n, itemsize, self.feature_major_block_bytes,
                                  MIN_BLOCK, MAX_BLOCK)

    def sample_major_block(self, n, itemsize):
        """Examples per block when features are contiguous (X is ``(n, m)``, F order).

        Same parameters as :meth:`feature_major_block`; returns a multiple of
        ``CHUNK_ALIGN`` between ``CHUNK_ALIGN`` and ``SAMPLE_MAJOR_BLOCK``
        with ``n * block * itemsize`` about :attr:`sample_major_block_bytes`.
        """
        return examples_per_block(n, itemsize, self.sample_major_block_bytes,
                                  CHUNK_ALIGN, SAMPLE_MAJOR_BLOCK)

    def gradient_group(self, n):
        """Examples per pass over a partial gradient of ``n`` float64 values: 4 or 8."""
        return 8 if n * 8 > self.wide_g_bytes else 4


def examples_per_block(n, itemsize, target_bytes, smallest, largest):
    """Examples per block: ``n * block * itemsize`` near ``target_bytes``.

    Rounded down to a multiple of ``CHUNK_ALIGN`` and clamped to
    ``[smallest, largest]`` (both multiples of ``CHUNK_ALIGN``): blocks are
    cut at multiples of ``CHUNK_ALIGN`` (:func:`chunk_blocks`), and a block
    size that is not one would let a block outgrow its buffers.
    """
    block = target_bytes // max(1, n * itemsize)
    block = (block // CHUNK_ALIGN) * CHUNK_ALIGN
    return min(largest, max(smallest, block))


_current = None


def current_tiling():
    """The tiling in force: from the detected caches, unless :func:`cache_sizes` replaced them."""
    global _current
    if _current is None:
        _current = Tiling.from_caches(detect_caches())
    return _current


@contextlib.contextmanager
def cache_sizes(l1d=None, l2=None, l3=None, l3_share=None):
    """Run the kernels as if the CPU had these cache sizes (bytes), then restore.

    Sizes not given keep their detected values; ``l3_share`` defaults to the
    detected share scaled with ``l3``.  Meant for tests and tuning: it
    changes block sizes and the thresholds between code paths, never the
    results beyond rounding.  Not thread-safe: the tiling is process-wide.
    """
    global _current
    before = current_tiling()
    base = before.caches
    if l3 is not None and l3_share is None:
        l3_share = max(1, base.l3_share * l3 // max(1, base.l3))
    caches = CacheSizes(l1d=l1d or base.l1d, l2=l2 or base.l2, l3=l3 or base.l3,
                        l3_share=l3_share or base.l3_share, source="override")
    _current = Tiling.from_caches(caches)
    try:
        yield _current
    finally:
        _current = before


#: Examples per feature-major block, at least and at most: a row segment
#: shorter than ~64 elements costs more in loop set-up than in arithmetic.
MIN_BLOCK = 64
MAX_BLOCK = 1024
#: A feature-major X with at most this many examples (and at most
#: ``Tiling.wide_max_bytes``) is "wide": threads split its features.
WIDE_MAX_EXAMPLES = 1024
#: Examples per sample-major block, at most.
SAMPLE_MAJOR_BLOCK = 256
#: A sample-major X with at most this many features is transposed block by
#: block into a small workspace and run through the feature-major kernels
#: (measured: 15-25 % faster up to 4 features, 2-5 % slower at 8).  Not a
#: cache size: it is about rows too short to vectorize over.
PACKED_MAX_FEATURES = 4
#: Upper bound on chunks: enough to balance any realistic core count, few
#: enough that the ``n_chunks x n`` partial gradients stay small next to X.
MAX_CHUNKS = 64
#: Chunks and blocks start on a multiple of this many examples (a cache line
#: of float64 in the feature-major layout, two register blocks in the
#: sample-major one); block sizes are multiples of it.
CHUNK_ALIGN = 8
#: Fewest examples per chunk (the partial gradients stay under 1/32 of X).
MIN_CHUNK_EXAMPLES = 32


#: Below this many elements of X the ``parallel`` backend runs the serial
#: build: waking the thread pool costs more than the work (and the chunking,
#: hence every bit of the result, is the same).
PARALLEL_MIN_ELEMENTS = 1 << 17


#: Features per float32 strip: float32 products are summed over a strip
#: before they join a float64 logit, so that the conversion to float64 and
#: the horizontal sum of the SIMD partial sums happen once per strip rather
#: than once per element.  1024 was 6 % faster than 256 on 1000x100000 F
#: (one strip per example).  The order in which a strip is summed is the
#: compiler's (``reassoc``: it depends on the vector width, AVX2 or AVX-512),
#: so the precision promised is the bound that holds for any order: a strip's
#: error is at most ``(FLOAT32_STRIP + 1) u`` times the sum of its terms'
#: magnitudes (``u = 2**-24``; README, "dtypes and layouts"; tests/test_sweep.py).
FLOAT32_STRIP = 1024


@jit
def strip_length(itemsize, length):
    """Terms per strip summed in X's precision, in a sum of ``length`` terms.

    Parameters
    ----------
    itemsize : int
        Bytes per element of X: 4 for float32, 8 for float64.
    length : int
        Number of terms in the whole sum.

    Returns
    -------
    int
        ``FLOAT32_STRIP`` for float32; ``length`` (one strip) for float64.
    """
    return FLOAT32_STRIP if itemsize < 8 else max(1, length)


@jit
def plan_chunks(m, block):
    """How many chunks ``m`` examples are split into.

    Parameters
    ----------
    m : int
        Number of examples (>= 1).
    block : int
        Examples per block.

    Returns
    -------
    int
        Number of chunks: at most one per block, ``MAX_CHUNKS`` and
        ``m // MIN_CHUNK_EXAMPLES`` (at least 1).  :func:`part_bounds` gives
        each chunk's examples.
    """
    n_blocks = (m + block - 1) // block
    # Each chunk zeroes and later merges a row of n partial gradients: with
    # few examples per chunk (many features, few examples) that costs more
    # than the balance it buys.
    return max(1, min(n_blocks, MAX_CHUNKS, m // MIN_CHUNK_EXAMPLES))


@jit
def part_bounds(k, n_parts, start, stop):
    """Part ``k`` of ``start:stop`` cut into ``n_parts`` nearly equal parts.

    Parts differ by at most ``CHUNK_ALIGN`` elements, so that threads given
    equal numbers of chunks get equal work (49 chunks of whole blocks, the
    last one short, left one of two threads 4 % more work at 1000x100000),
    and a chunk's blocks are alike instead of ending on a sliver.  Every part
    but the last is a multiple of ``CHUNK_ALIGN`` long; if
    ``stop - start <= n_parts * size`` for a multiple of ``CHUNK_ALIGN``
    ``size``, no part is longer than ``size``.

    Returns
    -------
    lo, hi : int
        The part's bounds.
    """
    length = stop - start
    units = (length + CHUNK_ALIGN - 1) // CHUNK_ALIGN
    lo = min(length, (k * units // n_parts) * CHUNK_ALIGN)
    hi = min(length, ((k + 1) * units // n_parts) * CHUNK_ALIGN)
    return start + lo, start + hi


@jit
def n_parts(length, size):
    """Fewest parts of at most ``size`` elements that ``length`` elements make."""
    return max(1, (length + size - 1) // size)


@jit
def chunk_blocks(c, n_chunks, m, block):
    """Chunk ``c``'s examples ``start:stop`` and how many blocks they make.

    Block ``k`` of the chunk is then ``part_bounds(k, n_blocks, start, stop)``:
    the chunk is cut into that many nearly equal blocks, none longer than
    ``block`` (a multiple of ``CHUNK_ALIGN``).  Blocks are cut at multiples of
    ``CHUNK_ALIGN``, so they are counted in those units: ``ceil(length /
    block)`` blocks could round one up past ``block`` and overrun the
    kernels' block-sized buffers (12288 x 40 float32, F order: a block of 20
    examples was given 24).
    """
    start, stop = part_bounds(c, n_chunks, 0, m)
    units = (stop - start + CHUNK_ALIGN - 1) // CHUNK_ALIGN
    return start, stop, n_parts(units, max(1, block // CHUNK_ALIGN))
