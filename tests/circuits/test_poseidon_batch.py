"""The batch Poseidon kernels (lazy reduction, wide dot products) against circuits.poseidon."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.poseidon import PoseidonInputError, poseidon, poseidon_python
from circuits.poseidon_batch import (
    BINARY,
    hash_ints,
    hash_limbs,
    hash_node_refs,
    ints_to_plain,
    plain_to_ints,
)
from circuits.poseidon_constants import R
from tests.support.circomlibjs import ROOT

field = st.integers(min_value=0, max_value=R - 1)
# values near the ends of the range and near powers of two stress the lazy bounds and carries
edge = st.sampled_from([0, 1, 2, R - 1, R - 2, (R - 1) // 2, 2**64 - 1, 2**64, 2**128 - 1,
                        2**192, 2**253, R - 2**64])


def test_shared_vectors_every_width():
    cases = json.loads((ROOT / "tests" / "vectors" / "poseidon.json").read_text())["cases"]
    by_k: dict[int, list] = {}
    for case in cases:
        by_k.setdefault(len(case["inputs"]), []).append(case)
    assert set(by_k) == set(range(1, 17))
    for k, group in by_k.items():
        rows = [[int(x) for x in c["inputs"]] for c in group]
        assert hash_ints(rows) == [int(c["output"]) for c in group], k


@pytest.mark.parametrize("k", range(1, 17))
def test_random_and_edge_rows(k):
    rng = random.Random(k)
    pool = [0, 1, R - 1, R - 2, 2**64 - 1, 2**253]
    rows = [[rng.randrange(R) for _ in range(k)] for _ in range(4)]
    rows += [[0] * k, [R - 1] * k, [rng.choice(pool) for _ in range(k)]]
    assert hash_ints(rows) == [poseidon_python(r) for r in rows]


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([1, 2, 3, 4, 6, 8, 11]).flatmap(
    lambda k: st.lists(st.lists(field | edge, min_size=k, max_size=k), min_size=1, max_size=8)))
def test_batch_equals_poseidon(rows):
    assert hash_ints(rows) == [poseidon(r) for r in rows]


def test_limbs_round_trip_and_shape():
    vals = [0, 1, R - 1, 2**200 + 5]
    assert plain_to_ints(ints_to_plain(vals)) == vals
    x = ints_to_plain([1, 2, 3, 4]).reshape(2, 2, 4)
    assert plain_to_ints(hash_limbs(x)) == [poseidon([1, 2]), poseidon([3, 4])]
    assert hash_limbs(np.zeros((0, 2, 4), dtype=np.uint64)).shape == (0, 4)
    assert hash_ints([]) == []


@pytest.mark.parametrize("bad", [R, R + 1, 2**256 - 1, 2**256, -1])
def test_rejects_out_of_range(bad):
    with pytest.raises(PoseidonInputError):
        hash_ints([[1, 2], [1, bad]])


@pytest.mark.parametrize("bad", [1.0, "1", None, True])
def test_rejects_wrong_types(bad):
    with pytest.raises(TypeError):
        hash_ints([[1, bad]])


def test_rejects_bad_arity_and_ragged_rows():
    with pytest.raises(PoseidonInputError):
        hash_ints([[1] * 17])
    with pytest.raises(PoseidonInputError):
        hash_ints([[1, 2], [3]])
    with pytest.raises(ValueError):
        hash_limbs(np.zeros((2, 4), dtype=np.uint64))


def test_node_refs_chain_a_quaternary_path():
    # a depth-5 path: two 4-ary levels then a binary top, mixed with an unrelated row
    leaf, s = 5, [7, 8, 9, 10, 11, R - 1, 12]
    n1 = poseidon([s[1], s[2], s[0], leaf])  # position 3
    n2 = poseidon([n1, s[3], s[4], s[5]])  # position 0
    n3 = poseidon([s[6], n2])  # right child at the top
    static = [leaf, *s]
    b = BINARY
    rows = [[2, 3, 1, 0], [0, 1, 2, 3], [-1, 4, 5, 6], [7, -3, b, b]]
    assert hash_node_refs(static, rows) == [n1, poseidon([5, 7, 8, 9]), n2, n3]
    assert hash_node_refs([], []) == []


@pytest.mark.parametrize("rows", [[[0, 1, 2, 4]], [[0, -1, 1, 2]], [[0, 1, BINARY, 0]],
                                  [[0, 1, 2]], [[0, BINARY, BINARY, BINARY]]])
def test_node_refs_reject_bad_references(rows):
    with pytest.raises(ValueError):
        hash_node_refs([1, 2, 3, 4], rows)


def test_node_refs_reject_out_of_range_static():
    with pytest.raises(PoseidonInputError):
        hash_node_refs([1, R, 3, 4], [[0, 1, 2, 3]])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(field, st.sampled_from([0, 1, R - 1, R - 2])), min_size=4,
                max_size=4))
def test_node_refs_equal_poseidon4(xs):
    assert hash_node_refs(xs, [[0, 1, 2, 3], [3, 2, 1, 0]]) == [poseidon(xs),
                                                                  poseidon(xs[::-1])]
