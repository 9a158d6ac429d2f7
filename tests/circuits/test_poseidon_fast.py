"""Numba Poseidon and Merkle path hashing against pure-Python Poseidon and the shared vectors."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.poseidon import PoseidonInputError, poseidon, poseidon_python
from circuits.poseidon_constants import R
from circuits.poseidon_fast import (
    hash2,
    merkle_default_nodes,
    merkle_root_from_path,
    merkle_roots,
    merkle_update_paths,
    poseidon_fast,
    poseidon_ints,
    poseidon_many,
    tables,
)
from prover.fields import Fr
from tests.support.circomlibjs import ROOT

VECTORS = ROOT / "tests" / "vectors" / "poseidon.json"
field = st.integers(min_value=0, max_value=R - 1)


def _cases():
    return json.loads(VECTORS.read_text())["cases"]


def test_shared_vectors_every_width():
    by_k: dict[int, list] = {}
    for case in _cases():
        by_k.setdefault(len(case["inputs"]), []).append(case)
    assert set(by_k) == set(range(1, 17))
    for k, cases in by_k.items():
        rows = [[int(x) for x in c["inputs"]] for c in cases]
        expected = [int(c["output"]) for c in cases]
        assert poseidon_ints(rows) == expected, k
        assert [poseidon_fast(r) for r in rows] == expected, k
        for parallel in (False, True):
            got = poseidon_many(Fr.from_ints([x for r in rows for x in r]).reshape(-1, k, 4),
                                parallel=parallel)
            assert Fr.to_ints(got) == expected, (k, parallel)


def test_routed_through_fast_path():
    assert poseidon([1, 2]) == poseidon_python([1, 2]) == poseidon_fast([1, 2])


@pytest.mark.parametrize("k", range(1, 17))
def test_random_and_edge_rows_equal_pure_python(k):
    rng = random.Random(1000 + k)
    rows = [[rng.randrange(R) for _ in range(k)] for _ in range(3)]
    rows += [[0] * k, [R - 1] * k, [rng.choice([0, 1, R - 1]) for _ in range(k)]]
    expected = [poseidon_python(r) for r in rows]
    assert poseidon_ints(rows) == expected
    assert [poseidon_fast(r) for r in rows] == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(field, min_size=1, max_size=16))
def test_single_hash_equals_pure_python(inputs):
    assert poseidon_fast(inputs) == poseidon_python(inputs)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 6).flatmap(
    lambda k: st.lists(st.lists(field, min_size=k, max_size=k), min_size=1, max_size=6)))
def test_batch_equals_pure_python(rows):
    assert poseidon_ints(rows) == [poseidon_python(r) for r in rows]


def test_large_batch_parallel_equals_serial():
    rng = np.random.default_rng(7)
    x = Fr.from_ints([int(v) for v in rng.integers(0, 2**63, size=600 * 2)]).reshape(600, 2, 4)
    a = poseidon_many(x, parallel=True)
    b = poseidon_many(x, parallel=False)
    assert (a == b).all()
    assert Fr.to_int(a[599]) == poseidon_python(Fr.to_ints(x[599]))


def test_integer_dtype_and_object_inputs_agree():
    x = np.arange(1, 31, dtype=np.int64).reshape(10, 3)
    obj = x.astype(object)
    assert (poseidon_many(x) == poseidon_many(obj)).all()
    assert (poseidon_many(x.astype(np.uint64)) == poseidon_many(obj)).all()
    assert Fr.to_ints(poseidon_many(x))[0] == poseidon_python([1, 2, 3])
    assert poseidon_many(np.zeros((0, 2), dtype=np.int64)).shape == (0, 4)
    # 2-D uint64 with 4 columns: four values per row, not Montgomery limbs
    four = np.arange(1, 9, dtype=np.uint64).reshape(2, 4)
    assert Fr.to_ints(poseidon_many(four)) == [poseidon_python([1, 2, 3, 4]),
                                               poseidon_python([5, 6, 7, 8])]


@pytest.mark.parametrize("bad", [R, R + 1, 2**256, -1])
def test_rejects_non_canonical_like_pure_python(bad):
    with pytest.raises(PoseidonInputError):
        poseidon_python([1, bad])
    with pytest.raises(PoseidonInputError):
        poseidon_fast([1, bad])
    with pytest.raises(PoseidonInputError):
        poseidon_ints([[1, 2], [1, bad]])
    with pytest.raises(PoseidonInputError):
        merkle_root_from_path(bad, [1, 2], 0)
    with pytest.raises(PoseidonInputError):
        merkle_root_from_path(1, [1, bad], 0)


def test_rejects_negative_integer_array_and_non_canonical_montgomery():
    with pytest.raises(PoseidonInputError):
        poseidon_many(np.array([[1, -2]], dtype=np.int64))
    limbs = np.zeros((1, 2, 4), dtype=np.uint64)
    limbs[0, 1] = np.array(Fr.params.p, dtype=np.uint64)  # r itself, not a residue
    with pytest.raises(PoseidonInputError):
        poseidon_many(limbs)


@pytest.mark.parametrize("bad", [1.0, "1", None, True])
def test_rejects_wrong_types(bad):
    with pytest.raises(TypeError):
        poseidon_fast([bad])
    with pytest.raises(TypeError):
        poseidon_ints([[bad]])
    with pytest.raises(TypeError):
        poseidon_many(np.array([[1.0, 2.0]]))


@pytest.mark.parametrize("n", [0, 17])
def test_rejects_bad_arity(n):
    with pytest.raises(PoseidonInputError):
        poseidon_fast([1] * n)
    with pytest.raises(PoseidonInputError):
        poseidon_many(np.ones((2, n), dtype=np.int64))
    with pytest.raises(PoseidonInputError):
        tables(n + 1)


# -- Merkle paths ---------------------------------------------------------------------------


def _path_nodes_python(leaf: int, siblings: list[int], index: int) -> list[int]:
    nodes = [leaf]
    for d, sib in enumerate(siblings):
        pair = [sib, nodes[-1]] if (index >> d) & 1 else [nodes[-1], sib]
        nodes.append(poseidon_python(pair))
    return nodes


def test_merkle_root_from_path_equals_python():
    rng = random.Random(3)
    for depth in (0, 1, 5, 32):
        leaf = rng.randrange(R)
        sib = [rng.randrange(R) for _ in range(depth)]
        index = rng.randrange(1 << depth)
        expected = _path_nodes_python(leaf, sib, index)[-1]
        assert merkle_root_from_path(leaf, sib, index) == expected
        bits = [(index >> d) & 1 for d in range(depth)]
        assert merkle_root_from_path(leaf, sib, bits) == expected


def test_merkle_update_paths_equals_python():
    rng = random.Random(4)
    m, depth = 5, 8
    leaves = [rng.randrange(R) for _ in range(m)]
    sibs = [[rng.choice([0, R - 1, rng.randrange(R)]) for _ in range(depth)] for _ in range(m)]
    idx = [rng.randrange(1 << depth) for _ in range(m)]
    expected = [_path_nodes_python(a, s, i) for a, s, i in zip(leaves, sibs, idx, strict=True)]
    sib_arr = np.empty((m, depth), dtype=object)
    sib_arr[:] = sibs
    leaf_arr = np.array(leaves, dtype=object)
    for parallel in (False, True):
        nodes = merkle_update_paths(leaf_arr, sib_arr, idx, parallel=parallel)
        assert nodes.shape == (m, depth + 1, 4)
        assert [Fr.to_ints(n) for n in nodes] == expected
    bits = np.array([[(i >> d) & 1 for d in range(depth)] for i in idx])
    mont = merkle_roots(Fr.from_ints(leaves), Fr.from_ints([x for s in sibs for x in s])
                        .reshape(m, depth, 4), bits)
    assert Fr.to_ints(mont) == [e[-1] for e in expected]


def test_merkle_default_nodes_and_hash2():
    nodes = merkle_default_nodes(4)
    assert nodes[0] == 0
    for d in range(4):
        assert nodes[d + 1] == poseidon_python([nodes[d], nodes[d]]) == hash2(nodes[d], nodes[d])
    # an empty tree's root from an empty leaf's path
    assert merkle_root_from_path(0, nodes[:4], 9) == nodes[4]


def test_merkle_rejects_bad_index():
    with pytest.raises(ValueError):
        merkle_root_from_path(1, [2, 3], 4)
    with pytest.raises(ValueError):
        merkle_root_from_path(1, [2, 3], [0, 2])
    with pytest.raises(ValueError):
        merkle_update_paths([1, 2], [[3], [4]], [0])
