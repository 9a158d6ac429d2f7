"""`rollup genesis export`: the genesis records that `rollup recover` and `rollup exit` replay.

    rollup genesis export [--config PATH] [--out FILE]

Writes JSON ``{"records": "0x...", "root": "0x...", "depth", "chain_id", "rollup_address",
"first_free_id", "source"}`` (default DATA/genesis-records.json): the records the sequencer
journaled first (checked against the root it recorded), or, before its first start, the ones
the configuration gives. Publish it next to the deployment: without it nobody can rebuild the
state from L1.
"""

from __future__ import annotations

import click

from rollup.cli.operator import config_option, load_config

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


@click.group("genesis")
def genesis() -> None:
    """The genesis records a deployment starts from."""


@genesis.command("export")
@config_option
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write them [default: DATA/genesis-records.json].")
def export_cmd(config_path: str, out: str | None) -> None:
    """Write the genesis records for `rollup recover --genesis FILE` and `rollup exit`."""
    from rollup.recovery.genesis import write_export

    cfg = load_config(config_path)
    path, doc = write_export(cfg, out)
    n = (len(doc["records"]) - 2) // 2
    click.echo(f"genesis: {n} bytes of records from the {doc['source']}, root "
               f"{doc['root'][:18]}…, depth {doc['depth']}, first free account "
               f"{doc['first_free_id']} -> {path}")
