"""`rollup node run`: the sequencer API, the L1 feed, the oracle feeder, the batcher, the prover
pool and the relayer in one supervised process tree (``rollup.node.node``).

    rollup node run [--config PATH] [--rpc URL] [--port P] [--provers N] [--metrics-port P]

Prints ``listening on http://HOST:PORT`` on stdout once the API accepts requests, then one line
per event on stderr; SIGTERM or Ctrl-C stops it cleanly; kill -9 loses nothing acknowledged.
It needs a deployed rollup (`rollup chain deploy --config ...`) on an http(s) node and the
batch proving key in DATA/keys (`rollup setup ... --out DATA/keys`).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from rollup.cli.operator import config_option, load_config, serve_until_stopped

# lazy: each command imports what it runs on (the engine, the API server, web3, Numba kernels,
# key files) when it runs, so that `rollup --help` loads only what the options need.

CLUSTER_READY_S = 300.0  # the first Ray prover worker must hold the key by then


@click.group("node")
def node() -> None:
    """The whole rollup, continuously: API, L1 feed, oracle, batcher, provers, relayer."""


def _oracle_key(cfg, log) -> bytes | None:
    from rollup.keys import load_key

    if cfg.node_oracle == "off":
        return None
    path = cfg.data_path(cfg.oracle_key)
    if not path.is_file():
        log(f"oracle feeder off: keys.oracle ({cfg.oracle_key}) is not a key file")
        return None
    kp = load_key(path, cfg.passphrase())  # an encrypted file: keys.passphrase_env / _file
    _plaintext(kp.encrypted, path, cfg, log)
    return kp.private_key


def _plaintext(encrypted: bool, path, cfg, log) -> None:
    from rollup.keys.keystore import plaintext_warning

    if not encrypted and (w := plaintext_warning(path, cfg.chain_id)):
        log(w)


def _l1_account(cfg, log):
    """The relayer's L1 key (keys.l1), opened before anything starts; None: node.sender, an
    account unlocked on the node."""
    from rollup.keys.l1 import load_l1_key

    if not cfg.l1_key:
        return None
    path = cfg.data_path(cfg.l1_key)
    key = load_l1_key(path, cfg.passphrase())
    _plaintext(key.encrypted, path, cfg, log)
    log(f"relayer: signing as {key.address} ({path})")
    return key.account


@node.command("run")
@config_option
@click.option("--rpc", "rpc_url", default=None, help="JSON-RPC URL [default: chain.node].")
@click.option("--host", default=None, help="Override api.host.")
@click.option("--port", type=int, default=None, help="Override api.port (0: any free port).")
@click.option("--provers", type=int, default=None, help="Override node.provers.")
@click.option("--metrics-port", type=int, default=None,
              help="Override node.metrics_port (-1: off, 0: any free port).")
@click.option("--deploy", is_flag=True,
              help="Development: deploy the rollup first if chain.rollup_address is unset (with "
                   "the keys in DATA/keys; the address is written to the configuration).")
@click.pass_context
def run_cmd(ctx: click.Context, config_path: str, rpc_url: str | None, host: str | None,
            port: int | None, provers: int | None, metrics_port: int | None,
            deploy: bool) -> None:
    """Run the rollup until stopped: every batch is built, proven and finalized on its own.
    With chain.node = "anvil" the node starts Anvil on chain.anvil_port and keeps its state in
    DATA/anvil/ (a development chain that survives restarts)."""
    import time

    from rollup.api.server import ApiServer, server_options
    from rollup.api.service import SequencerService
    from rollup.chain.node import AnvilNode, rpc
    from rollup.node import metrics as M
    from rollup.node.cluster import make_pool
    from rollup.node.node import Node, NodeError, check_batch_shapes
    from rollup.settlement.shapes import on_disk

    cfg = load_config(config_path)
    log = lambda m: click.echo(f"{time.strftime('%H:%M:%S')} {m}", err=True)  # noqa: E731
    url = rpc_url or cfg.node
    anvil = None
    if url == "anvil":
        state = cfg.data / "anvil"
        state.mkdir(parents=True, exist_ok=True)
        anvil = AnvilNode(chain_id=cfg.chain_id, port=cfg.anvil_port, extra_args=(
            "--state", str(state / "state.json"), "--state-interval", "1",
            "--preserve-historical-states")).start()
        url = anvil.url
        log(f"anvil on {url} (state in {state})")
    if not url.startswith(("http://", "https://")):
        raise NodeError(f"the node needs an http(s) JSON-RPC URL or anvil (chain.node is "
                        f"{cfg.node!r}; pass --rpc)")
    if not cfg.rollup_deployed and deploy:
        from rollup.cli.chain import deploy_cmd

        for name in ("batch_vk.json", "exit_vk.json"):
            if not (cfg.keys_dir / name).is_file():
                raise NodeError(f"--deploy: no {cfg.keys_dir / name} (`rollup setup ... --out "
                                f"{cfg.keys_dir}`)")
        log("deploying the rollup")
        named = on_disk(cfg)  # every further shape with keys here: the contract verifies them
        with contextlib.redirect_stdout(sys.stderr):  # stdout's first line: "listening on"
            ctx.invoke(deploy_cmd, rpc_url=url, config_path=str(cfg.path),
                       batch_vk=str(cfg.keys_dir / "batch_vk.json"),
                       exit_vk=str(cfg.keys_dir / "exit_vk.json"),
                       shape_vks=tuple(f"{s.slots}x{s.l1_slots}={s.vk}" for s in named))
        cfg = load_config(config_path)
    if not cfg.rollup_deployed:
        raise NodeError("chain.rollup_address is not set: deploy first (`rollup chain deploy "
                        f"--rpc {url} --config {cfg.path} ...`)")
    zkey = cfg.keys_dir / "batch.zkey"
    if not zkey.is_file():
        raise NodeError(f"no proving key at {zkey} (`rollup setup --slots {cfg.batch_slots} "
                        f"--l1-slots {cfg.batch_l1_slots} --assets {cfg.batch_assets} "
                        f"--underlyings {cfg.batch_underlyings} --depth "
                        f"{cfg.tree_depth} --out {cfg.keys_dir}`)")
    vk = cfg.keys_dir / "batch_vk.json"
    # the contract takes each shape, and verifies it with the key here
    shapes = check_batch_shapes(cfg, rpc(url))
    log("batch shapes (slots x L1 slots): " + ", ".join(s.name for s in shapes))
    oracle_key = _oracle_key(cfg, log)
    l1_account = _l1_account(cfg, log)
    server = ApiServer(None, host or cfg.api_host, cfg.api_port if port is None else port,
                       **server_options(cfg), on_ack=M.ACK.observe)
    service = pool = node_ = None
    try:
        log("opening the journal")
        service = SequencerService(cfg, log=log).start()
        server.service = service
        log("loading the signature and matching kernels (the first start compiles them: "
            "a few minutes)")
        from circuits.eddsa_batch import warm_up
        from rollup.engine import orderbook
        from rollup.engine.sequencer import tune_gc

        warm_up()
        orderbook.warm_up()
        tune_gc()
        n = cfg.node_provers if provers is None else provers
        if cfg.node_cluster == "local":
            log(f"starting {n} prover process(es) with {zkey.name} (each compiles or loads the "
                "proving kernels on its first batch)")
        else:
            log(f"starting {n} CPU and {cfg.node_gpu_provers} GPU prover worker(s) on Ray "
                f"({cfg.node_cluster}) with {zkey.name}")
        pool = make_pool(cfg, zkey, vk=vk if vk.is_file() else None, workers=n, log=log)
        if cfg.node_cluster != "local":
            pool.wait_ready(CLUSTER_READY_S)  # a wrong key or a cluster too small: say so now
        node_ = Node(cfg, service, log, url, pool=pool, oracle_key=oracle_key,
                     l1_account=l1_account).start()
        mport = cfg.node_metrics_port if metrics_port is None else metrics_port
        if mport >= 0:
            log(f"metrics on http://{cfg.api_host}:{M.serve(mport, cfg.api_host)}/metrics")
    except BaseException:
        server.server_close()
        if anvil is not None:
            anvil.stop()
        if node_ is not None:
            node_.close()
        elif pool is not None:
            pool.close()
        if service is not None:
            service.close()
        raise
    st = service.status()
    log(f"state root {st['root']} after {st['seq']} journaled requests")

    def on_stop() -> None:
        node_.close()
        service.close()
        if anvil is not None:
            anvil.stop()
        log("stopped")

    serve_until_stopped(server, on_stop)


@node.command("status")
@config_option
def status_cmd(config_path: str) -> None:
    """The running node's last status (DATA/node-status.json) as JSON."""
    import json
    import time

    cfg = load_config(config_path)
    p = Path(cfg.data) / "node-status.json"
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError):
        raise click.ClickException(f"no node status at {p} (is `rollup node run` running on "
                                   "this data folder?)") from None
    d["age_s"] = round(time.time() - d.get("updated_at", 0), 1)
    click.echo(json.dumps(d, indent=1))
