"""Booleans, bit decomposition (range checks) and packing.

Bits are little-endian lists of LCs: ``x == sum(bits[i] * 2**i)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..cs import ConstraintSystem
from ..lc import LC, R, as_lc, lin

# Largest width whose decomposition is unique in the field: 2**253 < R < 2**254, so an n-bit
# sum with n <= 253 cannot wrap around R. Wider decompositions need an alias check.
MAX_BITS = 253


def assert_bool(cs: ConstraintSystem, x: LC | int) -> None:
    """``x * (x - 1) == 0`` (1 constraint)."""
    with cs.component("bool"):
        cs.assert_bool(x)


def _bits_of(n: int):
    def split(v: int) -> list[int]:
        return [(v >> i) & 1 for i in range(n)]

    split.split_bits = n  # circuits.solver runs this split natively
    return split


def to_bits(cs: ConstraintSystem, x: LC | int, n: int) -> list[LC]:
    """Decompose `x` into `n` bits, proving ``0 <= x < 2**n`` (n constraints, n <= 253).

    The bits are hinted, each one gets a booleanity constraint, and the recomposition
    ``sum(b_i 2^i) == x`` is a linear equality that the system substitutes away.
    """
    if not 1 <= n <= MAX_BITS:
        raise ValueError(f"bit width must be in 1..{MAX_BITS}, got {n}")
    x = as_lc(x)
    if x.is_constant():
        v = x.constant()
        if v >> n:
            raise ValueError(f"constant {v} does not fit in {n} bits")
        return [cs.const((v >> i) & 1) for i in range(n)]
    with cs.component(f"num2bits{n}"):
        bits = cs.hint(_bits_of(n), x, n_out=n)
        for b in bits:
            cs.assert_bool(b)
        cs.assert_equal(lin(((1 << i, b) for i, b in enumerate(bits)), cs), x)
    return bits


def to_bits_native(v: int, n: int) -> list[int]:
    if not 0 <= v < (1 << n):
        raise ValueError(f"{v} does not fit in {n} bits")
    return [(v >> i) & 1 for i in range(n)]


def range_check(cs: ConstraintSystem, x: LC | int, n: int) -> None:
    """Assert ``0 <= x < 2**n`` (n constraints)."""
    to_bits(cs, x, n)


def from_bits(bits: Sequence[LC | int], cs: ConstraintSystem | None = None) -> LC:
    """``sum(bits[i] * 2**i)``: packing is linear, so free."""
    return lin(((1 << i, b) for i, b in enumerate(bits)), cs)


def from_bits_native(bits: Sequence[int]) -> int:
    return sum(b << i for i, b in enumerate(bits)) % R
