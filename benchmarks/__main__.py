"""`python -m benchmarks <name> [--json PATH]` (see benchmarks/cli.py)."""

from benchmarks.cli import bench

bench(prog_name="python -m benchmarks")
