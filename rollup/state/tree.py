"""Sparse binary Merkle tree over Poseidon, stored as a dict of the non-empty nodes.

node(h, i) = H(node(h-1, 2i), node(h-1, 2i+1)) with H = Poseidon(2) (circomlib parameters),
node(0, i) = leaf i, and an empty leaf is 0, so an empty subtree of height h has the precomputed
root ``defaults[h]`` (defaults[0] = 0, defaults[h] = H(defaults[h-1], defaults[h-1])). Only nodes
that differ from their default are stored: memory grows with the touched leaves, not 2**depth.

Updates are batched: ``update({index: leaf, ...})`` rewrites the leaves and then recomputes the
parents level by level, hashing all dirty nodes of one level in one call to the hasher (one
Numba batch instead of one Python call per node). A Merkle proof is the list of siblings from the
leaf level up; ``root_from_proof`` recomputes the root the way the circuit does, bit d of the index
choosing whether the level-d node is the right child.

The hash is one swappable object (``Hasher``): the tree only calls ``hash2`` and ``hash_pairs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from circuits.poseidon import poseidon
from circuits.poseidon_constants import R

# Below this many pairs a level is hashed one call at a time (array set-up costs more).
_BATCH_MIN = 4
_R_INV = pow(1 << 256, -1, R)  # leaves Montgomery form


class Hasher(Protocol):
    def hash(self, inputs: Sequence[int]) -> int: ...

    def hash2(self, left: int, right: int) -> int: ...

    def hash_pairs(self, pairs: Sequence[tuple[int, int]]) -> list[int]: ...

    def hash_many(self, rows: Sequence[Sequence[int]]) -> list[int]: ...


class PoseidonHasher:
    """circomlib Poseidon: single hashes through ``circuits.poseidon``, batches through the Numba
    kernel of ``circuits.poseidon_fast`` (same function, checked by its tests)."""

    def hash(self, inputs: Sequence[int]) -> int:
        return poseidon(list(inputs))

    def hash2(self, left: int, right: int) -> int:
        return poseidon([left, right])

    def hash_pairs(self, pairs: Sequence[tuple[int, int]]) -> list[int]:
        return self.hash_many(pairs)

    def hash_many(self, rows: Sequence[Sequence[int]]) -> list[int]:
        """Poseidon of each row (all rows of one length)."""
        if len(rows) < _BATCH_MIN:
            return [poseidon(list(r)) for r in rows]
        from circuits.poseidon_fast import poseidon_many
        from prover.fields import ints_to_limbs, limbs_to_ints

        k = len(rows[0])
        # Montgomery form x * 2^256 mod r with Python ints: cheaper than an array kernel call at
        # these sizes. Inputs must be canonical (as ``poseidon`` requires).
        mont = []
        for r in rows:
            for x in r:
                if not 0 <= x < R:
                    raise ValueError("poseidon input out of range [0, r)")
                mont.append((x << 256) % R)
        limbs = ints_to_limbs(mont).reshape(len(rows), k, 4)
        out = limbs_to_ints(poseidon_many(limbs, parallel=False))
        return [(v * _R_INV) % R for v in out]


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
    """Update several trees (same hasher) at once: the dirty nodes of one height, across all the
    trees, are hashed in one batch. This is what makes per-account subtrees cheap to flush."""
    if not jobs:
        return
    hasher = jobs[0][0].hasher
    dirty: list[tuple[SparseMerkleTree, set[int]]] = []
    for tree, leaves in jobs:
        parents = set()
        for index, value in leaves.items():
            if not 0 <= index < tree.capacity:
                raise IndexError(f"leaf index {index} outside a depth-{tree.depth} tree")
            tree._put(0, index, value)
            parents.add(index >> 1)
        dirty.append((tree, parents))
    height = 1
    while dirty:
        work = [(tree, sorted(idx)) for tree, idx in dirty if height <= tree.depth and idx]
        pairs = [(t.node(height - 1, 2 * i), t.node(height - 1, 2 * i + 1))
                 for t, order in work for i in order]
        values = iter(hasher.hash_pairs(pairs))
        dirty = []
        for tree, order in work:
            for i in order:
                tree._put(height, i, next(values))
            dirty.append((tree, {i >> 1 for i in order}))
        height += 1
