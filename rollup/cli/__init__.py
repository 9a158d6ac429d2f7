"""The `rollup` command: one entry point, subcommand groups per part of the system."""

from __future__ import annotations

import click

from prover.cli import one_line, run_main

__all__ = ["cli", "main", "one_line"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Off-chain derivatives state layer settled by a Groth16 rollup on Ethereum."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    from rollup.cli.batch import batch
    from rollup.cli.chain import chain
    from rollup.cli.demo import demo
    from rollup.cli.engine import engine
    from rollup.cli.genesis import genesis
    from rollup.cli.keys import keys
    from rollup.cli.l1 import l1
    from rollup.cli.node import node
    from rollup.cli.operator import init, status
    from rollup.cli.prover import prover
    from rollup.cli.recover import exit_cmd, recover_cmd
    from rollup.cli.relayer import BATCH_COMMANDS, relayer
    from rollup.cli.sequencer import sequencer
    from rollup.cli.setup import setup

    for cmd in BATCH_COMMANDS:  # add | list | submit beside build | prove
        batch.add_command(cmd)
    cli.add_command(batch)
    cli.add_command(chain)
    cli.add_command(demo)
    cli.add_command(engine)
    cli.add_command(genesis)
    cli.add_command(init)
    cli.add_command(keys)
    cli.add_command(l1)
    cli.add_command(node)
    cli.add_command(prover)
    cli.add_command(recover_cmd)
    cli.add_command(exit_cmd)
    cli.add_command(relayer)
    cli.add_command(sequencer)
    cli.add_command(setup)
    cli.add_command(status)


_register()


def main() -> None:
    run_main(cli)  # one-line errors (exit 1) unless --debug


if __name__ == "__main__":
    main()
