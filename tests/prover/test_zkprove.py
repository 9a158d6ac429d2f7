"""`zkprove` (prover/cli.py): snarkjs's verbs, each compared with snarkjs's own output on the
fixture circuit of tests/support/snark.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from prover.cli import cli
from prover.fields import limbs_to_ints
from prover.formats.wtns import read_wtns, write_wtns
from tests.support.snark import ROOT, SNARKJS, R, needs_node, run_snarkjs, snarkjs_verify

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def circuit(snark):  # noqa: F811 - the session's snarkjs circuit, built once for every module
    return snark


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def zkprove(*args, cwd=ROOT):
    """The console script as a process: `python -m prover.cli` is what `zkprove` runs."""
    return subprocess.run([sys.executable, "-m", "prover.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def snarkjs_lines(*args, cwd) -> list[str]:
    """snarkjs's logger lines without the "[INFO]  snarkJS: " prefix and colours."""
    out = ANSI.sub("", run_snarkjs(*args, cwd=cwd))
    return [re.sub(r"^\[\w+\]\s+snarkJS: ", "", ln) for ln in out.splitlines() if ln.strip()]


def snarkjs_any(*args, cwd) -> tuple[int, str]:
    """(exit status, output without colours) of snarkjs, failing or not."""
    res = subprocess.run([str(SNARKJS), *map(str, args)], cwd=cwd, capture_output=True,
                         text=True, timeout=300)
    return res.returncode, ANSI.sub("", res.stdout + res.stderr)


def tampered(circuit, tmp_path, wire: int, name: str):
    w = limbs_to_ints(read_wtns(circuit.wtns))
    w[wire] = (w[wire] + 1) % R
    p = tmp_path / name
    write_wtns(p, w)
    return p


def test_help_lists_snarkjs_verbs():
    out = run("--help")
    assert out.exit_code == 0
    for g in ("groth16", "zkey", "r1cs", "wtns"):
        assert g in out.output
    out = run("zkey", "export", "--help")
    assert "verificationkey" in out.output


@needs_node
def test_prove_export_verify(circuit, tmp_path):
    proof, public, vk = tmp_path / "proof.json", tmp_path / "public.json", tmp_path / "vk.json"
    out = run("groth16", "prove", circuit.zkey, circuit.wtns, proof, public, "--verbose")
    assert out.exit_code == 0, out.output
    assert "proof check" in out.output
    out = run("zkey", "export", "verificationkey", circuit.zkey, vk)
    assert out.exit_code == 0, out.output
    assert vk.read_bytes() == circuit.vk.read_bytes()
    out = run("groth16", "verify", vk, public, proof)
    assert out.exit_code == 0 and "OK" in out.output
    assert snarkjs_verify(circuit.vk, public, proof, tmp_path)


@needs_node
def test_r1cs_info_matches_snarkjs(circuit):
    ours = zkprove("r1cs", "info", circuit.r1cs)
    assert ours.returncode == 0, ours.stderr
    theirs = snarkjs_lines("r1cs", "info", circuit.r1cs, cwd=circuit.dir)
    assert ours.stdout.splitlines() == theirs
    assert "# of Constraints: 4" in theirs  # ab, out, sq and its repeat (===)


@needs_node
def test_wtns_check_matches_snarkjs(circuit, tmp_path):
    ok = zkprove("wtns", "check", circuit.r1cs, circuit.wtns)
    assert ok.returncode == 0 and "satisfies all 4 constraints" in ok.stdout
    assert "WITNESS IS CORRECT" in run_snarkjs("wtns", "check", circuit.r1cs, circuit.wtns,
                                                cwd=circuit.dir)
    for wire in (1, 2, 5, 6):  # out, a (public), ab, sq: each breaks a different first row
        bad = tampered(circuit, tmp_path, wire, f"bad{wire}.wtns")
        rc, theirs = snarkjs_any("wtns", "check", circuit.r1cs, bad, cwd=circuit.dir)
        assert rc != 0 and "WITNESS IS NOT CORRECT" in theirs
        first = int(re.search(r"aborting checking process at constraint (\d+)", theirs)[1])
        res = zkprove("wtns", "check", circuit.r1cs, bad)
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: WitnessError:"), res.stderr
        assert f"constraint #{first} " in lines[0], (wire, first, lines[0])


@needs_node
def test_wtns_check_errors_are_one_line(circuit, tmp_path):
    short = tmp_path / "short.wtns"
    write_wtns(short, [1, 2, 3])
    for args in (("wtns", "check", circuit.r1cs, short),
                 ("wtns", "check", circuit.wtns, circuit.wtns),  # not an r1cs
                 ("r1cs", "info", circuit.zkey)):
        res = zkprove(*args)
        assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    res = zkprove("r1cs", "info", tmp_path / "none.r1cs")
    assert res.returncode == 2 and "does not exist" in res.stderr  # click's usage error


@needs_node
def test_prove_refuses_unsatisfying_witness(circuit, tmp_path):
    bad = tampered(circuit, tmp_path, 5, "bad.wtns")
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    res = zkprove("groth16", "prove", circuit.zkey, bad, proof, public)
    assert res.returncode == 1 and "does not satisfy" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not proof.exists() and not public.exists()
    res = zkprove("groth16", "prove", circuit.zkey, bad, proof, public, "--r1cs", circuit.r1cs)
    assert res.returncode == 1 and "constraint #0 " in res.stderr, res.stderr
    # --no-check proves anyway: the proof exists and is invalid (snarkjs's behaviour)
    out = run("groth16", "prove", circuit.zkey, bad, proof, public, "--no-check")
    assert out.exit_code == 0, out.output
    assert not snarkjs_verify(circuit.vk, public, proof, tmp_path)


@needs_node
def test_export_soliditycalldata_matches_snarkjs(circuit, tmp_path):
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    assert run("groth16", "prove", circuit.zkey, circuit.wtns, proof, public).exit_code == 0
    for pub, prf in ((circuit.public, circuit.proof), (public, proof)):  # snarkjs's, ours
        theirs = run_snarkjs("zkey", "export", "soliditycalldata", pub, prf, cwd=circuit.dir)
        ours = zkprove("zkey", "export", "soliditycalldata", pub, prf)
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs
    res = zkprove("zkey", "export", "soliditycalldata", circuit.proof, circuit.public)  # swapped
    assert res.returncode == 1 and res.stderr.startswith("error: ")
    assert len(res.stderr.strip().splitlines()) == 1


@needs_node
def test_export_json_matches_snarkjs(circuit, tmp_path):
    theirs, ours = tmp_path / "theirs.json", tmp_path / "ours.json"
    for zk in (circuit.zkey0, circuit.zkey):  # delta = 1 before the contribution, then not
        run_snarkjs("zkey", "export", "json", zk, theirs, cwd=circuit.dir)
        out = run("zkey", "export", "json", zk, ours)
        assert out.exit_code == 0, out.output
        a, b = json.loads(ours.read_text()), json.loads(theirs.read_text())
        assert list(a) == list(b)
        for k in b:
            assert a[k] == b[k], k
        assert ours.read_bytes() == theirs.read_bytes()


# --- solidityverifier: ours and snarkjs's compiled with the pinned solc, run on py-evm --------

def _compile(src: str, name: str) -> dict:
    from rollup.chain.build import _DRIVER, SOLC_JS, standard_input
    from rollup.chain.build import ROOT as BROOT

    std = {"language": "Solidity", "sources": {"v.sol": {"content": src}},
           "settings": standard_input({})["settings"]}
    res = subprocess.run(["node", "-e", _DRIVER, str(SOLC_JS)], input=json.dumps(std),
                         capture_output=True, text=True, timeout=600, cwd=BROOT)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    errors = [e["formattedMessage"] for e in out.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    c = out["contracts"]["v.sol"][name]
    return {"abi": c["abi"], "bytecode": "0x" + c["evm"]["bytecode"]["object"]}


def _calldata(public, proof) -> tuple:
    from prover.cli import solidity_calldata
    from prover.formats.snarkjs_json import load_proof, load_public

    def ints(v):
        return [ints(e) for e in v] if isinstance(v, list) else int(v, 16)

    return tuple(ints(json.loads("[" + solidity_calldata(load_proof(proof),
                                                         load_public(public)) + "]")))


@needs_node
def test_export_solidityverifier_on_evm(circuit, tmp_path):
    from rollup.chain.build import have_solc
    from rollup.chain.contracts import call, transact
    from rollup.chain.node import embedded

    if not have_solc():
        pytest.skip("node_modules/solc is absent")
    ours_sol, theirs_sol = tmp_path / "ours.sol", tmp_path / "theirs.sol"
    out = run("zkey", "export", "solidityverifier", circuit.zkey, ours_sol)
    assert out.exit_code == 0, out.output
    src = ours_sol.read_text()
    assert "uint256[2] calldata _pA" in src and "uint256[2] calldata _pubSignals" in src
    run_snarkjs("zkey", "export", "solidityverifier", circuit.zkey, theirs_sol, cwd=circuit.dir)
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    assert run("groth16", "prove", circuit.zkey, circuit.wtns, proof, public).exit_code == 0

    chain = embedded()
    gas = {}
    for who, path in (("ours", ours_sol), ("snarkjs", theirs_sol)):
        art = _compile(path.read_text(), "Groth16Verifier")
        factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        addr = transact(chain, factory.constructor()).receipt.contractAddress
        v = chain.w3.eth.contract(address=addr, abi=art["abi"])
        for pub, prf in ((circuit.public, circuit.proof), (public, proof)):
            a, b, c, x = _calldata(pub, prf)
            assert call(v.functions.verifyProof(a, b, c, x)) is True, who
            # tampered: a public signal, a proof coordinate, a signal >= r, swapped G2 order
            assert call(v.functions.verifyProof(a, b, c, [x[0], x[1] ^ 1])) is False
            assert call(v.functions.verifyProof([a[0], a[1] + 1], b, c, x)) is False, who
            assert call(v.functions.verifyProof(a, b, c, [x[0], x[1] + R])) is False
            assert call(v.functions.verifyProof(a, [b[0][::-1], b[1][::-1]], c, x)) is False
        # a fixed gas limit: an estimate could starve the staticcalls into a cheap `false`
        res = transact(chain, v.functions.verifyProof(a, b, c, x), gas=400_000)
        assert res.execution_gas > 45_000 + 4 * 34_000  # the pairing ran
        gas[who] = {"tx": res.gas_used, "deploy_bytes": len(art["bytecode"]) // 2 - 1}
    print("verifyProof gas (py-evm, 2 public signals):", gas)
    assert gas["ours"]["tx"] <= gas["snarkjs"]["tx"]
