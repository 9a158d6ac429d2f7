"""`rollup sequencer run`: the HTTP/JSON API in front of one sequencer and its journal.

    rollup sequencer run [--config PATH] [--host H] [--port P] [--verbose]

Prints ``listening on http://HOST:PORT`` (one line on stdout) once it accepts requests; SIGTERM
or Ctrl-C stops it cleanly. Restarted on the same data folder, it replays its journal and
serves the same state.
"""

from __future__ import annotations

import threading
from pathlib import Path

import click

from rollup.cli.operator import config_option, load_config, serve_until_stopped

# lazy: each command imports what it runs on (the engine, the API server, web3, Numba kernels,
# key files) when it runs, so that `rollup --help` loads only what the options need.


@click.group("sequencer")
def sequencer() -> None:
    """The sequencer service (HTTP/JSON API on uvicorn, journaled)."""


@sequencer.command("run")
@config_option
@click.option("--host", default=None, help="Override api.host.")
@click.option("--port", type=int, default=None, help="Override api.port (0: any free port).")
@click.option("--verbose", "-v", is_flag=True, help="Log every HTTP request on stderr.")
@click.option("--l1-poll", type=float, default=0.0, show_default=True,
              help="Read the Rollup's L1 queue (deposits, refunds, forced withdrawals) into the "
                   "sequencer every this many seconds (0: off; needs an http(s) chain.node).")
def run_cmd(config_path: str, host: str | None, port: int | None, verbose: bool,
            l1_poll: float) -> None:
    """Serve the API (docs/api.md; its OpenAPI document at /openapi.json) on the configured
    address (127.0.0.1 by default)."""
    from rollup.api.server import ApiServer, server_options
    from rollup.api.service import SequencerService

    cfg = load_config(config_path)
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    # bind first: a taken port fails before the journal is opened
    server = ApiServer(None, host or cfg.api_host, cfg.api_port if port is None else port,
                       **server_options(cfg), verbose=verbose)
    try:
        service = SequencerService(cfg, log=log).start()
    except BaseException:
        server.server_close()
        raise
    server.service = service
    from circuits.eddsa_batch import warm_up
    from rollup.engine import orderbook
    from rollup.engine.sequencer import tune_gc

    warm_up()  # load the signature kernels now, not in the first client's request (~1 s)
    orderbook.warm_up()  # and the matching kernels
    tune_gc()  # the state just loaded is long-lived (snapshots freeze again)
    st = service.status()
    log(f"state root {st['root']} after {st['seq']} journaled requests")
    feed, feed_stop = None, threading.Event()
    if l1_poll > 0:
        from rollup.node.l1feed import L1Feed

        try:
            feed = L1Feed(service, log=log)
        except BaseException:
            server.server_close()
            service.close()
            raise
        threading.Thread(target=feed.run, args=(l1_poll, feed_stop), name="l1-feed",
                         daemon=True).start()

    def on_stop() -> None:
        feed_stop.set()
        service.close()
        log("stopped")

    serve_until_stopped(server, on_stop)


# --- the operator's actions on a running service (POST /v1/admin) ---------------------------------


def _admin_post(cfg, url: str | None, body: dict) -> dict:
    """POST body to the running service's /v1/admin with the token it wrote to the data folder;
    the receipt, or a one-line ClickException with the service's error."""
    import http.client
    import json
    from urllib.parse import urlsplit

    from rollup.api.service import admin_token_file

    try:
        token = admin_token_file(cfg).read_text().strip()
    except OSError:
        raise click.ClickException(f"no {admin_token_file(cfg)}: is `rollup sequencer run` "
                                   "running on this data folder?") from None
    parts = urlsplit(url or f"http://{cfg.api_host}:{cfg.api_port}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.ClickException(f"--url: {url!r} is not an http(s) URL")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=60)
    data = json.dumps(body).encode()
    try:
        conn.request("POST", parts.path.rstrip("/") + "/v1/admin", body=data, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        out = json.loads(resp.read() or b"{}")
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot reach the sequencer at {parts.geturl()}: "
                                   f"{exc}") from None
    finally:
        conn.close()
    if resp.status != 200:
        err = out.get("error", {})
        raise click.ClickException(f"{resp.status} {err.get('code')}: {err.get('message')}")
    return out


_KINDS = {"perp": 1, "call": 2, "put": 3}


@sequencer.command("list-asset")
@config_option
@click.option("--url", default=None, help="The service (default: api.host and api.port).")
@click.option("--asset", type=int, required=True, help="Asset id (below the batch circuit's "
              "[batch] assets table size).")
@click.option("--kind", type=click.Choice(sorted(_KINDS)), required=True)
@click.option("--underlying", type=int, default=0, help="Option series: the perpetual's id.")
@click.option("--strike", type=int, default=0)
@click.option("--expiry", type=int, default=0, help="Option series: oracle time of expiry.")
@click.option("--risk-initial", type=int, required=True, help="ppm of |balance| * price.")
@click.option("--risk-maintenance", type=int, required=True)
@click.option("--short-initial", type=int, default=0, help="Short options: ppm of |balance| * "
              "underlying price.")
@click.option("--short-maintenance", type=int, default=0)
@click.option("--maker-fee", type=int, default=0, help="ppm of notional.")
@click.option("--taker-fee", type=int, default=0)
@click.option("--liquidation-fee", type=int, default=0)
def list_asset_cmd(config_path: str, url: str | None, kind: str, **fields) -> None:
    """List a perpetual market or an option series on the running sequencer (journaled; the
    batch that carries it proves it in an L1 slot)."""
    cfg = load_config(config_path)
    r = _admin_post(cfg, url, {"type": "list_asset", "kind": _KINDS[kind], **fields})
    click.echo(f"listed asset {fields['asset']} ({kind}) at journal row {r['seq']}, "
               f"root {r['root']}")


@sequencer.command("set-oracle-key")
@config_option
@click.option("--url", default=None, help="The service (default: api.host and api.port).")
@click.option("--key", "key_spec", required=True,
              help="The new oracle key: a key file, or its packed public key (hex).")
@click.option("--signer", "signer", default=None,
              help="The CURRENT oracle key's key file: it signs the change.")
@click.option("--sig", "sig_json", default=None,
              help="Or the current oracle key's signature over the change, made elsewhere: "
                   "JSON [[R8x, R8y], S].")
def set_oracle_key_cmd(config_path: str, url: str | None, key_spec: str, signer: str | None,
                       sig_json: str | None) -> None:
    """Change the oracle key on the running sequencer: the change is signed by the current
    oracle key (--signer or --sig), and oracle messages after it must be signed with the new key
    (journaled; proven in an L1 slot of the batch that carries it)."""
    import json

    from rollup.keys import load_key, public_key_of
    from rollup.transactions import SetOracleKey

    cfg = load_config(config_path)
    if (signer is None) == (sig_json is None):
        raise click.ClickException("give the current oracle key's signature: --signer KEYFILE "
                                   "or --sig '[[R8x, R8y], S]' (one of them)")
    try:
        pk = public_key_of(key_spec, Path.cwd())
    except Exception as exc:  # a missing file, a malformed key
        raise click.ClickException(f"--key: {exc}") from None
    if signer is not None:
        try:
            priv = load_key(signer).private_key
        except Exception as exc:
            raise click.ClickException(f"--signer: {exc}") from None
        (r8x, r8y), s = SetOracleKey(pk).signed(priv, cfg.domain()).sig
        sig = [[str(r8x), str(r8y)], str(s)]
    else:
        try:
            sig = json.loads(sig_json)
        except ValueError as exc:
            raise click.ClickException(f"--sig: not JSON ({exc})") from None
    r = _admin_post(cfg, url, {"type": "set_oracle_key", "pk": [str(pk[0]), str(pk[1])],
                               "sig": sig})
    click.echo(f"oracle key changed at journal row {r['seq']}, root {r['root']}")
