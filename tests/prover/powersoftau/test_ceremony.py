"""`zkprove powersoftau`: files byte-identical to snarkjs's where snarkjs is deterministic (new,
beacon, prepare phase2, export json), contributions each side accepts from the other."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from prover.cli import cli, run_main
from prover.formats.ptau import read_ptau
from prover.powersoftau.ceremony import (
    CeremonyError,
    beacon_file,
    contribute,
    contribute_file,
    new_file,
    new_ptau,
)
from prover.powersoftau.export import export_json_file
from prover.powersoftau.lagrange import prepare_file
from prover.powersoftau.transcript import first_challenge
from prover.powersoftau.verify import verify_ptau
from tests.support.snark import ROOT, needs_node, run_snarkjs

from .conftest import BEACON, POWER

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# 63 letters then an emoji: snarkjs keeps 64 UTF-16 units, half of the surrogate pair
LONG_NAME = "Zoë " + "a" * 59 + "\U0001F389 tail"


def zkprove(*args, cwd=ROOT):
    """The console script as a process, importing this checkout's prover from any cwd."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "prover.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=env)


def snarkjs_info(*args, cwd) -> list[str]:
    out = ANSI.sub("", run_snarkjs(*args, cwd=cwd))
    return [re.sub(r"^\[INFO\]\s+snarkJS: ", "", ln) for ln in out.splitlines()
            if ln.strip() and not ln.startswith(("[DEBUG]", "[WARN]", "   "))]


@needs_node
def test_new_is_snarkjs_bytes(sj, tmp_path):
    out = zkprove("powersoftau", "new", "bn128", POWER, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    made = tmp_path / f"powersOfTau{POWER}_0000.ptau"  # snarkjs's default name
    assert made.read_bytes() == sj.new.read_bytes()
    assert out.stdout.splitlines()[0] == "First Contribution Hash:"
    assert first_challenge(POWER)[:4].hex() in out.stdout


@needs_node
def test_beacon_prepare_and_json_are_snarkjs_bytes(sj, tmp_path):
    ours = tmp_path / "beacon.ptau"
    res = zkprove("powersoftau", "beacon", sj.first, ours, BEACON, 10, "--name=Final Beacon")
    assert res.returncode == 0, res.stderr
    assert ours.read_bytes() == sj.beacon.read_bytes()
    assert "Contribution Response Hash imported:" in res.stdout
    prepared = tmp_path / "prepared.ptau"
    res = zkprove("powersoftau", "prepare", "phase2", sj.beacon, prepared)
    assert res.returncode == 0, res.stderr
    assert prepared.read_bytes() == sj.prepared.read_bytes()
    js = tmp_path / "p.json"
    res = zkprove("powersoftau", "export", "json", sj.prepared, js)
    assert res.returncode == 0, res.stderr
    assert js.read_bytes() == sj.json.read_bytes()


@needs_node
def test_mixed_chain_both_ways(sj, tmp_path):
    """ours on snarkjs's, snarkjs's on ours, our beacon (one-byte hash, a name cut inside a
    surrogate pair) on that: each side verifies the other and the exports agree."""
    d = tmp_path
    contribute_file(sj.first, d / "c2.ptau", name="ours", entropy="x")
    run_snarkjs("powersoftau", "contribute", d / "c2.ptau", d / "c3.ptau", "--name=theirs",
                "-e=y", cwd=d)
    beacon_file(d / "c3.ptau", d / "c4.ptau", b"\xab", 10, name=LONG_NAME)
    run_snarkjs("powersoftau", "beacon", d / "c3.ptau", d / "c4s.ptau", "ab", 10,
                f"--name={LONG_NAME}", cwd=d)
    assert (d / "c4.ptau").read_bytes() == (d / "c4s.ptau").read_bytes()
    prepare_file(d / "c4.ptau", d / "c5.ptau")
    run_snarkjs("powersoftau", "prepare", "phase2", d / "c4.ptau", d / "c5s.ptau", cwd=d)
    assert (d / "c5.ptau").read_bytes() == (d / "c5s.ptau").read_bytes()
    assert "Powers of Tau Ok!" in run_snarkjs("powersoftau", "verify", d / "c5.ptau", cwd=d)
    assert verify_ptau(d / "c5.ptau").lines[-1] == "Powers of Tau Ok!"
    export_json_file(d / "c5.ptau", d / "c5.json")
    run_snarkjs("powersoftau", "export", "json", d / "c5.ptau", d / "c5s.json", cwd=d)
    assert (d / "c5.json").read_bytes() == (d / "c5s.json").read_bytes()


@needs_node
def test_verify_prints_what_snarkjs_logs(sj):
    res = zkprove("powersoftau", "verify", sj.prepared)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == snarkjs_info("powersoftau", "verify", sj.prepared,
                                                   cwd=sj.dir)
    res = zkprove("powersoftau", "verify", sj.beacon)  # not prepared: a warning on stderr
    assert res.returncode == 0 and "prepare phase2" in res.stderr


def test_own_chain_verifies(tmp_path):
    new_file(2, tmp_path / "a.ptau")
    contribute_file(tmp_path / "a.ptau", tmp_path / "b.ptau", name="one", entropy="e")
    beacon_file(tmp_path / "b.ptau", tmp_path / "c.ptau", b"\x01\x02", 10)
    prepare_file(tmp_path / "c.ptau", tmp_path / "d.ptau")
    rep = verify_ptau(tmp_path / "d.ptau")
    assert rep.prepared and rep.lines[-1] == "Powers of Tau Ok!"
    assert sum(ln.startswith("Contribution #") for ln in rep.lines) == 2
    # a contribution into a prepared file drops sections 12-15, with a warning
    code, _, err = run_inline("powersoftau", "contribute", tmp_path / "d.ptau",
                              tmp_path / "e.ptau", "-e", "x")
    assert code == 0 and "prepare phase2` again" in err
    assert not read_ptau(tmp_path / "e.ptau").prepared


def test_contributions_are_random_and_keep_the_chain(tmp_path):
    p = new_ptau(2)
    a, b = contribute(p, entropy="same"), contribute(p, entropy="same")
    assert not np.array_equal(a.ptau.tau_g1, b.ptau.tau_g1)  # OS randomness under the entropy
    assert a.ptau.n_contributions == 1


def test_reduced_file_is_refused(tmp_path):
    p = new_ptau(2)
    p.ceremony_power = 3  # a file truncated from a larger ceremony
    with pytest.raises(CeremonyError, match="reduced"):
        contribute(p)


def run_inline(*args, cwd=None) -> tuple[int, str, str]:
    """zkprove's entry point in this process: (exit status, stdout, stderr)."""
    import contextlib
    import io

    out, err, code = io.StringIO(), io.StringIO(), 0
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run_main(cli, [str(a) for a in args])
    except SystemExit as e:
        code = e.code or 0
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("args, message", [
    (("new", "bls12-381", 3, "x.ptau"), "bls12-381 is not supported"),
    (("new", "secp256k1", 3, "x.ptau"), "Curve not supported"),
    (("new", "bn128", 0, "x.ptau"), "Power must be between 1 and 28"),
    (("new", "bn128", 29, "x.ptau"), "Power must be between 1 and 28"),
    (("beacon", "a.ptau", "b.ptau", "0xab", 10), "valid hexadecimal"),
    (("beacon", "a.ptau", "b.ptau", "abc", 10), "valid hexadecimal"),
    (("beacon", "a.ptau", "b.ptau", "ab", 9), "between 10 and 63"),
    (("export", "json", "a.ptau", "a.json"), "prepare phase2"),
    (("verify", "a.ptau"), "no contribution"),
    (("verify", "junk.ptau"), "FormatError"),
])
def test_errors_are_one_line(tmp_path, args, message):
    new_file(1, tmp_path / "a.ptau")
    (tmp_path / "junk.ptau").write_bytes(b"ptau" + bytes(20))
    code, _, err = run_inline("powersoftau", *args, cwd=tmp_path)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("error: ") and message in err, err


def test_help_lists_the_verbs():
    code, out, _ = run_inline("powersoftau", "--help")
    assert code == 0
    for verb in ("new", "contribute", "beacon", "prepare", "verify", "export"):
        assert verb in out


def test_first_use_notice(monkeypatch):
    import prover.kernels.cpu.cache as cache

    monkeypatch.setattr(cache, "needs_compiling", lambda kernels: True)
    code, _, err = run_inline("powersoftau", "new", "bn128", 1, os.devnull)
    assert code == 0 and "compiling powersoftau kernels (first use" in err
    monkeypatch.setattr(cache, "needs_compiling", lambda kernels: False)
    assert "compiling" not in run_inline("powersoftau", "new", "bn128", 1, os.devnull)[2]
