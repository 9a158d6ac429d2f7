"""benchmarks/ptau.py: the CLI, CPU time beside wall time, and a run of ours at a tiny size."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from benchmarks import prove as bp
from benchmarks import ptau as bpt
from benchmarks.cli import bench


def test_bench_ptau_help():
    out = CliRunner().invoke(bench, ["ptau", "--help"])
    assert out.exit_code == 0
    for opt in ("--powers", "--ops", "--json", "--snarkjs-max-power"):
        assert opt in out.output


def test_measured_child_reports_cpu():
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    r = bp.measured_child([sys.executable, "-S", "-c", spin])
    assert r["cpu"] >= 0.3 and r["wall"] >= r["cpu"] * 0.5 and r["rss_mib"] > 0


@pytest.mark.slow
def test_ours_at_power_2(tmp_path, monkeypatch):
    monkeypatch.setenv("ZKDERIV_CACHE", str(tmp_path))
    out = tmp_path / "r.json"
    recs = bpt.main([2], ["prepare", "verify"], 1, str(out), snarkjs_max_power=0,
                    log=lambda m: None)
    assert [r["op"] for r in recs] == ["ptau_prepare_phase2", "ptau_verify"]
    assert all(r["seconds"] > 0 and "reference" not in r for r in recs)
    assert json.loads(out.read_text()) == recs
