"""`rollup init` and `rollup status`: the operator's configuration file and where things stand.

    rollup init [DIR] [--chain embedded|anvil|URL] [--chain-id N] [--depth D] ... [--force]
    rollup status [--config PATH] [--json]

Every operator command reads the configuration through ``--config PATH`` (default
``./rollup.toml``, or $ROLLUP_CONFIG).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import click

from rollup.cli.keys import passphrase_source
from rollup.config import DEFAULT_PATH, Config, ConfigError, example_markets, load, render, validate

# lazy: each command imports what it runs on (the engine, web3, Numba kernels, requests,
# key files) when it runs, so that `rollup --help` loads only what the options need.


def config_option(f):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=DEFAULT_PATH, show_default=True, envvar="ROLLUP_CONFIG",
                        help="The operator's configuration file (written by `rollup init`).")(f)


def load_config(path: str):
    return load(path)


class NoChainGiven(click.UsageError):
    """A command that talks to L1 was given no node URL or no Rollup address."""


def optional_config(path: str | None):
    """The configuration at ``path``; without one, ./rollup.toml when present, else None (the
    command then runs on its flags alone)."""
    if path is None:
        path = DEFAULT_PATH if Path(DEFAULT_PATH).is_file() else None
    return None if path is None else load_config(path)


def node_url(cfg, rpc: str | None) -> str:
    """--rpc, else the configuration's chain.node: a URL, or the Anvil `rollup node run`
    starts on chain.anvil_port."""
    if rpc:
        return rpc
    if cfg is not None and cfg.node.startswith(("http://", "https://")):
        return cfg.node
    if cfg is not None and cfg.node == "anvil":  # the one `rollup node run` manages
        return f"http://127.0.0.1:{cfg.anvil_port}"
    if cfg is not None:
        raise NoChainGiven(f"chain.node is {cfg.node!r} in {cfg.path}, which lives inside the "
                           "process that starts it: pass --rpc URL")
    raise NoChainGiven("no node: pass --rpc URL or --config (chain.node)")


def rollup_address(cfg, flag: str | None) -> str:
    """--rollup, else the configuration's chain.rollup_address once deployed (checksummed)."""
    from eth_utils import is_address, to_checksum_address

    addr = flag if flag else (cfg.rollup_address if cfg is not None and cfg.rollup_deployed
                              else None)
    if addr is None:
        raise NoChainGiven("no Rollup address: pass --rollup ADDRESS or --config (chain."
                           "rollup_address, set by `rollup chain deploy --config`)")
    if not is_address(addr):
        raise click.BadParameter(f"{addr!r} is not an address", param_hint="--rollup")
    return to_checksum_address(addr)


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--chain", "node", default="embedded", show_default=True,
              help="embedded (py-evm in-process), anvil, or an http(s) JSON-RPC URL.")
@click.option("--chain-id", type=int, default=31337, show_default=True)
@click.option("--anvil-port", type=int, default=8545, show_default=True,
              help="--chain anvil: the port of the Anvil that `rollup node run` starts.")
@click.option("--rollup-address", default="0x" + "00" * 20, show_default=True,
              help="The Rollup contract, once deployed (part of the signing domain).")
@click.option("--data-dir", default="data", show_default=True,
              help="Journal, batches and keys (relative to DIRECTORY).")
@click.option("--depth", "tree_depth", type=int, default=32, show_default=True,
              help="Depth of the accounts tree.")
@click.option("--slots", "batch_slots", type=int, default=4, show_default=True,
              help="Record slots per batch.")
@click.option("--l1-slots", "batch_l1_slots", type=int, default=None,
              help="Slots per batch that may carry deposits and withdrawals [default: 2, or "
                   "all of them below 2].")
@click.option("--assets", "batch_assets", type=int, default=8, show_default=True,
              help="Asset table of the batch circuit (a power of two; asset ids below it).")
@click.option("--underlyings", "batch_underlyings", type=int, default=1, show_default=True,
              help="Perpetuals the batch circuit's scenario margin takes (one loss group each).")
@click.option("--batch-time", "batch_time_limit", type=float, default=60.0, show_default=True,
              help="Seconds before a partly filled batch closes.")
@click.option("--host", "api_host", default="127.0.0.1", show_default=True,
              help="API address (keep 127.0.0.1 behind a reverse proxy).")
@click.option("--port", "api_port", type=int, default=8080, show_default=True)
@click.option("--oracle-key", default=None,
              help="Oracle key file or compressed public key [default: a new key file "
                   "DATA/keys/oracle.json].")
@click.option("--operator-key", default=None,
              help="Key file of account 0 (fees) [default: a new DATA/keys/operator.json].")
@click.option("--no-markets", is_flag=True, help="Leave [[markets]] empty.")
@click.option("--encrypt", is_flag=True,
              help="Encrypt the new key files (keystore V3) under the passphrase, and record "
                   "where it comes from in [keys].")
@click.option("--passphrase-env", default=None, metavar="NAME",
              help="Environment variable holding the passphrase [default: ROLLUP_PASSPHRASE].")
@click.option("--passphrase-file", type=click.Path(dir_okay=False), default=None,
              help="Or a file holding it (first line); its absolute path is recorded.")
@click.option("--scrypt-n", type=int, default=None,
              help="scrypt cost of the encrypted files [default: 2**18, as eth-account's].")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file "
              "(existing key files are kept).")
def init(directory: str, node: str, chain_id: int, anvil_port: int, rollup_address: str,
         data_dir: str,
         tree_depth: int, batch_slots: int, batch_l1_slots: int | None, batch_assets: int,
         batch_underlyings: int,
         batch_time_limit: float, api_host: str,
         api_port: int, oracle_key: str | None, operator_key: str | None, no_markets: bool,
         encrypt: bool, passphrase_env: str | None, passphrase_file: str | None,
         scrypt_n: int | None, force: bool) -> None:
    """Write DIRECTORY/rollup.toml with the operator's settings, and the oracle and operator
    key files it names (new ones, mode 0600, unless given; encrypted with --encrypt)."""
    from rollup.keys import new_key

    base = Path(directory)
    path = base / DEFAULT_PATH
    if path.exists() and not force:
        raise ConfigError(f"{path} exists (pass --force to overwrite it)")
    if batch_l1_slots is None:
        batch_l1_slots = min(2, batch_slots)
    cfg = Config(path=path.resolve(), node=node, chain_id=chain_id, anvil_port=anvil_port,
                 rollup_address=rollup_address, data_dir=data_dir, tree_depth=tree_depth,
                 batch_slots=batch_slots, batch_l1_slots=batch_l1_slots,
                 batch_assets=batch_assets, batch_underlyings=batch_underlyings,
                 batch_time_limit=batch_time_limit, api_host=api_host,
                 api_port=api_port, oracle_key=oracle_key or "keys/oracle.json",
                 operator_key=operator_key or "keys/operator.json",
                 markets=[] if no_markets else example_markets())
    if passphrase_env is not None:
        cfg.passphrase_env = passphrase_env
    if passphrase_file is not None:
        cfg.passphrase_file = str(Path(passphrase_file).resolve())
    validate(cfg)
    from rollup.keys import SCRYPT_N, public_key_of

    pw = None
    if encrypt:
        pw = passphrase_source(None, None, cfg, confirm=True).get("the new key files")

    # a given key must be readable before anything is written; its path is kept absolute
    for given in (oracle_key, operator_key):
        if given is not None:
            public_key_of(given, Path.cwd())
    if oracle_key is not None and not _is_hex_key(oracle_key):
        cfg.oracle_key = str(Path(oracle_key).resolve())
    if operator_key is not None and not _is_hex_key(operator_key):
        cfg.operator_key = str(Path(operator_key).resolve())
    base.mkdir(parents=True, exist_ok=True)
    for name, given in (("oracle", oracle_key), ("operator", operator_key)):
        if given is None:
            kp_path = cfg.data_path(f"keys/{name}.json")
            if kp_path.exists():
                click.echo(f"{name} key: keeping {kp_path}")
            else:
                new_key(kp_path, passphrase=pw, n=scrypt_n or SCRYPT_N)
                click.echo(f"{name} key: new {kp_path}" + (" (encrypted)" if pw else ""))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(cfg))
    tmp.replace(path)
    click.echo(f"wrote {path}: chain {node} (id {chain_id}), depth {tree_depth}, "
               f"{batch_slots} slots, API {api_host}:{api_port}, {len(cfg.markets)} market(s)")


def _is_hex_key(s: str) -> bool:
    t = s.strip().removeprefix("0x")
    return len(t) == 64 and all(c in "0123456789abcdefABCDEF" for c in t)


def _local_state(cfg) -> dict:
    from rollup.durability.journal import Journal
    from rollup.engine.restart import recover

    if not cfg.journal_path.exists():
        return {"journal": str(cfg.journal_path), "journal_length": 0, "root": None}
    j = Journal(cfg.journal_path)
    try:
        n = j.last_seq()
    finally:
        j.close()
    seq = recover(cfg.journal_path, cfg.domain(), cfg.tree_depth)
    try:
        st = seq.state
        return {"journal": str(cfg.journal_path), "journal_length": n,
                "root": f"0x{st.root:064x}", "accounts": len(st.accounts),
                "assets": sorted(st.assets), "time": st.time, "greeks": _book_greeks(st)}
    finally:
        seq.journal.close()


def _book_greeks(st) -> dict:
    """The platform's net Greeks per underlying and the sum of the accounts' long deltas."""
    from rollup.margin.exposure import book_greeks, positions_arrays, series

    _, asset, bal = positions_arrays(st)
    book = book_greeks(asset, bal, series(st))
    return {"net": {str(u): g._asdict() for u, g in book.net.items()},
            "long_delta": {str(u): g.delta for u, g in book.long.items()},
            "total": book.total._asdict()}


def open_chain(cfg, timeout: float = 5.0):
    """A connection to the configured chain for reads (an RPC URL, or the Anvil that
    `rollup node run` starts on chain.anvil_port; the embedded chain lives inside the process
    that starts it)."""
    from web3 import HTTPProvider, Web3

    from rollup.chain.node import Chain

    url = f"http://127.0.0.1:{cfg.anvil_port}" if cfg.node == "anvil" else cfg.node
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout},
                           exception_retry_configuration=None))  # a status fails fast
    return Chain(w3, "rpc", [])


def onchain_state(cfg, opener=None) -> dict:
    """The Rollup contract's batch number and root, or why they are not available."""
    if not cfg.rollup_deployed:
        return {"available": False, "reason": "not deployed (chain.rollup_address is zero)"}
    if cfg.node == "embedded" and opener is None:
        return {"available": False,
                "reason": "the embedded chain lives inside the process that starts it"}
    from rollup.chain.rollup import RollupClient

    try:
        chain = (opener or open_chain)(cfg)
        try:
            chain_id = chain.w3.eth.chain_id
            st = RollupClient(chain, cfg.rollup_address).state()
        finally:
            chain.close()
    except Exception as exc:  # unreachable node, no contract there, ...
        msg = " ".join(str(exc).split())[:200]
        return {"available": False, "reason": f"unreachable: {type(exc).__name__}: {msg}"}
    out = {"available": True, "chain_id": chain_id, "batch_number": st.batch_number,
           "root": "0x" + st.state_root.hex(), "queue_length": st.queue_length,
           "queue_consumed": st.queue_consumed, "exodus": st.exodus}
    if chain_id != cfg.chain_id:
        out["warning"] = f"node reports chain id {chain_id}, configuration says {cfg.chain_id}"
    return out


def _node_status(cfg) -> dict | None:
    """What `rollup node run` last wrote (DATA/node-status.json, every second), with its age."""
    try:
        d = json.loads((cfg.data / "node-status.json").read_text())
    except (OSError, ValueError):
        return None
    d["age_s"] = round(time.time() - d.get("updated_at", 0), 1)
    return d


@click.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def status(config_path: str, as_json: bool) -> None:
    """The configuration, the local state root and journal length, and (for a deployed rollup
    on a reachable node) the on-chain batch number and root."""
    from rollup.settlement.files import last_batch, read_genesis

    cfg = load_config(config_path)
    local = _local_state(cfg)
    genesis = read_genesis(cfg)
    last = last_batch(cfg)
    chain = onchain_state(cfg)
    report = {
        "config": str(cfg.path),
        "chain": {"node": cfg.node, "chain_id": cfg.chain_id,
                  "rollup_address": cfg.rollup_address},
        "data_dir": str(cfg.data), "tree_depth": cfg.tree_depth,
        "batch": {"slots": cfg.batch_slots, "l1_slots": cfg.batch_l1_slots,
                  "assets": cfg.batch_assets, "underlyings": cfg.batch_underlyings,
                  "time_limit": cfg.batch_time_limit,
                  "last_built": last["number"] if last else 0,
                  "last_built_seq": last["last_seq"] if last else None},
        "api": f"http://{cfg.api_host}:{cfg.api_port}",
        "markets": [m.asset for m in cfg.markets],
        "genesis_seq": genesis["seq"] if genesis else None,
        "local": local, "onchain": chain, "node": _node_status(cfg),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"config      {cfg.path}")
    click.echo(f"chain       {cfg.node}  id {cfg.chain_id}  rollup {cfg.rollup_address}")
    click.echo(f"data        {cfg.data}  (tree depth {cfg.tree_depth})")
    click.echo(f"batches     {cfg.batch_slots} slots ({cfg.batch_l1_slots} L1), "
               f"{cfg.batch_assets} assets, {cfg.batch_underlyings} underlying(s), "
               f"{cfg.batch_time_limit:g} s; last built "
               f"#{report['batch']['last_built']}")
    click.echo(f"api         {report['api']}")
    click.echo(f"markets     {' '.join(map(str, report['markets'])) or '(none)'}")
    if local["root"] is None:
        click.echo(f"journal     {local['journal']}: none yet (sequencer never started)")
    else:
        click.echo(f"journal     {local['journal']}: {local['journal_length']} requests"
                   + (f" (genesis {genesis['seq']})" if genesis else ""))
        click.echo(f"local root  {local['root']}  ({local['accounts']} accounts, "
                   f"oracle time {local['time']})")
        for u, g in local["greeks"]["net"].items():
            click.echo(f"greeks {u:>4} net delta {g['delta']:.6g}  gamma {g['gamma']:.6g}  "
                       f"vega {g['vega']:.6g}  theta {g['theta']:.6g}  (accounts long delta "
                       f"{local['greeks']['long_delta'][u]:.6g})")
    if chain["available"]:
        click.echo(f"on-chain    batch {chain['batch_number']}  root {chain['root']}  "
                   f"queue {chain['queue_consumed']}/{chain['queue_length']}"
                   + ("  EXODUS" if chain["exodus"] else ""))
        if "warning" in chain:
            click.echo(f"warning     {chain['warning']}", err=True)
    else:
        click.echo(f"on-chain    {chain['reason']}")
    nd = report["node"]
    if nd is not None:
        b = nd["batches"]
        errors = [f"{k}: {v['last_error']}" for k, v in nd["stages"].items() if v["last_error"]]
        click.echo(f"node        {'running' if nd['age_s'] < 5 else 'stopped'} (status "
                   f"{nd['age_s']:g} s old): built #{b['built']}, proven #{b['proven']}, "
                   f"finalized #{b['finalized']}, {b['unbatched_requests']} unbatched")
        for e in errors:
            click.echo(f"last error  {e}")


def serve_until_stopped(server, on_stop) -> None:
    """Print ``listening on URL`` (stdout's first line), serve until SIGTERM or Ctrl-C (the
    requests in flight are answered), then close the server and run ``on_stop``."""
    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"listening on {server.url}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
        on_stop()
