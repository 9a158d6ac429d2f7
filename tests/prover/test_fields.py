"""Fq, Fr, Fq2 kernels against Python integers and py_ecc."""

import random

import numpy as np
import py_ecc.optimized_bn128 as ob
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prover.constants import Q, R
from prover.errors import NonCanonicalError
from prover.fields import Fq, Fq2, Fr, ints_to_limbs, limbs_to_ints

FIELDS = [pytest.param(Fq, id="Fq"), pytest.param(Fr, id="Fr")]
EDGE = [0, 1, 2, R - 1, R, R + 1, Q - 1, Q - 2, (1 << 253) + 7, (1 << 128) - 1, 1 << 64]


def edge_values(p):
    return [v % p for v in EDGE]


def elems(p, n=8):
    return st.lists(st.integers(min_value=0, max_value=p - 1), min_size=1, max_size=n)


@pytest.mark.parametrize("F", FIELDS)
def test_montgomery_layout(F):
    xs = edge_values(F.modulus)
    a = F.from_ints(xs)
    assert a.shape == (len(xs), 4) and a.dtype == np.uint64
    # stored value is x * 2^256 mod p, little-endian limbs
    assert limbs_to_ints(a) == [x * (1 << 256) % F.modulus for x in xs]
    assert F.to_ints(a) == xs


@pytest.mark.parametrize("F", FIELDS)
def test_edge_arithmetic(F):
    p = F.modulus
    xs = edge_values(p)
    pairs = [(x, y) for x in xs for y in xs]
    a = F.from_ints([x for x, _ in pairs])
    b = F.from_ints([y for _, y in pairs])
    assert F.to_ints(F.mul(a, b)) == [x * y % p for x, y in pairs]
    assert F.to_ints(F.add(a, b)) == [(x + y) % p for x, y in pairs]
    assert F.to_ints(F.sub(a, b)) == [(x - y) % p for x, y in pairs]
    assert F.to_ints(F.neg(a)) == [(-x) % p for x, _ in pairs]
    assert F.to_ints(F.sqr(a)) == [x * x % p for x, _ in pairs]


@pytest.mark.parametrize("F", FIELDS)
def test_random_arithmetic(F):
    p = F.modulus
    rng = random.Random(1)
    xs = [rng.randrange(p) for _ in range(500)]
    ys = [rng.randrange(p) for _ in range(500)]
    a, b = F.from_ints(xs), F.from_ints(ys)
    assert F.to_ints(F.mul(a, b)) == [x * y % p for x, y in zip(xs, ys, strict=True)]
    assert F.to_ints(F.sub(a, b)) == [(x - y) % p for x, y in zip(xs, ys, strict=True)]


@given(data=st.data())
@pytest.mark.parametrize("F", FIELDS)
def test_property_ring_ops(F, data):
    p = F.modulus
    xs = data.draw(elems(p))
    ys = data.draw(st.lists(st.integers(0, p - 1), min_size=len(xs), max_size=len(xs)))
    a, b = F.from_ints(xs), F.from_ints(ys)
    assert F.to_ints(F.mul(a, b)) == [x * y % p for x, y in zip(xs, ys, strict=True)]
    assert F.to_ints(F.add(a, b)) == [(x + y) % p for x, y in zip(xs, ys, strict=True)]
    assert F.to_ints(F.sub(a, b)) == [(x - y) % p for x, y in zip(xs, ys, strict=True)]
    assert F.to_ints(F.neg(a)) == [(-x) % p for x in xs]


@given(data=st.data())
@pytest.mark.parametrize("F", FIELDS)
def test_property_inverse_and_pow(F, data):
    p = F.modulus
    xs = data.draw(st.lists(st.integers(1, p - 1), min_size=1, max_size=6))
    e = data.draw(st.integers(0, 1 << 300))
    a = F.from_ints(xs)
    assert F.to_ints(F.inv(a)) == [pow(x, -1, p) for x in xs]
    assert F.to_ints(F.pow(a, e)) == [pow(x, e, p) for x in xs]
    assert F.to_ints(F.pow(a, -3)) == [pow(x, -3, p) for x in xs]


@pytest.mark.parametrize("F", FIELDS)
def test_pow_edges(F):
    a = F.from_ints([0, 1, F.modulus - 1])
    assert F.to_ints(F.pow(a, 0)) == [1, 1, 1]
    assert F.to_ints(F.pow(a, 1)) == [0, 1, F.modulus - 1]
    assert F.to_ints(F.pow(a, 1 << 260)) == [0, 1, 1]


@pytest.mark.parametrize("F", FIELDS)
def test_inverse_of_zero(F):
    with pytest.raises(ZeroDivisionError):
        F.inv(F.from_ints([3, 0, 5]))
    # the batch form maps zeros to zero and inverts the rest
    got = F.to_ints(F.batch_inv(F.from_ints([3, 0, 5, 0])))
    p = F.modulus
    assert got == [pow(3, -1, p), 0, pow(5, -1, p), 0]
    assert F.batch_inv(F.zeros(0)).shape == (0, 4)


@pytest.mark.parametrize("F", FIELDS)
def test_non_canonical_rejected(F):
    p = F.modulus
    for bad in ([p], [p + 1], [(1 << 256) - 1], [-1]):
        with pytest.raises(NonCanonicalError):
            F.from_ints(bad)
    with pytest.raises(NonCanonicalError):
        F.from_ints([1 << 256])
    assert F.to_ints(F.from_ints([p, p + 5, -1], reduce=True)) == [0, 5, p - 1]
    with pytest.raises(NonCanonicalError):
        F.from_bytes(p.to_bytes(32, "big"))
    with pytest.raises(NonCanonicalError):
        F.to_montgomery(ints_to_limbs([p]))


@given(data=st.data())
@pytest.mark.parametrize("F", FIELDS)
def test_bytes_roundtrip(F, data):
    xs = data.draw(elems(F.modulus))
    a = F.from_ints(xs)
    be = F.to_bytes(a, "big")
    le = F.to_bytes(a, "little")
    assert be == b"".join(x.to_bytes(32, "big") for x in xs)
    assert le == b"".join(x.to_bytes(32, "little") for x in xs)
    assert F.to_ints(F.from_bytes(be, "big")) == xs
    assert F.to_ints(F.from_bytes(le, "little")) == xs


def test_bytes_length_checked():
    with pytest.raises(ValueError):
        Fr.from_bytes(b"\x00" * 31)


def test_fq_sqrt():
    rng = random.Random(2)
    xs = [rng.randrange(Q) for _ in range(50)] + [0, 1, Q - 1]
    roots, ok = Fq.sqrt(Fq.sqr(Fq.from_ints(xs)))
    assert ok.all()
    assert [r * r % Q for r in Fq.to_ints(roots)] == [x * x % Q for x in xs]
    # -1 is a non-residue since q = 3 mod 4; so is -x^2 for x != 0
    _, ok = Fq.sqrt(Fq.from_ints([Q - 1, (-4) % Q]))
    assert not ok.any()


def _fq2_int(x):
    return tuple(int(c) for c in x.coeffs)


@given(data=st.data())
def test_fq2_against_py_ecc(data):
    n = data.draw(st.integers(1, 5))
    coords = data.draw(st.lists(st.integers(0, Q - 1), min_size=4 * n, max_size=4 * n))
    xs = list(zip(coords[0 : 2 * n : 2], coords[1 : 2 * n : 2], strict=True))
    ys = list(zip(coords[2 * n :: 2], coords[2 * n + 1 :: 2], strict=True))
    a, b = Fq2.from_ints(xs), Fq2.from_ints(ys)
    ra, rb = [ob.FQ2(list(x)) for x in xs], [ob.FQ2(list(y)) for y in ys]
    assert Fq2.to_ints(Fq2.mul(a, b)) == [_fq2_int(x * y) for x, y in zip(ra, rb, strict=True)]
    assert Fq2.to_ints(Fq2.sqr(a)) == [_fq2_int(x * x) for x in ra]
    assert Fq2.to_ints(Fq2.add(a, b)) == [_fq2_int(x + y) for x, y in zip(ra, rb, strict=True)]
    assert Fq2.to_ints(Fq2.sub(a, b)) == [_fq2_int(x - y) for x, y in zip(ra, rb, strict=True)]
    assert Fq2.to_ints(Fq2.neg(a)) == [_fq2_int(-x) for x in ra]
    nz = [x for x in xs if x != (0, 0)]
    if nz:
        inv = Fq2.to_ints(Fq2.inv(Fq2.from_ints(nz)))
        assert inv == [_fq2_int(ob.FQ2(list(x)).inv()) for x in nz]


def test_fq2_edges_and_sqrt():
    edge = [(0, 0), (1, 0), (0, 1), (Q - 1, Q - 1), (Q - 1, 0), (0, Q - 1)]
    a = Fq2.from_ints(edge)
    assert Fq2.to_ints(Fq2.sqr(a)) == [_fq2_int(ob.FQ2(list(x)) ** 2) for x in edge]
    with pytest.raises(ZeroDivisionError):
        Fq2.inv(a)
    rng = random.Random(3)
    xs = [(rng.randrange(Q), rng.randrange(Q)) for _ in range(20)] + edge
    sq = Fq2.sqr(Fq2.from_ints(xs))
    roots, ok = Fq2.sqrt(sq)
    assert ok.all()
    assert Fq2.to_ints(Fq2.sqr(roots)) == Fq2.to_ints(sq)
    # u * (square) with the norm a non-residue is not a square: check against Euler's criterion
    cand = Fq2.from_ints([(rng.randrange(Q), rng.randrange(Q)) for _ in range(20)])
    _, ok = Fq2.sqrt(cand)
    for x, good in zip(Fq2.to_ints(cand), ok, strict=True):
        norm = (x[0] * x[0] + x[1] * x[1]) % Q  # a is a square in Fq2 iff its norm is in Fq
        assert good == (norm == 0 or pow(norm, (Q - 1) // 2, Q) == 1)
    with pytest.raises(NonCanonicalError):
        Fq2.from_ints([(Q, 0)])
