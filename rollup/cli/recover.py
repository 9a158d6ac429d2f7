"""`rollup recover` and `rollup exit`: a user's way out when the operator is gone.

    rollup recover --rpc URL --rollup 0x... --genesis genesis.bin --depth D [--json OUT]
    rollup exit --rpc URL --rollup 0x... --genesis genesis.bin --depth D --account N
        --key trader.json [--owner 0x...] [--zkey Z --vk V | --keys-cache DIR] [--from 0x...]

With a configuration (--config, or ./rollup.toml when present) the flags default to its
chain.node, chain.rollup_address, state.tree_depth and DATA/genesis-records.json (what
`rollup genesis export` writes).

Both rebuild the state from L1 alone (genesis records + every finalized batch's BatchData
public data, every root checked: `rollup.recovery.recover`). `exit` then proves the account's
value at the last finalized root with the exit circuit, signed by the account's key for the L1
address it names (--owner), sends `Rollup.exit` and collects the collateral with `withdraw`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from rollup.cli.operator import node_url, optional_config
from rollup.cli.operator import rollup_address as configured_rollup

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


class ExitRefused(RuntimeError):
    """The exit cannot be made (checked before any proof is computed or gas is spent)."""


class NotInExodus(ExitRefused):
    """The contract is not in exodus: accounts leave through withdrawals in batches."""


class AlreadyExited(ExitRefused):
    """The account's exit was already paid."""


def _l1_options(f):
    f = click.option("--depth", type=int, default=None,
                     help="Depth of the accounts tree (the circuits' depth) [default: the "
                          "configuration's state.tree_depth].")(f)
    f = click.option("--genesis", "genesis_path", default=None,
                     type=click.Path(exists=True, dir_okay=False),
                     help="The published genesis records (raw, or JSON {\"records\": hex}) "
                          "[default: the configuration's DATA/genesis-records.json].")(f)
    f = click.option("--rollup", "rollup_address", default=None, envvar="ROLLUP_ADDRESS",
                     help="Rollup contract address [env ROLLUP_ADDRESS].")(f)
    f = click.option("--rpc", "rpc_url", default=None, envvar="ROLLUP_RPC",
                     help="JSON-RPC URL of an L1 node [env ROLLUP_RPC].")(f)
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=None, envvar="ROLLUP_CONFIG",
                        help="rollup.toml: the defaults of the options above [default: "
                             "./rollup.toml when present].")(f)


def _resolve(config_path, rpc_url, rollup_address, genesis_path, depth):
    """The flags, completed from the configuration."""
    from rollup.recovery.genesis import EXPORT_NAME

    cfg = optional_config(config_path)
    if genesis_path is None:
        if cfg is None or not (cfg.data / EXPORT_NAME).is_file():
            raise click.UsageError("no genesis: pass --genesis FILE (the published records; "
                                   "`rollup genesis export` writes them)")
        genesis_path = str(cfg.data / EXPORT_NAME)
    if depth is None:
        if cfg is None:
            raise click.UsageError("the accounts tree depth is unknown: pass --depth or --config")
        depth = cfg.tree_depth
    return node_url(cfg, rpc_url), configured_rollup(cfg, rollup_address), genesis_path, depth


def _client(chain, rollup_address: str):
    from eth_utils import is_address, to_checksum_address

    from rollup.chain.rollup import RollupClient

    if not is_address(rollup_address):
        raise click.BadParameter(f"{rollup_address!r} is not an address", param_hint="--rollup")
    addr = to_checksum_address(rollup_address)
    if not chain.w3.eth.get_code(addr):
        raise ExitRefused(f"no contract at {addr} on this node")
    return RollupClient(chain, addr)


def recover_state(client, genesis_path: str, depth: int):
    """The state at the chain's last finalized root, from the genesis file and calldata."""
    from rollup.recovery.genesis import GenesisError, load_genesis
    from rollup.recovery.recover import RecoveryError, recover

    if not 2 <= depth <= 32:
        raise click.BadParameter("must be in 2..32", param_hint="--depth")
    g = load_genesis(genesis_path, depth)
    if g.records is None:
        raise GenesisError(f"{genesis_path} holds only the genesis root, not its records "
                           "(recovery replays the records)")
    try:
        return recover(client, g.records, depth)
    except RecoveryError:
        raise
    except Exception as exc:  # calldata that does not decode or apply
        raise RecoveryError(f"replay failed: {type(exc).__name__}: {exc}") from exc


def _accounts(state) -> list[dict]:
    from rollup.keys import compress
    from rollup.margin.risk import account_value

    out = []
    for i in sorted(state.accounts):
        acc = state.account(i)
        out.append({"id": i, "pk": compress(acc.pk), "nonce": acc.nonce,
                    "collateral": acc.collateral, "value": account_value(state, acc),
                    "positions": [{"asset": a, "balance": b} for a, b, _ in acc.positions if a]})
    return out


@click.command("recover")
@_l1_options
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the recovered root and accounts as JSON to this file.")
def recover_cmd(config_path, rpc_url, rollup_address, genesis_path, depth, json_out) -> None:
    """Rebuild the state from the genesis records and every finalized batch's calldata,
    checking each root; print the root and every account's value."""
    from rollup.chain.node import connect

    rpc_url, rollup_address, genesis_path, depth = _resolve(
        config_path, rpc_url, rollup_address, genesis_path, depth)
    with connect(rpc_url) as ch:
        client = _client(ch, rollup_address)
        state = recover_state(client, genesis_path, depth)
        onchain = client.state()
    accounts = _accounts(state)
    click.echo(f"recovered root 0x{state.root:064x} at batch {onchain.batch_number} "
               f"(matches the contract){', EXODUS' if onchain.exodus else ''}")
    click.echo(f"{len(accounts)} accounts:")
    for a in accounts:
        pos = ", ".join(f"asset {p['asset']}: {p['balance']:,}" for p in a["positions"])
        click.echo(f"  #{a['id']:<6} value {a['value']:>16,}  collateral {a['collateral']:,}"
                   + (f"  ({pos})" if pos else ""))
    if json_out:
        doc = {"rollup": client.address, "chain_id": ch.w3.eth.chain_id,
               "root": f"0x{state.root:064x}", "batch_number": onchain.batch_number,
               "exodus": onchain.exodus, "depth": depth, "accounts": accounts}
        Path(json_out).write_text(json.dumps(doc, indent=2) + "\n")


def _exit_keys(zkey, vk, keys_cache, depth):
    if zkey or vk:
        if not (zkey and vk):
            raise click.UsageError("--zkey and --vk go together")
        return Path(zkey), Path(vk)
    if keys_cache:
        from rollup.devkeys import dev_keys

        k = dev_keys("exit", depth=depth, cache=keys_cache,
                     on_setup=lambda m: click.echo(f"setup: {m} (not a ceremony)", err=True))
        return k.zkey, k.vk_path
    raise click.UsageError("the exit circuit's keys: pass --zkey and --vk, or --keys-cache DIR "
                           "(development keys)")


@click.command("exit")
@_l1_options
@click.option("--account", "account_id", type=int, required=True, help="The account to exit.")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="The account's key file (`rollup keys new`).")
@click.option("--owner", default=None,
              help="L1 address paid [default: the sender, --from].")
@click.option("--zkey", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Proving key of the exit circuit.")
@click.option("--vk", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Its verification key (the proof is checked before it is sent).")
@click.option("--keys-cache", type=click.Path(file_okay=False), default=None,
              help="Development keys of the exit circuit, made here on first use.")
@click.option("--from", "sender", default=None,
              help="Sender of Rollup.exit, unlocked on the node [default: the owner].")
def exit_cmd(config_path, rpc_url, rollup_address, genesis_path, depth, account_id, key_path,
             owner, zkey, vk, keys_cache, sender) -> None:
    """In exodus: prove ACCOUNT's value at the last finalized root, send Rollup.exit, then
    withdraw the collateral to the owner; print the amount paid."""
    from eth_utils import is_address, to_checksum_address

    from prover.formats.snarkjs_json import load_vk
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify
    from rollup.chain.contracts import call, contract_at
    from rollup.chain.layout import ASSET_TOKEN
    from rollup.chain.node import connect
    from rollup.chain.verifier import proof_evm
    from rollup.keys import load_key
    from rollup.recovery.exit import exit_circuit, exit_inputs, sign_exit

    for name, a in (("--owner", owner), ("--from", sender)):
        if a is not None and not is_address(a):
            raise click.BadParameter(f"{a!r} is not an address", param_hint=name)
    rpc_url, rollup_address, genesis_path, depth = _resolve(
        config_path, rpc_url, rollup_address, genesis_path, depth)
    zkey_path, vk_path = _exit_keys(zkey, vk, keys_cache, depth)
    kp = load_key(key_path)
    with connect(rpc_url) as ch:
        client = _client(ch, rollup_address)
        if not client.state().exodus:
            raise NotInExodus(f"the Rollup at {client.address} is not in exodus; exits open "
                              "once a priority request is overdue and exodus is activated")
        if call(client.f.exited(account_id)):
            raise AlreadyExited(f"account {account_id} has already exited")
        state = recover_state(client, genesis_path, depth)
        if account_id not in state.accounts:
            raise ExitRefused(f"account {account_id} is not in the recovered state")
        if state.account(account_id).pk != kp.public_key:
            raise ExitRefused(f"{key_path} is not the key of account {account_id}")
        if owner is None and sender is None:
            raise ExitRefused("the contract records no L1 owner (the key decides where an exit "
                              "pays): pass --owner ADDRESS or --from ADDRESS")
        owner = to_checksum_address(owner or sender)
        sender = to_checksum_address(sender) if sender else owner
        if sender not in ch.accounts:
            raise ExitRefused(f"{sender} is not unlocked on the node: pass --from with one "
                              "that is (anyone may send an exit; it pays only the owner)")
        from rollup.transactions import Domain

        dom = Domain(ch.w3.eth.chain_id, int(client.address, 16))
        claim = exit_inputs(state, dom, account_id, int(owner, 16),
                            sign_exit(kp.private_key, dom, account_id, int(owner, 16)))
        cs = exit_circuit(state, claim)
        res = prove(zkey_path, cs.witness())
        if res.public_signals != [claim.public_input]:
            raise ExitRefused("the proof's public input is not the claim's (wrong keys?)")
        if not verify(load_vk(vk_path), res.public_signals, res.proof):
            raise ExitRefused(f"the exit proof does not verify under {vk_path}")
        proof = proof_evm(res.proof)
        earlier = client.pending(owner, ASSET_TOKEN)  # e.g. a withdrawal not yet collected
        call(client.f.exit(account_id, owner, 0, claim.token_amount, proof), sender=sender)
        tx = client.exit(account_id, owner, 0, claim.token_amount, proof, sender=sender)
        click.echo(f"account {account_id}: exit of {claim.token_amount:,} credited to {owner} "
                   f"(tx 0x{bytes(tx.receipt.transactionHash).hex()}, {tx.gas_used:,} gas)")
        if owner not in ch.accounts:
            click.echo(f"the owner is not unlocked on this node: {owner} collects it with "
                       "Rollup.withdraw(1)")
            return
        paid = 0
        if client.pending(owner, ASSET_TOKEN):
            tok = contract_at(ch, "TestToken", call(client.f.token()))  # ERC-20 reads only
            before = call(tok.functions.balanceOf(owner))
            client.withdraw(ASSET_TOKEN, sender=owner)
            paid = call(tok.functions.balanceOf(owner)) - before
    click.echo(f"paid {paid} to {owner}" + (f" (the exit's {claim.token_amount} and "
                                            f"{earlier} already pending)" if earlier else ""))
