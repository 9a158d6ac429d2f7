"""`zkprove zkey verify` and `zkprove zkey beacon` (prover/groth16/zkey_verify.py, contribute.py)
against snarkjs on the session's fixture circuit: the same verdict and report on keys from
snarkjs, from us and from mixed chains, the same beacon bytes, and tampered keys rejected."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest

from prover.curves import G1
from prover.formats.zkey import read_zkey, write_zkey
from prover.groth16.contribute import beacon_key, beacon_rng, contribute_file
from prover.groth16.zkey_verify import ZkeyMismatch, format_hash, verify_zkey
from tests.support.snark import ROOT, SNARKJS, needs_node, run_snarkjs

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BEACON = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


def zkprove(*args):
    return subprocess.run([sys.executable, "-m", "prover.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def snarkjs_verify_zkey(circuit, zkey) -> tuple[int, list[str]]:
    """(exit status, the report lines from "Circuit Hash:" on) of `snarkjs zkey verify`."""
    res = subprocess.run([str(SNARKJS), "zkey", "verify", str(circuit.r1cs), str(circuit.ptau),
                          str(zkey)], cwd=circuit.dir, capture_output=True, text=True,
                         timeout=300)
    lines = [re.sub(r"^\[\w+\]\s+snarkJS: ", "", ln)
             for ln in ANSI.sub("", res.stdout + res.stderr).splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Circuit Hash:")), len(lines))
    return res.returncode, lines[start:]


def test_format_hash_is_snarkjs_layout():
    h = bytes(range(64))
    lines = format_hash(h, "T:").split("\n")
    assert lines[0] == "T:" and len(lines) == 5
    assert lines[1] == "\t\t00010203 04050607 08090a0b 0c0d0e0f"
    assert lines[4] == "\t\t30313233 34353637 38393a3b 3c3d3e3f"


def test_beacon_rng_is_iterated_sha256():
    import hashlib
    import struct

    cur = bytes.fromhex(BEACON)
    for _ in range(1 << 10):
        cur = hashlib.sha256(cur).digest()
    rng = beacon_rng(bytes.fromhex(BEACON), 10)
    assert rng.state[4:12] == list(struct.unpack(">8I", cur))
    x, g1_s, g1_sx = beacon_key(bytes.fromhex(BEACON), 10)
    assert G1.is_on_curve(np.stack([g1_s, g1_sx])).all()
    assert np.array_equal(G1.to_affine(G1.mul(g1_s[None], [x]))[0], g1_sx)


@needs_node
@pytest.mark.parametrize("which", ["zkey0", "zkey"])
def test_verify_matches_snarkjs(snark, which):  # noqa: F811
    zk = getattr(snark, which)
    rc, theirs = snarkjs_verify_zkey(snark, zk)
    assert rc == 0 and theirs[-1] == "ZKey Ok!"
    res = zkprove("zkey", "verify", snark.r1cs, snark.ptau, zk)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == theirs


@needs_node
def test_beacon_byte_identical_and_mixed_chain(snark, tmp_path):  # noqa: F811
    theirs, ours = tmp_path / "theirs.zkey", tmp_path / "ours.zkey"
    out = run_snarkjs("zkey", "beacon", snark.zkey, theirs, BEACON, 10, "-n=Final Beacon",
                      cwd=tmp_path)
    res = zkprove("zkey", "beacon", snark.zkey, ours, BEACON, 10, "-n", "Final Beacon")
    assert res.returncode == 0, res.stderr
    assert ours.read_bytes() == theirs.read_bytes()
    hash_lines = [ln.strip() for ln in ANSI.sub("", out).splitlines() if ln.startswith("\t\t")]
    assert [ln.strip() for ln in res.stdout.splitlines()[1:]] == hash_lines
    # ours on top of snarkjs's beacon key, and snarkjs's check of it: a mixed chain
    mixed = tmp_path / "mixed.zkey"
    contribute_file(theirs, mixed, "after the beacon", b"entropy")
    rc, theirs_report = snarkjs_verify_zkey(snark, mixed)
    assert rc == 0, theirs_report
    res = zkprove("zkey", "verify", snark.r1cs, snark.ptau, mixed)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == theirs_report
    assert "Beacon iterations Exp: 10" in theirs_report


@needs_node
def test_beacon_rejects_bad_parameters(snark, tmp_path):  # noqa: F811
    out = tmp_path / "o.zkey"
    res = zkprove("zkey", "beacon", snark.zkey, out, BEACON, 9)
    assert res.returncode == 1 and "between 10 and 63" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = zkprove("zkey", "beacon", snark.zkey, out, "0x12", 10)
    assert res.returncode == 2 and "hexadecimal" in res.stderr
    assert not out.exists()


def _tamper(src, dst, **changes):
    z = read_zkey(src)
    write_zkey(dataclasses.replace(z, **changes), dst)
    return dst


def _doubled(points, i=0):
    pts = np.array(points)
    pts[i] = G1.to_affine(G1.mul(pts[i:i + 1], [2]))[0]
    return pts


def _tampered_cases(snark, tmp_path):  # noqa: F811
    z = read_zkey(snark.zkey)
    contrib = bytearray(z.contributions)
    contrib[68 + 64 * 3 + 128 + 5] ^= 1  # a byte of the first contribution's transcript
    return {
        "Invalid delta1": _tamper(snark.zkey, tmp_path / "d1.zkey",
                                  delta1=_doubled(z.delta1[None])[0]),
        "L section does not match": _tamper(snark.zkey, tmp_path / "l.zkey", c=_doubled(z.c)),
        "H section does not match": _tamper(snark.zkey, tmp_path / "h.zkey",
                                            h=_doubled(z.h, 3)),
        "A section is not identical": _tamper(snark.zkey, tmp_path / "a.zkey", a=_doubled(z.a, 1)),
        "INVALID(0): Inconsistent transcript": _tamper(snark.zkey, tmp_path / "t.zkey",
                                                       contributions=bytes(contrib)),
    }


@needs_node
def test_tampered_keys_rejected_by_both(snark, tmp_path):  # noqa: F811
    for reason, path in _tampered_cases(snark, tmp_path).items():
        rc, _ = snarkjs_verify_zkey(snark, path)
        assert rc != 0, reason
        with pytest.raises(ZkeyMismatch, match=re.escape(reason)):
            verify_zkey(snark.r1cs, snark.ptau, path)
    res = zkprove("zkey", "verify", snark.r1cs, snark.ptau, tmp_path / "l.zkey")
    assert res.returncode == 1
    assert res.stderr.strip() == "error: ZkeyMismatch: L section does not match"


@needs_node
def test_dev_setup_key_is_not_a_ceremony(snark, tmp_path):  # noqa: F811
    from prover.groth16.setup import dev_setup_file

    dev = tmp_path / "dev.zkey"
    dev_setup_file(snark.r1cs, dev)
    rc, _ = snarkjs_verify_zkey(snark, dev)
    assert rc != 0
    with pytest.raises(ZkeyMismatch):
        verify_zkey(snark.r1cs, snark.ptau, dev)
