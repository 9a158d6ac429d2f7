"""The `rollup` command: help, errors as one line, the field benchmark's JSON records."""

import json

import pytest
from click.testing import CliRunner

from benchmarks.cli import bench
from rollup.cli import cli


def test_help_lists_groups():
    out = CliRunner().invoke(cli, ["--help"])
    assert out.exit_code == 0
    assert "demo" in out.output and "prover" in out.output
    # the benchmarks run from a checkout: `python -m benchmarks`, not a `rollup` group
    assert "bench" not in out.output
    assert "field" in CliRunner().invoke(bench, ["--help"]).output


def test_bench_field_json(tmp_path):
    path = tmp_path / "field.json"
    out = CliRunner().invoke(bench, ["field", "--quick", "--json", str(path)])
    assert out.exit_code == 0, out.output
    records = json.loads(path.read_text())
    assert {r["op"] for r in records} == {"fq_mul", "fr_mul", "fq_mul_portable", "g1_add_mixed",
                                          "g1_double", "g2_add"}
    for r in records:
        assert r["backend"] == "cpu"
        assert r["field_product"] in ("mulx-adx", "portable")
        assert r["ns_per_op"] > 0 and r["reference_ns_per_op"] > 0


@pytest.mark.slow
def test_demo_tells_the_whole_story(tmp_path):
    """The README's first command, end to end on py-evm with a fresh key cache: deposits,
    trades, liquidation, funding, batches finalized by Rollup.submitBatch, a withdrawal, then
    exodus and every trader's exit from state rebuilt out of L1 data. The run checks each
    outcome itself (DemoError otherwise); here the summary is held to the story."""
    path = tmp_path / "demo.json"
    out = CliRunner().invoke(cli, ["demo", "--cache", str(tmp_path / "keys"), "--json", str(path)])
    assert out.exit_code == 0, out.output
    s = json.loads(path.read_text())
    numbers = [b["batch"] for b in s["batches"]]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
    for prev, b in zip(s["batches"], s["batches"][1:], strict=False):
        assert b["old_root"] == prev["new_root"]
    kinds = {k for b in s["batches"] for k in b["requests"]}
    assert {"Deposit", "Order", "OracleUpdate", "ScenarioChunk", "FundingTick", "Liquidation",
            "Withdrawal"} <= kinds
    # a pairing check (181,000) and the bookkeeping; an empty L1 slot credits nothing
    assert all(230_000 < b["gas"] < 600_000 for b in s["batches"])
    assert [e["trader"] for e in s["exits"]] == ["maker", "alice", "bob", "carol"]
    assert all(e["amount"] > 0 for e in s["exits"])
    assert any("conservation" in c for c in s["checks"])
    assert s["events"][-1]["step"] == "recover"
