"""The `rollup` command: help, errors as one line, the field benchmark's JSON records."""

import json

import pytest
from click.testing import CliRunner

from rollup.cli import cli


def test_help_lists_groups():
    out = CliRunner().invoke(cli, ["--help"])
    assert out.exit_code == 0
    assert "bench" in out.output and "demo" in out.output


def test_bench_field_json(tmp_path):
    path = tmp_path / "field.json"
    out = CliRunner().invoke(cli, ["bench", "field", "--quick", "--json", str(path)])
    assert out.exit_code == 0, out.output
    records = json.loads(path.read_text())
    assert {r["op"] for r in records} == {"fq_mul", "fr_mul", "g1_add_mixed", "g1_double", "g2_add"}
    for r in records:
        assert r["backend"] == "cpu"
        assert r["ns_per_op"] > 0 and r["reference_ns_per_op"] > 0


@pytest.mark.slow
def test_demo_proves_and_verifies_every_batch(tmp_path):
    """The README's first command, end to end: development setup in a fresh cache, three
    one-slot batches proven, checked by our verifier and by a verifier contract on py-evm."""
    path = tmp_path / "demo.json"
    out = CliRunner().invoke(cli, ["demo", "--cache", str(tmp_path / "keys"), "--json", str(path)])
    assert out.exit_code == 0, out.output
    summary = json.loads(path.read_text())
    assert [b["batch"] for b in summary["batches"]] == [1, 2, 3]
    assert all(180_000 < b["verify_gas"] < 260_000 for b in summary["batches"])
    roots = [b["new_root"] for b in summary["batches"]]
    assert len(set(roots)) == 3  # every batch moved the state
    assert summary["batches"][1]["old_root"] == summary["batches"][0]["new_root"]
