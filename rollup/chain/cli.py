"""`rollup chain ...`: build the contracts, run a local node, deploy and use a verifier."""

from __future__ import annotations

import click

_CHAIN_HELP = "embedded (py-evm in-process, default), anvil (started here), or an http(s) URL."


def _chain_option(f):
    f = click.option("--rpc", "rpc_url", default=None, help="JSON-RPC URL of any node.")(f)
    return click.option("--chain", "chain_spec", default="embedded", show_default=True,
                        help=_CHAIN_HELP)(f)


def _open(chain_spec: str, rpc_url: str | None):
    from rollup.chain.node import connect

    return connect(rpc_url or chain_spec)


@click.group("chain")
def chain() -> None:
    """Settlement on L1: contracts, nodes, verifiers."""


@chain.command("build")
@click.option("--check", is_flag=True, help="Compare with contracts/build; exit 1 if stale.")
def build_cmd(check: bool) -> None:
    """Compile contracts/*.sol with the pinned solc-js into contracts/build/."""
    from rollup.chain import build

    code = build.main(["--check"] if check else [])
    if code:
        raise click.exceptions.Exit(code)


@chain.command("anvil")
def anvil_cmd() -> None:
    """Start Anvil (from node_modules) on 127.0.0.1 and print its URL; Ctrl-C stops it."""
    import time

    from rollup.chain.node import AnvilNode

    with AnvilNode() as n:
        click.echo(n.url)
        try:
            while n.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


@chain.command("verify")
@click.argument("vk", type=click.Path(exists=True, dir_okay=False))
@click.argument("proof", type=click.Path(exists=True, dir_okay=False))
@click.argument("public", type=click.Path(exists=True, dir_okay=False))
@_chain_option
def verify_cmd(vk: str, proof: str, public: str, chain_spec: str, rpc_url: str | None) -> None:
    """Deploy a verifier for a snarkjs VK and check PROOF/PUBLIC on chain (exit 1 if invalid)."""
    from prover.formats.snarkjs_json import load_public, load_vk
    from rollup.chain.contracts import call, transact
    from rollup.chain.verifier import deploy_verifier, proof_evm

    key = load_vk(vk)
    inputs = load_public(public)
    with _open(chain_spec, rpc_url) as ch:
        v = deploy_verifier(ch, key)
        fn = (v.functions.verifyProof(proof_evm(proof), inputs[0]) if key.n_public == 1
              else v.functions.verifyProof(proof_evm(proof), inputs))
        ok = call(fn)
        click.echo(f"verifier {v.address} on {ch.kind}: {'valid' if ok else 'INVALID'}")
        if ok:
            res = transact(ch, fn, gas=2_000_000)
            click.echo(f"gas: {res.gas_used} total, {res.execution_gas} execution")
    if not ok:
        raise click.exceptions.Exit(1)
