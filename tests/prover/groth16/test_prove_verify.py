"""Groth16 prove/verify against snarkjs: our proofs pass `snarkjs groth16 verify`, snarkjs's pass
ours, tampering is rejected by both, malformed points and inputs raise typed errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prover.constants import G2_B, Q, R
from prover.curves import G2
from prover.errors import (
    NonCanonicalError,
    NotInSubgroupError,
    NotOnCurveError,
    PublicInputError,
    WitnessError,
)
from prover.fields import Fq2, Fr, limbs_to_ints
from prover.formats.snarkjs_json import load_proof, load_public, load_vk
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey
from prover.groth16 import prove, verification_key, verify
from prover.groth16.prove import evaluate_abc, h_scalars
from prover.groth16.steps import chunk_starts
from prover.groth16.verify import final_exponentiation
from prover.ntt import root_of_unity
from tests.support.snark import (
    HAVE_NODE,
    build,
    needs_node,
    pe_eq,
    pe_g1,
    pe_sum,
    snarkjs_verify,
    write_pair,
)


@pytest.fixture(scope="module")
def circuit(tmp_path_factory):
    """The shared fixture circuit of tests/support/snark.py (built once per process)."""
    if not HAVE_NODE:
        pytest.skip("node_modules/.bin/snarkjs is absent")
    return build(tmp_path_factory.mktemp("snark"))


@pytest.fixture(scope="module")
def ours(circuit):
    """One proof of ours over the fixture circuit by the compiled kernels (the circuit is small
    enough for the ints path, which tests/prover/test_pure.py compares with this one)."""
    res = prove(circuit.zkey, circuit.wtns, kernels=True)
    return res


@needs_node
def test_our_proof_verifies_with_snarkjs_and_us(circuit, ours, tmp_path):
    assert ours.public_signals == load_public(circuit.public)
    proof_path, public_path = write_pair(tmp_path, "ours", ours.proof, ours.public_signals)
    assert snarkjs_verify(circuit.vk, public_path, proof_path, tmp_path)
    assert verify(load_vk(circuit.vk), ours.public_signals, ours.proof)
    phases = list(ours.timings)
    for p in ("witness read", "A.w, B.w, H and MSMs", "combine"):
        assert p in phases
    # the parts of "A.w, B.w, H and MSMs" overlap: each reports its own thread seconds
    for p in ("A.w, B.w", "H (NTTs)", "MSM A (G1)", "MSM B1 (G1)", "MSM B2 (G2)",
              "MSM C (G1)", "MSM H (G1)"):
        assert ours.work[p] > 0


@needs_node
def test_snarkjs_proof_verifies_with_us(circuit):
    assert verify(load_vk(circuit.vk), load_public(circuit.public), load_proof(circuit.proof))


@needs_node
def test_proofs_are_randomized_and_witness_list_accepted(circuit, ours):
    w = limbs_to_ints(read_wtns(circuit.wtns))
    again = prove(read_zkey(circuit.zkey), w)
    assert again.public_signals == ours.public_signals
    assert again.proof.pi_a != ours.proof.pi_a and again.proof.pi_c != ours.proof.pi_c
    assert verify(load_vk(circuit.vk), again.public_signals, again.proof)


@needs_node
def test_pi_a_pi_b_match_reference(circuit):
    """pi_a = sum w_i A_i + alpha1 + r delta1 recomputed with py_ecc, for fixed r, s."""
    from prover.formats._limbs import g1_from_mont
    z = read_zkey(circuit.zkey)
    w = limbs_to_ints(read_wtns(circuit.wtns))
    res = prove(z, w, r=12345, s=678)
    from py_ecc.optimized_bn128 import multiply
    terms = [multiply(pe_g1(p), k) for p, k in zip(g1_from_mont(z.a), w, strict=True) if k]
    terms += [pe_g1(g1_from_mont(z.alpha1)[0]), multiply(pe_g1(g1_from_mont(z.delta1)[0]), 12345)]
    assert pe_eq(pe_sum(terms), pe_g1(res.proof.pi_a))


@needs_node
def test_h_scalars_follow_snarkjs_convention(circuit):
    """A*B - C on the odd points of the 2n-domain, recomputed with Python ints (n is tiny)."""
    z = read_zkey(circuit.zkey)
    w = limbs_to_ints(read_wtns(circuit.wtns))
    n = z.domain_size
    a_ref, b_ref = [0] * n, [0] * n
    for rec, c in zip(z.coeffs, z.coeff_values(), strict=True):
        tgt = a_ref if rec["matrix"] == 0 else b_ref
        tgt[rec["constraint"]] = (tgt[rec["constraint"]] + c * w[rec["signal"]]) % R
    c_ref = [x * y % R for x, y in zip(a_ref, b_ref, strict=True)]
    log_n = n.bit_length() - 1
    wn, g = root_of_unity(log_n), root_of_unity(log_n + 1)
    n_inv = pow(n, -1, R)

    def odd(evals):
        coef = [sum(e * pow(wn, -i * j, R) for i, e in enumerate(evals)) * n_inv % R
                for j in range(n)]
        return [sum(cj * pow(g, j, R) * pow(wn, i * j, R) for j, cj in enumerate(coef)) % R
                for i in range(n)]

    ao, bo, co = odd(a_ref), odd(b_ref), odd(c_ref)
    want = [(x * y - v) % R for x, y, v in zip(ao, bo, co, strict=True)]
    a, b, c = evaluate_abc(z, read_wtns(circuit.wtns).copy())
    assert Fr.to_ints(a) == a_ref and Fr.to_ints(b) == b_ref
    assert Fr.to_ints(h_scalars(a, b, c)) == want


@needs_node
def test_tampered_proof_and_public_rejected_by_both(circuit, ours, tmp_path):
    vk = load_vk(circuit.vk)
    neg_a = (ours.proof.pi_a[0], Q - ours.proof.pi_a[1])
    bad_proof = dataclasses.replace(ours.proof, pi_a=neg_a)
    bad_public = [(ours.public_signals[0] + 1) % R, *ours.public_signals[1:]]
    swapped = dataclasses.replace(ours.proof, pi_c=ours.proof.pi_a)
    for name, proof, public in (("proof", bad_proof, ours.public_signals),
                                ("swap", swapped, ours.public_signals),
                                ("public", ours.proof, bad_public)):
        assert not verify(vk, public, proof), name
        p, q = write_pair(tmp_path, name, proof, public)
        assert not snarkjs_verify(circuit.vk, q, p, tmp_path), name


def twist_point_outside_subgroup():
    """A point on the G2 twist curve that the cofactor keeps out of the order-r subgroup."""
    b = Fq2.from_ints([G2_B])
    for x0 in range(1, 200):
        x = Fq2.from_ints([(x0, 1)])
        y, ok = Fq2.sqrt(Fq2.add(Fq2.mul(Fq2.sqr(x), x), b))
        if ok.all():
            pt = (Fq2.to_ints(x)[0], Fq2.to_ints(y)[0])
            if not G2.in_subgroup(G2.from_ints([pt], check=False)).all():
                return pt
    raise AssertionError("no point found")


@needs_node
def test_malformed_points_and_public_inputs_raise_typed_errors(circuit, ours):
    vk = load_vk(circuit.vk)
    pub, pf = ours.public_signals, ours.proof
    off_curve = (pf.pi_a[0], (pf.pi_a[1] + 1) % Q)
    with pytest.raises(NotOnCurveError):
        verify(vk, pub, dataclasses.replace(pf, pi_a=off_curve))
    with pytest.raises(NonCanonicalError):
        verify(vk, pub, dataclasses.replace(pf, pi_c=(pf.pi_c[0] + Q, pf.pi_c[1])))
    with pytest.raises(NotInSubgroupError):
        verify(vk, pub, dataclasses.replace(pf, pi_b=twist_point_outside_subgroup()))
    with pytest.raises(NonCanonicalError):
        verify(vk, [pub[0] + R, *pub[1:]], pf)
    with pytest.raises(PublicInputError):
        verify(vk, pub[:1], pf)


@needs_node
def test_witness_checks(circuit):
    z = read_zkey(circuit.zkey)
    w = limbs_to_ints(read_wtns(circuit.wtns))
    with pytest.raises(WitnessError, match="expects"):
        prove(z, w[:-1])
    with pytest.raises(WitnessError, match="witness\\[0\\]"):
        prove(z, [2, *w[1:]])
    with pytest.raises(NonCanonicalError):
        prove(z, [1, R, *w[2:]])


@needs_node
def test_verification_key_matches_snarkjs_export(circuit):
    assert verification_key(circuit.zkey) == load_vk(circuit.vk)


def test_final_exponentiation_matches_py_ecc():
    from py_ecc.optimized_bn128 import G1, G2, final_exponentiate, multiply, pairing
    f = pairing(multiply(G2, 5), G1, final_exponentiate=False)
    assert final_exponentiation(f) == final_exponentiate(f)


def test_chunk_starts_cut_between_rows():
    constraint = np.repeat(np.arange(50, dtype=np.int64), np.arange(50) % 4 + 1)
    for k in (1, 2, 3, 7, 64):
        starts = chunk_starts(constraint, k)
        assert starts[0] == 0 and starts[-1] == len(constraint)
        assert np.all(np.diff(starts) > 0)
        inner = starts[1:-1]
        assert np.all(constraint[inner] != constraint[inner - 1])


@needs_node
def test_prove_reports_every_phase_in_order(circuit):
    """The progress callback sees the phases of PHASES, in order, each with its time."""
    from prover.groth16.prove import PHASES, PHASES_INTS

    for kernels, phases in ((True, PHASES), (False, PHASES_INTS)):
        seen = []
        res = prove(circuit.zkey, circuit.wtns, kernels=kernels,
                    on_phase=lambda p, s, seen=seen: seen.append((p, s)))
        assert [p for p, _ in seen] == list(phases)
        assert all(s >= 0 for _, s in seen)
        assert list(res.timings) == list(phases)
