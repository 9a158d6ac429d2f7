"""`rollup sequencer run`: the HTTP/JSON API in front of one sequencer and its journal.

    rollup sequencer run [--config PATH] [--host H] [--port P] [--verbose]

Prints ``listening on http://HOST:PORT`` (one line on stdout) once it accepts requests; SIGTERM
or Ctrl-C stops it cleanly. Restarted on the same data folder, it replays its journal and
serves the same state.
"""

from __future__ import annotations

import signal
import threading

import click

from rollup.cli_operator import config_option, load_config


@click.group("sequencer")
def sequencer() -> None:
    """The sequencer service (HTTP/JSON API, journaled)."""


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
    """Serve POST /v1/requests, GET /v1/accounts/{id}, /v1/books/{asset}, /v1/fills,
    /v1/status and /openapi.json on the configured address (127.0.0.1 by default)."""
    from rollup.api.server import ApiServer
    from rollup.api.service import SequencerService

    cfg = load_config(config_path)
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    # bind first: a taken port fails before the journal is opened
    server = ApiServer(None, host or cfg.api_host, cfg.api_port if port is None else port,
                       max_body=cfg.api_max_body, verbose=verbose)
    try:
        service = SequencerService(cfg, log=log).start()
    except BaseException:
        server.server_close()
        raise
    server.service = service
    st = service.status()
    log(f"state root {st['root']} after {st['seq']} journaled requests")
    feed, feed_stop = None, threading.Event()
    if l1_poll > 0:
        from rollup.api.l1feed import L1Feed

        try:
            feed = L1Feed(service, log=log)
        except BaseException:
            server.server_close()
            service.close()
            raise
        threading.Thread(target=feed.run, args=(l1_poll, feed_stop), name="l1-feed",
                         daemon=True).start()

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    click.echo(f"listening on {server.url}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        feed_stop.set()
        server.server_close()
        service.close()
        log("stopped")
