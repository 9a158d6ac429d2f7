"""EdDSA-Poseidon against the shared vectors and circomlibjs, valid and tampered signatures."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import babyjubjub as bj
from circuits import eddsa_public_key, eddsa_sign, eddsa_verify
from circuits.eddsa import pack_signature, public_key_is_safe, unpack_signature
from tests.support.circomlibjs import ROOT, call, requires_node

CASES = json.loads((ROOT / "tests" / "vectors" / "eddsa_poseidon.json").read_text())["cases"]
R = bj.P
L = bj.SUBGROUP_ORDER


def _case(c):
    key = bytes.fromhex(c["private_key_hex"])
    pub = (int(c["public_key"][0]), int(c["public_key"][1]))
    sig = ((int(c["R8"][0]), int(c["R8"][1])), int(c["S"]))
    return key, pub, int(c["message"]), sig


@pytest.mark.parametrize("case", CASES, ids=[c["private_key_hex"][:8] for c in CASES])
def test_shared_vectors(case):
    key, pub, msg, sig = _case(case)
    assert eddsa_public_key(key) == pub
    assert eddsa_sign(key, msg) == sig
    assert eddsa_verify(pub, msg, sig) is case["valid"]


def _tampered(pub, msg, sig):
    """(label, public_key, message, signature) variants that must all be rejected."""
    (r8x, r8y), s = sig
    other_point = bj.mul_base8(12345)
    return [
        ("S+1", pub, msg, ((r8x, r8y), (s + 1) % L)),
        ("S+l", pub, msg, ((r8x, r8y), s + L)),  # same group equation, but S >= l
        ("S=l", pub, msg, ((r8x, r8y), L)),
        ("S<0", pub, msg, ((r8x, r8y), s - L)),
        ("R8 other point", pub, msg, (other_point, s)),
        ("R8 negated", pub, msg, (bj.neg((r8x, r8y)), s)),
        ("R8 off curve", pub, msg, ((r8x, (r8y + 1) % R), s)),
        ("R8 x+r", pub, msg, ((r8x + R, r8y), s)),
        ("message+1", pub, (msg + 1) % R, sig),
        ("message+r", pub, msg + R, sig),
        ("message<0", pub, -1, sig),
        ("other key", bj.mul_base8(777), msg, sig),
        ("key negated", bj.neg(pub), msg, sig),
        ("key off curve", (pub[0], (pub[1] + 1) % R), msg, sig),
        ("key y+r", (pub[0], pub[1] + R), msg, sig),
        ("key 3 coords", (pub[0], pub[1], 1), msg, sig),
        ("sig 3 parts", pub, msg, ((r8x, r8y), s, 0)),
        ("R8 1 coord", pub, msg, ((r8x,), s)),
    ]


def test_tampered_signatures_rejected():
    key, pub, msg, sig = _case(CASES[0])
    assert eddsa_verify(pub, msg, sig)
    for label, p, m, sg in _tampered(pub, msg, sig):
        assert eddsa_verify(p, m, sg) is False, label


def test_accepts_lists():
    key, pub, msg, sig = _case(CASES[1])
    assert eddsa_verify(list(pub), msg, [list(sig[0]), sig[1]])


@pytest.mark.parametrize(
    "args",
    [
        ("not a key", 1, ((1, 2), 3)),
        ((1.0, 2), 1, ((1, 2), 3)),
        ((1, 2), "1", ((1, 2), 3)),
        ((1, 2), 1, "sig"),
        ((1, 2), 1, ((1, 2), 3.0)),
        ((1, 2), 1, (None, 3)),
    ],
)
def test_wrong_python_types_raise(args):
    with pytest.raises(TypeError):
        eddsa_verify(*args)


def test_sign_input_checks():
    with pytest.raises(TypeError):
        eddsa_public_key("00" * 32)
    with pytest.raises(TypeError):
        eddsa_sign(bytes(32), 1.5)
    with pytest.raises(ValueError):
        eddsa_sign(bytes(32), R)
    with pytest.raises(ValueError):
        eddsa_sign(bytes(32), -1)
    # bytearray / memoryview keys hash like bytes
    assert eddsa_public_key(bytearray(32)) == eddsa_public_key(memoryview(bytes(32)))


def test_small_order_key_is_accepted_like_circomlibjs_but_flagged():
    # With A of small order, 8*hm*A is the identity and S*base8 == R8 verifies any message.
    s = 424242
    forged = (bj.mul_base8(s), s)
    for a in [bj.IDENTITY, (0, R - 1)]:
        assert eddsa_verify(a, 99, forged)
        assert not public_key_is_safe(a)
    assert public_key_is_safe(eddsa_public_key(bytes(32)))
    assert not public_key_is_safe((1, 1))


@settings(max_examples=8, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=R - 1))
def test_sign_verify_roundtrip(key, msg):
    pub = eddsa_public_key(key)
    assert bj.in_subgroup(pub) and public_key_is_safe(pub)
    sig = eddsa_sign(key, msg)
    assert 0 <= sig[1] < L and bj.in_curve(sig[0])
    assert eddsa_verify(pub, msg, sig)
    assert not eddsa_verify(pub, (msg + 1) % R, sig)
    assert unpack_signature(pack_signature(sig)) == sig


def test_key_derivation_prunes():
    # Keys of any length hash like circomlibjs; A is (s >> 3) * base8 with 2^251 <= s >> 3 < 2^252.
    for key in (b"", b"\x01", bytes(64)):
        assert bj.in_subgroup(eddsa_public_key(key))


@pytest.mark.node
@requires_node
def test_against_circomlibjs():
    rng = random.Random(7)
    keys = [rng.randbytes(32) for _ in range(5)] + [bytes(32), b"\xff" * 32, b"abc"]
    msgs = [rng.randrange(R) for _ in keys[:-3]] + [0, R - 1, 1]
    reqs = [{"op": "prv2pub", "key": k.hex()} for k in keys]
    reqs += [{"op": "sign", "key": k.hex(), "msg": str(m)} for k, m in zip(keys, msgs, strict=True)]
    answers = call(reqs)
    pubs, sigs = answers[: len(keys)], answers[len(keys) :]
    verify_cases = []
    for key, msg, pub_ref, sig_ref in zip(keys, msgs, pubs, sigs, strict=True):
        pub = eddsa_public_key(key)
        sig = eddsa_sign(key, msg)
        assert pub == (int(pub_ref[0]), int(pub_ref[1]))
        assert sig == ((int(sig_ref["R8"][0]), int(sig_ref["R8"][1])), int(sig_ref["S"]))
        verify_cases.append(("valid", pub, msg, sig))
        for label, p, m, sg in _tampered(pub, msg, sig):
            # Only what circomlibjs can be given: two canonical coordinates, a field message.
            if len(p) != 2 or len(sg) != 2 or len(sg[0]) != 2:
                continue
            if not all(0 <= c < R for c in (*p, *sg[0], m)) or sg[1] < 0:
                continue
            verify_cases.append((label, p, m, sg))
    forged = (bj.mul_base8(5), 5)
    verify_cases += [("small-order key", bj.IDENTITY, 3, forged),
                     ("2-torsion key", (0, R - 1), 3, forged)]
    answers = call(
        [
            {"op": "verify", "msg": str(m), "R8": [str(c) for c in sg[0]], "S": str(sg[1]),
             "A": [str(c) for c in p]}
            for _, p, m, sg in verify_cases
        ]
    )
    assert any(answers) and not all(answers)
    for (label, p, m, sg), ref in zip(verify_cases, answers, strict=True):
        assert eddsa_verify(p, m, sg) is ref, label
