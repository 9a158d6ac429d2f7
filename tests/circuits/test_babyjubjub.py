"""Baby Jubjub against the shared vectors, circomlibjs and the group laws."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import babyjubjub as bj
from tests.support.circomlibjs import ROOT, call, requires_node

VECTORS = json.loads((ROOT / "tests" / "vectors" / "babyjubjub.json").read_text())
R = bj.P
scalars = st.integers(min_value=0, max_value=bj.ORDER - 1)


def _point(pair):
    return (int(pair[0]), int(pair[1]))


def _montgomery_bytes(value: int) -> list[int]:
    # circomlibjs keeps field elements in Montgomery form (value * 2^256 mod r), 32 bytes LE.
    return list((value * 2**256 % R).to_bytes(32, "little"))


def test_constants_match_vectors():
    assert bj.BASE8 == _point(VECTORS["base8"])
    assert bj.GENERATOR == _point(VECTORS["generator"])
    assert bj.SUBGROUP_ORDER == int(VECTORS["subgroup_order"])
    assert [int(b) for b in VECTORS["a"].split(",")] == _montgomery_bytes(bj.A)
    assert [int(b) for b in VECTORS["d"].split(",")] == _montgomery_bytes(bj.D)


def test_mul_vectors():
    for case in VECTORS["mul"]:
        scalar, expected = int(case["scalar"]), _point(case["base8_times_scalar"])
        assert bj.mul(bj.BASE8, scalar) == expected
        assert bj.mul_base8(scalar) == expected


def test_curve_structure():
    # Completeness of the addition law needs a square and d non-square (Bernstein-Lange, Thm 3.3).
    assert pow(bj.A, (R - 1) // 2, R) == 1
    assert pow(bj.D, (R - 1) // 2, R) == R - 1
    assert bj.in_curve(bj.GENERATOR) and bj.in_curve(bj.BASE8)
    assert bj.mul(bj.GENERATOR, 8) == bj.BASE8
    assert bj.mul(bj.BASE8, bj.SUBGROUP_ORDER) == bj.IDENTITY
    assert bj.mul(bj.GENERATOR, bj.ORDER) == bj.IDENTITY
    assert bj.mul(bj.GENERATOR, bj.SUBGROUP_ORDER) != bj.IDENTITY
    assert bj.in_subgroup(bj.BASE8) and bj.in_subgroup(bj.IDENTITY)
    assert not bj.in_subgroup(bj.GENERATOR)


def test_small_order_points():
    two_torsion = (0, R - 1)
    assert bj.in_curve(two_torsion)
    assert bj.double(two_torsion) == bj.IDENTITY
    four_torsion = bj.mul(bj.GENERATOR, 2 * bj.SUBGROUP_ORDER)
    assert bj.mul(four_torsion, 4) == bj.IDENTITY and bj.double(four_torsion) == two_torsion
    assert not bj.in_subgroup(two_torsion)


@settings(max_examples=15, deadline=None)
@given(scalars, scalars)
def test_scalar_mul_is_a_homomorphism(a, b):
    g = bj.GENERATOR
    assert bj.add(bj.mul(g, a), bj.mul(g, b)) == bj.mul(g, a + b)
    assert bj.mul_base8(a) == bj.mul(bj.BASE8, a)


@settings(max_examples=15, deadline=None)
@given(scalars)
def test_add_identity_negation_double(a):
    q = bj.mul(bj.GENERATOR, a)
    assert bj.in_curve(q)
    assert bj.add(q, bj.IDENTITY) == q
    assert bj.add(q, bj.neg(q)) == bj.IDENTITY
    assert bj.double(q) == bj.mul(q, 2) == bj.mul(bj.GENERATOR, 2 * a)
    assert bj.mul(q, -3) == bj.neg(bj.mul(q, 3))
    assert bj.mul(q, 0) == bj.IDENTITY


def test_in_curve_rejects():
    x, y = bj.BASE8
    assert not bj.in_curve((x, y + 1))
    assert not bj.in_curve((x + R, y))  # non-canonical coordinate
    assert not bj.in_curve((-x % R + R, y))
    assert not bj.in_curve((1, 1))
    assert not bj.in_subgroup((x, (y + 1) % R))


@settings(max_examples=15, deadline=None)
@given(scalars)
def test_pack_unpack_roundtrip(a):
    q = bj.mul(bj.GENERATOR, a)
    packed = bj.pack_point(q)
    assert len(packed) == 32
    assert bool(packed[31] & 0x80) == (q[0] > (R - 1) // 2)
    if q[0] == 0:
        assert bj.unpack_point(packed) is None  # as circomlibjs: x = 0 never unpacks
    else:
        assert bj.unpack_point(packed) == q
        assert bj.unpack_point(packed, strict=True) == q


def test_unpack_edge_cases():
    assert bj.unpack_point(bj.pack_point(bj.IDENTITY)) is None
    assert bj.unpack_point(bj.pack_point((0, R - 1))) is None
    # y + r still fits in 255 bits; circomlibjs reduces it mod r, strict mode refuses it.
    x, y = bj.BASE8
    packed = bj.pack_point(bj.BASE8)
    alias = bytearray((y + R).to_bytes(32, "little"))
    alias[31] |= packed[31] & 0x80
    assert bj.unpack_point(bytes(alias)) == bj.BASE8
    assert bj.unpack_point(bytes(alias), strict=True) is None
    with pytest.raises(ValueError):
        bj.unpack_point(packed[:31])
    with pytest.raises(ValueError):
        bj.pack_point((R, 1))


@pytest.mark.node
@requires_node
def test_against_circomlibjs():
    rng = random.Random(4242)
    g = bj.GENERATOR
    points = [bj.mul(g, rng.randrange(bj.ORDER)) for _ in range(6)]
    points += [bj.IDENTITY, (0, R - 1), bj.mul(g, 2 * bj.SUBGROUP_ORDER), bj.BASE8]
    off_curve = [(rng.randrange(R), rng.randrange(R)) for _ in range(3)]
    raw = [rng.randbytes(32) for _ in range(30)] + [bj.pack_point(p) for p in points]
    raw += [(bj.BASE8[1] + R).to_bytes(32, "little"), (1).to_bytes(32, "little")]
    mults = [(p, rng.choice([rng.randrange(2**260), rng.randrange(20), bj.SUBGROUP_ORDER]))
             for p in points]
    pairs = [(p, q) for p in points[:4] for q in points]
    requests = (
        [{"op": "mul", "p": [str(c) for c in p], "e": str(e)} for p, e in mults]
        + [{"op": "add", "p": [str(c) for c in p], "q": [str(c) for c in q]} for p, q in pairs]
        + [{"op": "in_curve", "p": [str(c) for c in p]} for p in points + off_curve]
        + [{"op": "in_subgroup", "p": [str(c) for c in p]} for p in points + off_curve]
        + [{"op": "pack", "p": [str(c) for c in p]} for p in points]
        + [{"op": "unpack", "hex": b.hex()} for b in raw]
    )
    answers = iter(call(requests))
    for p, e in mults:
        assert bj.mul(p, e) == _point(next(answers))
    for p, q in pairs:
        assert bj.add(p, q) == _point(next(answers))
    for p in points + off_curve:
        assert bj.in_curve(p) is next(answers)
    for p in points + off_curve:
        assert bj.in_subgroup(p) is next(answers)
    for p in points:
        assert bj.pack_point(p).hex() == next(answers)
    for b in raw:
        ref = next(answers)
        assert bj.unpack_point(b) == (None if ref is None else _point(ref)), b.hex()
