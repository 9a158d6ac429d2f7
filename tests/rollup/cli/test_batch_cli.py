"""`rollup batch build` and `rollup batch prove` on a journal the sequencer service wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.formats.wtns import read_wtns_header
from rollup.api.service import SequencerService
from rollup.config import load
from rollup.engine.restart import recover
from rollup.transactions import OracleUpdate, Transfer
from tests.support.operator import (
    DOMAIN,
    ORACLE,
    PERP,
    PRICE,
    one_line_error,
    run,
    trader,
    write_config,
)

DEPTH, SLOTS, L1, ASSETS = 4, 1, 1, 4  # the smallest batch circuit with an L1 slot


@pytest.fixture(scope="module")
def journal(tmp_path_factory):
    """Genesis (oracle key, fee account, one market, traders 1 and 2), then a transfer and an
    oracle update (one record each)."""
    path = write_config(tmp_path_factory.mktemp("batch"), n_traders=2, depth=DEPTH, slots=SLOTS,
                        batch_l1_slots=L1, batch_assets=ASSETS)
    svc = SequencerService(load(path), log=lambda m: None).start()
    try:
        r1 = svc.submit(Transfer(1, 2, 300, 0, 10**9).signed(trader(1), DOMAIN))
        r2 = svc.submit(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN))
    finally:
        svc.close()
    return path, r1, r2


def test_batch_build_then_errors(journal, monkeypatch, capsys):
    path, r1, r2 = journal
    cfg = load(path)
    code, out, err = run(monkeypatch, capsys, "batch", "build", "--config", path)
    assert code == 0, err
    meta = json.loads((cfg.batches_dir / "batch-000001.json").read_text())
    assert (meta["number"], meta["first_seq"], meta["last_seq"]) == (1, r1["seq"], r1["seq"])
    assert meta["new_root"] == r1["root"]
    pre = recover(cfg.journal_path, cfg.domain(), DEPTH, upto=r1["seq"] - 1)
    assert int(meta["old_root"], 16) == pre.state.root
    _, _, n = read_wtns_header(cfg.batches_dir / meta["witness"])
    assert n > 100_000
    # two records do not fit one slot
    code, out, err = run(monkeypatch, capsys, "batch", "build", "--config", path, "--from",
                         r1["seq"], "--to", r2["seq"], "--number", 7)
    line = one_line_error(err, "BatchError")
    assert code == 1 and f"rows {r1['seq']}..{r2['seq']}" in line
    assert not (cfg.batches_dir / "batch-000007.json").exists()
    code, out, err = run(monkeypatch, capsys, "batch", "build", "--config", path, "--from", 99)
    assert code == 1 and "nothing to batch" in one_line_error(err, "BatchError")
    # status reports the batch
    code, out, err = run(monkeypatch, capsys, "status", "--config", path, "--json")
    assert json.loads(out)["batch"]["last_built"] == 1


def test_batch_prove_errors(journal, tmp_path, monkeypatch, capsys):
    path, _, _ = journal
    cfg = load(path)
    code, out, err = run(monkeypatch, capsys, "batch", "prove", "--config", path)
    if not (cfg.batches_dir / "batch-000001.json").exists():
        assert code == 1 and "no batch built" in one_line_error(err, "BatchError")
        return
    assert code == 1 and "no proving key" in one_line_error(err, "BatchError")
    # a proving key of another circuit: one line from the prover
    from circuits import ConstraintSystem
    from prover.formats.zkey import write_zkey
    from prover.groth16.setup import dev_setup

    cs = ConstraintSystem()
    x = cs.private_input("x", 3)
    cs.public_output("y", x * x * x + x + 5)
    write_zkey(dev_setup(cs.to_r1cs()), tmp_path / "other.zkey")
    code, out, err = run(monkeypatch, capsys, "batch", "prove", "--config", path, "--zkey",
                         tmp_path / "other.zkey", "--backend", "cpu")
    assert code == 1 and "witness" in one_line_error(err, "WitnessError").lower()


@pytest.mark.slow
def test_batch_prove(journal, monkeypatch, capsys):
    """Proves batch 1 with development keys made once, then cached by circuit version in
    ~/.cache/zkderiv/demo (`rollup.devkeys`, as `rollup demo` does; the first run pays for the
    setup)."""
    from rollup.devkeys import dev_keys

    path, r1, _ = journal
    cfg = load(path)
    if not (cfg.batches_dir / "batch-000001.json").exists():
        run(monkeypatch, capsys, "batch", "build", "--config", path)
    keys = dev_keys("batch", slots=SLOTS, l1_slots=L1, depth=DEPTH, assets=ASSETS,
                    cache=Path.home() / ".cache" / "zkderiv" / "demo")
    zkey, vk = keys.zkey, keys.vk_path
    code, out, err = run(monkeypatch, capsys, "batch", "prove", "--config", path, "--zkey",
                         zkey, "--vk", vk, "--backend", "cpu")
    assert code == 0, err
    assert "verified" in out
    pub = json.loads((cfg.batches_dir / "batch-000001.public.json").read_text())
    meta = json.loads((cfg.batches_dir / "batch-000001.json").read_text())
    assert pub == [meta["public_input"]]
    assert json.loads((cfg.batches_dir / "batch-000001.proof.json").read_text())["protocol"] \
        == "groth16"
    code, out, err = run(monkeypatch, capsys, "status", "--config", path, "--json")
    assert code == 0 and json.loads(out)["batch"]["last_built"] == 1  # proof files ignored


@pytest.mark.slow  # five witness builds
def test_incremental_builder_matches_fresh_builds(tmp_path):
    """The node's builder keeps the engine between batches (PreState) instead of replaying the
    journal: the files it writes are byte for byte those of a fresh build; `full_only` builds
    nothing while the planned batch is the last one."""
    import shutil

    from rollup.settlement.stage import PreState, build_next

    path = write_config(tmp_path / "op", n_traders=2, depth=DEPTH, slots=SLOTS,
                        batch_l1_slots=L1, batch_assets=ASSETS)
    cfg = load(path)
    svc = SequencerService(cfg, log=lambda m: None).start()
    try:
        for k in range(3):
            svc.submit(Transfer(1, 2, 10 + k, k, 10**9).signed(trader(1), DOMAIN))
    finally:
        svc.close()
    cache = PreState()
    for n in (1, 2):
        built = build_next(cfg, full_only=True, check=False, cache=cache)
        assert built.meta["number"] == n and cache.seq == built.meta["last_seq"]
    assert build_next(cfg, full_only=True, check=False, cache=cache) is None  # the last batch
    got = {p.name: p.read_bytes() for p in cfg.batches_dir.iterdir()}
    shutil.rmtree(cfg.batches_dir)
    for _ in (1, 2):
        build_next(cfg, check=True)  # each from a replay of the journal
    assert {p.name: p.read_bytes() for p in cfg.batches_dir.iterdir()} == got
