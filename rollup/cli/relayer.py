"""`rollup relayer ...` and `rollup batch ...`: proven batches from the relayer's store onto
Rollup.sol, and the L1 priority queue read back (see rollup/settlement/relayer.py).

    rollup batch add batch-7.json --store relayer.db        # a proven batch, as StoredBatch JSON
    rollup batch list --store relayer.db
    rollup batch submit 7 --store relayer.db [--config rollup.toml] [--rollup 0x... --rpc URL]
    rollup relayer run --store relayer.db [--config rollup.toml] [--rollup 0x...] [--once]

`relayer run` prints every new priority request as one JSON line on stdout (the engine's feed)
and its progress on stderr. The node and the Rollup come from rollup.toml (--config, default
./rollup.toml when present: chain.node, chain.rollup_address), overridden by --rpc and
--rollup. The transaction sender must be the rollup's operator: the L1 key file --key (default:
the configuration's keys.l1; keystore V3, or plaintext for development) signs here, or --sender
names an account unlocked on the node (default: the node's first account).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from rollup.cli.keys import passphrase_options, passphrase_source
from rollup.cli.operator import node_url, optional_config
from rollup.cli.operator import rollup_address as configured_rollup

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.

_STORE_HELP = "The relayer's SQLite store."


def _store_option(f):
    return click.option("--store", "store_path", default="relayer.db", show_default=True,
                        type=click.Path(dir_okay=False), help=_STORE_HELP)(f)


DEFAULT_RPC = "http://127.0.0.1:8545"  # without a configuration or --rpc


def _node_options(f):
    f = click.option("--gas", default=2_000_000, show_default=True,
                     help="Gas limit of submitBatch (sent without an estimate).")(f)
    f = passphrase_options(f)
    f = click.option("--key", "key_path", default=None, type=click.Path(dir_okay=False),
                     help="The operator's L1 key file, signing here [default: the "
                          "configuration's keys.l1].")(f)
    f = click.option("--sender", default=None,
                     help="Operator account, unlocked on the node [default: its first].")(f)
    f = click.option("--rollup", "rollup_address", default=None, envvar="ROLLUP_ADDRESS",
                     help="Rollup contract address [env ROLLUP_ADDRESS; default: the "
                          "configuration's chain.rollup_address].")(f)
    f = click.option("--rpc", "rpc_url", default=None, envvar="ROLLUP_RPC",
                     help="JSON-RPC URL of the node [env ROLLUP_RPC; default: the "
                          f"configuration's chain.node, else {DEFAULT_RPC}].")(f)
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=None, envvar="ROLLUP_CONFIG",
                        help="rollup.toml [default: ./rollup.toml when present].")(f)


def _err(msg: str) -> None:
    click.echo(msg, err=True)


def _relayer(config_path: str | None, rpc_url: str | None, rollup_address: str | None,
             store_path: str, sender: str | None, key_path: str | None, gas: int,
             passphrase_env: str | None = None, passphrase_file: str | None = None, **kw):
    from eth_utils import is_address, to_checksum_address

    from rollup.chain.node import connect
    from rollup.chain.rollup import RollupClient
    from rollup.settlement.relayer import BatchStore, Relayer

    cfg = optional_config(config_path)
    url = node_url(cfg, rpc_url) if cfg is not None or rpc_url else DEFAULT_RPC
    address = configured_rollup(cfg, rollup_address)
    if sender is not None and not is_address(sender):
        raise click.BadParameter(f"{sender!r} is not an address", param_hint="--sender")
    if key_path and sender:
        raise click.UsageError("give --key or --sender, not both")
    if not key_path and not sender and cfg is not None and cfg.l1_key:
        key_path = str(cfg.data_path(cfg.l1_key))
    key = None
    if key_path:  # opened before the node is reached: a bad passphrase costs nothing
        from rollup.keys.l1 import load_l1_key

        key = load_l1_key(key_path, passphrase_source(passphrase_file, passphrase_env, cfg))
    chain = connect(url)
    store = None
    try:
        if key is not None:
            from rollup.keys.keystore import plaintext_warning

            sender = chain.add_signer(key.account)
            if not key.encrypted and (w := plaintext_warning(key_path, chain.w3.eth.chain_id)):
                _err(w)
        store = BatchStore(store_path)
        store.lock()
        client = RollupClient(chain, to_checksum_address(address))
        return chain, Relayer(client, store, sender=sender, gas=gas, log=_err, **kw)
    except BaseException:
        if store is not None:
            store.close()
        chain.close()
        raise


def _item_json(item) -> str:
    from rollup.chain import layout

    e = item.entry
    d = {"index": item.index,
         "kind": {layout.KIND_DEPOSIT: "deposit",
                  layout.KIND_FORCED_WITHDRAWAL: "forced_withdrawal"}.get(e.kind, e.kind),
         "asset": e.asset, "accountId": e.account_id, "l1Address": e.l1_address,
         "amount": str(e.amount), "l2Key": "0x" + bytes(e.l2_key).hex(),
         "queueHash": "0x" + item.queue_hash.hex(), "deadline": item.deadline,
         "block": item.block_number, "tx": "0x" + item.tx_hash.hex(),
         "request": None if item.request is None else item.request.to_json()}
    if item.note:
        d["note"] = item.note
    return json.dumps(d, default=str)


# --- rollup relayer ------------------------------------------------------------------------------

@click.group("relayer")
def relayer() -> None:
    """Submit proven batches to L1 in order; read the L1 priority queue."""


@relayer.command("run")
@_store_option
@_node_options
@click.option("--once", is_flag=True, help="One pass (events, then pending batches), then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
@click.option("--confirmations", type=int, default=None,
              help="Blocks an event must be buried under before it is read [default: 2, so a "
                   "reorganisation of the last blocks never un-sends a request; 0 on a local "
                   "development chain, id 31337].")
@click.option("--from-block", default=0, show_default=True,
              help="Where a fresh store starts reading events (the deployment block).")
def run_cmd(store_path, config_path, rpc_url, rollup_address, sender, key_path, passphrase_env,
            passphrase_file, gas, once, interval, confirmations, from_block) -> None:
    """Submit every pending stored batch; print new priority requests as JSON lines."""
    chain, rel = _relayer(config_path, rpc_url, rollup_address, store_path, sender, key_path,
                          gas, passphrase_env, passphrase_file,
                          on_request=lambda item: click.echo(_item_json(item)),
                          confirmations=confirmations, from_block=from_block)

    def report(rep) -> None:
        st = rep.state
        _err(f"pass: {len(rep.requests)} queue entries read, "
             f"{len(rep.submitted)} batches finalized; chain at batch {st.batch_number}, root "
             f"0x{st.state_root.hex()}, queue {st.queue_consumed}/{st.queue_length}"
             + (", EXODUS" if st.exodus else ""))

    try:
        if once:
            report(rel.run_once())
        else:
            rel.run(interval, on_pass=report)
    except KeyboardInterrupt:
        _err("stopped")
    finally:
        rel.store.close()
        chain.close()


# --- rollup batch --------------------------------------------------------------------------------

def _from_built(path: Path, d: dict, proof_path: str | None, store):
    """A batch as `rollup batch build` / `prove` leave it (batch-N.json with snake_case fields
    and batch-N.proof.json beside it). queueCountAfter: the file's `queue_count_after` if it has
    one, else the previous stored batch's plus this batch's `queue_consumed`."""
    from rollup.settlement.errors import StoreError
    from rollup.settlement.store import StoredBatch

    proof = Path(proof_path) if proof_path else path.with_suffix(".proof.json")
    if not proof.is_file():
        raise StoreError(f"no proof at {proof} (prove the batch first, or pass --proof)")
    try:
        n = int(d["number"])
        if "queue_count_after" in d:
            after = int(d["queue_count_after"])
        else:
            prev = store.get(n - 1) if n > 1 else None
            if n > 1 and prev is None:
                raise StoreError(f"batch {n - 1} is not stored, so batch {n}'s queueCountAfter "
                                 "is unknown")
            after = (prev.queue_count_after if prev else 0) + int(d["queue_consumed"])
        return StoredBatch(n, bytes.fromhex(d["old_root"][2:]), bytes.fromhex(d["new_root"][2:]),
                           after, bytes.fromhex(d["public_data"][2:]), str(proof),
                           int(d["public_input"]))
    except (KeyError, TypeError, ValueError) as e:
        raise StoreError(f"{path}: not a built batch ({e})") from None


@click.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@_store_option
@click.option("--proof", "proof_path", type=click.Path(dir_okay=False), default=None,
              help="The proof.json of a built batch [default: beside it, NAME.proof.json].")
def add_cmd(path: str, store_path: str, proof_path: str | None) -> None:
    """Add a proven batch: a relayer record (batchNumber, oldRoot, newRoot, queueCountAfter,
    publicData, proof[8], publicInput) or a built batch's JSON with its proof."""
    from rollup.settlement.errors import StoreError
    from rollup.settlement.store import BatchStore, StoredBatch

    try:
        d = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise StoreError(f"{path}: not JSON ({e})") from None
    if not isinstance(d, dict):
        raise StoreError(f"{path}: not a batch record")
    with BatchStore(store_path) as store:
        store.lock()
        b = (StoredBatch.from_json(d) if "batchNumber" in d
             else _from_built(Path(path), d, proof_path, store))
        store.put(b)
    click.echo(f"batch {b.number} stored in {store_path}")


@click.command("list")
@_store_option
def list_cmd(store_path: str) -> None:
    """The stored batches and their status."""
    from rollup.settlement.store import BatchStore

    if not Path(store_path).exists():
        raise click.ClickException(f"no store at {store_path}")
    with BatchStore(store_path) as store:
        rows = store.batches()
        owner = store.meta("rollup")
    click.echo(f"{store_path}: {len(rows)} batches" + (f", rollup {owner}" if owner else ""))
    for b in rows:
        extra = f" gas {b.gas_used:,}" if b.gas_used else ""
        extra += f" ({b.error})" if b.error else ""
        click.echo(f"{b.number:>6}  {b.status:<9} 0x{b.old_root.hex()[:12]}… -> "
                   f"0x{b.new_root.hex()[:12]}…  queue {b.queue_count_after}  "
                   f"{len(b.public_data)} B{extra}")


@click.command("submit")
@click.argument("number", type=int)
@_store_option
@_node_options
def submit_cmd(number: int, store_path, config_path, rpc_url, rollup_address, sender, key_path,
               passphrase_env, passphrase_file, gas) -> None:
    """Submit stored batch NUMBER (the chain's next one) and wait for it."""
    chain, rel = _relayer(config_path, rpc_url, rollup_address, store_path, sender, key_path,
                          gas, passphrase_env, passphrase_file)
    try:
        if not rel.store.get(number):
            from rollup.settlement.errors import StoreError

            raise StoreError(f"batch {number} is not in {store_path}")
        res = rel.submit(number)
    finally:
        rel.store.close()
        chain.close()
    if res.resumed:
        click.echo(f"batch {number} is already finalized")
    else:
        click.echo(f"batch {number} finalized: gas {res.gas_used:,}, tx 0x{res.tx_hash.hex()}")


# The store's commands, for whichever `rollup batch` group holds the batch commands.
BATCH_COMMANDS = (add_cmd, list_cmd, submit_cmd)


@click.group("batch")
def batch() -> None:
    """Proven batches in the relayer's store."""


for _cmd in BATCH_COMMANDS:
    batch.add_command(_cmd)
