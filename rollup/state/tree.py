"""Sparse quaternary Merkle tree over Poseidon, stored as a dict of the non-empty nodes.

The tree of ``circuits.merkle`` (docs/state.md): index bits consumed two per level from the leaf
up, node(k, i) = H4(node(k-1, 4i), .., node(k-1, 4i+3)), and a binary top node H2(node(L-1, 0),
node(L-1, 1)) when the depth is odd; node(0, i) = leaf i, an empty leaf is 0, so an empty
subtree of level k has the precomputed root ``defaults[k]``. Nodes are keyed (level, index);
only those that differ from their default are stored: memory grows with the touched leaves.

Updates are batched: ``update({index: leaf, ...})`` rewrites the leaves and then recomputes every
node above them, all levels in one call to the hasher (one Numba kernel,
``circuits.poseidon_batch.hash_node_refs``, instead of one Python call per node); a parent shared
by several dirty leaves is hashed once. A proof lists the siblings from the leaf level up in the
order of ``circuits.merkle`` (3 per 4-ary level, 1 for a binary top); ``root_from_proof``
recomputes the root the way the circuit does. The hash is one swappable object (``Hasher``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Protocol

from circuits.merkle import level_widths  # the layout the circuits prove: one definition


class Hasher(Protocol):
    def hash(self, inputs: Sequence[int]) -> int: ...

    def hash2(self, left: int, right: int) -> int: ...

    def hash_pairs(self, pairs: Sequence[tuple[int, int]]) -> list[int]: ...

    def hash_many(self, rows: Sequence[Sequence[int]]) -> list[int]: ...

    def hash_flat(self, flat: Sequence[int], k: int) -> list[int]: ...

    def hash_node_refs(self, static: Sequence[int], refs: Sequence[Sequence[int]]
                       ) -> list[int]: ...


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

    def hash_node_refs(self, static: Sequence[int], refs: Sequence[Sequence[int]]
                       ) -> list[int]:
        """Chained Poseidon(4) / Poseidon(2) rows in one kernel call
        (``poseidon_batch.hash_node_refs``)."""
        return _batch().hash_node_refs(static, refs)


@functools.cache
def _batch():
    # lazy: Numba; ``import rollup.state`` stays light (no kernel compiled or loaded)
    from circuits import poseidon_batch

    return poseidon_batch


DEFAULT_HASHER = PoseidonHasher()

_DEFAULTS_CACHE: dict[tuple[int, int], list[int]] = {}
_BINARY = -(1 << 62)  # = circuits.poseidon_batch.BINARY (a row of two nodes)


def default_nodes(depth: int, hasher: Hasher = DEFAULT_HASHER) -> list[int]:
    """defaults[k] for levels k = 0..L: roots of empty subtrees (empty leaf = 0); the last one
    is the empty tree's root."""
    key = (id(hasher), depth)
    if key not in _DEFAULTS_CACHE:
        out = [0]
        for w in level_widths(depth):
            out.append(hasher.hash([out[-1]] * (1 << w)))
        _DEFAULTS_CACHE[key] = out
    return _DEFAULTS_CACHE[key]


class SparseMerkleTree:
    def __init__(self, depth: int, hasher: Hasher = DEFAULT_HASHER) -> None:
        if not 1 <= depth <= 64:
            raise ValueError(f"depth must be in 1..64, got {depth}")
        self.depth = depth
        self.hasher = hasher
        self.widths = level_widths(depth)
        self.levels = len(self.widths)
        self.defaults = default_nodes(depth, hasher)
        # (level, index) -> node value, only where it differs from defaults[level]
        self.nodes: dict[tuple[int, int], int] = {}

    def copy(self) -> SparseMerkleTree:
        """An independent tree with the same nodes (node values are ints: a dict copy)."""
        new = SparseMerkleTree.__new__(SparseMerkleTree)
        new.depth, new.hasher, new.defaults = self.depth, self.hasher, self.defaults
        new.widths, new.levels = self.widths, self.levels
        new.nodes = dict(self.nodes)
        return new

    @property
    def capacity(self) -> int:
        return 1 << self.depth

    @property
    def root(self) -> int:
        return self.nodes.get((self.levels, 0), self.defaults[self.levels])

    def node(self, level: int, index: int) -> int:
        return self.nodes.get((level, index), self.defaults[level])

    def leaf(self, index: int) -> int:
        return self.node(0, index)

    def update(self, leaves: Mapping[int, int]) -> int:
        """Set the given leaves and recompute every node above them; returns the new root."""
        update_trees([(self, leaves)])
        return self.root

    def set(self, index: int, value: int) -> int:
        return self.update({index: value})

    def proof(self, index: int) -> list[int]:
        """Siblings of leaf ``index`` from the leaf level up: per 4-ary level the other child of
        the node's pair, then the other pair's two children; 1 for a binary top."""
        if not 0 <= index < self.capacity:
            raise IndexError(f"leaf index {index} outside a depth-{self.depth} tree")
        out, i = [], index
        for level, w in enumerate(self.widths):
            if w == 1:
                out.append(self.node(level, i ^ 1))
            else:
                other = (i & ~3) | ((i & 2) ^ 2)
                out += [self.node(level, i ^ 1), self.node(level, other),
                        self.node(level, other + 1)]
            i >>= w
        return out


def root_from_proof(
    index: int, leaf: int, siblings: Sequence[int], hasher: Hasher = DEFAULT_HASHER, *,
    depth: int | None = None,
) -> int:
    """The root implied by a leaf and its siblings: what the circuit recomputes. The depth is
    read from the sibling count (3 per 4-ary level, 1 for a binary top) unless given."""
    n = len(siblings)
    if depth is None:
        depth = 2 * (n // 3) + n % 3
    if n != 3 * (depth // 2) + depth % 2 or n % 3 == 2:
        raise ValueError(f"{n} siblings is no proof of a depth-{depth} tree")
    if not 0 <= index < 1 << depth:  # the high bits would be ignored: i + 2^d would pass as i
        raise ValueError(f"leaf index {index} outside 0..2**{depth}-1")
    node, at, shift = leaf, 0, 0
    for w in level_widths(depth):
        pos = (index >> shift) & ((1 << w) - 1)
        if w == 1:
            s = siblings[at]
            node = hasher.hash([s, node] if pos else [node, s])
        else:
            s0, s1, s2 = siblings[at:at + 3]
            pair = [s0, node] if pos & 1 else [node, s0]
            node = hasher.hash([s1, s2, *pair] if pos & 2 else [*pair, s1, s2])
        at, shift = at + (1 << w) - 1, shift + w
    return node


def verify_proof(
    root: int, index: int, leaf: int, siblings: Sequence[int], hasher: Hasher = DEFAULT_HASHER
) -> bool:
    """Whether the leaf sits at ``index`` under ``root`` (False for an index past the tree)."""
    try:
        return root_from_proof(index, leaf, siblings, hasher) == root
    except ValueError:
        return False


def update_trees(jobs: Sequence[tuple[SparseMerkleTree, Mapping[int, int]]]) -> None:
    """Update several trees (same hasher) at once, with one call to the hasher for all of them:
    every node above a changed leaf is one row (four children, or two at a binary top) whose
    inputs are either untouched nodes (read once here) or rows computed before it, lower in the
    same tree. A node shared by several changed leaves is hashed once. This is what makes
    per-account subtrees cheap."""
    if not jobs:
        return
    hasher = jobs[0][0].hasher
    static: list[int] = []
    rows: list[list[int]] = []
    outs: list[tuple[dict, int, int, int]] = []  # (nodes, level, index, default) per row
    for tree, leaves in jobs:
        nodes, cap = tree.nodes, 1 << tree.depth
        cur: dict[int, int] = {}  # index -> reference of the node at the current level
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
        for level, w in enumerate(tree.widths, 1):
            if not cur:
                break
            below, dflt, nxt, fan = level - 1, defaults[level - 1], {}, 1 << w
            for i in sorted({k >> w for k in cur}):
                row = []
                for c in range((i << w), (i << w) + fan):
                    ref = cur.get(c)
                    if ref is None:
                        ref = len(static)
                        static.append(get((below, c), dflt))
                    row.append(ref)
                rows.append(row if fan == 4 else row + [_BINARY, _BINARY])
                outs.append((nodes, level, i, defaults[level]))
                nxt[i] = -len(outs)
            cur = nxt
    for (nodes, level, i, dflt), v in zip(outs, hasher.hash_node_refs(static, rows),
                                          strict=True):
        if v == dflt:
            nodes.pop((level, i), None)
        else:
            nodes[(level, i)] = v
