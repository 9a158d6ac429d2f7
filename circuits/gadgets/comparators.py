"""Zero tests, equality and ordered comparisons of bounded integers.

Ordered comparisons take a bit width `n` and are only meaningful when both operands are already
known (constrained elsewhere) to lie in ``[0, 2**n)``; like circomlib's LessThan they prove
nothing about the operands themselves.
"""

from __future__ import annotations

from ..cs import ConstraintSystem
from ..lc import LC, R, as_lc
from .bits import MAX_BITS, to_bits


def _inv_or_zero(v: int) -> int:
    return pow(v, -1, R) if v else 0


def _is_zero_value(v: int) -> int:
    return 1 if v == 0 else 0


def is_zero(cs: ConstraintSystem, x: LC | int) -> LC:
    """1 if x == 0 else 0 (2 constraints, as circomlib's IsZero).

    ``x * inv == 1 - out`` and ``x * out == 0``: a non-zero x forces out = 0 (second) and the
    inverse to exist (first); x = 0 forces out = 1 (first).
    """
    x = as_lc(x)
    if x.is_constant():
        return cs.const(_is_zero_value(x.constant()))
    with cs.component("is_zero"):
        inv = cs.hint(_inv_or_zero, x)
        out = cs.hint(_is_zero_value, x)
        cs.constrain(x, inv, 1 - out)
        cs.constrain(x, out, 0)
    return out


def is_zero_native(v: int) -> int:
    return 1 if v % R == 0 else 0


def is_equal(cs: ConstraintSystem, a: LC | int, b: LC | int) -> LC:
    """1 if a == b else 0 (2 constraints)."""
    with cs.component("is_equal"):
        return is_zero(cs, as_lc(a) - as_lc(b))


def is_equal_native(a: int, b: int) -> int:
    return 1 if (a - b) % R == 0 else 0


def _check_width(n: int) -> None:
    # a + 2**n - b needs n + 1 bits, which must stay a unique decomposition
    if not 1 <= n <= MAX_BITS - 1:
        raise ValueError(f"comparison width must be in 1..{MAX_BITS - 1}, got {n}")


def less_than(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> LC:
    """1 if a < b else 0, for a, b in [0, 2**n) (n + 1 constraints, as circomlib's LessThan).

    ``a + 2**n - b`` lies in [1, 2**(n+1)); its bit n is set exactly when a >= b.
    """
    _check_width(n)
    d = as_lc(a) - as_lc(b)
    if d.is_constant():
        v = d.constant()
        return cs.const(1 if v > R // 2 else 0)
    with cs.component(f"less_than{n}"):
        bits = to_bits(cs, d + (1 << n), n + 1)
        return 1 - bits[n]


def less_than_native(a: int, b: int, n: int) -> int:
    if not (0 <= a < 1 << n and 0 <= b < 1 << n):
        raise ValueError(f"operands must be in [0, 2**{n})")
    return 1 if a < b else 0


def less_eq(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> LC:
    """1 if a <= b else 0 (n + 1 constraints): a < b + 1."""
    return less_than(cs, a, as_lc(b) + 1, n)


def less_eq_native(a: int, b: int, n: int) -> int:
    less_than_native(a, b, n)
    return 1 if a <= b else 0


def greater_than(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> LC:
    """1 if a > b else 0 (n + 1 constraints)."""
    return less_than(cs, b, a, n)


def greater_than_native(a: int, b: int, n: int) -> int:
    return less_than_native(b, a, n)


def greater_eq(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> LC:
    """1 if a >= b else 0 (n + 1 constraints)."""
    return less_than(cs, b, as_lc(a) + 1, n)


def greater_eq_native(a: int, b: int, n: int) -> int:
    less_than_native(a, b, n)
    return 1 if a >= b else 0


# -- assertions: cheaper than computing a flag and forcing it to 1 ------------------------------


def assert_less_than(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> None:
    """Assert a < b for a, b in [0, 2**n): ``b - a - 1`` in [0, 2**n) (n constraints)."""
    with cs.component(f"assert_lt{n}"):
        to_bits(cs, as_lc(b) - as_lc(a) - 1, n)


def assert_less_eq(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> None:
    """Assert a <= b for a, b in [0, 2**n): ``b - a`` in [0, 2**n) (n constraints)."""
    with cs.component(f"assert_le{n}"):
        to_bits(cs, as_lc(b) - as_lc(a), n)


def assert_in_range(cs: ConstraintSystem, x: LC | int, lo: int, hi: int) -> None:
    """Assert lo <= x <= hi for integer constants lo <= hi (x any field element).

    With k = bitlen(hi - lo): ``x - lo`` in [0, 2**k) and ``hi - x`` in [0, 2**k) (2k
    constraints), or only the first when hi - lo + 1 == 2**k (k constraints). Both halves
    together exclude wrap-around because 2**(k+1) < R.
    """
    if lo > hi:
        raise ValueError("empty range")
    span = hi - lo
    x = as_lc(x)
    with cs.component("in_range"):
        if span == 0:
            cs.assert_equal(x, lo)
            return
        k = span.bit_length()
        to_bits(cs, x - lo, k)
        if span + 1 != 1 << k:
            to_bits(cs, hi - x, k)


def in_range_native(v: int, lo: int, hi: int) -> bool:
    return lo <= v <= hi
