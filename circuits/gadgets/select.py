"""Selection: 2-way mux, mux trees over bit-indexed lists, index selection, conditional swap."""

from __future__ import annotations

from collections.abc import Sequence

from ..cs import ConstraintSystem
from ..lc import LC, as_lc
from .bits import to_bits
from .comparators import assert_less_than


def mux2(cs: ConstraintSystem, s: LC | int, a: LC | int, b: LC | int) -> LC:
    """``a if s == 0 else b`` for a bit s: ``a + s * (b - a)`` (1 constraint; 0 when s or b - a
    is constant). s must be boolean-constrained by the caller."""
    a = as_lc(a)
    return a + as_lc(s) * (as_lc(b) - a)


def mux2_native(s: int, a: int, b: int) -> int:
    return b if s else a


def mux(cs: ConstraintSystem, bits: Sequence[LC | int], values: Sequence[LC | int]) -> LC:
    """``values[sum(bits[i] 2^i)]`` by a binary tree of mux2 (len(values) - 1 constraints at most;
    levels over constant values fold away). `values` must have exactly 2**len(bits) entries and
    the bits must be boolean-constrained by the caller."""
    if len(values) != 1 << len(bits):
        raise ValueError(f"need {1 << len(bits)} values for {len(bits)} selector bits")
    with cs.component("mux"):
        level = [as_lc(v) for v in values]
        for s in bits:  # the low bit picks within adjacent pairs
            level = [mux2(cs, s, level[2 * i], level[2 * i + 1]) for i in range(len(level) // 2)]
        return level[0]


def mux_native(bits: Sequence[int], values: Sequence[int]) -> int:
    return values[sum(b << i for i, b in enumerate(bits))]


def select(cs: ConstraintSystem, index: LC | int, values: Sequence[LC | int]) -> LC:
    """``values[index]`` for a field element index, proving 0 <= index < len(values).

    k = ceil(log2 len) bits of the index (k constraints), a mux tree over the list padded with
    zeros (< len constraints), and when len is not a power of two an index < len check
    (k constraints).
    """
    n = len(values)
    if n == 0:
        raise ValueError("empty list")
    index = as_lc(index)
    if index.is_constant():
        return as_lc(values[index.constant()])
    k = max(1, (n - 1).bit_length())
    with cs.component("select"):
        bits = to_bits(cs, index, k)
        if n != 1 << k:
            assert_less_than(cs, index, n, k)
        padded = list(values) + [0] * ((1 << k) - n)
        return mux(cs, bits, padded)


def select_native(index: int, values: Sequence[int]) -> int:
    if not 0 <= index < len(values):
        raise IndexError(index)
    return values[index]


def cswap(cs: ConstraintSystem, s: LC | int, a: LC | int, b: LC | int) -> tuple[LC, LC]:
    """``(a, b)`` if s == 0 else ``(b, a)`` for a bit s (1 shared constraint ``s * (b - a)``).

    For Merkle paths: with s the path bit and a the running node, b its sibling, the result is
    (left, right). s must be boolean-constrained by the caller.
    """
    a, b = as_lc(a), as_lc(b)
    with cs.component("cswap"):
        t = as_lc(s) * (b - a)
        return a + t, b - t


def cswap_native(s: int, a: int, b: int) -> tuple[int, int]:
    return (b, a) if s else (a, b)
