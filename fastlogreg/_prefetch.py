"""Software prefetch for compiled code: ``llvm.prefetch`` as a Numba intrinsic.

The sparse kernels read ``w[indices[k]]`` (gather) and update
``g[indices[k]]`` (scatter) at random places of vectors too large for L2
(1,000,000 float64 features: 8 MB).  The out-of-order core can only overlap
the misses that fit in its window, about one example's nonzeros, so these
loops run at memory latency.  Issuing the load of the entry
:data:`PREFETCH_DISTANCE` nonzeros ahead (whose index is already known: it is
in ``indices``) overlaps that latency with the work in between:
``tools/bench_sparse.py`` data, a gather over 17M nonzeros into a 1M vector,
117 ms without and 51 ms with (64 ahead; 16 ahead: 97 ms, 256: 55 ms), on
AMD EPYC (Zen 4).  A prefetch never faults and changes no value: the
results are the same bits.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["PREFETCH_DISTANCE", "prefetch_read", "prefetch_write"]

#: Nonzeros ahead whose vector entry is prefetched: far enough to cover a
#: miss to memory (about 100 ns, some 60 nonzeros of gather work), near
#: enough that the line is still cached when its turn comes.
PREFETCH_DISTANCE = 64


def _prefetch(write):
    """An intrinsic ``f(array, index)`` prefetching ``array[index]``'s cache line."""

    @intrinsic
    def prefetch(typingctx, array, index):
        if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
            return None
        sig = types.void(array, index)

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            position = context.cast(builder, args[1], signature.args[1], types.intp)
            address = builder.bitcast(builder.gep(ary.data, [position]),
                                      ir.IntType(8).as_pointer())
            i32 = ir.IntType(32)
            llvm_prefetch = builder.module.declare_intrinsic(
                "llvm.prefetch", fnty=ir.FunctionType(
                    ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32]))
            # (address, read 0 / write 1, locality 3: keep in every cache, data)
            builder.call(llvm_prefetch, [address, ir.Constant(i32, int(write)),
                                         ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return sig, codegen

    return prefetch


#: ``prefetch_read(array, index)``: bring ``array[index]``'s line in to read it.
prefetch_read = _prefetch(write=False)
#: ``prefetch_write(array, index)``: bring it in to update it.
prefetch_write = _prefetch(write=True)
