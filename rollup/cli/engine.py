"""`rollup engine ...`: inspect a journal (recover, root, liquidation scan) and price options."""

from __future__ import annotations

import click

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


@click.group("engine")
def engine() -> None:
    """Execution and margin engine: journals, state roots, risk."""


def _domain(chain_id: int, rollup_address: str):
    from rollup.transactions import Domain

    return Domain(chain_id, int(rollup_address, 16))


@engine.command("recover")
@click.argument("journal", type=click.Path(exists=True, dir_okay=False))
@click.option("--depth", default=32, show_default=True, help="Account tree depth.")
@click.option("--chain-id", default=31337, show_default=True)
@click.option("--rollup-address", default="0x0", show_default=True)
def recover_cmd(journal: str, depth: int, chain_id: int, rollup_address: str) -> None:
    """Rebuild the state from a journal (snapshot + requests) and print its root."""
    from rollup.engine.restart import recover

    seq = recover(journal, _domain(chain_id, rollup_address), depth, upto=None)
    st = seq.state
    click.echo(f"seq {seq.seq}  accounts {len(st.accounts)}  assets {len(st.assets)}  "
               f"time {st.time}")
    click.echo(f"root 0x{st.root:064x}")


@engine.command("scan")
@click.argument("journal", type=click.Path(exists=True, dir_okay=False))
@click.option("--depth", default=32, show_default=True)
@click.option("--chain-id", default=31337, show_default=True)
@click.option("--rollup-address", default="0x0", show_default=True)
def scan_cmd(journal: str, depth: int, chain_id: int, rollup_address: str) -> None:
    """List the accounts below maintenance margin at the journal's latest oracle prices, each
    with the liquidation that restores it moving the least notional (rollup.margin.sizing)."""
    from rollup.engine.restart import recover
    from rollup.margin.liquidation import MarginMatrix
    from rollup.margin.sizing import plan

    seq = recover(journal, _domain(chain_id, rollup_address), depth)
    ids = MarginMatrix(seq.state).scan()
    click.echo(f"{len(ids)} liquidatable: {' '.join(map(str, ids.tolist()))}")
    for i in ids.tolist():
        p = plan(seq.state, i)
        if p is None:
            click.echo(f"  account {i}: no position's liquidation improves it")
        else:
            click.echo(f"  account {i}: liquidate {p.size:,} of asset {p.asset} ("
                       + ("maintenance restored" if p.restores else "the most it improves")
                       + ")")


@engine.command("greeks")
@click.argument("spot", type=float)
@click.argument("strike", type=float)
@click.argument("years", type=float)
@click.option("--rate", default=0.0, show_default=True, help="Continuous risk-free rate.")
@click.option("--vol", default=0.2, show_default=True, help="Implied volatility.")
@click.option("--put", is_flag=True)
def greeks_cmd(spot, strike, years, rate, vol, put) -> None:
    """Black-Scholes price and Greeks of one European option (per unit)."""
    from rollup.margin.greeks import greeks

    g = greeks(spot, strike, years, rate, vol, not put)
    click.echo("  ".join(f"{k} {float(v):.6g}" for k, v in g.items()))
