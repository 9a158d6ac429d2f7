"""Word arithmetic for the field kernels: full 64x64 -> 128-bit products and carries.

Numba has no 128-bit integer type, so these are LLVM intrinsics (`numba.extending.intrinsic`)
that widen to i128; LLVM lowers them to `mul`/`mulx` and `adc`/`sbb` on x86-64. Every function
returns (low word, high word or carry) as a pair of uint64.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_U64 = types.uint64
_PAIR = types.UniTuple(_U64, 2)


def _widen(context, builder, value, fromty):
    """Cast a Numba integer to uint64, then zero-extend to i128."""
    v = context.cast(builder, value, fromty, _U64)
    return builder.zext(v, ir.IntType(128))


def _split(context, builder, wide, sig):
    i64 = ir.IntType(64)
    lo = builder.trunc(wide, i64)
    hi = builder.trunc(builder.lshr(wide, ir.Constant(ir.IntType(128), 64)), i64)
    return context.make_tuple(builder, sig.return_type, (lo, hi))


def _check_ints(*tys):
    return all(isinstance(t, types.Integer) for t in tys)


@intrinsic
def mac(typingctx, a, b, c, d):
    """(lo, hi) = a*b + c + d; never overflows: (2^64-1)^2 + 2(2^64-1) = 2^128 - 1."""
    if not _check_ints(a, b, c, d):
        return None
    sig = _PAIR(a, b, c, d)

    def codegen(context, builder, signature, args):
        w = [_widen(context, builder, v, t) for v, t in zip(args, signature.args, strict=True)]
        wide = builder.add(builder.add(builder.mul(w[0], w[1]), w[2]), w[3])
        return _split(context, builder, wide, signature)

    return sig, codegen


@intrinsic
def adc(typingctx, a, b, carry):
    """(lo, carry_out) = a + b + carry."""
    if not _check_ints(a, b, carry):
        return None
    sig = _PAIR(a, b, carry)

    def codegen(context, builder, signature, args):
        w = [_widen(context, builder, v, t) for v, t in zip(args, signature.args, strict=True)]
        return _split(context, builder, builder.add(builder.add(w[0], w[1]), w[2]), signature)

    return sig, codegen


@intrinsic
def sbb(typingctx, a, b, borrow):
    """(lo, borrow_out) = a - b - borrow, borrow_out in {0, 1}."""
    if not _check_ints(a, b, borrow):
        return None
    sig = _PAIR(a, b, borrow)

    def codegen(context, builder, signature, args):
        w = [_widen(context, builder, v, t) for v, t in zip(args, signature.args, strict=True)]
        wide = builder.sub(builder.sub(w[0], w[1]), w[2])
        i64 = ir.IntType(64)
        lo = builder.trunc(wide, i64)
        # The i128 difference is negative exactly when a borrow leaves the top word.
        out = builder.trunc(builder.lshr(wide, ir.Constant(ir.IntType(128), 127)), i64)
        return context.make_tuple(builder, signature.return_type, (lo, out))

    return sig, codegen
