"""Native sparse quaternary Merkle tree over Poseidon: the tree the Merkle gadgets prove against.

A depth-d tree has ``2**d`` leaves (an empty leaf is 0). Index bits are consumed two per level
from the leaf up: level k + 1 hashes four level-k nodes, ``node(k + 1, i) =
poseidon([node(k, 4i), node(k, 4i + 1), node(k, 4i + 2), node(k, 4i + 3)])``; when d is odd the
top level is binary (``poseidon([node(L-1, 0), node(L-1, 1)])``, one bit). ``level_widths(d)``
lists the bits per level. The child position at a 4-ary level is ``p = b(2k) + 2 b(2k+1)``.
Empty subtrees hash to ``ZERO[level]`` (``ZERO[0] = 0``, ``ZERO[k + 1]`` = the hash of
``2**w`` copies of ``ZERO[k]``). A proof lists, level by level, 3 siblings at a 4-ary level
(the other child of the node's pair, then the other pair's two children, left first) and 1 at
the binary top: ``sibling_count(d)`` in all. See docs/state.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from circuits.poseidon import poseidon

__all__ = ["SparseMerkleTree", "compute_root", "empty_root", "insert_child", "level_widths",
           "path_siblings", "sibling_count", "zero_hashes"]


@cache
def _widths(depth: int) -> tuple[int, ...]:
    if depth < 1:
        raise ValueError("depth must be >= 1")
    return (2,) * (depth // 2) + (1,) * (depth % 2)


def level_widths(depth: int) -> list[int]:
    """Index bits consumed by each level, leaf level first: 2, ..., 2 (then 1 when d is odd)."""
    return list(_widths(depth))


def sibling_count(depth: int) -> int:
    """Siblings in a proof: 3 per 4-ary level, 1 for a binary top."""
    return 3 * (depth // 2) + depth % 2


@cache
def _zeros(depth: int) -> tuple[int, ...]:
    z = [0]
    for w in _widths(depth):
        z.append(poseidon([z[-1]] * (1 << w)))
    return tuple(z)


def zero_hashes(depth: int) -> list[int]:
    """``[ZERO[0], ..., ZERO[L]]``: the roots of empty subtrees of each level (L levels)."""
    return list(_zeros(depth))


def empty_root(depth: int) -> int:
    """The root of the empty depth-d tree."""
    return _zeros(depth)[-1]


def insert_child(cur: int, pos: int, sibs: Sequence[int]) -> list[int]:
    """The children of a level's node: ``cur`` at position ``pos`` among its siblings in proof
    order (``[s0, s1, s2]`` at a 4-ary level, ``[s]`` at a binary one)."""
    if len(sibs) == 1:
        return [sibs[0], cur] if pos else [cur, sibs[0]]
    s0, s1, s2 = sibs
    pair = [s0, cur] if pos & 1 else [cur, s0]
    return [s1, s2, *pair] if pos & 2 else [*pair, s1, s2]


def path_siblings(children: Sequence[int], pos: int) -> list[int]:
    """The proof's siblings of child ``pos`` of ``children`` (2 or 4 of them)."""
    if len(children) == 2:
        return [children[pos ^ 1]]
    other = (pos & 2) ^ 2
    return [children[pos ^ 1], children[other], children[other + 1]]


def _split(siblings: Sequence[int], depth: int) -> list[list[int]]:
    if len(siblings) != sibling_count(depth):
        raise ValueError(f"a depth-{depth} proof has {sibling_count(depth)} siblings, "
                         f"got {len(siblings)}")
    out, at = [], 0
    for w in _widths(depth):
        n = (1 << w) - 1
        out.append(list(siblings[at:at + n]))
        at += n
    return out


def compute_root(leaf: int, index: int, siblings: Sequence[int], depth: int) -> int:
    """The root implied by a leaf, its index and its siblings (bottom-up)."""
    if not 0 <= index < 1 << depth:
        raise IndexError(f"leaf index {index} outside 0..2**{depth}-1")
    cur, shift = leaf, 0
    for w, sibs in zip(_widths(depth), _split(siblings, depth), strict=True):
        cur = poseidon(insert_child(cur, (index >> shift) & ((1 << w) - 1), sibs))
        shift += w
    return cur


class SparseMerkleTree:
    """Poseidon sparse quaternary Merkle tree of fixed depth (see the module docstring)."""

    def __init__(self, depth: int):
        if not 1 <= depth <= 252:
            raise ValueError("depth must be in 1..252")
        self.depth = depth
        self.widths = _widths(depth)
        self.zeros = _zeros(depth)
        self._levels: list[dict[int, int]] = [{} for _ in range(len(self.widths) + 1)]

    def _node(self, level: int, i: int) -> int:
        return self._levels[level].get(i, self.zeros[level])

    @property
    def root(self) -> int:
        return self._node(len(self.widths), 0)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < 1 << self.depth:
            raise IndexError(f"leaf index {index} outside 0..2**{self.depth}-1")

    def get(self, index: int) -> int:
        self._check_index(index)
        return self._node(0, index)

    def _children(self, level: int, parent: int) -> list[int]:
        w = self.widths[level]
        return [self._node(level, (parent << w) + c) for c in range(1 << w)]

    def set(self, index: int, value: int) -> None:
        """Set leaf `index` to `value` (0 empties it) and rehash its path."""
        self._check_index(index)
        cur, i = value, index
        for level in range(len(self.widths) + 1):
            store = self._levels[level]
            if cur == self.zeros[level]:
                store.pop(i, None)
            else:
                store[i] = cur
            if level == len(self.widths):
                break
            i >>= self.widths[level]
            cur = poseidon(self._children(level, i))

    def proof(self, index: int) -> list[int]:
        """The siblings of leaf `index` in proof order, from the leaf level up."""
        self._check_index(index)
        out, i = [], index
        for level, w in enumerate(self.widths):
            parent = i >> w
            out += path_siblings(self._children(level, parent), i & ((1 << w) - 1))
            i = parent
        return out

    def update(self, index: int, value: int) -> tuple[int, int, int, list[int]]:
        """Set a leaf; returns (old_leaf, old_root, new_root, siblings) for an update proof."""
        old_leaf, old_root, sib = self.get(index), self.root, self.proof(index)
        self.set(index, value)
        return old_leaf, old_root, self.root, sib
