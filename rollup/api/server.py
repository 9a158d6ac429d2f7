"""The HTTP server: uvicorn (httptools parser, uvloop event loop) serving
``rollup.api.app.create_app`` on a socket bound at construction, so that a taken port fails
before the journal is opened and ``url`` is known (also for port 0).

``serve_forever`` runs it on the calling thread until ``shutdown`` (from another thread or a
signal handler); ``start`` runs it on a thread of its own (tests, benchmarks). The service may
be attached after construction (``server.service = svc``), before the first request.
A WebSocket connection's kernel send buffer is capped at ``ws_send_buffer`` bytes (Linux
doubles it; autotuning had let it grow to megabytes), and a frame that cannot be handed to it
within ``ws_send_timeout`` seconds resets the connection: a client that stops reading is
dropped at most that long after about ``2 * ws_send_buffer`` + 64 KiB (uvloop's high-water
mark) of its messages are stuck; the endpoint sees a disconnect (subscriptions removed,
cancel-on-disconnect fired) as for any other. A silent peer (half-open TCP, a client that
stops reading a quiet connection) is closed once a ping, sent every ``ws_ping_interval``
seconds, has gone unanswered for ``ws_ping_timeout``. ``server_options(cfg)``: these from ``[api]``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
from collections.abc import Callable

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from rollup.api.app import create_app
from rollup.api.service import SequencerService
from rollup.api.streams import QUEUE
from rollup.config import Config

# the defaults of [api] (rollup.config.Config): a WebSocket frame's wait for room in the socket's
# buffer; its SO_SNDBUF (bytes, the kernel doubles it); the keepalive ping's period and deadline
WS_SEND_TIMEOUT = Config.api_ws_send_timeout
WS_SEND_BUFFER = Config.api_ws_send_buffer
WS_PING_INTERVAL = Config.api_ws_ping_interval
WS_PING_TIMEOUT = Config.api_ws_ping_timeout


def server_options(cfg: Config) -> dict:
    """``ApiServer``'s keyword arguments from ``[api]``."""
    return {"max_body": cfg.api_max_body, "ws_send_timeout": cfg.api_ws_send_timeout,
            "ws_send_buffer": cfg.api_ws_send_buffer,
            "ws_ping_interval": cfg.api_ws_ping_interval,
            "ws_ping_timeout": cfg.api_ws_ping_timeout}


class _Server(uvicorn.Server):
    def capture_signals(self):
        """The caller handles signals (``rollup.cli.operator.serve_until_stopped``)."""
        import contextlib

        return contextlib.nullcontext()


class _StuckSendGuard(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, with a bound on a send stuck behind a full buffer. uvicorn
    makes ``send`` wait, without limit, until the transport's buffer drains below its low-water
    mark; a client that never reads is then only noticed by the ping timeout (20 s + 20 s). Here
    a send that waits ``send_timeout`` seconds aborts the connection with a reset (SO_LINGER 0:
    the kernel drops the unsent bytes at once instead of probing a zero window): uvicorn then
    reports the disconnect to the application as for any lost connection. The socket's send
    buffer is capped first, so that a stuck client is found after a bounded backlog."""

    send_timeout = WS_SEND_TIMEOUT
    send_buffer = WS_SEND_BUFFER

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
            except OSError:
                pass

    async def send(self, message) -> None:
        if not self.writable.is_set() and not self.disconnected:
            try:
                await asyncio.wait_for(self.writable.wait(), self.send_timeout)
            except TimeoutError:
                self._reset()
        await super().send(message)  # after a reset: ClientDisconnected once the loss is seen

    def _reset(self) -> None:
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        host, port = self.client or ("?", 0)
        self.logger.warning("WebSocket client %s:%s reset: nothing could be written to it for "
                            "%.1f s", host, port, self.send_timeout)
        self.transport.abort()


class ApiServer:
    def __init__(self, service: SequencerService | None, host: str, port: int, *,
                 max_body: int = 64 * 1024, max_batch_body: int | None = None,
                 verbose: bool = False, on_ack: Callable[[float], None] | None = None,
                 loop: str = "uvloop", http: str = "httptools",
                 ws_send_timeout: float = WS_SEND_TIMEOUT, ws_send_buffer: int = WS_SEND_BUFFER,
                 ws_ping_interval: float = WS_PING_INTERVAL,
                 ws_ping_timeout: float = WS_PING_TIMEOUT, ws_queue: int = QUEUE) -> None:
        """``loop`` / ``http``: uvicorn's event loop and HTTP parser (``asyncio`` / ``h11``:
        the pure-Python pair, for comparison). ``ws_send_timeout``, ``ws_send_buffer``,
        ``ws_ping_interval`` (0: no pings), ``ws_ping_timeout``: see the module docstring;
        ``ws_queue``: messages a WebSocket client may have unread before it is told ``Lagged``
        and closed."""
        if ws_send_timeout <= 0 or ws_send_buffer < 4096 or ws_queue < 1 \
                or ws_ping_interval < 0 or ws_ping_timeout <= 0:
            raise ValueError("ws_send_timeout and ws_ping_timeout must be > 0, ws_ping_interval "
                             ">= 0, ws_send_buffer at least 4096 and ws_queue at least 1")
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
                              on_ack=on_ack, ws_queue=ws_queue)
        self.api = self.app.state.api
        ws = type("WebSocketProtocol", (_StuckSendGuard,), {"send_timeout": ws_send_timeout,
                                                             "send_buffer": ws_send_buffer})
        config = uvicorn.Config(self.app, loop=loop, http=http, ws=ws,
                                lifespan="off", access_log=verbose, server_header=False,
                                log_level="info" if verbose else "warning",
                                timeout_keep_alive=30, log_config=None,
                                ws_ping_interval=ws_ping_interval or None,
                                ws_ping_timeout=ws_ping_timeout)
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
