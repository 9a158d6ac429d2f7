"""Signed bounded integers (positions, balances, PnL): the one encoding used everywhere.

Encoding (single source of truth)
---------------------------------
A signed quantity of width ``n`` is an integer ``v`` with ``-2**(n-1) <= v < 2**(n-1)``. In the
circuit it is the field element ``x = v mod R`` (so -1 is ``R - 1``): additions and products
are plain field operations, and no offset is ever stored. It is *proven* to be in range by
decomposing ``x + 2**(n-1)`` (which is ``v + 2**(n-1)`` in [0, 2**n)) into n bits; the top bit
of that decomposition is 1 exactly when v >= 0, so the sign comes for free with the range check.
Outside the circuit, `encode` / `decode` convert between v and x. Widths satisfy n <= 252 so
the offset decomposition (and the n + 1 bit differences below) cannot wrap around R.

Operations whose result range follows from the inputs' ranges (e.g. `mul_unsigned`) carry no
range check; those that can overflow (`add`) re-check the result at the stated width.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..cs import ConstraintSystem
from ..lc import LC, R, as_lc, lsum
from .bits import MAX_BITS, to_bits
from .comparators import is_zero


def _check_width(n: int) -> None:
    if not 2 <= n <= MAX_BITS - 1:
        raise ValueError(f"signed width must be in 2..{MAX_BITS - 1}, got {n}")


def encode(v: int) -> int:
    """The field element of signed integer v."""
    return v % R


def decode(x: int) -> int:
    """The signed integer of field element x (the representative in (-R/2, R/2))."""
    x %= R
    return x if x <= R // 2 else x - R


def fits(v: int, n: int) -> bool:
    return -(1 << (n - 1)) <= v < (1 << (n - 1))


def _need(v: int, n: int) -> int:
    if not fits(v, n):
        raise ValueError(f"{v} is outside the signed {n}-bit range")
    return v


def assert_signed(cs: ConstraintSystem, x: LC | int, n: int) -> LC:
    """Prove x encodes a signed n-bit value; return its negativity flag (n constraints)."""
    _check_width(n)
    with cs.component(f"signed{n}"):
        bits = to_bits(cs, as_lc(x) + (1 << (n - 1)), n)
        return 1 - bits[n - 1]


def is_negative(cs: ConstraintSystem, x: LC | int, n: int) -> LC:
    """1 if v < 0 else 0, proving the range too (n constraints)."""
    return assert_signed(cs, x, n)


def is_negative_native(v: int, n: int) -> int:
    return 1 if _need(v, n) < 0 else 0


def is_positive(cs: ConstraintSystem, x: LC | int, n: int) -> LC:
    """1 if v > 0 else 0 (n + 2 constraints): not negative and not zero."""
    with cs.component("is_positive"):
        return 1 - is_negative(cs, x, n) - is_zero(cs, x)


def is_positive_native(v: int, n: int) -> int:
    return 1 if _need(v, n) > 0 else 0


def assert_nonnegative(cs: ConstraintSystem, x: LC | int, n: int) -> None:
    """Prove 0 <= v < 2**(n-1) (n - 1 constraints)."""
    _check_width(n)
    with cs.component(f"nonneg{n}"):
        to_bits(cs, x, n - 1)


def add(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> LC:
    """a + b, proven to fit in n bits (n constraints)."""
    with cs.component("signed_add"):
        c = as_lc(a) + as_lc(b)
        assert_signed(cs, c, n)
        return c


def add_native(a: int, b: int, n: int) -> int:
    return _need(a + b, n)


def sum_checked(cs: ConstraintSystem, xs: Sequence[LC | int], n: int) -> LC:
    """sum(xs), proven to fit in n bits (n constraints)."""
    with cs.component("signed_sum"):
        c = lsum(xs, cs)
        assert_signed(cs, c, n)
        return c


def sum_native(xs: Sequence[int], n: int) -> int:
    return _need(sum(xs), n)


def abs_(cs: ConstraintSystem, x: LC | int, n: int) -> LC:
    """|v| for signed n-bit v, in [0, 2**(n-1)] (n + 1 constraints): ``x * (1 - 2 neg)``."""
    with cs.component("signed_abs"):
        x = as_lc(x)
        neg = is_negative(cs, x, n)
        return x * (1 - 2 * neg)


def abs_native(v: int, n: int) -> int:
    return abs(_need(v, n))


def relu(cs: ConstraintSystem, x: LC | int, n: int) -> LC:
    """max(v, 0) (n + 1 constraints): ``x * (1 - neg)``."""
    with cs.component("signed_relu"):
        x = as_lc(x)
        neg = is_negative(cs, x, n)
        return x * (1 - neg)


def relu_native(v: int, n: int) -> int:
    return max(_need(v, n), 0)


def mul_unsigned(cs: ConstraintSystem, x: LC | int, n: int, u: LC | int, m: int) -> LC:
    """v * u for signed n-bit v and unsigned u in [0, 2**m): a signed (n + m)-bit value.

    One constraint and no range check: |v * u| <= 2**(n-1) * (2**m - 1) < 2**(n+m-1), so the
    product is in range whenever both inputs were proven in range (the caller's part).
    """
    if n + m > MAX_BITS - 1:
        raise ValueError("product width too large")
    with cs.component("signed_mul"):
        return as_lc(x) * as_lc(u)


def mul_unsigned_native(v: int, n: int, u: int, m: int) -> int:
    _need(v, n)
    if not 0 <= u < 1 << m:
        raise ValueError(f"{u} is outside [0, 2**{m})")
    return v * u


def less_than(cs: ConstraintSystem, a: LC | int, b: LC | int, n: int) -> LC:
    """1 if a < b else 0 for signed n-bit a, b: the sign of a - b at width n + 1
    (n + 1 constraints)."""
    with cs.component("signed_lt"):
        return is_negative(cs, as_lc(a) - as_lc(b), n + 1)


def less_than_native(a: int, b: int, n: int) -> int:
    _need(a, n)
    _need(b, n)
    return 1 if a < b else 0
