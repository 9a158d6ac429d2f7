"""Sparse binary Merkle tree over Poseidon, stored as a dict of the non-empty nodes.

node(h, i) = H(node(h-1, 2i), node(h-1, 2i+1)) with H = Poseidon(2) (circomlib parameters),
node(0, i) = leaf i, and an empty leaf is 0, so an empty subtree of height h has the precomputed
root ``defaults[h]`` (defaults[0] = 0, defaults[h] = H(defaults[h-1], defaults[h-1])). Only nodes
that differ from their default are stored: memory grows with the touched leaves, not 2**depth.

Updates are batched: ``update({index: leaf, ...})`` rewrites the leaves and then recomputes every
node above them, all levels in one call to the hasher (one Numba kernel,
``circuits.poseidon_batch.hash_pair_refs``, instead of one Python call per node); a parent shared
by several dirty leaves is hashed once. A Merkle proof is the list of siblings from the
leaf level up; ``root_from_proof`` recomputes the root the way the circuit does, bit d of the index
choosing whether the level-d node is the right child.

The hash is one swappable object (``Hasher``): the tree only calls ``hash2`` and ``hash_pair_refs``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Protocol


class Hasher(Protocol):
    def hash(self, inputs: Sequence[int]) -> int: ...

    def hash2(self, left: int, right: int) -> int: ...

    def hash_pairs(self, pairs: Sequence[tuple[int, int]]) -> list[int]: ...

    def hash_many(self, rows: Sequence[Sequence[int]]) -> list[int]: ...

    def hash_flat(self, flat: Sequence[int], k: int) -> list[int]: ...

    def hash_pair_refs(self, static: Sequence[int], refs: Sequence[int]) -> list[int]: ...


class PoseidonHasher:
    """circomlib Poseidon through the Numba kernels of ``circuits.poseidon_batch`` (the same
    function as ``circuits.poseidon.poseidon``, checked by its tests), single hashes included:
    one kernel call per batch, whatever its size."""

    def hash(self, inputs: Sequence[int]) -> int:
        return _batch().hash_ints([list(inputs)])[0]

    def hash2(self, left: int, right: int) -> int:
        return _batch().hash_ints([[left, right]])[0]

    def hash_pairs(self, pairs: Sequence[tuple[int, int]]) -> list[int]:
        return self.hash_many(pairs)

    def hash_many(self, rows: Sequence[Sequence[int]]) -> list[int]:
        """Poseidon of each row (all rows of one length)."""
        return _batch().hash_ints(rows)

    def hash_flat(self, flat: Sequence[int], k: int) -> list[int]:
        """Poseidon of each run of k consecutive ints of ``flat`` (one kernel call)."""
        if len(flat) % k:
            raise ValueError("hash_flat: input count is not a multiple of the row length")
        b = _batch()
        return b.plain_to_ints(b.hash_limbs(b.ints_to_plain(flat).reshape(-1, k, 4)))

    def hash_pair_refs(self, static: Sequence[int], refs: Sequence[int]) -> list[int]:
        """Chained Poseidon(2) pairs in one kernel call (``poseidon_batch.hash_pair_refs``)."""
        return _batch().hash_pair_refs(static, refs)


@functools.cache
def _batch():
    # lazy: Numba; ``import rollup.state`` stays light (no kernel compiled or loaded)
    from circuits import poseidon_batch

    return poseidon_batch


DEFAULT_HASHER = PoseidonHasher()

_DEFAULTS_CACHE: dict[tuple[int, int], list[int]] = {}


def default_nodes(depth: int, hasher: Hasher = DEFAULT_HASHER) -> list[int]:
    """defaults[h] for h = 0..depth: roots of empty subtrees (empty leaf = 0)."""
    key = (id(hasher), depth)
    if key not in _DEFAULTS_CACHE:
        out = [0]
        for _ in range(depth):
            out.append(hasher.hash2(out[-1], out[-1]))
        _DEFAULTS_CACHE[key] = out
    return _DEFAULTS_CACHE[key]


class SparseMerkleTree:
    def __init__(self, depth: int, hasher: Hasher = DEFAULT_HASHER) -> None:
        if not 1 <= depth <= 64:
            raise ValueError(f"depth must be in 1..64, got {depth}")
        self.depth = depth
        self.hasher = hasher
        self.defaults = default_nodes(depth, hasher)
        # (height, index) -> node value, only where it differs from defaults[height]
        self.nodes: dict[tuple[int, int], int] = {}

    def copy(self) -> SparseMerkleTree:
        """An independent tree with the same nodes (node values are ints: a dict copy)."""
        new = SparseMerkleTree.__new__(SparseMerkleTree)
        new.depth, new.hasher, new.defaults = self.depth, self.hasher, self.defaults
        new.nodes = dict(self.nodes)
        return new

    @property
    def capacity(self) -> int:
        return 1 << self.depth

    @property
    def root(self) -> int:
        return self.nodes.get((self.depth, 0), self.defaults[self.depth])

    def node(self, height: int, index: int) -> int:
        return self.nodes.get((height, index), self.defaults[height])

    def leaf(self, index: int) -> int:
        return self.node(0, index)

    def _put(self, height: int, index: int, value: int) -> None:
        if value == self.defaults[height]:
            self.nodes.pop((height, index), None)
        else:
            self.nodes[(height, index)] = value

    def update(self, leaves: Mapping[int, int]) -> int:
        """Set the given leaves and recompute every node above them; returns the new root."""
        update_trees([(self, leaves)])
        return self.root

    def set(self, index: int, value: int) -> int:
        return self.update({index: value})

    def proof(self, index: int) -> list[int]:
        """Siblings of leaf ``index`` from the leaf level up (length depth)."""
        if not 0 <= index < self.capacity:
            raise IndexError(f"leaf index {index} outside a depth-{self.depth} tree")
        return [self.node(h, (index >> h) ^ 1) for h in range(self.depth)]


def root_from_proof(
    index: int, leaf: int, siblings: Sequence[int], hasher: Hasher = DEFAULT_HASHER
) -> int:
    """The root implied by a leaf and its siblings: what the circuit recomputes."""
    node = leaf
    for h, sib in enumerate(siblings):
        node = hasher.hash2(sib, node) if (index >> h) & 1 else hasher.hash2(node, sib)
    return node


def verify_proof(
    root: int, index: int, leaf: int, siblings: Sequence[int], hasher: Hasher = DEFAULT_HASHER
) -> bool:
    return root_from_proof(index, leaf, siblings, hasher) == root


def update_trees(jobs: Sequence[tuple[SparseMerkleTree, Mapping[int, int]]]) -> None:
    """Update several trees (same hasher) at once, with one call to the hasher for all of them:
    every node above a changed leaf is one Poseidon(2) pair whose inputs are either untouched
    nodes (read once here) or pairs computed before it, lower in the same tree. A node shared by
    several changed leaves is hashed once. This is what makes per-account subtrees cheap."""
    if not jobs:
        return
    hasher = jobs[0][0].hasher
    static: list[int] = []
    refs: list[int] = []
    outs: list[tuple[dict, int, int, int]] = []  # (nodes, height, index, default) per pair
    for tree, leaves in jobs:
        nodes, cap = tree.nodes, 1 << tree.depth
        cur: dict[int, int] = {}  # index -> reference of the node at the current height
        for index, value in leaves.items():
            if not 0 <= index < cap:
                raise IndexError(f"leaf index {index} outside a depth-{tree.depth} tree")
            if value == 0:  # defaults[0]
                nodes.pop((0, index), None)
            else:
                nodes[(0, index)] = value
            cur[index] = len(static)
            static.append(value)
        get, defaults = nodes.get, tree.defaults
        for height in range(1, tree.depth + 1):
            if not cur:
                break
            below, dflt, nxt = height - 1, defaults[height - 1], {}
            for i in sorted({k >> 1 for k in cur}):
                left = cur.get(2 * i)
                if left is None:
                    left = len(static)
                    static.append(get((below, 2 * i), dflt))
                right = cur.get(2 * i + 1)
                if right is None:
                    right = len(static)
                    static.append(get((below, 2 * i + 1), dflt))
                refs.append(left)
                refs.append(right)
                outs.append((nodes, height, i, defaults[height]))
                nxt[i] = -len(outs)
            cur = nxt
    for (nodes, height, i, dflt), v in zip(outs, hasher.hash_pair_refs(static, refs),
                                           strict=True):
        if v == dflt:
            nodes.pop((height, i), None)
        else:
            nodes[(height, i)] = v
