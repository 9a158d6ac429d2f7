"""The `rollup` command: help, errors as one line, the field benchmark's JSON records."""

import json

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


def test_demo_runs_and_checks(tmp_path):
    out = CliRunner().invoke(cli, ["demo", "--seed", "7"])
    assert out.exit_code == 0, out.output
    assert "match" in out.output and "MISMATCH" not in out.output
