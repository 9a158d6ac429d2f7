"""Poseidon (circomlib parameters) over Fr Montgomery limbs, as Numba kernels; Merkle path hashing.

Same function as ``circuits.poseidon.poseidon``: state = [0, x_1..x_n], t = n + 1 (2..17), output
state[0]. The kernels run the sparse schedule of ``poseidon_constants.optimized_tables`` with s0
held scaled during the partial rounds, so a partial round costs 3 + 2(t - 1) multiplications
instead of 3 + t^2 (derivation: docs/circuits.md). Elements are UniTuple(uint64, 4)
(``prover.kernels.cpu.fr``); the constants of width t are one (N, 4) uint64 array built once per
width; width 3 (Merkle nodes) keeps its state in registers.

    >>> from circuits.poseidon import poseidon
    >>> poseidon_ints([[1, 2], [3, 4]]) == [poseidon([1, 2]), poseidon([3, 4])]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from numba import njit, prange

from circuits.poseidon_constants import (
    MAX_WIDTH,
    MIN_WIDTH,
    PoseidonInputError,
    R,
    optimized_tables,
    params,
)
from prover.errors import NonCanonicalError
from prover.fields import Fr, ints_to_limbs, limbs_to_ints
from prover.kernels.cpu.field import U0, U1, load, store
from prover.kernels.cpu.fr import FR, fr_add, fr_mul, fr_sqr

__all__ = [
    "PARALLEL_THRESHOLD",
    "hash2",
    "merkle_default_nodes",
    "merkle_root_from_path",
    "merkle_roots",
    "merkle_update_paths",
    "poseidon_fast",
    "poseidon_ints",
    "poseidon_many",
    "tables",
]

# Below this many hashes a batch runs on the calling thread (thread start-up costs more).
PARALLEL_THRESHOLD = 256

_P = FR.p
_ONE_PLAIN = (U1, U0, U0, U0)  # mont_mul(x, 1) = x * 2^-256: leaves Montgomery form
_R2 = FR.r2  # mont_mul(x, 2^512) = x * 2^256: enters Montgomery form


# ---------------------------------------------------------------------------------------------
# Constant tables
# ---------------------------------------------------------------------------------------------


def _table_array(t: int) -> np.ndarray:
    """All constants of width t as Montgomery rows, in the order the kernels read them:

    mds (t*t, row-major) | first full rounds (4*t) | per partial round k, scaled as in the module
    docstring: [c_k/lam_k, w_k/lam_{k+1} (t-1), v_k*lam_k^5 (t-1)] (2t - 1 rows) | lam_{R_P} |
    post matrix ((t-1)^2, row-major) | last full rounds (4*t).
    """
    tab = optimized_tables(t)
    values: list[int] = [x for row in params(t).mds for x in row]
    values += [x for row in tab.first_constants for x in row]
    lam = 1
    for c, (a, w, v) in zip(tab.partial_constants, tab.sparse, strict=True):
        lam5 = pow(lam, 5, R)
        nxt = a * lam5 % R
        if nxt == 0:  # never for circomlib's tables; the scaling needs a != 0
            raise ValueError(f"width {t}: zero sparse-matrix corner")
        inv_nxt = pow(nxt, R - 2, R)
        values += [c * pow(lam, R - 2, R) % R]
        values += [x * inv_nxt % R for x in w]
        values += [x * lam5 % R for x in v]
        lam = nxt
    values.append(lam)
    values += [x for row in tab.post_matrix for x in row]
    values += [x for row in tab.last_constants for x in row]
    return Fr.from_ints(values)


@cache
def tables(t: int) -> np.ndarray:
    """The (N, 4) Montgomery constant table of width t (2..17), built on first use."""
    if not (MIN_WIDTH <= t <= MAX_WIDTH):
        raise PoseidonInputError(f"state width must be {MIN_WIDTH}..{MAX_WIDTH}, got {t}")
    arr = _table_array(t)
    arr.setflags(write=False)
    return arr


# ---------------------------------------------------------------------------------------------
# Permutation kernels
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _sbox(x):
    # x^5 = (x^2)^2 * x
    x2 = fr_sqr(x)
    return fr_mul(fr_sqr(x2), x)


@njit(cache=True)
def _partial_rounds_of(t, n_rows):
    # n_rows = t*t + 8t + (2t - 1)*R_P + 1 + (t-1)^2
    return (n_rows - t * t - 8 * t - 1 - (t - 1) * (t - 1)) // (2 * t - 1)


@njit(cache=True)
def _full_round(s, tmp, tab, t, coff):
    """s <- M * (s + c)^5 with c = tab[coff : coff + t], M = tab[0 : t*t]."""
    for i in range(t):
        store(tmp, i, _sbox(fr_add(load(s, i), load(tab, coff + i))))
    for i in range(t):
        acc = fr_mul(load(tab, i * t), load(tmp, 0))
        for j in range(1, t):
            acc = fr_add(acc, fr_mul(load(tab, i * t + j), load(tmp, j)))
        store(s, i, acc)


@njit(cache=True)
def _permute(s, tmp, tab):
    """The width-t permutation of the state rows s (t, 4) in place; tmp is (t, 4) scratch."""
    t = s.shape[0]
    rp = _partial_rounds_of(t, tab.shape[0])
    off = t * t
    for _ in range(4):
        _full_round(s, tmp, tab, t, off)
        off += t
    for _ in range(rp):
        # rows: c, w_1..w_{t-1}, v_1..v_{t-1} (scaled; s0 holds y0)
        x = _sbox(fr_add(load(s, 0), load(tab, off)))
        acc = x
        for j in range(1, t):
            acc = fr_add(acc, fr_mul(load(tab, off + j), load(s, j)))
            store(s, j, fr_add(load(s, j), fr_mul(load(tab, off + t - 1 + j), x)))
        store(s, 0, acc)
        off += 2 * t - 1
    store(s, 0, fr_mul(load(s, 0), load(tab, off)))  # s0 = lam * y0
    off += 1
    # post matrix on s[1:], s0 unchanged
    for i in range(1, t):
        store(tmp, i, load(s, i))
    for i in range(t - 1):
        acc = fr_mul(load(tab, off + i * (t - 1)), load(tmp, 1))
        for j in range(1, t - 1):
            acc = fr_add(acc, fr_mul(load(tab, off + i * (t - 1) + j), load(tmp, j + 1)))
        store(s, i + 1, acc)
    off += (t - 1) * (t - 1)
    for _ in range(4):
        _full_round(s, tmp, tab, t, off)
        off += t


@njit(cache=True, inline="always")
def _mix3(tab, a, b, c):
    """Dense MDS of width 3: (M a-b-c) with M at tab[0:9]."""
    n0 = fr_add(fr_add(fr_mul(load(tab, 0), a), fr_mul(load(tab, 1), b)), fr_mul(load(tab, 2), c))
    n1 = fr_add(fr_add(fr_mul(load(tab, 3), a), fr_mul(load(tab, 4), b)), fr_mul(load(tab, 5), c))
    n2 = fr_add(fr_add(fr_mul(load(tab, 6), a), fr_mul(load(tab, 7), b)), fr_mul(load(tab, 8), c))
    return n0, n1, n2


@njit(cache=True)
def _permute3(s0, s1, s2, tab):
    """Width-3 permutation with the state in registers; returns the new (s0, s1, s2)."""
    rp = _partial_rounds_of(3, tab.shape[0])
    off = 9
    for _ in range(4):
        s0, s1, s2 = _mix3(
            tab,
            _sbox(fr_add(s0, load(tab, off))),
            _sbox(fr_add(s1, load(tab, off + 1))),
            _sbox(fr_add(s2, load(tab, off + 2))),
        )
        off += 3
    for _ in range(rp):
        # rows: c, w1, w2, v1, v2 (scaled; s0 holds y0)
        x = _sbox(fr_add(s0, load(tab, off)))
        s0 = fr_add(fr_add(x, fr_mul(load(tab, off + 1), s1)), fr_mul(load(tab, off + 2), s2))
        s1 = fr_add(s1, fr_mul(load(tab, off + 3), x))
        s2 = fr_add(s2, fr_mul(load(tab, off + 4), x))
        off += 5
    s0 = fr_mul(s0, load(tab, off))  # s0 = lam * y0
    off += 1
    s1, s2 = (
        fr_add(fr_mul(load(tab, off), s1), fr_mul(load(tab, off + 1), s2)),
        fr_add(fr_mul(load(tab, off + 2), s1), fr_mul(load(tab, off + 3), s2)),
    )
    off += 4
    for _ in range(4):
        s0, s1, s2 = _mix3(
            tab,
            _sbox(fr_add(s0, load(tab, off))),
            _sbox(fr_add(s1, load(tab, off + 1))),
            _sbox(fr_add(s2, load(tab, off + 2))),
        )
        off += 3
    return s0, s1, s2


@njit(cache=True)
def _hash2_mont(a, b, tab3):
    """Poseidon(2) of two Montgomery elements (tab3: the width-3 table)."""
    h, _, _ = _permute3((U0, U0, U0, U0), a, b, tab3)
    return h


@njit(cache=True)
def _hash_row(x, i, out, tab, s, tmp):
    """out[i] = Poseidon(x[i, :]) for x (m, k, 4) Montgomery; s, tmp are (k+1, 4) scratch."""
    k = x.shape[1]
    if k == 2:
        store(out, i, _hash2_mont((x[i, 0, 0], x[i, 0, 1], x[i, 0, 2], x[i, 0, 3]),
                                  (x[i, 1, 0], x[i, 1, 1], x[i, 1, 2], x[i, 1, 3]), tab))
        return
    for c in range(4):
        s[0, c] = U0
    for j in range(k):
        for c in range(4):
            s[j + 1, c] = x[i, j, c]
    _permute(s, tmp, tab)
    store(out, i, load(s, 0))


@njit(cache=True)
def _hash_rows_serial(x, out, tab):
    t = x.shape[1] + 1
    s = np.empty((t, 4), dtype=np.uint64)
    tmp = np.empty((t, 4), dtype=np.uint64)
    for i in range(x.shape[0]):
        _hash_row(x, i, out, tab, s, tmp)


@njit(cache=True, parallel=True)
def _hash_rows_parallel(x, out, tab, chunk):
    m = x.shape[0]
    t = x.shape[1] + 1
    for c in prange((m + chunk - 1) // chunk):
        # one scratch state per chunk of rows, not per row (allocation is a lock + a call)
        s = np.empty((t, 4), dtype=np.uint64)
        tmp = np.empty((t, 4), dtype=np.uint64)
        for i in range(c * chunk, min(m, (c + 1) * chunk)):
            _hash_row(x, i, out, tab, s, tmp)


@njit(cache=True, inline="always")
def _flat(limbs, j):
    """Element j of a flat (4k,) limb array."""
    return (limbs[4 * j], limbs[4 * j + 1], limbs[4 * j + 2], limbs[4 * j + 3])


@njit(cache=True)
def _hash_plain(limbs, tab):
    """Poseidon of k plain (non-Montgomery, canonical) elements, flat (4k,) limbs -> plain limbs.

    One call for the single-hash path: enter Montgomery form, permute, leave it.
    """
    k = limbs.shape[0] // 4
    if k == 2:
        a = fr_mul(_flat(limbs, 0), _R2)
        b = fr_mul(_flat(limbs, 1), _R2)
        return fr_mul(_hash2_mont(a, b, tab), _ONE_PLAIN)
    s = np.empty((k + 1, 4), dtype=np.uint64)
    tmp = np.empty((k + 1, 4), dtype=np.uint64)
    store(s, 0, (U0, U0, U0, U0))
    for j in range(k):
        store(s, j + 1, fr_mul(_flat(limbs, j), _R2))
    _permute(s, tmp, tab)
    return fr_mul(load(s, 0), _ONE_PLAIN)


# ---------------------------------------------------------------------------------------------
# Merkle paths (binary tree, node = Poseidon(left, right))
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _path_nodes(leaves, siblings, bits, out, i, tab3):
    """out[i, 0] = leaf, out[i, d+1] = hash of level d's pair (bits[i, d] = 1: node is right)."""
    cur = load(leaves, i)
    out[i, 0, 0], out[i, 0, 1], out[i, 0, 2], out[i, 0, 3] = cur
    for d in range(siblings.shape[1]):
        sib = (siblings[i, d, 0], siblings[i, d, 1], siblings[i, d, 2], siblings[i, d, 3])
        if bits[i, d]:
            cur = _hash2_mont(sib, cur, tab3)
        else:
            cur = _hash2_mont(cur, sib, tab3)
        out[i, d + 1, 0], out[i, d + 1, 1], out[i, d + 1, 2], out[i, d + 1, 3] = cur


@njit(cache=True)
def _paths_serial(leaves, siblings, bits, out, tab3):
    for i in range(leaves.shape[0]):
        _path_nodes(leaves, siblings, bits, out, i, tab3)


@njit(cache=True, parallel=True)
def _paths_parallel(leaves, siblings, bits, out, tab3):
    for i in prange(leaves.shape[0]):
        _path_nodes(leaves, siblings, bits, out, i, tab3)


@njit(cache=True)
def _root_plain(limbs, bits, tab3):
    """Root of one path from flat plain limbs [leaf, sibling_0 .. sibling_{d-1}] -> plain limbs."""
    cur = fr_mul(_flat(limbs, 0), _R2)
    for d in range(bits.shape[0]):
        sib = fr_mul(_flat(limbs, d + 1), _R2)
        if bits[d]:
            cur = _hash2_mont(sib, cur, tab3)
        else:
            cur = _hash2_mont(cur, sib, tab3)
    return fr_mul(cur, _ONE_PLAIN)


@njit(cache=True)
def _default_nodes(leaf, depth, tab3):
    out = np.empty((depth + 1, 4), dtype=np.uint64)
    cur = (leaf[0], leaf[1], leaf[2], leaf[3])
    store(out, 0, cur)
    for d in range(depth):
        cur = _hash2_mont(cur, cur, tab3)
        store(out, d + 1, cur)
    return out


# ---------------------------------------------------------------------------------------------
# Python API
# ---------------------------------------------------------------------------------------------


def _check_ints(values: Sequence[int]) -> None:
    """PoseidonInputError / TypeError exactly as ``poseidon_python`` raises them."""
    for x in values:
        # `type(x) is int` first: the common case skips the two isinstance calls
        if type(x) is not int and (isinstance(x, bool) or not isinstance(x, int)):
            raise TypeError(f"field elements must be int, got {type(x).__name__}")
        if not (0 <= x < R):
            raise PoseidonInputError("poseidon input out of range [0, r)")


def _canonical_limbs(values: Sequence[int]) -> np.ndarray:
    """Plain limbs (n, 4) of ints in [0, r)."""
    _check_ints(values)
    return ints_to_limbs(values)


def _flat_limbs(values: Sequence[int]) -> np.ndarray:
    """Plain limbs of ints in [0, r) as one flat read-only (4n,) array: the cheapest conversion
    for a single call (one bytes object, no copy)."""
    _check_ints(values)
    return np.frombuffer(b"".join([x.to_bytes(32, "little") for x in values]), dtype="<u8")


def _to_montgomery(values: np.ndarray | Sequence, what: str, mont_ndim: int) -> np.ndarray:
    """Montgomery rows (..., 4) from ints (any shape) or from Montgomery limbs.

    A uint64 array with mont_ndim axes, the last of 4, is taken as Montgomery limbs; any other
    integer array as values (converted without a trip through Python ints).
    """
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.dtype == np.uint64 and arr.ndim == mont_ndim and arr.shape[-1] == 4:
        # Montgomery input: each row must still be a canonical residue.
        rows = np.ascontiguousarray(arr).reshape(-1, 4)
        try:
            Fr.check_canonical(rows)
        except NonCanonicalError as exc:
            raise PoseidonInputError(f"{what}: {exc}") from None
        return np.ascontiguousarray(arr)
    if arr.dtype.kind in "iu":
        flat = arr.reshape(-1)
        if arr.dtype.kind == "i" and (flat < 0).any():
            raise PoseidonInputError(f"{what}: poseidon input out of range [0, r)")
        plain = np.zeros((flat.size, 4), dtype=np.uint64)
        plain[:, 0] = flat.astype(np.uint64)
        return Fr.to_montgomery(plain, check=False).reshape(*arr.shape, 4)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "O":
        raise TypeError(f"{what}: field elements must be int, got dtype {arr.dtype}")
    plain = _canonical_limbs(arr.reshape(-1).tolist())
    return Fr.to_montgomery(plain, check=False).reshape(*arr.shape, 4)


def poseidon_many(inputs: np.ndarray | Sequence[Sequence[int]], *,
                  parallel: bool | None = None) -> np.ndarray:
    """Poseidon of each row: inputs (m, k) ints, or (m, k, 4) uint64 Fr Montgomery limbs.

    Returns the m hashes as an (m, 4) uint64 Montgomery array (``Fr.to_ints`` gives ints).
    k = 1..16. ``parallel`` (default: m >= PARALLEL_THRESHOLD) spreads rows over Numba's threads.
    """
    x = _to_montgomery(inputs, "poseidon_many", 3)
    if x.ndim != 3:
        raise ValueError(f"poseidon_many takes an (m, k) or (m, k, 4) array, got shape {x.shape}")
    m, k = x.shape[0], x.shape[1]
    if not (1 <= k <= MAX_WIDTH - 1):
        raise PoseidonInputError(f"poseidon takes 1..{MAX_WIDTH - 1} inputs, got {k}")
    out = np.empty((m, 4), dtype=np.uint64)
    if m == 0:
        return out
    tab = tables(k + 1)
    if parallel is None:
        parallel = m >= PARALLEL_THRESHOLD
    if parallel:
        _hash_rows_parallel(x, out, tab, 64)
    else:
        _hash_rows_serial(x, out, tab)
    return out


def poseidon_ints(rows: Sequence[Sequence[int]]) -> list[int]:
    """Poseidon of each row of ints (all rows the same length 1..16), as ints."""
    rows = [list(r) for r in rows]
    if not rows:
        return []
    if len({len(r) for r in rows}) != 1:
        raise PoseidonInputError("poseidon_ints: all rows must have the same number of inputs")
    arr = np.empty((len(rows), len(rows[0])), dtype=object)
    arr[:] = rows
    return Fr.to_ints(poseidon_many(arr))


def _limbs_int(v) -> int:
    return int(v[0]) | int(v[1]) << 64 | int(v[2]) << 128 | int(v[3]) << 192


def poseidon_fast(inputs: Sequence[int]) -> int:
    """One hash, same contract as ``circuits.poseidon.poseidon`` (checks, errors, result)."""
    n = len(inputs)
    if not (1 <= n <= MAX_WIDTH - 1):
        raise PoseidonInputError(f"poseidon takes 1..{MAX_WIDTH - 1} inputs, got {n}")
    return _limbs_int(_hash_plain(_flat_limbs(inputs), tables(n + 1)))


def hash2(left: int, right: int) -> int:
    """Poseidon([left, right]): one Merkle node."""
    return poseidon_fast([left, right])


def _index_bits(index_bits: int | Sequence[int], depth: int) -> np.ndarray:
    if isinstance(index_bits, int | np.integer) and not isinstance(index_bits, bool):
        index = int(index_bits)
        if not (0 <= index < 1 << depth):
            raise ValueError(f"leaf index {index} does not fit a tree of depth {depth}")
        return np.array([(index >> d) & 1 for d in range(depth)], dtype=np.uint8)
    bits = np.asarray(index_bits, dtype=np.int64).reshape(-1)
    if bits.size != depth or ((bits != 0) & (bits != 1)).any():
        raise ValueError(f"index_bits must be {depth} values in {{0, 1}}")
    return bits.astype(np.uint8)


def merkle_root_from_path(leaf: int, siblings: Sequence[int],
                          index_bits: int | Sequence[int]) -> int:
    """Root of a binary Poseidon Merkle tree from a leaf and its authentication path.

    siblings[d] is the sibling at level d (level 0: the leaf's sibling); index_bits is the leaf
    index (bit d = 1: the level-d node is a right child) or its bits, least significant first.
    node = Poseidon([left, right]).
    """
    sib = list(siblings)
    bits = _index_bits(index_bits, len(sib))
    return _limbs_int(_root_plain(_flat_limbs([leaf, *sib]), bits, tables(3)))


def _paths_args(leaves, siblings, index_bits):
    lv = _to_montgomery(leaves, "leaves", 2).reshape(-1, 4)
    sb = _to_montgomery(siblings, "siblings", 3)
    m = lv.shape[0]
    sb = sb.reshape(m, -1, 4)
    depth = sb.shape[1]
    ib = np.asarray(index_bits)
    if ib.ndim <= 1:
        # one leaf index per path (1-D); bits come as (m, depth)
        idx = [int(i) for i in ib.reshape(-1)]
        if len(idx) != m:
            raise ValueError(f"{len(idx)} leaf indices for {m} paths")
        bits = np.zeros((m, depth), np.uint8)
        for i, index in enumerate(idx):
            bits[i] = _index_bits(index, depth)
    else:
        ib = ib.reshape(m, depth)
        if ((ib != 0) & (ib != 1)).any():
            raise ValueError("index_bits must be 0 or 1")
        bits = ib.astype(np.uint8)
    return lv, np.ascontiguousarray(sb), np.ascontiguousarray(bits)


def merkle_update_paths(leaves, siblings, index_bits, *, parallel: bool | None = None
                        ) -> np.ndarray:
    """All node values on m paths after their leaves are set: (m, depth + 1, 4) Montgomery.

    leaves: m ints or (m, 4) Montgomery; siblings: (m, depth) ints or (m, depth, 4) Montgomery;
    index_bits: m leaf indices, or (m, depth) bits (least significant first). out[i, 0] is the
    leaf, out[i, d] the level-d node on the path, out[i, depth] the root: what a tree store
    writes back after a leaf changes. Paths are independent (each uses its own siblings).
    """
    lv, sb, bits = _paths_args(leaves, siblings, index_bits)
    m, depth = sb.shape[0], sb.shape[1]
    out = np.empty((m, depth + 1, 4), dtype=np.uint64)
    if parallel is None:
        parallel = m * depth >= PARALLEL_THRESHOLD
    (_paths_parallel if parallel and m > 1 else _paths_serial)(lv, sb, bits, out, tables(3))
    return out


def merkle_roots(leaves, siblings, index_bits, *, parallel: bool | None = None) -> np.ndarray:
    """Roots (m, 4) Montgomery of m paths; arguments as ``merkle_update_paths``."""
    return merkle_update_paths(leaves, siblings, index_bits, parallel=parallel)[:, -1]


def merkle_default_nodes(depth: int, empty_leaf: int = 0) -> list[int]:
    """Roots of empty subtrees of heights 0..depth in a sparse tree whose empty leaf is given."""
    leaf = Fr.to_montgomery(_canonical_limbs([empty_leaf]), check=False)[0]
    return limbs_to_ints(Fr.from_montgomery(_default_nodes(leaf, depth, tables(3))))
