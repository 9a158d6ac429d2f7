"""Native sparse Merkle tree hashed with Poseidon(2): the tree the Merkle gadgets prove against.

The engine's state tree must match it exactly: ``2**d`` leaves (an empty leaf is 0),
``node(k + 1, i) = poseidon([node(k, 2i), node(k, 2i + 1)])``, root ``node(d, 0)``; an empty
subtree of height k hashes to ``ZERO[k]`` (``ZERO[0] = 0``,
``ZERO[k + 1] = poseidon([ZERO[k], ZERO[k]])``). Bit k of a leaf's index (little-endian) says
whether the level-k node on its path is a right child (1); ``siblings[k]`` is the other child.
Only non-empty nodes are stored (a dict per level). See docs/state.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from circuits.poseidon import poseidon

__all__ = ["SparseMerkleTree", "compute_root", "zero_hashes"]


@cache
def _zeros(depth: int) -> tuple[int, ...]:
    z = [0]
    for _ in range(depth):
        z.append(poseidon([z[-1], z[-1]]))
    return tuple(z)


def zero_hashes(depth: int) -> list[int]:
    """``[ZERO[0], ..., ZERO[depth]]``: the roots of empty subtrees of height 0..depth."""
    return list(_zeros(depth))


def compute_root(leaf: int, index: int, siblings: Sequence[int]) -> int:
    """The root implied by a leaf, its index and its siblings (bottom-up)."""
    cur = leaf
    for k, sib in enumerate(siblings):
        cur = poseidon([sib, cur] if (index >> k) & 1 else [cur, sib])
    return cur


class SparseMerkleTree:
    """Poseidon(2) sparse Merkle tree of fixed depth (see the module docstring)."""

    def __init__(self, depth: int):
        if not 1 <= depth <= 253:
            raise ValueError("depth must be in 1..253")
        self.depth = depth
        self.zeros = _zeros(depth)
        self._levels: list[dict[int, int]] = [{} for _ in range(depth + 1)]

    def _node(self, level: int, i: int) -> int:
        return self._levels[level].get(i, self.zeros[level])

    @property
    def root(self) -> int:
        return self._node(self.depth, 0)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < 1 << self.depth:
            raise IndexError(f"leaf index {index} outside 0..2**{self.depth}-1")

    def get(self, index: int) -> int:
        self._check_index(index)
        return self._node(0, index)

    def set(self, index: int, value: int) -> None:
        """Set leaf `index` to `value` (0 empties it) and rehash its path."""
        self._check_index(index)
        cur = value
        i = index
        for level in range(self.depth + 1):
            store = self._levels[level]
            if cur == self.zeros[level]:
                store.pop(i, None)
            else:
                store[i] = cur
            if level == self.depth:
                break
            sib = self._node(level, i ^ 1)
            cur = poseidon([sib, cur] if i & 1 else [cur, sib])
            i >>= 1

    def proof(self, index: int) -> list[int]:
        """The siblings of leaf `index`, from level 0 up to level depth - 1."""
        self._check_index(index)
        return [self._node(level, (index >> level) ^ 1) for level in range(self.depth)]

    def update(self, index: int, value: int) -> tuple[int, int, int, list[int]]:
        """Set a leaf; returns (old_leaf, old_root, new_root, siblings) for an update proof."""
        old_leaf, old_root, sib = self.get(index), self.root, self.proof(index)
        self.set(index, value)
        return old_leaf, old_root, self.root, sib
