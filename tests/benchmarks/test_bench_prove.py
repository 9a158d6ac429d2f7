"""benchmarks/prove.py pieces that run fast: size parsing, per-child time and RSS, the CLI."""

from __future__ import annotations

import sys

from click.testing import CliRunner

from benchmarks import prove as bp
from benchmarks.cli import bench


def test_parse_sizes():
    assert bp.parse_sizes("2^12, 2^14,5000") == [4096, 16384, 5000]


def test_timed_child_measures_that_child_alone():
    big = "x = bytearray(200 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"
    _, rss_big, _ = bp.timed_child([sys.executable, "-c", big])
    ballast = bytearray(300 * 1024 * 1024)  # this process grows: children must not inherit it
    ballast[::4096] = b"1" * len(ballast[::4096])
    wall, rss_small, out = bp.timed_child([sys.executable, "-S", "-c", "print('hi')"])
    del ballast
    assert rss_big > 200 and rss_small < 100 and wall > 0 and "hi" in out


def test_bench_prove_help():
    out = CliRunner().invoke(bench, ["prove", "--help"])
    assert out.exit_code == 0
    for opt in ("--constraints", "--vs", "--json", "--setup"):
        assert opt in out.output


def test_bench_witness_help():
    out = CliRunner().invoke(bench, ["witness", "--help"])
    assert out.exit_code == 0
    for opt in ("--constraints", "--repeat", "--json", "--setup"):
        assert opt in out.output


def test_timed_child_passes_env():
    _, _, out = bp.timed_child([sys.executable, "-S", "-c",
                                "import os; print(os.environ['ZK_BENCH_PROBE'])"],
                               env={"ZK_BENCH_PROBE": "seen"})
    assert "seen" in out
