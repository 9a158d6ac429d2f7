"""contracts/EdDSAPoseidonVerifier.sol against circuits/eddsa.py (circomlibjs's scheme), on py-evm
and Anvil: honest signatures verify; every malformed or forged one is refused; the generated
Poseidon contract agrees with circuits/poseidon.py; packKey is circomlibjs's packPoint."""

from __future__ import annotations

import random

import pytest

from circuits import babyjubjub as bj
from circuits.eddsa import eddsa_public_key, eddsa_sign
from circuits.poseidon import poseidon
from rollup.chain.contracts import call, deploy

R = bj.P
L = bj.SUBGROUP_ORDER


@pytest.fixture(scope="module")
def verifier(chain):  # noqa: F811
    pos = deploy(chain, "PoseidonT6")
    return deploy(chain, "EdDSAPoseidonVerifier", pos.address), pos


def _verify(v, pk, sig, m) -> bool:
    (r8x, r8y), s = sig
    return call(v.functions.verify(pk[0], pk[1], r8x, r8y, s, m))


def test_poseidon_contract_matches_reference(verifier):
    _, pos = verifier
    rng = random.Random(5)
    for xs in ([0] * 5, [R - 1] * 5, [rng.randrange(R) for _ in range(5)]):
        assert call(pos.functions.poseidon(xs)) == poseidon(xs)


def test_honest_signatures_verify(verifier):
    v, _ = verifier
    rng = random.Random(1)
    for i in range(3):
        sk = rng.randbytes(32)
        pk = eddsa_public_key(sk)
        m = rng.randrange(R) if i else 0
        assert _verify(v, pk, eddsa_sign(sk, m), m)


@pytest.mark.adversarial
def test_forged_signatures_are_refused(verifier):
    v, _ = verifier
    rng = random.Random(2)
    sk, other = rng.randbytes(32), rng.randbytes(32)
    pk = eddsa_public_key(sk)
    m = rng.randrange(R)
    (r8x, r8y), s = eddsa_sign(sk, m)
    assert _verify(v, pk, ((r8x, r8y), s), m)
    bad = {
        "other message": (pk, ((r8x, r8y), s), m + 1),
        "other key": (eddsa_public_key(other), ((r8x, r8y), s), m),
        "S + l (malleability)": (pk, ((r8x, r8y), s + L), m),
        "S + 1": (pk, ((r8x, r8y), (s + 1) % L), m),
        "R8 off the curve": (pk, ((r8x, (r8y + 1) % R), s), m),
        "R8 negated": (pk, (((R - r8x) % R, r8y), s), m),
        "x + r (non-canonical key)": ((pk[0] + R, pk[1]), ((r8x, r8y), s), m),
        "message not a field element": (pk, ((r8x, r8y), s), m + R),
        "key off the curve": ((pk[0], (pk[1] + 1) % R), ((r8x, r8y), s), m),
    }
    for name, (k, sig, msg) in bad.items():
        if msg >= 2**256 or k[0] >= 2**256:
            continue
        assert not _verify(v, k, sig, msg), name


@pytest.mark.adversarial
def test_small_order_key_is_refused(verifier):
    """A key of small order (here the identity (0, 1), or (0, -1)) makes S * B8 == R8 hold for
    every message: circomlibjs accepts such signatures, the contract must not."""
    v, _ = verifier
    r = 12345
    r8 = bj.mul_base8(r)
    for key in ((0, 1), (0, R - 1)):
        assert not _verify(v, key, (r8, r), 7)
