"""Development setup: keys that our prover and snarkjs both prove with, and proofs both verify.
The first tests need no node: an R1CS built in Python, set up, proven and verified here."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from prover.constants import R
from prover.formats.r1cs import R1CS
from prover.formats.snarkjs_json import load_proof, load_public, load_vk
from prover.formats.zkey import read_zkey, write_zkey
from prover.groth16 import prove, verification_key, verify
from prover.groth16.setup import coefficient_records, dev_setup, domain_power, lagrange_at
from prover.ntt import root_of_unity
from rollup.cli import cli
from tests.support.snark import (
    HAVE_NODE,
    build,
    needs_node,
    run_snarkjs,
    snarkjs_verify,
    write_pair,
)

# wires: 0 one, 1 out (public output), 2 a (public input), 3 b, 4 c, 5 ab
# ab = a*b ; out = ab*c + 7a - 3, written as ab * c = out - 7a + 3
CONSTRAINTS = [({2: 1}, {3: 1}, {5: 1}), ({5: 1}, {4: 1}, {1: 1, 2: R - 7, 0: 3})]


def witness(a: int, b: int, c: int) -> list[int]:
    ab = a * b % R
    return [1, (ab * c + 7 * a - 3) % R, a, b, c, ab]


@pytest.fixture(scope="module")
def small():
    r1 = R1CS.from_constraints(CONSTRAINTS, n_wires=6, n_pub_out=1, n_pub_in=1, n_prv_in=2)
    z = dev_setup(r1)
    return r1, z, verification_key(z)


def test_dev_setup_prove_verify_without_node(small, tmp_path):
    r1, z, vk = small
    assert z.domain_size == 1 << domain_power(r1) == 8
    w = witness(3, 5, R - 7)
    res = prove(z, w)
    assert res.public_signals == w[1:3]
    assert verify(vk, res.public_signals, res.proof)
    assert not verify(vk, [w[1], 4], res.proof)
    assert not verify(vk, res.public_signals, dataclasses.replace(res.proof, pi_c=res.proof.pi_a))
    # a witness that breaks a constraint gives a proof that does not verify
    bad = w.copy()
    bad[5] = (bad[5] + 1) % R
    assert not verify(vk, prove(z, bad).public_signals, prove(z, bad).proof)
    # the key survives a write/read round trip
    write_zkey(z, tmp_path / "k.zkey")
    again = prove(tmp_path / "k.zkey", w)
    assert verify(vk, again.public_signals, again.proof)


def test_coefficient_records_layout(small):
    r1, z, _ = small
    rec = coefficient_records(r1)
    assert list(rec["constraint"]) == [0, 0, 1, 1, 2, 3, 4]
    assert list(rec["matrix"]) == [0, 1, 0, 1, 0, 0, 0]
    assert list(rec["signal"]) == [2, 3, 5, 4, 0, 1, 2]
    assert z.coeff_values() == [1, 1, 1, 1, 1, 1, 1]


def test_lagrange_basis_sums_to_one_and_interpolates():
    """sum_j L_j(tau) = 1 and sum_j x_j L_j(tau) = tau on the domain; the odd half of the 2n
    basis interpolates nothing alone, but odd + even halves sum to 1."""
    from prover.fields import Fr
    tau, power = 123456789, 3
    lag = Fr.to_ints(lagrange_at(tau, power))
    assert sum(lag) % R == 1
    w = root_of_unity(power)
    assert sum(v * pow(w, j, R) for j, v in enumerate(lag)) % R == tau
    odd = Fr.to_ints(lagrange_at(tau, power, root_of_unity(power + 1), power + 1))
    even = Fr.to_ints(lagrange_at(tau, power, 1, power + 1))
    assert (sum(odd) + sum(even)) % R == 1


@pytest.fixture(scope="module")
def circuit(tmp_path_factory):
    if not HAVE_NODE:
        pytest.skip("node_modules/.bin/snarkjs is absent")
    return build(tmp_path_factory.mktemp("snark"))


@needs_node
def test_dev_zkey_with_snarkjs_both_ways(circuit, tmp_path):
    zk, vk_path = tmp_path / "dev.zkey", tmp_path / "dev_vk.json"
    out = CliRunner().invoke(cli, ["prover", "groth16", "dev-setup", str(circuit.r1cs), str(zk)])
    assert out.exit_code == 0, out.output
    assert "NOT A CEREMONY" in out.output
    run_snarkjs("zkey", "export", "verificationkey", zk, vk_path, cwd=tmp_path)
    vk = load_vk(vk_path)
    assert vk == verification_key(read_zkey(zk))
    # ours -> snarkjs
    res = prove(zk, circuit.wtns)
    p, q = write_pair(tmp_path, "ours", res.proof, res.public_signals)
    assert snarkjs_verify(vk_path, q, p, tmp_path)
    # snarkjs -> ours
    sp, sq = tmp_path / "s_proof.json", tmp_path / "s_public.json"
    run_snarkjs("groth16", "prove", zk, circuit.wtns, sp, sq, cwd=tmp_path)
    assert verify(vk, load_public(sq), load_proof(sp))
    # same circuit shape as snarkjs's own setup
    theirs = read_zkey(circuit.zkey)
    mine = read_zkey(zk)
    assert (mine.n_vars, mine.n_public, mine.domain_size) == \
        (theirs.n_vars, theirs.n_public, theirs.domain_size)
    assert np.array_equal(np.asarray(mine.coeffs), np.asarray(theirs.coeffs))


@needs_node
def test_setup_from_ptau_is_byte_identical_to_snarkjs(circuit, tmp_path):
    zk = tmp_path / "ours0.zkey"
    out = CliRunner().invoke(cli, ["prover", "groth16", "setup", str(circuit.r1cs),
                                   str(circuit.ptau), str(zk)])
    assert out.exit_code == 0, out.output
    assert zk.read_bytes() == circuit.zkey0.read_bytes()
    # and snarkjs's phase 2 builds on it: contribute, prove with snarkjs, verify here
    zk1, vk = tmp_path / "ours1.zkey", tmp_path / "vk.json"
    run_snarkjs("zkey", "contribute", zk, zk1, "--name=x", "-e=more entropy", cwd=tmp_path)
    run_snarkjs("zkey", "verify", circuit.r1cs, circuit.ptau, zk1, cwd=tmp_path)
    run_snarkjs("zkey", "export", "verificationkey", zk1, vk, cwd=tmp_path)
    res = prove(zk1, circuit.wtns)
    assert verify(load_vk(vk), res.public_signals, res.proof)


@needs_node
def test_setup_rejects_unprepared_or_small_ptau(circuit):
    from prover.groth16.setup import setup_from_ptau
    with pytest.raises(ValueError, match="not prepared"):
        setup_from_ptau(circuit.r1cs, circuit.ptau1)
    r1 = R1CS.from_constraints(CONSTRAINTS * 9, n_wires=6, n_pub_out=1, n_pub_in=1, n_prv_in=2)
    with pytest.raises(ValueError, match="needs 2\\^5"):
        setup_from_ptau(r1, circuit.ptau)


@needs_node
def test_contribution_accepted_by_snarkjs_zkey_verify(circuit, tmp_path):
    """setup (ours) -> contribute (ours) -> contribute (snarkjs) -> contribute (ours): snarkjs
    verifies the chain; the final key proves with us and with snarkjs."""
    from prover.groth16.contribute import hash_to_g2
    z0, z1, z2, z3 = (tmp_path / f"k{i}.zkey" for i in range(4))
    runner = CliRunner()
    assert runner.invoke(cli, ["prover", "groth16", "setup", str(circuit.r1cs),
                               str(circuit.ptau), str(z0)]).exit_code == 0
    out = runner.invoke(cli, ["prover", "zkey", "contribute", str(z0), str(z1), "--name", "a",
                              "-e", "some entropy"])
    assert out.exit_code == 0, out.output
    run_snarkjs("zkey", "contribute", z1, z2, "--name=b", "-e=other entropy", cwd=tmp_path)
    assert runner.invoke(cli, ["prover", "zkey", "contribute", str(z2), str(z3)]).exit_code == 0
    log = run_snarkjs("zkey", "verify", circuit.r1cs, circuit.ptau, z3, cwd=tmp_path)
    assert "ZKey Ok!" in log
    names = [c.name for c in read_zkey(z3).contribution_list()]
    assert names == ["a", "b", None]
    # snarkjs's own contribution's g2_sp is our hash_to_g2 of its transcript
    c = read_zkey(z2).contribution_list()[1]
    from prover.formats._limbs import g1_from_mont, g2_from_mont
    from prover.groth16.verify import _neg_g1, pairing_product_is_one
    assert pairing_product_is_one([(g1_from_mont(c.g1_s)[0], g2_from_mont(c.g2_spx)[0]),
                                   (_neg_g1(g1_from_mont(c.g1_sx)[0]),
                                    hash_to_g2(c.transcript))])
    vk = tmp_path / "vk.json"
    run_snarkjs("zkey", "export", "verificationkey", z3, vk, cwd=tmp_path)
    res = prove(z3, circuit.wtns)
    p, q = write_pair(tmp_path, "c3", res.proof, res.public_signals)
    assert snarkjs_verify(vk, q, p, tmp_path)


def test_chacha20_block_matches_rfc7539():
    """RFC 7539 section 2.3.2 test vector, with the nonce words in the counter slots."""
    from prover.groth16.contribute import ChaCha20Rng
    key = bytes(range(32))
    rng = ChaCha20Rng(list(struct.unpack("<8I", key)))
    rng.state[12:16] = [1, 0x09000000, 0x4A000000, 0]
    words = [rng.next_u32() for _ in range(16)]
    assert words[:4] == [0xE4E7F110, 0x15593BD1, 0x1FDD0F50, 0xC47120A3]
    assert words[-1] == 0x4E3C50A2
