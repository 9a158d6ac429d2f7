"""Export to iden3 .r1cs / .wtns, checked by our readers and by the pinned snarkjs and circom."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from circuits.dsl import ConstraintSystem
from circuits.gadgets import comparators as cmp
from circuits.gadgets import select as sel
from circuits.gadgets import sha256 as sha
from circuits.gadgets import signed as sg
from circuits.gadgets.bits import to_bits
from prover.formats._limbs import limbs_to_ints
from prover.formats.r1cs import read_r1cs
from prover.formats.wtns import read_wtns

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "node_modules" / ".bin"
SNARKJS = BIN / "snarkjs"
CIRCOM = BIN / "circom2"
needs_node = pytest.mark.skipif(not SNARKJS.exists(), reason="node_modules/.bin/snarkjs is absent")


def mixed_circuit(with_sha: bool = False) -> ConstraintSystem:
    """A bit of everything: every signal kind, substitutions, and a kept linear constraint."""
    cs = ConstraintSystem()
    limit = cs.public_input("limit", 1000)
    pos = cs.private_input("pos", sg.encode(-250))
    price = cs.private_input("price", 3)
    idx = cs.private_input("idx", 2)
    echo = cs.private_input("echo", 1000)
    with cs.component("risk"):
        sg.assert_signed(cs, pos, 32)
        exposure = sg.mul_unsigned(cs, sg.abs_(cs, pos, 32), 32, price, 16)
        ok = cmp.less_eq(cs, exposure, limit, 48)
    with cs.component("pick"):
        chosen = sel.select(cs, idx, [cs.const(7), price, exposure, limit * 2])
    with cs.component("echo"):
        cs.assert_equal(echo, limit)  # two interface signals: stays one constraint
    cs.public_output("ok", ok)
    cs.public_output("chosen", chosen)
    if with_sha:
        data = b"\x01\x02\x03\x04"
        with cs.component("hash"):
            bs = [cs.private_input(f"d{i}", v) for i, v in enumerate(data)]
            bits = [b for x in bs for b in reversed(to_bits(cs, x, 8))]
            cs.public_output("digest", sha.sha256_field(cs, bits))
    return cs


def test_r1cs_and_wtns_roundtrip(tmp_path):
    cs = mixed_circuit()
    assert cs.check() == []
    cs.write_r1cs(tmp_path / "c.r1cs")
    cs.write_wtns(tmp_path / "c.wtns")
    r = read_r1cs(tmp_path / "c.r1cs")
    st = cs.stats()
    assert (r.n_wires, r.n_constraints) == (st["wires"], st["constraints"])
    assert (r.n_pub_out, r.n_pub_in, r.n_prv_in) == (2, 1, 4)
    assert r.constraints() == cs.constraints()
    assert r.n_labels == cs.n_signals
    assert limbs_to_ints(read_wtns(tmp_path / "c.wtns")) == cs.witness()
    # outputs first: ok = (|-250| * 3 <= 1000), chosen = values[2] = 750; then the input
    assert cs.witness()[1:4] == [1, 750, 1000]
    # and the exported constraints hold on the exported witness
    wit = cs.witness()
    for a, b, c in r.constraints():
        ev = [sum(k * wit[i] for i, k in t.items()) % r.prime for t in (a, b, c)]
        assert ev[0] * ev[1] % r.prime == ev[2]


def _snarkjs(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(SNARKJS), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _info(path) -> dict[str, int]:
    res = _snarkjs("r1cs", "info", path)
    assert res.returncode == 0, res.stdout + res.stderr
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"# of ([A-Za-z ]+): (\d+)", res.stdout + res.stderr)}


@needs_node
@pytest.mark.node
def test_snarkjs_accepts_our_circuit(tmp_path):
    cs = mixed_circuit(with_sha=True)
    cs.write_r1cs(tmp_path / "c.r1cs")
    cs.write_wtns(tmp_path / "c.wtns")
    info = _info(tmp_path / "c.r1cs")
    st = cs.stats()
    assert info["Constraints"] == st["constraints"]
    assert info["Wires"] == st["wires"]
    assert (info["Outputs"], info["Public Inputs"], info["Private Inputs"]) == (3, 1, 8)
    res = _snarkjs("wtns", "check", tmp_path / "c.r1cs", tmp_path / "c.wtns")
    assert res.returncode == 0 and "WITNESS IS CORRECT" in res.stdout, res.stdout + res.stderr


@needs_node
@pytest.mark.node
def test_snarkjs_rejects_forged_witness(tmp_path):
    cs = mixed_circuit()
    w = cs.witness()
    w[cs.wire_index(cs.names["ok"])] = 0  # the limit check really passed
    assert {v.component.split("/")[0] for v in cs.check(w)} == {"risk"}
    cs.write_r1cs(tmp_path / "c.r1cs")
    cs.write_wtns(tmp_path / "bad.wtns", w)
    res = _snarkjs("wtns", "check", tmp_path / "c.r1cs", tmp_path / "bad.wtns")
    assert "WITNESS IS CORRECT" not in res.stdout


@needs_node
@pytest.mark.node
def test_less_than_64_matches_circom_O2(tmp_path):
    src = tmp_path / "lt.circom"
    src.write_text('pragma circom 2.0.0;\ninclude "circomlib/circuits/comparators.circom";\n'
                   "component main = LessThan(64);\n")
    res = subprocess.run([str(CIRCOM), str(src), "--r1cs", "--O2", "-l", str(ROOT / "node_modules"),
                          "-o", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    theirs = _info(tmp_path / "lt.r1cs")
    cs = ConstraintSystem()
    a = cs.private_input("a", 3)
    b = cs.private_input("b", 4)
    cs.public_output("out", cmp.less_than(cs, a, b, 64))
    cs.write_r1cs(tmp_path / "ours.r1cs")
    ours = _info(tmp_path / "ours.r1cs")
    for key in ("Constraints", "Wires", "Outputs", "Public Inputs", "Private Inputs"):
        assert ours[key] == theirs[key], key
    assert ours["Constraints"] == 65
