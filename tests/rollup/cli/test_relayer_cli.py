"""`rollup batch add|list|submit` and `rollup relayer run` against Anvil with real proofs (the
session's settlement story), through `rollup.cli.main`: errors are one line and exit 1, with a
traceback only under --debug."""

from __future__ import annotations

import json
import sys

import pytest

from prover.formats.snarkjs_json import Proof, dump_proof
from rollup.chain import node
from rollup.cli import main
from rollup.settlement.relayer import StoreError
from tests.support.story import ALICE, open_world

pytestmark = [pytest.mark.skipif(node.anvil_path() is None, reason="anvil is not installed"),
              pytest.mark.slow]  # the session's proofs first (about a minute)


@pytest.fixture(scope="module")
def anvil_world(story):  # noqa: F811
    w = open_world("anvil", story)
    yield w
    w.chain.close()


def rollup_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["rollup", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_batch_and_relayer_commands(anvil_world, tmp_path, monkeypatch, capsys):
    s, url = anvil_world.story, anvil_world.chain.url
    db = tmp_path / "relayer.db"
    node_args = ["--store", db, "--rollup", s.rollup_address, "--rpc", url]

    def run(*args):
        return rollup_cli(monkeypatch, capsys, *args)

    # batch 1 as a relayer record
    rec = tmp_path / "b1.json"
    rec.write_text(json.dumps(s.stored[0].to_json()))
    assert run("batch", "add", rec, "--store", db)[0] == 0
    code, out, _ = run("batch", "list", "--store", db)
    assert code == 0 and "1 batches" in out and "pending" in out

    # not the next batch: one line, exit 1
    code, out, err = run("batch", "submit", 2, *node_args)
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: StoreError")
    code, out, _ = run("batch", "submit", 1, *node_args)
    assert code == 0 and "batch 1 finalized: gas" in out
    code, out, _ = run("batch", "submit", 1, *node_args)
    assert code == 0 and "already finalized" in out

    # batch 2 as `rollup batch build` / `prove` leave it: batch JSON + proof.json beside it
    b = s.batches[1]
    built = tmp_path / "batch-000002.json"
    built.write_text(json.dumps({
        "number": 2, "old_root": f"0x{b.old_root:064x}", "new_root": f"0x{b.new_root:064x}",
        "queue_consumed": b.queue_consumed, "public_data": "0x" + b.public_data.hex(),
        "public_input": str(b.public_input)}))
    p = s.stored[1].proof  # uint256[8] back to snarkjs's proof.json
    dump_proof(Proof((p[0], p[1]), ((p[3], p[2]), (p[5], p[4])), (p[6], p[7])),
               tmp_path / "batch-000002.proof.json")
    assert run("batch", "add", built, "--store", db)[0] == 0

    # one relayer pass: the deposit from the queue as a JSON line, batch 2 finalized
    code, out, err = run("relayer", "run", "--once", *node_args)
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 1
    assert (lines[0]["index"], lines[0]["kind"], lines[0]["l1Address"]) == (0, "deposit", ALICE)
    assert "1 batches finalized; chain at batch 2" in err
    code, out, err = run("relayer", "run", "--once", *node_args)
    assert code == 0 and out == "" and "0 queue entries read, 0 batches finalized" in err
    code, out, _ = run("batch", "list", "--store", db)
    assert out.count("finalized") == 2

    # errors: one line without --debug, the exception with it
    code, out, err = run("batch", "submit", 3, *node_args)
    assert (code, err.count("\n")) == (1, 1) and "batch 3 is not in" in err
    with pytest.raises(StoreError):
        run("--debug", "batch", "submit", 3, *node_args)
    code, _, err = run("relayer", "run", "--once", "--store", db, "--rollup",
                       s.rollup_address, "--rpc", "http://127.0.0.1:9")
    assert code == 1 and err.startswith("error: ChainError: cannot reach")
    code, _, err = run("relayer", "run", "--once", "--store", db, "--rollup", ALICE, "--rpc", url)
    assert code == 1 and "no contract at" in err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _, err = run("batch", "add", bad, "--store", db)
    assert code == 1 and err.count("\n") == 1
