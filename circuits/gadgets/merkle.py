"""Sparse quaternary Merkle tree proofs over Poseidon: inclusion and single-path update.

The tree is the one of `circuits.merkle` (read its docstring): a 4-ary level hashes
poseidon([c0, c1, c2, c3]) and consumes two path bits (b0, b1) = bits (2k, 2k+1) of the leaf
index, the running node sitting at child p = b0 + 2 b1; an odd depth ends in a binary level
(poseidon([l, r]), one bit). Siblings come in proof order: per 4-ary level (s0, s1, s2) = the
other child of the node's pair, then the other pair's two children.

Insertion at a 4-ary level is three conditional swaps (3 constraints):
``(l, r) = swap_b0(cur, s0); (c0, c1, c2, c3) = swap_b1((l, r), (s1, s2))``, then a Poseidon(4)
(297): 300 a level against 2 x 241 for two binary levels. An update proves the old and the new
leaf against the *same* siblings and path bits: two insertions and two hashes per level, the
bits once (a booleanity constraint each): 602 per 4-ary level, 7,224 at depth 24 (11,592
binary). Constraint counts: docs/circuits.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..cs import ConstraintSystem
from ..lc import LC, as_lc
from ..merkle import level_widths, sibling_count
from .bits import to_bits
from .poseidon import poseidon
from .select import cswap


def index_bits(cs: ConstraintSystem, index: LC | int, depth: int) -> list[LC]:
    """The path bits of a leaf index (proves 0 <= index < 2**depth; depth constraints)."""
    with cs.component("merkle_index"):
        return to_bits(cs, index, depth)


def _check_path(siblings: Sequence, bits: Sequence) -> None:
    if not bits or len(siblings) != sibling_count(len(bits)):
        raise ValueError(f"a path of {len(bits)} bits takes {sibling_count(len(bits) or 1)} "
                         f"siblings (depth >= 1), got {len(siblings)}")


def _bools(cs: ConstraintSystem, bits: Sequence[LC | int], checked: bool) -> list[LC]:
    bits = [as_lc(b) for b in bits]
    if not checked:
        with cs.component("path_bits"):
            for b in bits:
                cs.assert_bool(b)
    return bits


def _levels(siblings: Sequence, bits: Sequence) -> list[tuple[list[LC], list[LC]]]:
    """(siblings, bits) of each level, leaf level first."""
    out, s, b = [], 0, 0
    for w in level_widths(len(bits)):
        n = (1 << w) - 1
        out.append(([as_lc(x) for x in siblings[s:s + n]], list(bits[b:b + w])))
        s, b = s + n, b + w
    return out


def _insert(cs: ConstraintSystem, cur: LC, sibs: list[LC], bits: list[LC]) -> list[LC]:
    """The children of the level's node with `cur` at the position the bits name."""
    left, right = cswap(cs, bits[0], cur, sibs[0])
    if len(sibs) == 1:
        return [left, right]
    c0, c2 = cswap(cs, bits[1], left, sibs[1])
    c1, c3 = cswap(cs, bits[1], right, sibs[2])
    return [c0, c1, c2, c3]


def merkle_root(cs: ConstraintSystem, leaf: LC | int, siblings: Sequence[LC | int],
                bits: Sequence[LC | int], *, bits_checked: bool = False) -> LC:
    """The root implied by `leaf` at the path `bits` (little-endian index bits) with `siblings`
    (``sibling_count(len(bits))`` of them, in proof order).

    The bits get booleanity constraints unless `bits_checked` (e.g. they come from
    `index_bits`).
    """
    _check_path(siblings, bits)
    with cs.component("merkle_root"):
        bits = _bools(cs, bits, bits_checked)
        cur = as_lc(leaf)
        for k, (sibs, bs) in enumerate(_levels(siblings, bits)):
            with cs.component(f"level{k}"):
                cur = poseidon(cs, _insert(cs, cur, sibs, bs))
        return cur


def merkle_inclusion(cs: ConstraintSystem, leaf: LC | int, siblings: Sequence[LC | int],
                     bits: Sequence[LC | int], root: LC | int, *,
                     bits_checked: bool = False) -> None:
    """Assert that `leaf` sits at path `bits` under `root`."""
    with cs.component("merkle_inclusion"):
        computed = merkle_root(cs, leaf, siblings, bits, bits_checked=bits_checked)
        with cs.component("root"):
            cs.assert_equal(computed, root)


def merkle_update(cs: ConstraintSystem, old_leaf: LC | int, new_leaf: LC | int,
                  siblings: Sequence[LC | int], bits: Sequence[LC | int], *,
                  old_root: LC | int | None = None, new_root: LC | int | None = None,
                  bits_checked: bool = False) -> tuple[LC, LC]:
    """One path, two leaves: returns (old root, new root) computed from the shared siblings.

    Replacing old_leaf by new_leaf at that path turns the tree with root `old root` into the
    tree with root `new root` (every other leaf is committed to by the same siblings). Given
    `old_root` / `new_root`, they are asserted equal to the computed roots.
    """
    _check_path(siblings, bits)
    with cs.component("merkle_update"):
        bits = _bools(cs, bits, bits_checked)
        cur_old, cur_new = as_lc(old_leaf), as_lc(new_leaf)
        for k, (sibs, bs) in enumerate(_levels(siblings, bits)):
            with cs.component(f"level{k}"):
                with cs.component("old"):
                    cur_old = poseidon(cs, _insert(cs, cur_old, sibs, bs))
                with cs.component("new"):
                    cur_new = poseidon(cs, _insert(cs, cur_new, sibs, bs))
        if old_root is not None:
            with cs.component("old_root"):
                cs.assert_equal(cur_old, old_root)
        if new_root is not None:
            with cs.component("new_root"):
                cs.assert_equal(cur_new, new_root)
        return cur_old, cur_new
