"""Sparse Merkle tree proofs over Poseidon(2): inclusion and single-path update.

The tree is the one of `circuits.merkle` (read its docstring): node = poseidon([left, right]),
empty leaf 0, path bit k = bit k of the leaf index (1: the running node is the right child).

Costs per level: a conditional swap (1 constraint) and a Poseidon(2) (240), plus one booleanity
constraint per path bit. An update proves the old and the new leaf against the *same* siblings
and path bits, so it costs two swaps and two hashes per level and the bits once:
``depth * (2 * 241 + 1)``, 11,592 for depth 24.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..cs import ConstraintSystem
from ..lc import LC, as_lc
from .bits import to_bits
from .poseidon import poseidon
from .select import cswap


def index_bits(cs: ConstraintSystem, index: LC | int, depth: int) -> list[LC]:
    """The path bits of a leaf index (proves 0 <= index < 2**depth; depth constraints)."""
    with cs.component("merkle_index"):
        return to_bits(cs, index, depth)


def _check_path(siblings: Sequence, bits: Sequence) -> None:
    if len(siblings) != len(bits) or not siblings:
        raise ValueError("need one path bit per sibling (depth >= 1)")


def _bools(cs: ConstraintSystem, bits: Sequence[LC | int], checked: bool) -> list[LC]:
    bits = [as_lc(b) for b in bits]
    if not checked:
        with cs.component("path_bits"):
            for b in bits:
                cs.assert_bool(b)
    return bits


def merkle_root(cs: ConstraintSystem, leaf: LC | int, siblings: Sequence[LC | int],
                bits: Sequence[LC | int], *, bits_checked: bool = False) -> LC:
    """The root implied by `leaf` at the path `bits` (little-endian index bits) with `siblings`.

    The bits get booleanity constraints unless `bits_checked` (e.g. they come from
    `index_bits`). depth * 241 (+ depth) constraints.
    """
    _check_path(siblings, bits)
    with cs.component("merkle_root"):
        bits = _bools(cs, bits, bits_checked)
        cur = as_lc(leaf)
        for k, (sib, s) in enumerate(zip(siblings, bits, strict=True)):
            with cs.component(f"level{k}"):
                left, right = cswap(cs, s, cur, sib)
                cur = poseidon(cs, [left, right])
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
        for k, (sib, s) in enumerate(zip(siblings, bits, strict=True)):
            with cs.component(f"level{k}"):
                with cs.component("old"):
                    cur_old = poseidon(cs, list(cswap(cs, s, cur_old, sib)))
                with cs.component("new"):
                    cur_new = poseidon(cs, list(cswap(cs, s, cur_new, sib)))
        if old_root is not None:
            with cs.component("old_root"):
                cs.assert_equal(cur_old, old_root)
        if new_root is not None:
            with cs.component("new_root"):
                cs.assert_equal(cur_new, new_root)
        return cur_old, cur_new
