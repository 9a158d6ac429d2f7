"""The HTTP server: uvicorn (httptools parser, uvloop event loop) serving
``rollup.api.app.create_app`` on a socket bound at construction, so that a taken port fails
before the journal is opened and ``url`` is known (also for port 0).

``serve_forever`` runs it on the calling thread until ``shutdown`` (from another thread or a
signal handler); ``start`` runs it on a thread of its own (tests, benchmarks). The service may
be attached after construction (``server.service = svc``), before the first request.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import uvicorn

from rollup.api.app import create_app
from rollup.api.service import SequencerService


class _Server(uvicorn.Server):
    def capture_signals(self):
        """The caller handles signals (``rollup.cli.operator.serve_until_stopped``)."""
        import contextlib

        return contextlib.nullcontext()


class ApiServer:
    def __init__(self, service: SequencerService | None, host: str, port: int, *,
                 max_body: int = 64 * 1024, max_batch_body: int | None = None,
                 verbose: bool = False, on_ack: Callable[[float], None] | None = None,
                 loop: str = "uvloop", http: str = "httptools") -> None:
        """``loop`` / ``http``: uvicorn's event loop and HTTP parser (``asyncio`` / ``h11``:
        the pure-Python pair, for comparison)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
            self.sock.listen(2048)
        except OSError:
            self.sock.close()
            raise
        self.server_address = self.sock.getsockname()[:2]
        self.app = create_app(service, max_body=max_body, max_batch_body=max_batch_body,
                              on_ack=on_ack)
        self.api = self.app.state.api
        config = uvicorn.Config(self.app, loop=loop, http=http, ws="none",
                                lifespan="off", access_log=verbose, server_header=False,
                                log_level="info" if verbose else "warning",
                                timeout_keep_alive=30, log_config=None)
        if not verbose:
            logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._server = _Server(config)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def service(self) -> SequencerService | None:
        return self.api.service

    @service.setter
    def service(self, svc: SequencerService | None) -> None:
        self.api.service = svc

    @property
    def on_ack(self) -> Callable[[float], None] | None:
        return self.api.on_ack

    @property
    def max_batch_body(self) -> int:
        return self.api.max_batch_body

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        """Serve on this thread until ``shutdown``."""
        try:
            self._server.run(sockets=[self.sock])
        finally:
            self._done.set()

    def start(self) -> ApiServer:
        """Serve on a thread of its own; returns once it accepts connections."""
        self._thread = threading.Thread(target=self.serve_forever, name="api", daemon=True)
        self._thread.start()
        while not self._server.started and not self._done.is_set():
            self._done.wait(0.01)
        return self

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop accepting, finish the requests in flight, and return once serving ended (if it
        is running)."""
        self._server.should_exit = True
        if self._server.started or self._thread is not None:
            self._done.wait(timeout)

    def server_close(self) -> None:
        self.sock.close()
        self.api.pool.shutdown(wait=False)
