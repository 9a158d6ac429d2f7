import copy
import json

import pytest
from py_ecc.optimized_bn128 import FQ, FQ2, FQ12, add, final_exponentiate, multiply, neg, pairing

from prover.formats._limbs import BN254_Q, BN254_R, limbs_to_ints
from prover.formats.container import FormatError
from prover.formats.snarkjs_json import (
    Proof,
    VerificationKey,
    compute_alphabeta_12,
    dump_proof,
    dump_public,
    dump_vk,
    dumps,
    g1_from_json,
    g1_to_json,
    g2_from_json,
    g2_to_json,
    load_proof,
    load_public,
    load_vk,
    proof_from_json,
    proof_to_json,
    public_from_json,
    vk_from_json,
    vk_from_zkey,
    vk_to_json,
)
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey
from tests.support.snark import INPUT, needs_node

G1_GEN = (1, 2)
G2_GEN = ((10857046999023057135944570762232829481370756359578518086990519993285655852781,
           11559732032986387107991004021392285783925812861821192530917403151452391805634),
          (8495653923123431417604973247489272438418190587263600148770280649306958101930,
           4082367875863433681332203403145435568316851327593401208105741076214120093531))


@needs_node
def test_snarkjs_files_roundtrip_exactly(snark, tmp_path):  # noqa: F811
    proof = load_proof(snark.proof)
    public = load_public(snark.public)
    vk = load_vk(snark.vk)
    assert proof.protocol == "groth16" and proof.curve == "bn128"
    assert vk.n_public == 2 and len(vk.ic) == 3 and vk.alphabeta_12 is not None
    for obj, dump, src in ((proof, dump_proof, snark.proof), (public, dump_public, snark.public),
                           (vk, dump_vk, snark.vk)):
        out = tmp_path / "out.json"
        dump(obj, out)
        assert out.read_bytes() == src.read_bytes()
    # public signals are witness[1 .. nPublic] (outputs first, then public inputs)
    w = limbs_to_ints(read_wtns(snark.wtns))
    assert public == w[1:3] and public[1] == INPUT["a"]


@needs_node
def test_vk_from_zkey_equals_snarkjs_export(snark):  # noqa: F811
    vk = vk_from_zkey(read_zkey(snark.zkey))  # includes the pairing for alphabeta
    assert vk == load_vk(snark.vk)
    assert dumps(vk_to_json(vk)) == snark.vk.read_text()
    # without a stored alphabeta the writer computes it
    bare = VerificationKey(**{**vk.__dict__, "alphabeta_12": None})
    assert dumps(vk_to_json(bare)) == snark.vk.read_text()


@needs_node
def test_snarkjs_proof_verifies_with_py_ecc(snark):  # noqa: F811
    """The parsed values mean what we think: the Groth16 equation holds with py_ecc."""
    proof, public, vk = load_proof(snark.proof), load_public(snark.public), load_vk(snark.vk)

    def g1(p):
        return (FQ(p[0]), FQ(p[1]), FQ.one())

    def g2(p):
        return (FQ2(list(p[0])), FQ2(list(p[1])), FQ2.one())

    acc = g1(vk.ic[0])
    for s, p in zip(public, vk.ic[1:], strict=True):
        acc = add(acc, multiply(g1(p), s))
    f = FQ12.one()
    for q, p in ((g2(proof.pi_b), neg(g1(proof.pi_a))), (g2(vk.beta2), g1(vk.alpha1)),
                 (g2(vk.gamma2), acc), (g2(vk.delta2), g1(proof.pi_c))):
        f = f * pairing(q, p, final_exponentiate=False)
    assert final_exponentiate(f) == FQ12.one()


def test_points_and_infinity_format():
    assert g1_to_json(None) == ["0", "1", "0"]
    assert g2_to_json(None) == [["0", "0"], ["1", "0"], ["0", "0"]]
    assert g1_from_json(["0", "1", "0"]) is None
    assert g2_from_json([["0", "0"], ["1", "0"], ["0", "0"]]) is None
    assert g1_from_json(g1_to_json(G1_GEN)) == G1_GEN
    assert g2_from_json(g2_to_json(G2_GEN)) == G2_GEN
    p = Proof(G1_GEN, G2_GEN, None)
    assert proof_from_json(json.loads(dumps(proof_to_json(p)))) == p
    text = dumps({"a": ["1"], "b": []})
    assert text == '{\n "a": [\n  "1"\n ],\n "b": [\n ]\n}'  # bfj breaks empty arrays too


def _py_ecc_alphabeta(alpha1, beta2):
    """The clear reference: py_ecc's pairing raised to snarkjs's exponent, py_ecc's Fq12
    (w^12 - 18 w^6 + 82, w^6 = 9 + u) mapped to the tower: the coefficient (a + b u) of
    w^i v^j (k = i + 2j) is b = c[k+6], a = c[k] + 9 c[k+6]."""
    from py_ecc.optimized_bn128 import FQ2, pairing

    from prover.constants import Q
    from prover.formats.snarkjs_json import SNARKJS_GT_EXPONENT

    p = (FQ(alpha1[0]), FQ(alpha1[1]), FQ.one())
    q = (FQ2(list(beta2[0])), FQ2(list(beta2[1])), FQ2.one())
    c = [int(x) for x in (pairing(q, p) ** SNARKJS_GT_EXPONENT).coeffs]
    return tuple(tuple(((c[i + 2 * j] + 9 * c[i + 2 * j + 6]) % Q, c[i + 2 * j + 6] % Q)
                       for j in range(3)) for i in range(2))


def test_alphabeta_matches_py_ecc_on_random_points():
    import random

    from py_ecc.optimized_bn128 import G1, G2, multiply, normalize

    rng = random.Random(7)
    for _ in range(2):
        x, y = normalize(multiply(G1, rng.randrange(1, 2**254)))
        bx, by = normalize(multiply(G2, rng.randrange(1, 2**254)))
        a = (int(x), int(y))
        b = (tuple(int(c) for c in bx.coeffs), tuple(int(c) for c in by.coeffs))
        assert compute_alphabeta_12(a, b) == _py_ecc_alphabeta(a, b)


def test_alphabeta_shape_and_degenerate_case():
    ab = compute_alphabeta_12(G1_GEN, G2_GEN)
    assert len(ab) == 2 and all(len(c6) == 3 for c6 in ab)
    assert compute_alphabeta_12(None, G2_GEN) == (((1, 0), (0, 0), (0, 0)),
                                                  ((0, 0), (0, 0), (0, 0)))


BAD_DECIMALS = ["01", "-1", " 1", "1 ", "1.0", "0x1", "", "1e3", 1, None, "١"]


@pytest.mark.parametrize("bad", BAD_DECIMALS)
def test_non_canonical_public(bad):
    with pytest.raises(FormatError, match="canonical decimal"):
        public_from_json(["1", bad])


def test_range_checks(tmp_path):
    with pytest.raises(FormatError, match="not below the modulus"):
        public_from_json([str(BN254_R)])
    assert public_from_json([str(BN254_R - 1)]) == [BN254_R - 1]
    with pytest.raises(FormatError, match="not below the modulus"):
        g1_from_json([str(BN254_Q), "2", "1"])
    with pytest.raises(FormatError, match="not on the curve"):
        g1_from_json(["1", "3", "1"])
    with pytest.raises(FormatError, match="not on the twist"):
        g2_from_json([["1", "0"], ["2", "0"], ["1", "0"]])
    with pytest.raises(FormatError, match="z = 1"):
        g1_from_json(["1", "2", "2"])
    with pytest.raises(FormatError, match="z = 1"):
        g2_from_json([["1", "0"], ["2", "0"], ["1", "1"]])
    with pytest.raises(FormatError, match="list of 3"):
        g1_from_json(["1", "2"])
    with pytest.raises(FormatError, match="list of 2"):
        g2_from_json([["1", "0", "0"], ["2", "0"], ["1", "0"]])
    with pytest.raises(FormatError):
        dump_public([BN254_R], tmp_path / "p.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(FormatError, match="invalid JSON"):
        load_proof(bad)


def _good_proof() -> dict:
    return {"pi_a": g1_to_json(G1_GEN), "pi_b": g2_to_json(G2_GEN), "pi_c": g1_to_json(G1_GEN),
            "protocol": "groth16", "curve": "bn128"}


def test_proof_document_errors():
    assert proof_from_json(_good_proof()).pi_b == G2_GEN
    for key, val, msg in (("protocol", "plonk", "protocol"), ("curve", "bls12381", "curve"),
                          ("pi_a", ["1", "02", "1"], "canonical"),
                          ("pi_c", ["1", "2"], "list of 3")):
        d = _good_proof()
        d[key] = val
        with pytest.raises(FormatError, match=msg):
            proof_from_json(d)
    d = _good_proof()
    del d["pi_b"]
    with pytest.raises(FormatError, match="missing key 'pi_b'"):
        proof_from_json(d)
    with pytest.raises(FormatError, match="JSON object"):
        proof_from_json([])


def _good_vk() -> dict:
    return {"protocol": "groth16", "curve": "bn128", "nPublic": 1,
            "vk_alpha_1": g1_to_json(G1_GEN), "vk_beta_2": g2_to_json(G2_GEN),
            "vk_gamma_2": g2_to_json(G2_GEN), "vk_delta_2": g2_to_json(G2_GEN),
            "vk_alphabeta_12": [[["1", "0"]] * 3] * 2,
            "IC": [g1_to_json(G1_GEN), g1_to_json(None)]}


def test_vk_document_errors():
    vk = vk_from_json(_good_vk())
    assert vk.ic == (G1_GEN, None)
    for mutate, msg in ((lambda d: d.update(nPublic=2), "IC must hold"),
                        (lambda d: d.update(nPublic=True), "nPublic"),
                        (lambda d: d.update(nPublic="1"), "nPublic"),
                        (lambda d: d["vk_alphabeta_12"][1].pop(), "list of 3"),
                        (lambda d: d.update(vk_gamma_2=g1_to_json(G1_GEN)), "list of 2"),
                        (lambda d: d.pop("vk_delta_2"), "missing key")):
        d = copy.deepcopy(_good_vk())
        mutate(d)
        with pytest.raises(FormatError, match=msg):
            vk_from_json(d)


@needs_node
def test_snarkjs_verifies_our_documents(snark, tmp_path):  # noqa: F811
    from tests.support.snark import run_snarkjs
    proof = load_proof(snark.proof)
    vk = vk_from_zkey(read_zkey(snark.zkey))
    public = load_public(snark.public)
    pf, pb, vf = tmp_path / "p.json", tmp_path / "pub.json", tmp_path / "vk.json"
    dump_proof(proof, pf)
    dump_public(public, pb)
    dump_vk(vk, vf)
    assert "OK" in run_snarkjs("groth16", "verify", vf, pb, pf, cwd=tmp_path)
    dump_public([public[0], (public[1] + 1) % BN254_R], pb)
    with pytest.raises(RuntimeError):
        run_snarkjs("groth16", "verify", vf, pb, pf, cwd=tmp_path)


def test_dumps_breaks_empty_containers_as_bfj():
    """bfj (snarkjs's writer) opens a line even for an empty array or object: a public.json
    without public signals is "[\\n]", not "[]"; strings are left alone."""
    from prover.formats.snarkjs_json import dumps

    assert dumps([]) == "[\n]" and dumps({}) == "{\n}"
    doc = {"a": [], "c": [[]], "d": ["1", {}], "e": 'x[]{}"[]'}
    assert dumps(doc) == ('{\n "a": [\n ],\n "c": [\n  [\n  ]\n ],\n "d": [\n  "1",\n  {\n  }\n'
                          ' ],\n "e": "x[]{}\\"[]"\n}')
