"""`rollup demo`: the whole story on the embedded defaults (see rollup.demo for the steps).

py-evm in-process unless `--anvil` or `--rpc URL`; CPU prover; an accounts tree of depth 4 and
batches of 4 slots (2 of them L1 slots). The development keys (NOT a ceremony) are cached between
runs in `--cache`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


@click.command("demo")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the summary (batches, roots, gas, proving times, exits) as JSON.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              default=str(Path.home() / ".cache" / "zkderiv" / "demo"), show_default=True,
              help="Where the development keys are kept between runs.")
@click.option("--anvil", is_flag=True, help="Run on a local Anvil node (the pinned npm one).")
@click.option("--rpc", "rpc_url", help="Run on the node at this JSON-RPC URL (its first "
              "accounts unlocked, e.g. a dev node).")
@click.option("--slots", type=int, default=4, show_default=True, help="Slots per batch.")
@click.option("--l1-slots", type=int, default=2, show_default=True,
              help="Slots per batch that may carry deposits and withdrawals.")
@click.option("--depth", type=int, default=4, show_default=True, help="Accounts tree depth.")
def demo(json_path: str | None, cache_dir: str, anvil: bool, rpc_url: str | None, slots: int,
         l1_slots: int, depth: int) -> None:
    """Deposits, trading, liquidation, funding, batches finalized on L1, a withdrawal, then the
    operator disappears and every trader exits from L1 data alone."""
    from rich.console import Console
    from rich.table import Table

    from rollup.chain import node
    from rollup.demo import DemoConfig, run

    if anvil and rpc_url:
        raise click.UsageError("--anvil and --rpc are exclusive")
    console = Console()
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        console.print(f"[dim]{time.perf_counter() - t0:6.1f} s[/dim]  {msg}")

    cfg = DemoConfig(depth=depth, slots=slots, l1_slots=l1_slots)
    log("the first run compiles the Numba kernels (hash, signature, matching, proving) as it "
        "meets them: a few minutes in a fresh clone, cached afterwards")
    chain = node.anvil() if anvil else node.rpc(rpc_url) if rpc_url else node.embedded()
    with chain:
        log(f"chain: {chain.kind}")
        s = run(chain, cfg, Path(cache_dir), log)

    table = Table(title=f"Batches ({cfg.slots} slots, {cfg.l1_slots} L1, accounts depth "
                        f"{cfg.depth}, {s.keys['batch_constraints']:,} constraints)")
    for col in ("batch", "records", "requests", "new root", "witness s", "prove s",
                "submitBatch gas"):
        table.add_column(col)
    for b in s.batches:
        table.add_row(str(b["batch"]), str(b["records"]), ", ".join(b["requests"]),
                      b["new_root"][:14] + "…", f"{b['witness_seconds']:.1f}",
                      f"{b['proving_seconds']:.1f}", f"{b['gas']:,}")
    console.print(table)
    exits = Table(title="Exits in exodus mode (state rebuilt from L1 data)")
    for col in ("account", "trader", "paid", "prove s", "gas"):
        exits.add_column(col)
    for e in s.exits:
        exits.add_row(str(e["account"]), e["trader"], f"{e['amount']:,}",
                      f"{e['proving_seconds']:.1f}", f"{e['gas']:,}")
    console.print(exits)
    console.print(f"[green]demo finished in {s.seconds:.0f} s[/green]: {len(s.batches)} batches "
                  f"finalized, {len(s.exits)} exits paid exactly, {len(s.checks)} checks passed.")
    if json_path:
        Path(json_path).write_text(json.dumps(s.__dict__, indent=2) + "\n")
