"""`rollup setup`: keys for a further batch shape, named after it, found by the batcher."""

from __future__ import annotations

import json

import pytest

from prover.formats.r1cs import read_r1cs
from prover.formats.zkey import read_zkey
from rollup.config import load
from rollup.settlement.shapes import on_disk
from tests.support.operator import run, write_config


@pytest.mark.slow  # a development setup of the smallest batch circuit
def test_named_shape_keys(tmp_path, monkeypatch, capsys):
    cfg = load(write_config(tmp_path / "op", n_traders=1, depth=2, slots=4, batch_l1_slots=1,
                            batch_assets=2))
    code, out, err = run(monkeypatch, capsys, "setup", "--slots", 1, "--l1-slots", 0,
                         "--depth", 2, "--assets", 2, "--named", "--out", cfg.keys_dir)
    assert code == 0, err
    stem = cfg.keys_dir / "batch-1x0"
    r1cs, z = read_r1cs(stem.with_suffix(".r1cs")), read_zkey(stem.with_suffix(".zkey"))
    assert f"batch: {r1cs.n_constraints} constraints" in out
    assert (z.n_vars, z.n_public) == (r1cs.n_wires, 1)
    # --named makes the batch circuit's keys only
    assert not (cfg.keys_dir / "batch.zkey").exists() and not (cfg.keys_dir / "exit.zkey").exists()
    assert [s.key for s in on_disk(cfg)] == [(1, 0)]  # what a deployment registers
    assert not list(cfg.keys_dir.glob("*.tmp"))
    # what the node checks at start: the circuit the keys prove, its underlyings included
    params = json.loads((cfg.keys_dir / "batch-1x0_circuit.json").read_text())
    assert params == {"circuit": "batch", "slots": 1, "depth": 2, "assets": 2, "underlyings": 1,
                      "l1_slots": 0, "constraints": r1cs.n_constraints}


def test_setup_keeps_existing_keys_without_force(tmp_path, monkeypatch, capsys):
    out = tmp_path / "keys"
    out.mkdir()
    (out / "exit_vk.json").write_text("deployed")
    code, _, err = run(monkeypatch, capsys, "setup", "--slots", 1, "--depth", 2, "--out", out)
    assert code != 0 and "exit_vk.json" in err and "--force" in err
    assert (out / "exit_vk.json").read_text() == "deployed" and sorted(out.iterdir()) == [
        out / "exit_vk.json"]
    code, _, err = run(monkeypatch, capsys, "setup", "--slots", 1, "--depth", 2, "--named",
                       "--only", "exit", "--out", out)
    assert code != 0 and "--named" in err
