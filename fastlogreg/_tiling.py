"""How examples are split into blocks and chunks: fixed by the data's shape.

The compiled kernels process examples in *blocks* small enough that a block of
``X`` stays in cache between computing the logits and accumulating the
gradient, and give each *chunk* of consecutive blocks its own partial sums.
Chunk boundaries depend only on ``(n, m)`` and the dtype, never on the number
of threads, and partials are added in chunk order: the serial and parallel
builds return the same bits for any ``NUMBA_NUM_THREADS``.
"""

from ._jit import jit

#: Bytes of ``X`` per feature-major block: twice the block is read (logits,
#: then gradient), the second time from cache (L2, else the shared L3).
BLOCK_BYTES = 4 * 1024 * 1024
#: Bytes of ``X`` per sample-major block, about one L2: the gradient re-reads
#: the block from cache (measured: 1 MiB beat 4 MiB by 8 % on 1000x100000
#: and lost 5 % on 12288x209, where all of X sits in L3 anyway).
SAMPLE_BLOCK_BYTES = 1024 * 1024
#: Examples per feature-major block, at least and at most: a row segment
#: shorter than ~64 elements costs more in loop set-up than in arithmetic.
MIN_BLOCK = 64
MAX_BLOCK = 1024
#: A feature-major X with at most this many examples and bytes is "wide":
#: threads split its features, and X is read twice, the second time from the
#: last-level cache (32 MiB here).
WIDE_MAX_EXAMPLES = 1024
WIDE_MAX_BYTES = 24 * 1024 * 1024
#: Examples per sample-major block, at most (a multiple of the 4-example
#: register block of the sample-major kernels).
SAMPLE_MAJOR_BLOCK = 256
#: The sample-major gradient passes over a float64 partial gradient of n
#: values once per group of examples; past this size (about L1) the group is
#: eight examples instead of four, halving those passes.
SAMPLE_MAJOR_WIDE_G_BYTES = 32 * 1024
#: A sample-major X with at most this many features is transposed block by
#: block into a small workspace and run through the feature-major kernels
#: (measured: 15-25 % faster up to 4 features, 2-5 % slower at 8).
PACKED_MAX_FEATURES = 4
#: Upper bound on chunks: enough to balance any realistic core count, few
#: enough that the ``n_chunks x n`` partial gradients stay small next to X.
MAX_CHUNKS = 64
#: Chunks start on a multiple of this many examples (a cache line of float64
#: in the feature-major layout, two register blocks in the sample-major one).
CHUNK_ALIGN = 8
#: Fewest examples per chunk (the partial gradients stay under 1/32 of X).
MIN_CHUNK_EXAMPLES = 32


#: Below this many elements of X the ``parallel`` backend runs the serial
#: build: waking the thread pool costs more than the work (and the chunking,
#: hence every bit of the result, is the same).
PARALLEL_MIN_ELEMENTS = 1 << 17


@jit
def _examples_per_block(n, itemsize, target_bytes, multiple, smallest, largest):
    """Examples per block: ``n * block * itemsize`` near ``target_bytes``, clamped, rounded."""
    block = target_bytes // max(1, n * itemsize)
    block = (block // multiple) * multiple
    return min(largest, max(smallest, block))


@jit
def feature_major_block(n, itemsize):
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
        A multiple of 8 between ``MIN_BLOCK`` and ``MAX_BLOCK`` such that
        ``n * block * itemsize`` is about ``BLOCK_BYTES``.
    """
    return _examples_per_block(n, itemsize, BLOCK_BYTES, 8, MIN_BLOCK, MAX_BLOCK)


@jit
def sample_major_block(n, itemsize):
    """Examples per block when features are contiguous (X is ``(n, m)``, F order).

    Same parameters as :func:`feature_major_block`; returns a multiple of 4
    between 4 and ``SAMPLE_MAJOR_BLOCK`` with ``n * block * itemsize`` about
    ``SAMPLE_BLOCK_BYTES``.
    """
    return _examples_per_block(n, itemsize, SAMPLE_BLOCK_BYTES, 4, 4, SAMPLE_MAJOR_BLOCK)


#: Features per float32 strip: float32 products are summed over a strip
#: before they join a float64 logit, so that the conversion to float64 and
#: the horizontal sum of the SIMD partial sums happen once per strip rather
#: than once per element.  1024 was 6 % faster than 256 on 1000x100000 F
#: (one strip per example); the strip's 1024 terms are spread over 64 SIMD
#: partial sums (16 lanes x 4), about 16 terms each, so its float32 rounding
#: stays well under that of float32 BLAS (tests/test_kernels.py).
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
    the chunk is cut into that many nearly equal blocks of at most ``block``.
    """
    start, stop = part_bounds(c, n_chunks, 0, m)
    return start, stop, n_parts(stop - start, block)
