"""`rollup bench ...`: the entry point for every benchmark; each writes JSON with --json PATH."""

from __future__ import annotations

import click


@click.group("bench")
def bench() -> None:
    """Benchmarks (JSON out with --json; side by side with a peer where one exists)."""


@bench.command("field")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
@click.option("--quick", is_flag=True, help="Fewer iterations (a smoke run).")
def bench_field(json_path: str | None, quick: bool) -> None:
    """ns per op: Fq/Fr multiplication, G1 mixed add and double, G2 add, vs py_ecc."""
    from benchmarks import field

    field.main(json_path, quick)
