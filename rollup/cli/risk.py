"""`rollup risk report`: the operator's risk report from the node's journal (read-only, like
`rollup status`): accounts nearest to liquidation under today's rule and the scenario rule, the
book's Greeks per underlying, and a PNG of the platform's P&L across the scenario grid.

    rollup risk report [--config PATH] [--top N] [--by today|scenario] [--chart PNG] [--json]
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from rollup.cli.operator import config_option, load_config

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


class NoJournal(RuntimeError):
    """The configured data folder has no journal to report on."""


@click.group("risk")
def risk() -> None:
    """Operator risk views of the live state (read from the journal)."""


def _state(cfg):
    # lazy: the engine (and its Numba kernels) loads when the command runs, not on --help
    from rollup.engine.restart import recover

    if not cfg.journal_path.exists():
        raise NoJournal(f"no journal at {cfg.journal_path} (the sequencer never started)")
    seq = recover(cfg.journal_path, cfg.domain(), cfg.tree_depth)
    seq.journal.close()
    return seq.state


def write_chart(rep: dict, path: Path) -> None:
    """The platform's P&L (minus what no account covers) and the losing accounts' losses over
    the core grid (rows 0-15, weight 100%), one line per vol shock."""
    import matplotlib  # lazy: only a report that draws pays for matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    core = [r for r in rep["scenario_grid"] if r["weight"] == 1.0 and not r.get("delta_charge")]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for vol in sorted({r["vol"] for r in core}):
        pts = sorted((r["spot"] * 100, r["platform_pnl"], r["losing_accounts_loss"])
                     for r in core if r["vol"] == vol)
        x = [p[0] for p in pts]
        ax.plot(x, [p[1] for p in pts], marker="o", label=f"platform P&L, vol {vol:+.0%}")
        ax.plot(x, [-p[2] for p in pts], linestyle="--",
                label=f"losing accounts' P&L, vol {vol:+.0%}")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("spot shock of every underlying (%)")
    ax.set_ylabel("collateral units")
    ax.set_title(f"P&L across the scenario grid (oracle time {rep['time']})")
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)


def _fmt(x: float | None) -> str:
    return "no equity" if x is None else f"{x:.3f}"


@risk.command("report")
@config_option
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Accounts listed.")
@click.option("--by", type=click.Choice(["today", "scenario"]), default="today",
              show_default=True, help="The rule that ranks the accounts.")
@click.option("--chart", type=click.Path(dir_okay=False), default="risk-report.png",
              show_default=True, help="Where the PNG goes ('' for none).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def report_cmd(config_path: str, top: int, by: str, chart: str, as_json: bool) -> None:
    """Accounts nearest to liquidation (margin ratio: maintenance requirement / value, today's
    rule and the scenario rule), the book's net Greeks per underlying, and a PNG chart of the
    platform's P&L across the scenario grid."""
    # lazy: the margin kernels load when the command runs, not on --help
    from rollup.margin.report import report

    cfg = load_config(config_path)
    rep = report(_state(cfg), top, by)
    if chart:
        write_chart(rep, Path(chart))
        rep["chart"] = str(chart)
    if as_json:
        click.echo(json.dumps(rep, indent=2))
        return
    click.echo(f"oracle time {rep['time']}: {rep['accounts_with_positions']} of "
               f"{rep['accounts']} accounts hold positions; liquidatable today "
               f"{rep['liquidatable']['today']}, under the scenario rule "
               f"{rep['liquidatable']['scenario']}")
    click.echo(f"nearest to liquidation (ratio = maintenance / value, by {by}):")
    click.echo(f"  {'account':>8} {'value':>16} {'today':>10} {'scenario':>10}")
    for x in rep["nearest_to_liquidation"]:
        click.echo(f"  {x['account']:>8} {x['value']:>16} {_fmt(x['today']['ratio']):>10} "
                   f"{_fmt(x['scenario']['ratio']):>10}"
                   + ("  LIQUIDATABLE" if x["today"]["liquidatable"] else ""))
        if x.get("plan"):
            pl = x["plan"]
            click.echo(f"           plan: take over {pl['size']} of asset {pl['asset']} -> "
                       + ("maintenance restored" if pl["restores"] else
                          f"excess {pl['excess_before']} -> {pl['excess_after']} (not restored)"))
    click.echo("book Greeks per underlying (net; long / short sums of accounts' delta):")
    g = rep["greeks"]
    for u, x in g["net"].items():
        click.echo(f"  {u:>4}  delta {x['delta']:.6g}  gamma {x['gamma']:.6g}  vega "
                   f"{x['vega']:.6g}  theta {x['theta']:.6g}  (delta "
                   f"{g['long'][u]['delta']:.6g} / {g['short'][u]['delta']:.6g})")
    worst = min(rep["scenario_grid"], key=lambda r: r["platform_pnl"])
    click.echo(f"worst platform P&L {worst['platform_pnl']:.6g} at row {worst['row']} (spot "
               f"{worst['spot']:+.0%}, vol {worst['vol']:+.0%}, weight {worst['weight']:.4g})")
    if chart:
        click.echo(f"chart       {chart}")
