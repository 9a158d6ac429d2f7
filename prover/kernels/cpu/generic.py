"""Field operations dispatched on the element's Numba type, so curve formulas are written once.

UniTuple(uint64, 4) is an Fq element; a pair of those is an Fq2 element. `fe_mul(a, b)` inside a
jitted function compiles to `fq_mul` or `fq2_mul` at typing time, at no run-time cost.
"""

from __future__ import annotations

from numba import types
from numba.extending import overload

from prover.kernels.cpu import field as f
from prover.kernels.cpu import fq as k


def _is_fq(t) -> bool:
    return isinstance(t, types.UniTuple) and t.count == 4 and isinstance(t.dtype, types.Integer)


def _is_fq2(t) -> bool:
    return isinstance(t, types.BaseTuple) and len(t) == 2 and all(_is_fq(x) for x in t)


def _dispatch(name, fq_impl, fq2_impl):
    """A stub whose jitted implementation is `fq_impl` or `fq2_impl` by argument type."""
    if fq_impl.__code__.co_argcount == 1:

        def stub(a):  # pragma: no cover - only called from jitted code
            raise NotImplementedError(name)

        def typer(a):
            return fq_impl if _is_fq(a) else fq2_impl if _is_fq2(a) else None

    else:

        def stub(a, b):  # pragma: no cover
            raise NotImplementedError(name)

        def typer(a, b):
            return fq_impl if _is_fq(a) else fq2_impl if _is_fq2(a) else None

    stub.__name__ = stub.__qualname__ = name
    overload(stub, jit_options={"cache": True})(typer)
    return stub


fe_mul = _dispatch("fe_mul", lambda a, b: k.fq_mul(a, b), lambda a, b: k.fq2_mul(a, b))
fe_sqr = _dispatch("fe_sqr", lambda a: k.fq_sqr(a), lambda a: k.fq2_sqr(a))
fe_add = _dispatch("fe_add", lambda a, b: k.fq_add(a, b), lambda a, b: k.fq2_add(a, b))
fe_sub = _dispatch("fe_sub", lambda a, b: k.fq_sub(a, b), lambda a, b: k.fq2_sub(a, b))
fe_dbl = _dispatch("fe_dbl", lambda a: k.fq_dbl(a), lambda a: k.fq2_dbl(a))
fe_neg = _dispatch("fe_neg", lambda a: k.fq_neg(a), lambda a: k.fq2_neg(a))
fe_inv = _dispatch("fe_inv", lambda a: k.fq_inv(a), lambda a: k.fq2_inv(a))
fe_is_zero = _dispatch("fe_is_zero", lambda a: f.is_zero(a), lambda a: k.fq2_is_zero(a))
fe_eq = _dispatch("fe_eq", lambda a, b: f.eq(a, b), lambda a, b: k.fq2_eq(a, b))
fe_zero = _dispatch("fe_zero", lambda a: k.FQ_ZERO, lambda a: (k.FQ_ZERO, k.FQ_ZERO))
fe_one = _dispatch("fe_one", lambda a: k.FQ_ONE, lambda a: (k.FQ_ONE, k.FQ_ZERO))
# times an Fq element s (for Fq2: both coordinates, 2 products instead of an Fq2 product's 3)
fe_mul_fq = _dispatch("fe_mul_fq", lambda a, b: k.fq_mul(a, b), lambda a, b: k.fq2_mul_fq(a, b))
