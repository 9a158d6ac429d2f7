"""The `rollup` command: one entry point, subcommand groups per part of the system."""

from __future__ import annotations

import click

from prover.cli import one_line, run_main

# One module per command group. Bound under other names: each group's command object has its
# module's name, and `rollup.cli.<name>` must stay the module (for imports and patching).
from rollup.cli import batch as batch_cmds
from rollup.cli import chain as chain_cmds
from rollup.cli import demo as demo_cmds
from rollup.cli import engine as engine_cmds
from rollup.cli import genesis as genesis_cmds
from rollup.cli import keys as keys_cmds
from rollup.cli import l1 as l1_cmds
from rollup.cli import node as node_cmds
from rollup.cli import operator as operator_cmds
from rollup.cli import prover as prover_cmds
from rollup.cli import recover as recover_cmds
from rollup.cli import relayer as relayer_cmds
from rollup.cli import risk as risk_cmds
from rollup.cli import sequencer as sequencer_cmds
from rollup.cli import setup as setup_cmds

__all__ = ["cli", "main", "one_line"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Off-chain derivatives state layer settled by a Groth16 rollup on Ethereum."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _cmd in relayer_cmds.BATCH_COMMANDS:  # add | list | submit beside build | prove
    batch_cmds.batch.add_command(_cmd)
for _cmd in (batch_cmds.batch, chain_cmds.chain, demo_cmds.demo, engine_cmds.engine,
             genesis_cmds.genesis, operator_cmds.init, keys_cmds.keys, l1_cmds.l1, node_cmds.node,
             prover_cmds.prover, recover_cmds.recover_cmd, recover_cmds.exit_cmd,
             relayer_cmds.relayer, risk_cmds.risk, sequencer_cmds.sequencer, setup_cmds.setup,
             operator_cmds.status):
    cli.add_command(_cmd)
del _cmd


def main() -> None:
    run_main(cli)  # one-line errors (exit 1) unless --debug


if __name__ == "__main__":
    main()
