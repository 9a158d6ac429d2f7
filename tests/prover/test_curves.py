"""G1 and G2 kernels against py_ecc's optimized_bn128, including every infinity case."""

import random

import numpy as np
import py_ecc.optimized_bn128 as ob
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prover.constants import Q, R
from prover.curves import G1, G2
from prover.errors import NonCanonicalError, NotInSubgroupError, NotOnCurveError
from prover.fields import Fq2
from tests.support.pyecc_points import to_ints1, to_ints2

GROUPS = [
    pytest.param(G1, ob.G1, to_ints1, id="G1"),
    pytest.param(G2, ob.G2, to_ints2, id="G2"),
]
SCALARS = [0, 1, 2, 3, R - 1, R - 2, (R - 1) // 2, 1 << 200]


def ref_points(gen, ks):
    return [ob.multiply(gen, k) if k % R else ob.Z1 if gen is ob.G1 else ob.Z2 for k in ks]


@pytest.mark.parametrize("G,gen,conv", GROUPS)
def test_group_law_edges(G, gen, conv):
    ks = [1, 2, 5, R - 1]
    P = ref_points(gen, ks) + [None]
    Pi = [conv(p) for p in P[:-1]] + [None]
    inf = ob.Z1 if gen is ob.G1 else ob.Z2
    P[-1] = inf
    A = G.from_ints(Pi)
    assert G.to_ints(A) == Pi
    J = G.to_jacobian(A)
    pairs = [(i, j) for i in range(len(P)) for j in range(len(P))]
    Ja = J[[i for i, _ in pairs]]
    Jb = J[[j for _, j in pairs]]
    Ab = A[[j for _, j in pairs]]
    want = [conv(ob.add(P[i], P[j])) for i, j in pairs]  # covers P+P, P+(-P) (1 and R-1), inf
    assert G.to_ints(G.to_affine(G.add(Ja, Jb))) == want
    assert G.to_ints(G.to_affine(G.add_mixed(Ja, Ab))) == want
    assert G.to_ints(G.to_affine(G.double(J))) == [conv(ob.double(p)) for p in P]
    assert G.to_ints(G.neg(A)) == [conv(ob.neg(p)) for p in P]


@pytest.mark.parametrize("G,gen,conv", GROUPS)
def test_scalar_mul_edges(G, gen, conv):
    base = G.generator()
    bases = np.repeat(base[None], len(SCALARS), axis=0)
    got = G.to_ints(G.to_affine(G.mul(bases, SCALARS)))
    assert got == [conv(p) for p in ref_points(gen, SCALARS)]
    # infinity times anything is infinity; r * P is infinity
    inf = G.from_ints([None, None])
    assert G.to_ints(G.to_affine(G.mul(inf, [5, R - 1]))) == [None, None]
    assert G.to_ints(G.to_affine(G.mul(base[None], [R]))) == [None]


@given(ks=st.lists(st.integers(1, R - 1), min_size=2, max_size=4), m=st.integers(0, R - 1))
def test_property_g1(ks, m):
    P = [ob.multiply(ob.G1, k) for k in ks]
    A = G1.from_ints([to_ints1(p) for p in P])
    J = G1.to_jacobian(A)
    rolled = np.roll(J, 1, axis=0)
    want = [to_ints1(ob.add(p, q)) for p, q in zip(P, P[-1:] + P[:-1], strict=True)]
    assert G1.to_ints(G1.to_affine(G1.add(J, rolled))) == want
    assert G1.to_ints(G1.to_affine(G1.mul(A, [m] * len(ks)))) == [
        to_ints1(ob.multiply(p, m)) for p in P
    ]


@given(k1=st.integers(1, R - 1), k2=st.integers(1, R - 1))
def test_property_g2(k1, k2):
    P = [ob.multiply(ob.G2, k1), ob.multiply(ob.G2, k2)]
    A = G2.from_ints([to_ints2(p) for p in P])
    J = G2.to_jacobian(A)
    got = G2.to_ints(G2.to_affine(G2.add_mixed(J, A[::-1].copy())))
    assert got == [to_ints2(ob.add(P[0], P[1]))] * 2


def test_batch_normalization_with_infinity():
    rng = random.Random(4)
    ks = [rng.randrange(1, R) for _ in range(30)]
    P = [to_ints1(ob.multiply(ob.G1, k)) for k in ks]
    P[3] = P[17] = None
    J = G1.to_jacobian(G1.from_ints(P))
    # scramble Z: (X, Y, Z) -> (X l^2, Y l^3, Z l) is the same point
    J2 = G1.add(J, G1.to_jacobian(G1.from_ints([None] * 30)))
    J2 = G1.double(G1.add(J2, G1.to_jacobian(G1.from_ints([None] * 30))))
    want = [
        to_ints1(ob.double(ob.multiply(ob.G1, k))) if p else None
        for k, p in zip(ks, P, strict=True)
    ]
    assert G1.to_ints(G1.to_affine(J2)) == want
    assert G1.to_affine(G1.empty_jacobian(0)).shape == (0, 2, 4)


def test_g1_rejects_bad_points():
    with pytest.raises(NotOnCurveError):
        G1.from_ints([(1, 2), (1, 3)])
    with pytest.raises(NonCanonicalError):
        G1.from_ints([(1 + Q, 2)])  # same residue as the generator, but not canonical
    assert list(G1.is_on_curve(G1.from_ints([(1, 2), (1, 3), None], check=False))) == [
        True,
        False,
        True,
    ]


def _twist_point_outside_subgroup():
    """A point on y^2 = x^3 + b2 found by trying x; the cofactor makes it almost surely outside."""
    for x0 in range(1, 100):
        x = Fq2.from_ints([(x0, 1)])
        rhs = Fq2.add(Fq2.mul(Fq2.sqr(x), x), G2.b[None])
        y, ok = Fq2.sqrt(rhs)
        if ok[0]:
            return (Fq2.to_ints(x)[0], Fq2.to_ints(y)[0])
    raise AssertionError("no twist point found")


def test_g2_rejects_bad_points():
    g = to_ints2(ob.G2)
    bad = (g[0], (g[1][0], (g[1][1] + 1) % Q))
    with pytest.raises(NotOnCurveError):
        G2.from_ints([g, bad])
    p = _twist_point_outside_subgroup()
    arr = G2.from_ints([p], subgroup=False)  # on the curve...
    assert G2.is_on_curve(arr).all()
    assert not G2.in_subgroup(arr).any()  # ...but not in the order-r subgroup
    with pytest.raises(NotInSubgroupError):
        G2.from_ints([g, p])
    assert G2.in_subgroup(G2.from_ints([g, None])).all()
