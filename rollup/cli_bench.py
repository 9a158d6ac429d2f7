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


@bench.command("prove")
@click.option("--constraints", "sizes", default="2^12,2^14", show_default=True,
              help="Circuit sizes, comma separated: 2^k or integers.")
@click.option("--vs", type=click.Choice(["snarkjs"]), help="Also time this reference prover.")
@click.option("--repeat", default=3, show_default=True, help="Runs per prover (best is kept).")
@click.option("--setup", type=click.Choice(["auto", "snarkjs", "dev"]), default="auto",
              show_default=True,
              help="Who makes the zkey: snarkjs (ptau cached), our dev setup, or auto by size.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write records here.")
def bench_prove(sizes: str, vs: str | None, repeat: int, setup: str,
                json_path: str | None) -> None:
    """Groth16 prove: ours (process and in-process, phase split) vs the snarkjs CLI."""
    from benchmarks import prove

    records = prove.run(prove.parse_sizes(sizes), vs, json_path, repeat,
                        log=lambda m: click.echo(m, err=True), setup=setup)
    prove.print_records(records)
