"""Batch shapes: keys found in the keys folder, the shape a batch is closed with, the key it is
proven with (``rollup.settlement.shapes``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollup.api.service import SequencerService
from rollup.config import load
from rollup.settlement.batch import Unsupported, plan_batches
from rollup.settlement.shapes import Shape, ShapeError, batch_shapes, choose, on_disk, shape_of
from rollup.transactions import Transfer
from tests.support.operator import DOMAIN, trader, write_config

DEPTH, ASSETS = 4, 4


def touch(d: Path, *names: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_bytes(b"")


def test_shapes_are_the_configured_ones_with_keys(tmp_path):
    cfg = load(write_config(tmp_path / "op", n_traders=1, depth=DEPTH, slots=4,
                            batch_l1_slots=2, batch_assets=ASSETS))
    only = batch_shapes(cfg)  # no keys yet: the configured shape alone
    assert [s.key for s in only] == [(4, 2)] and only[0].zkey == cfg.keys_dir / "batch.zkey"
    touch(cfg.keys_dir, "batch.zkey", "batch_vk.json",
          "batch-16x2.zkey", "batch-16x2_vk.json",  # a shape
          "batch-1x0.zkey", "batch-1x0_vk.json",  # a smaller one
          "batch-8x1.zkey",  # no verification key: not usable yet
          "batch-2x3.zkey", "batch-2x3_vk.json",  # more L1 slots than slots
          "batch-4x2.zkey", "batch-4x2_vk.json",  # the configured shape: batch.* is its key
          "batch-16x2.r1cs", "batch-x.zkey", "batch-04x1.zkey", "batch-04x1_vk.json")
    # keys on disk are not shapes until the contract has them ([batch] shapes)
    assert [s.key for s in batch_shapes(cfg)] == [(4, 2)]
    assert [s.key for s in on_disk(cfg)] == [(1, 0), (16, 2)]  # what a deployment registers
    cfg.batch_shapes = ["16x2", "1x0"]
    shapes = batch_shapes(cfg)
    assert [s.key for s in shapes] == [(1, 0), (4, 2), (16, 2)]
    assert shapes[1].zkey.name == "batch.zkey"
    assert shapes[2].zkey.name == "batch-16x2.zkey"
    assert shapes[2].vk.name == "batch-16x2_vk.json"
    assert shape_of(cfg, 16, 2) == shapes[2] and shape_of(cfg, 4, 2) == shapes[1]
    # a built batch of a shape without keys names where they would be
    assert shape_of(cfg, 32, 4).zkey == cfg.keys_dir / "batch-32x4.zkey"
    cfg.batch_shapes = ["16x2", "8x1"]  # listed, but its verification key is missing
    with pytest.raises(ShapeError, match="8x1.*batch-8x1_vk.json"):
        batch_shapes(cfg)


def shape(n: int) -> Shape:
    return Shape(n, 1, Path(f"{n}.zkey"), Path(f"{n}_vk.json"))


def test_choose_smallest_that_holds_else_the_one_that_takes_most():
    shapes = [shape(1), shape(4), shape(16)]

    def plan_for(n_rows: int, refuse=(), l1_bound=None):
        def plan(s: Shape):
            if s.slots in refuse:
                raise Unsupported("a request larger than the shape")
            rows = list(range(n_rows))
            take = s.slots if l1_bound is None else min(s.slots, l1_bound)
            return [rows] if n_rows <= take else [rows[:take], rows[take:]]
        return plan

    assert choose(shapes, plan_for(1))[0].slots == 1
    assert choose(shapes, plan_for(3))[0].slots == 4
    assert choose(shapes, plan_for(16))[0].slots == 16
    s, p = choose(shapes, plan_for(40))  # more than the largest holds: a full largest batch
    assert s.slots == 16 and len(p[0]) == 16 and len(p) == 2
    assert choose(shapes, plan_for(1, refuse=(1,)))[0].slots == 4  # passed over
    # the largest cannot take the first request but a smaller one can: never stuck on it
    s, p = choose(shapes, plan_for(40, refuse=(16,)))
    assert s.slots == 4 and len(p[0]) == 4
    # deposits limited by L1 slots: every shape's batch takes 3 of them; more slots gain
    # nothing, so the cheapest proof
    s, p = choose(shapes[1:], plan_for(10, l1_bound=3))
    assert s.slots == 4 and len(p[0]) == 3
    with pytest.raises(Unsupported):  # no shape can take it: the error stands
        choose(shapes, plan_for(1, refuse=(1, 4, 16)))
    assert choose([shape(4)], plan_for(9)) == (shape(4), [list(range(4)), list(range(4, 9))])


@pytest.fixture(scope="module")
def journal(tmp_path_factory):
    """Three transfers (one record each) after the genesis; the configured shape is 1 slot and
    a named 2-slot shape has keys (empty files: building reads no key)."""
    path = write_config(tmp_path_factory.mktemp("shapes"), n_traders=2, depth=DEPTH, slots=1,
                        batch_l1_slots=1, batch_assets=ASSETS, batch_shapes=["2x1"])
    cfg = load(path)
    svc = SequencerService(cfg, log=lambda m: None).start()
    try:
        for k in range(3):
            svc.submit(Transfer(1, 2, 10 + k, k, 10**9).signed(trader(1), DOMAIN))
    finally:
        svc.close()
    touch(cfg.keys_dir, "batch-2x1.zkey", "batch-2x1_vk.json")
    return cfg


def test_plan_first_only_stops_at_the_first_batch(journal):
    from rollup.durability.journal import Journal
    from rollup.engine.restart import recover
    from rollup.settlement import files as F

    g = F.read_genesis(journal)
    j = Journal(journal.journal_path)
    try:
        reqs = [r for _, r in j.requests_after(g["seq"])]
    finally:
        j.close()
    pre = recover(journal.journal_path, journal.domain(), DEPTH, upto=g["seq"])
    full = plan_batches(pre, reqs, slots=2, l1_slots=1)
    assert [len(b) for b in full] == [2, 1]
    first = plan_batches(pre, reqs, slots=2, l1_slots=1, first_only=True)
    assert first == [full[0], reqs[2:]]
    assert plan_batches(pre, reqs, slots=4, l1_slots=1, first_only=True) == [reqs]


def test_batcher_closes_with_the_shape_that_fits(journal):
    from rollup.settlement.stage import build_next

    # three rows pending: more than the largest shape holds, so a full 2-slot batch
    b1 = build_next(journal, full_only=True, check=False)
    assert (b1.meta["slots"], b1.meta["requests"]) == (2, 2)
    # one row left: not full in the largest shape, so nothing until the time limit ...
    assert build_next(journal, full_only=True, check=False) is None
    # ... then the smallest shape that holds it
    b2 = build_next(journal, check=False)
    assert (b2.meta["slots"], b2.meta["l1_slots"], b2.meta["requests"]) == (1, 1, 1)
    assert b2.meta["first_seq"] == b1.meta["last_seq"] + 1


def test_provers_prove_each_batch_with_its_shapes_key(tmp_path, monkeypatch):
    import json

    from rollup.node import provers

    used = []

    def prove_file(path, meta, key, vk=None, backend=None) -> float:
        used.append((key, vk))
        return 1.0

    def prove(n: int, slots: int, l1: int) -> None:
        f = tmp_path / f"batch-{n}.json"
        f.write_text(json.dumps({"number": n, "slots": slots, "l1_slots": l1}))
        provers._prove(provers.ProofJob(n, str(f)))

    monkeypatch.setattr(provers, "prove_file", prove_file)
    monkeypatch.setattr(provers, "_KEY", "configured key")
    monkeypatch.setattr(provers, "_VK", "configured vk")
    monkeypatch.setattr(provers, "_MAIN_SHAPE", (4, 2))
    monkeypatch.setattr(provers, "_SHAPES", {(16, 2): ("16x2 key", "16x2 vk")})
    prove(1, 16, 2)
    prove(2, 4, 2)
    assert used == [("16x2 key", "16x2 vk"), ("configured key", "configured vk")]
    # a shape no key here has: a typed error, never a proof under another shape's key
    with pytest.raises(provers.UnknownShape, match="batch 3 is 16x1.*have 4x2, 16x2"):
        prove(3, 16, 1)
    assert len(used) == 2
