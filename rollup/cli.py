"""The `rollup` command: one entry point, subcommand groups per part of the system."""

from __future__ import annotations

import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Off-chain derivatives state layer settled by a Groth16 rollup on Ethereum."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    from rollup.cli_batch import batch
    from rollup.cli_chain import chain
    from rollup.cli_demo import demo
    from rollup.cli_engine import engine
    from rollup.cli_keys import keys
    from rollup.cli_operator import init, status
    from rollup.cli_prover import prover
    from rollup.cli_recover import exit_cmd, recover_cmd
    from rollup.cli_relayer import BATCH_COMMANDS, relayer
    from rollup.cli_sequencer import sequencer
    from rollup.cli_setup import setup

    for cmd in BATCH_COMMANDS:  # add | list | submit beside build | prove
        batch.add_command(cmd)
    cli.add_command(batch)
    cli.add_command(chain)
    cli.add_command(demo)
    cli.add_command(engine)
    cli.add_command(init)
    cli.add_command(keys)
    cli.add_command(prover)
    cli.add_command(recover_cmd)
    cli.add_command(exit_cmd)
    cli.add_command(relayer)
    cli.add_command(sequencer)
    cli.add_command(setup)
    cli.add_command(status)


_register()


def main() -> None:
    debug = "--debug" in sys.argv[1:]
    try:
        rc = cli.main(standalone_mode=False)
        # Without standalone mode click returns ctx.exit(code) as a value instead of exiting.
        if isinstance(rc, int) and not isinstance(rc, bool) and rc:
            sys.exit(rc)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        if debug:
            raise
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # one clear line unless --debug
        if debug:
            raise
        click.echo(one_line(exc), err=True)
        sys.exit(1)


def one_line(exc: BaseException) -> str:
    """``error: Type: message`` on one line (typed errors name what was wrong)."""
    msg = " ".join(str(exc).split())
    if len(msg) > 500:
        msg = msg[:497] + "..."
    return f"error: {type(exc).__name__}: {msg}" if msg else f"error: {type(exc).__name__}"


if __name__ == "__main__":
    main()
