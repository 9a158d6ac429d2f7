"""`rollup chain ...`: build the contracts, run a local node, deploy and use a verifier."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from rollup.config import load, parse_shape, set_rollup_address

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.

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


class DeployError(ValueError):
    """`rollup chain deploy` was not given what a deployment needs."""


@chain.command("deploy")
@click.option("--rpc", "rpc_url", required=True, envvar="ROLLUP_RPC",
              help="JSON-RPC URL of the node; the sender must be unlocked there [env ROLLUP_RPC].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Operator configuration: depth and genesis from it, and the Rollup address "
                   "written back into it.")
@click.option("--batch-vk", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Verification key (snarkjs JSON) of the batch circuit.")
@click.option("--exit-vk", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Verification key (snarkjs JSON) of the exit circuit.")
@click.option("--shape-vk", "shape_vks", multiple=True, metavar="SLOTSxL1=PATH",
              help="A further batch shape's verification key, e.g. 16x2=keys/batch-16x2_vk.json "
                   "(repeatable); --batch-vk verifies every other shape.")
@click.option("--genesis-root", default=None, help="The genesis state root (hex).")
@click.option("--genesis", "genesis_path", type=click.Path(dir_okay=False), default=None,
              help="Genesis file: raw records, {\"records\": hex}, or the sequencer's "
                   "genesis.json (root only).")
@click.option("--depth", type=int, default=None,
              help="Accounts tree depth [default: the configuration's].")
@click.option("--token", default=None,
              help="Collateral ERC-20 [default: deploy a TestToken, development only].")
@click.option("--deadline", type=int, default=3 * 24 * 3600, show_default=True,
              help="Seconds a priority request may wait before exodus can be activated.")
@click.option("--first-account", type=int, default=None,
              help="First account id for new keys [default: the first id not held at "
                   "genesis].")
@click.option("--account-limit", type=int, default=None,
              help="Account ids below this [default: 2**depth].")
@click.option("--queue-fee", type=int, default=None,
              help="Wei each L1 queue entry pays the operator [default: 10**15, ~125k gas "
                   "at 8 gwei: what consuming an entry costs].")
@click.option("--queue-spacing", type=int, default=None,
              help="Seconds between consecutive queue deadlines under a flood [default: 30].")
@click.option("--min-deposit", type=int, default=None,
              help="Smallest deposit in base units [default: 1].")
@click.option("--operator", default=None, help="Operator address [default: the sender].")
@click.option("--from", "sender", default=None,
              help="Deployer, unlocked on the node [default: its first account].")
def deploy_cmd(rpc_url, config_path, batch_vk, exit_vk, genesis_root, genesis_path, depth,
               token, deadline, first_account, account_limit, queue_fee, queue_spacing,
               min_deposit, operator, sender, shape_vks=()) -> None:
    """Deploy the two verifiers (and one per --shape-vk), the signature verifier, a TestToken
    (unless --token) and Rollup, the genesis collateral sent to the Rollup's address first;
    print the addresses as JSON."""
    from eth_utils import is_address, to_checksum_address

    from prover.formats.snarkjs_json import load_vk
    from rollup.chain import layout
    from rollup.chain.contracts import call, contract_at, deploy, transact
    from rollup.chain.devnet import create_address
    from rollup.chain.node import connect
    from rollup.chain.rollup import RollupClient, deploy_signature_verifier
    from rollup.chain.verifier import deploy_verifier
    from rollup.recovery.genesis import config_records, from_records, load_genesis

    cfg = None
    if config_path is not None:
        cfg = load(config_path)
        depth = cfg.tree_depth if depth is None else depth
    if genesis_root is not None and genesis_path is not None:
        raise DeployError("give --genesis-root or --genesis, not both")
    if depth is None and (genesis_path is not None or account_limit is None):
        raise DeployError("the accounts tree depth is unknown: pass --depth or --config")
    if depth is not None and not 2 <= depth <= 32:
        raise DeployError("--depth must be in 2..32")
    for name, a in (("--token", token), ("--operator", operator), ("--from", sender)):
        if a is not None and not is_address(a):
            raise click.BadParameter(f"{a!r} is not an address", param_hint=name)
    if genesis_root is not None:
        try:
            root = int(genesis_root, 16)
        except ValueError:
            root = -1
        if not 0 <= root < 1 << 256:
            raise DeployError(f"--genesis-root {genesis_root!r} is not a 32-byte hex number")
        first, held, collateral = None, None, 0
    else:
        if genesis_path is not None:
            g = load_genesis(genesis_path, depth)
        elif cfg is not None:
            g = from_records(config_records(cfg), depth, str(cfg.path))
        else:
            raise DeployError("no genesis: pass --genesis FILE, --genesis-root HEX or --config")
        root, first = g.root, g.first_free_id
        held = first
        collateral = 0 if g.state is None else sum(
            max(a.collateral, 0) for a in g.state.accounts.values())
    if first_account is not None:
        if held is not None and first_account < held:
            # a new key would get an id the genesis state already holds: its deposit could
            # never be consumed, and exodus would follow
            raise DeployError(f"--first-account {first_account} is below the genesis state's "
                              f"first free id {held}")
        first = first_account
    if first is None:
        raise DeployError("the genesis accounts are unknown (root only): pass --first-account")
    limit = account_limit if account_limit is not None else min(1 << depth, 2**32 - 1)
    if not 0 < first < limit <= 2**32 - 1:
        raise DeployError(f"need 0 < first account ({first}) < account limit ({limit}) < 2**32")
    if depth is not None and limit > 1 << depth:
        raise DeployError(f"--account-limit {limit} is above 2**depth = {1 << depth}: ids the "
                          "circuits cannot prove would be assigned")
    queue_fee = layout.DEFAULT_QUEUE_FEE if queue_fee is None else queue_fee
    queue_spacing = layout.DEFAULT_QUEUE_SPACING if queue_spacing is None else queue_spacing
    min_deposit = layout.DEFAULT_MIN_DEPOSIT if min_deposit is None else min_deposit
    if deadline < 3600:
        raise DeployError("--deadline must be at least 3600 s: users need time to see an "
                          "ignored request and act (the contract refuses less)")
    if queue_fee < 0 or queue_spacing < 0 or min_deposit < 1:
        raise DeployError("need --queue-fee >= 0, --queue-spacing >= 0, --min-deposit >= 1")
    bvk, evk = load_vk(batch_vk), load_vk(exit_vk)
    shapes = {}
    for arg in shape_vks:
        name, _, path = arg.partition("=")
        shape = parse_shape(name)
        if shape is None or not path:
            raise click.BadParameter(f"{arg!r} is not SLOTSxL1=PATH (1 <= slots, L1 <= slots)",
                                     param_hint="--shape-vk")
        if not Path(path).is_file():
            raise click.BadParameter(f"no file {path}", param_hint="--shape-vk")
        if shape in shapes:
            raise click.BadParameter(f"shape {name} given twice", param_hint="--shape-vk")
        if cfg is not None and shape == (cfg.batch_slots, cfg.batch_l1_slots):
            raise click.BadParameter(f"{name} is [batch]'s own shape: --batch-vk verifies it",
                                     param_hint="--shape-vk")
        shapes[shape] = load_vk(path)
    with connect(rpc_url) as ch:
        if cfg is not None and cfg.chain_id != ch.w3.eth.chain_id:
            raise DeployError(f"{config_path}: chain_id {cfg.chain_id} is not the node's "
                              f"{ch.w3.eth.chain_id}")
        sender = to_checksum_address(sender) if sender else ch.accounts[0]
        bv = deploy_verifier(ch, bvk, sender=sender)
        ev = deploy_verifier(ch, evk, sender=sender)
        sv = {k: deploy_verifier(ch, v, sender=sender).address for k, v in shapes.items()}
        tok = (to_checksum_address(token) if token
               else deploy(ch, "TestToken", sender=sender).address)
        sig = deploy_signature_verifier(ch, sender=sender)
        if collateral:
            # the genesis balances must be held by the contract before it exists (its
            # constructor checks): mint (TestToken) or transfer them to its address
            nonce = ch.w3.eth.get_transaction_count(sender)
            at = create_address(sender, nonce + 1)
            t = contract_at(ch, "TestToken", tok)
            if token is None:
                transact(ch, t.functions.mint(at, collateral), sender=sender)
            else:
                if call(t.functions.balanceOf(sender)) < collateral:
                    raise DeployError(f"the genesis credits {collateral} tokens; {sender} "
                                      "holds fewer, and the contract must hold them all")
                transact(ch, t.functions.transfer(at, collateral), sender=sender)
        r = RollupClient.deploy(ch, batch_verifier=bv.address, exit_verifier=ev.address,
                                token=tok, operator=to_checksum_address(operator or sender),
                                genesis_root=root.to_bytes(32, "big"),
                                priority_deadline=deadline, first_account_id=first,
                                account_limit=limit, accounts_depth=depth or 32,
                                signature_verifier=sig, queue_fee=queue_fee,
                                queue_spacing=queue_spacing, min_deposit=min_deposit,
                                genesis_collateral=collateral, batch_shapes=sv,
                                sender=sender)
        out = {"rollup": r.address, "batch_verifier": bv.address, "exit_verifier": ev.address,
               "shape_verifiers": {f"{n}x{l1}": a for (n, l1), a in sv.items()},
               "token": tok, "test_token": token is None, "chain_id": ch.w3.eth.chain_id,
               "genesis_root": f"0x{root:064x}", "first_account_id": first,
               "account_limit": limit, "priority_deadline": deadline,
               "signature_verifier": sig, "queue_fee": queue_fee,
               "queue_spacing": queue_spacing, "min_deposit": min_deposit,
               "genesis_collateral": collateral,
               "operator": to_checksum_address(operator or sender),
               "block": ch.w3.eth.block_number}
    if cfg is not None:
        set_rollup_address(config_path, r.address, [f"{n}x{l1}" for n, l1 in sorted(sv)])
        out["config"] = str(config_path)
    click.echo(json.dumps(out, indent=2))
