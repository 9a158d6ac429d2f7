"""`rollup prover ...` through click's CliRunner, on the snarkjs fixture circuit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rollup.cli import cli
from tests.support.snark import needs_node, snarkjs_verify


@pytest.fixture(scope="module")
def circuit(snark):  # noqa: F811 - the session's snarkjs circuit, built once for every module
    return snark


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@needs_node
def test_prove_export_verify_roundtrip(circuit, tmp_path):
    proof, public, vk = tmp_path / "proof.json", tmp_path / "public.json", tmp_path / "vk.json"
    # the compiled kernels' phases (a circuit this small is proven on ints by default)
    out = run("prover", "groth16", "prove", circuit.zkey, circuit.wtns, proof, public,
              "--verbose", "--engine", "kernels")
    assert out.exit_code == 0, out.output
    for phase in ("witness read", "H (NTTs)", "MSM A (G1)", "MSM B2 (G2)", "total"):
        assert phase in out.output
    out = run("prover", "zkey", "export", "verificationkey", circuit.zkey, vk)
    assert out.exit_code == 0, out.output
    assert vk.read_bytes() == circuit.vk.read_bytes()  # byte-identical to snarkjs's export
    out = run("prover", "groth16", "verify", vk, public, proof)
    assert out.exit_code == 0 and "OK" in out.output
    assert snarkjs_verify(circuit.vk, public, proof, tmp_path)
    # and snarkjs's own proof through our CLI
    out = run("prover", "groth16", "verify", circuit.vk, circuit.public, circuit.proof)
    assert out.exit_code == 0, out.output


@needs_node
def test_prove_backend_selection(circuit, tmp_path):
    """auto falls back to the CPU here and says so; cuda without a GPU is one clear error."""
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    out = run("prover", "groth16", "prove", circuit.zkey, circuit.wtns, proof, public,
              "--backend", "auto", "--verbose", "--engine", "kernels")
    assert out.exit_code == 0, out.output
    assert "backend auto -> cpu" in out.output
    assert snarkjs_verify(circuit.vk, public, proof, tmp_path)
    # without --engine a circuit this small is proven on plain ints, and says so
    out = run("prover", "groth16", "prove", circuit.zkey, circuit.wtns, proof, public,
              "--backend", "auto", "--verbose")
    assert out.exit_code == 0, out.output
    assert "backend auto -> ints" in out.output and "proof (ints)" in out.output
    assert snarkjs_verify(circuit.vk, public, proof, tmp_path)
    out = run("prover", "groth16", "prove", circuit.zkey, circuit.wtns, proof, public,
              "--backend", "cuda")
    assert out.exit_code != 0
    from prover.backend import BackendUnavailable

    assert isinstance(out.exception, BackendUnavailable)  # rollup's main() prints it on one line
    assert "unavailable" in str(out.exception)


@needs_node
def test_verify_exit_codes(circuit, tmp_path):
    pub = json.loads(circuit.public.read_text())
    bad_pub = tmp_path / "bad_public.json"
    bad_pub.write_text(json.dumps([str(int(pub[0]) ^ 1), *pub[1:]]))
    out = run("prover", "groth16", "verify", circuit.vk, bad_pub, circuit.proof)
    assert out.exit_code == 1 and "INVALID" in out.output

    short = tmp_path / "short.json"
    short.write_text(json.dumps(pub[:1]))
    out = run("prover", "groth16", "verify", circuit.vk, short, circuit.proof)
    assert out.exit_code == 2 and "malformed" in out.output
    assert len(out.output.strip().splitlines()) == 1

    proof = json.loads(circuit.proof.read_text())
    proof["pi_a"][1] = str(int(proof["pi_a"][1]) + 1)  # off the curve
    off = tmp_path / "off.json"
    off.write_text(json.dumps(proof))
    out = run("prover", "groth16", "verify", circuit.vk, circuit.public, off)
    assert out.exit_code == 2 and "curve" in out.output

    proof["pi_a"][1] = str(2**255)  # not below q
    off.write_text(json.dumps(proof))
    out = run("prover", "groth16", "verify", circuit.vk, circuit.public, off)
    assert out.exit_code == 2

    out = run("prover", "groth16", "verify", circuit.vk, circuit.public, tmp_path / "none.json")
    assert out.exit_code == 2


def test_prover_help_lists_commands():
    out = run("prover", "--help")
    assert out.exit_code == 0 and "groth16" in out.output and "zkey" in out.output
    out = run("prover", "groth16", "--help")
    assert "prove" in out.output and "verify" in out.output
