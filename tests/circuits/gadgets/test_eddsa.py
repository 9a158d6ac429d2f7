from __future__ import annotations

import json

import pytest

from circuits import babyjubjub as bj
from circuits.dsl import ConstraintSystem, R
from circuits.eddsa import eddsa_public_key, eddsa_sign, eddsa_verify, public_key_is_safe
from circuits.gadgets.eddsa import eddsa_poseidon_verify
from tests.support import ROOT

CIRCOMLIB_EDDSA_POSEIDON = 4_217  # circomlib EdDSAPoseidonVerifier, circom 2 --O2
L = bj.SUBGROUP_ORDER
VECTORS = json.loads((ROOT / "tests" / "vectors" / "eddsa_poseidon.json").read_text())
NAMES = ("Ax", "Ay", "M", "R8x", "R8y", "S")


def build(gated: bool) -> ConstraintSystem:
    """The verifier built once without values; each case solves a witness from its inputs."""
    cs = ConstraintSystem(compute_witness=False)
    ax, ay, m = (cs.public_input(n) for n in NAMES[:3])
    r8x, r8y, s = (cs.private_input(n) for n in NAMES[3:])
    kw = {}
    if gated:
        en = cs.private_input("enabled")
        cs.assert_bool(en)
        kw["enabled"] = en
    eddsa_poseidon_verify(cs, (ax, ay), m, ((r8x, r8y), s), **kw)
    return cs


@pytest.fixture(scope="module")
def verifier():
    return build(gated=False)


def failures(cs, a, m, sig, **extra):
    (r8x, r8y), s = sig
    vals = cs.solve(dict(zip(NAMES, (a[0], a[1], m, r8x, r8y, s), strict=True), **extra))
    return {v.component for v in cs.check(values=vals)}


def case(i=0):
    c = VECTORS["cases"][i]
    a = tuple(int(x) for x in c["public_key"])
    return a, int(c["message"]), ((int(c["R8"][0]), int(c["R8"][1])), int(c["S"]))


def test_count_vs_circomlib(verifier):
    ours = verifier.n_constraints
    print(f"EdDSA-Poseidon verifier: ours {ours}, circomlib {CIRCOMLIB_EDDSA_POSEIDON}")
    print(verifier.component_tree(2))
    assert ours <= CIRCOMLIB_EDDSA_POSEIDON


def test_accepts_circomlibjs_vectors(verifier):
    for i in range(min(3, len(VECTORS["cases"]))):
        a, m, sig = case(i)
        assert eddsa_verify(a, m, sig)
        assert failures(verifier, a, m, sig) == set()


def test_accepts_fresh_signature_and_edge_messages(verifier):
    key = bytes(range(32))
    a = eddsa_public_key(key)
    for m in (0, 1, R - 1):
        assert failures(verifier, a, m, eddsa_sign(key, m)) == set()


def test_forgeries_fail_in_the_final_check(verifier):
    a, m, ((r8x, r8y), s) = case(0)
    other_key = eddsa_public_key(b"another key")
    r8_other = bj.add((r8x, r8y), bj.BASE8)
    forged = {
        "tampered S": (a, m, ((r8x, r8y), (s + 1) % L)),
        "tampered R8": (a, m, (r8_other, s)),
        "tampered message": (a, (m + 1) % R, ((r8x, r8y), s)),
        "other key": (other_key, m, ((r8x, r8y), s)),
    }
    for name, args in forged.items():
        assert not eddsa_verify(*args), name
        fails = failures(verifier, *args)
        # the final equality fails (and the additions feeding it, into which finalization
        # substituted it); none of the input checks do
        assert "eddsa/verify" in fails, name
        assert not any(c.startswith(("eddsa/s_range", "eddsa/points", "eddsa/small_order"))
                       for c in fails), name


def test_s_at_least_l_is_rejected_by_the_range_check(verifier):
    # S + l satisfies the curve equation (base8 has order l): only S < l rejects it
    a, m, ((r8x, r8y), s) = case(0)
    for bad in (s + L, L, (1 << 251) - 1):
        fails = failures(verifier, a, m, ((r8x, r8y), bad))
        assert "eddsa/s_range/bits_le" in fails, bad
    # a signature with S + l < 2^251 fits the 251-bit decomposition: the comparison alone fails
    key = b"k"
    m = next(m for m in range(100) if eddsa_sign(key, m)[1] + L < 1 << 251)
    r8, s = eddsa_sign(key, m)
    assert failures(verifier, eddsa_public_key(key), m, (r8, s + L)) == {"eddsa/s_range/bits_le"}


def test_off_curve_point_and_small_order_key(verifier):
    a, m, ((r8x, r8y), s) = case(0)
    assert "eddsa/points/on_curve" in failures(verifier, (a[0], a[1] + 1), m, ((r8x, r8y), s))
    assert "eddsa/points/on_curve" in failures(verifier, a, m, ((r8x, r8y + 1), s))
    # identity key: circomlibjs accepts S * base8 == R8 for any message, the circuit does not
    ident = bj.IDENTITY
    sig = (bj.mul_base8(5), 5)
    assert eddsa_verify(ident, 123, sig) and not public_key_is_safe(ident)
    assert "eddsa/small_order" in failures(verifier, ident, 123, sig)


def test_enabled_gates_everything():
    cs = build(gated=True)
    a, m, sig = case(0)
    assert failures(cs, a, m, sig, enabled=1) == set()
    (r8x, r8y), s = sig
    garbage = ((1, 2), 3, ((5, 6), (1 << 253) - 1))
    assert failures(cs, *garbage, enabled=0) == set()
    assert failures(cs, a, m, ((r8x, r8y), s + 1), enabled=0) == set()
    assert "eddsa/verify" in failures(cs, a, m, ((r8x, r8y), s + 1), enabled=1)
    print(f"EdDSA-Poseidon verifier with an `enabled` signal: {cs.n_constraints}")
    assert cs.n_constraints <= CIRCOMLIB_EDDSA_POSEIDON
