"""The Numba optimal ate pairing: bilinearity, non-degeneracy, and agreement with py_ecc."""

import random

import py_ecc.optimized_bn128 as ob
import pytest

from prover.constants import R
from prover.pairing import pairing_product_is_one


def g1(k):
    if k % R == 0:
        return None
    x, y = ob.normalize(ob.multiply(ob.G1, k % R))
    return (int(x), int(y))


def g2(k):
    if k % R == 0:
        return None
    x, y = ob.normalize(ob.multiply(ob.G2, k % R))
    return (tuple(int(c) for c in x.coeffs), tuple(int(c) for c in y.coeffs))


def test_bilinear_and_nondegenerate():
    rng = random.Random(1)
    a, b, c = (rng.randrange(1, R) for _ in range(3))
    # e(aP, bQ) e(-abP, Q) = 1
    assert pairing_product_is_one([(g1(a), g2(b)), (g1(-a * b), g2(1))])
    # e(aP, bQ) e(P, -abQ) = 1 and linearity in a sum: e(aP, Q) e(cP, Q) e(-(a+c)P, Q) = 1
    assert pairing_product_is_one([(g1(a), g2(b)), (g1(1), g2(-a * b))])
    assert pairing_product_is_one([(g1(a), g2(1)), (g1(c), g2(1)), (g1(-(a + c)), g2(1))])
    # off by one in the exponent: not 1
    assert not pairing_product_is_one([(g1(a), g2(b)), (g1(-a * b + 1), g2(1))])
    assert not pairing_product_is_one([(g1(1), g2(1))])  # non-degenerate


def test_infinity_pairs_contribute_one():
    assert pairing_product_is_one([])
    assert pairing_product_is_one([(None, g2(5)), (g1(7), None)])
    assert not pairing_product_is_one([(None, g2(5)), (g1(7), g2(3))])


@pytest.mark.parametrize("seed", [2, 3])
def test_groth16_shaped_check_agrees_with_py_ecc(seed):
    """A 4-pair product like a Groth16 verification, valid and perturbed, against py_ecc."""
    rng = random.Random(seed)
    a, b, al, be, x, ga, c, de = (rng.randrange(1, R) for _ in range(8))
    # choose c so that -ab + al be + x ga + c de = 0 (mod r)
    c = (a * b - al * be - x * ga) * pow(de, -1, R) % R
    pairs = [(g1(-a), g2(b)), (g1(al), g2(be)), (g1(x), g2(ga)), (g1(c), g2(de))]
    assert pairing_product_is_one(pairs)
    bad = pairs[:3] + [(g1(c + 1), g2(de))]
    assert not pairing_product_is_one(bad)
    # py_ecc agrees on the perturbed one (its pairing takes (G2, G1))
    f = ob.FQ12.one()
    for p, q in bad:
        P = (ob.FQ(p[0]), ob.FQ(p[1]), ob.FQ.one())
        Q = (ob.FQ2(list(q[0])), ob.FQ2(list(q[1])), ob.FQ2.one())
        f = f * ob.pairing(Q, P, final_exponentiate=False)
    assert ob.final_exponentiate(f) != ob.FQ12.one()


def test_groth16_verify_pairing_matches_py_ecc_reference():
    """The verifier's fast pairing and the py_ecc reference agree on valid and invalid products."""
    from prover.groth16.verify import pairing_product_is_one_reference

    rng = random.Random(9)
    a, b = rng.randrange(1, R), rng.randrange(1, R)
    good = [(g1(a), g2(b)), (g1(-a * b), g2(1))]
    bad = [(g1(a), g2(b)), (g1(-a * b - 1), g2(1))]
    for pairs in (good, bad):
        assert pairing_product_is_one(pairs) == pairing_product_is_one_reference(pairs)
