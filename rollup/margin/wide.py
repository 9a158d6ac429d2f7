"""Signed 128-bit integers for the compiled margin rule (``rollup.margin.compiled``) and the
matching kernel (``rollup.engine.kernel``).

Numba has no 128-bit integer type. A value here is a pair ``(hi, lo)`` of int64 words meaning
``hi * 2**64 + (lo mod 2**64)``; the operations are LLVM intrinsics on ``i128`` (two's
complement, wrapping like the hardware: callers keep values in range, see
``rollup.margin.compiled``). Margin values reach ~2**86 there (value * 10**6 with value < 2**66),
so one word is not enough and two are plenty.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_I64 = types.int64
_W = types.UniTuple(_I64, 2)
_I128 = ir.IntType(128)
_SIXTY_FOUR = ir.Constant(_I128, 64)


def _join(builder, pair):
    """LLVM i128 from a (hi, lo) pair."""
    hi = builder.sext(builder.extract_value(pair, 0), _I128)
    lo = builder.zext(builder.extract_value(pair, 1), _I128)
    return builder.or_(builder.shl(hi, _SIXTY_FOUR), lo)


def _split(context, builder, sig, wide):
    i64 = ir.IntType(64)
    hi = builder.trunc(builder.ashr(wide, _SIXTY_FOUR), i64)
    lo = builder.trunc(wide, i64)
    return context.make_tuple(builder, sig.return_type, (hi, lo))


def _binary(op):
    def impl(typingctx, x, y):
        if x != _W or y != _W:
            return None
        sig = _W(_W, _W)

        def codegen(context, builder, signature, args):
            a, b = (_join(builder, v) for v in args)
            return _split(context, builder, signature, getattr(builder, op)(a, b))

        return sig, codegen

    return intrinsic(impl)


wadd = _binary("add")
wsub = _binary("sub")
wmul = _binary("mul")


@intrinsic
def wlt(typingctx, x, y):
    """x < y (signed)."""
    if x != _W or y != _W:
        return None
    sig = types.boolean(_W, _W)

    def codegen(context, builder, signature, args):
        a, b = (_join(builder, v) for v in args)
        return builder.icmp_signed("<", a, b)

    return sig, codegen


@njit(inline="always")
def w(a):
    """The pair of an int64."""
    return (a >> 63, a)


@njit(inline="always")
def wle(x, y):
    return not wlt(y, x)


@njit(inline="always")
def wneg(x):
    return wsub(w(0), x)


@njit(inline="always")
def wsmall(x, bound):
    """x as an int64 and whether |x| < bound (bound <= 2**62)."""
    hi, lo = x
    ok = hi == (lo >> 63) and -bound < lo < bound
    return lo, ok
