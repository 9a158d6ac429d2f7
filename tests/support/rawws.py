"""A WebSocket client on a plain socket (RFC 6455), for tests of how the server treats a peer
that does not behave: one that stops reading, one that never answers a ping."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct


def raw_ws(url: str, rcvbuf: int | None = None) -> socket.socket:
    """An upgraded /v1/ws connection (``rcvbuf``: a small receive buffer, set before connect so
    that it bounds the advertised window)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:  # the answer to the upgrade; nothing after it is read
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def frame(msg: dict) -> bytes:
    """A masked text frame (RFC 6455 5.2; a client's frames are masked)."""
    data = json.dumps(msg).encode()
    assert len(data) < 126
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4]
                                                         for i, b in enumerate(data))


def _exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        got = sock.recv(n - len(out))
        if not got:
            raise EOFError
        out += got
    return out


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """The next (opcode, payload) of a server's (unmasked, unfragmented) frame; EOFError once
    the server closed the connection."""
    b0, b1 = _exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", _exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _exact(sock, 8))[0]
    return b0 & 0x0F, _exact(sock, n)
