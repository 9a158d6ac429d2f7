"""``Stream``: the blocking WebSocket client of /v1/ws (the ``websockets`` package), and
``BookMirror``, a local copy of one order book kept from a snapshot and its deltas.

Contract: ``recv`` returns the next message as a dict; a subscription's messages carry ``seq``
1, 2, 3 ...; ``BookMirror.apply`` raises ``Gap`` when one is missing, and ``Stream.resync``
subscribes again (a new snapshot). Reconnecting: ``Stream.reconnect`` opens a new socket,
authenticates again and renews every subscription.
"""

from __future__ import annotations

import json
from collections import deque

from websockets.sync.client import connect

from rollup.client.errors import ApiError


class Gap(Exception):
    """A subscription lost messages: subscribe again for a new snapshot."""


class Stream:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip(
            "/") + "/v1/ws"
        self.token, self.timeout = token, timeout
        self.subs: set[tuple[str, int]] = set()
        self.cod = False
        self._pending: deque[dict] = deque()
        self._open()

    def _open(self) -> None:
        self._connection = connect(self.url, open_timeout=self.timeout, max_size=1 << 24)
        self.ws = self._connection.__enter__()
        if self.token is not None:
            self.send({"op": "auth", "token": self.token})
            self._expect("authenticated")

    def _expect(self, kind: str) -> dict:
        """Wait for the answer ``kind``; channel messages that arrive first are kept for
        ``recv`` (a subscription loses nothing)."""
        skipped = []
        try:
            while True:
                m = json.loads(self.ws.recv(self.timeout))
                if m.get("type") == "error" and "channel" not in m:
                    raise ApiError(0, m["code"], m["message"])
                if m.get("type") == kind:
                    return m
                skipped.append(m)
        finally:
            self._pending.extend(skipped)

    def send(self, msg: dict) -> None:
        self.ws.send(json.dumps(msg))

    def recv(self, timeout: float | None = None) -> dict:
        if self._pending:
            return self._pending.popleft()
        return json.loads(self.ws.recv(timeout if timeout is not None else self.timeout))

    def subscribe(self, channel: str, key: int = 0) -> None:
        """Subscribe; the messages that follow are the channel's (a book: its snapshot first)."""
        self.send({"op": "subscribe", "channel": channel, "key": key})
        self.subs.add((channel, key))

    def unsubscribe(self, channel: str, key: int = 0) -> None:
        self.send({"op": "unsubscribe", "channel": channel, "key": key})
        self.subs.discard((channel, key))

    def cancel_on_disconnect(self, enabled: bool = True) -> None:
        """When this connection closes (the client dies, the network drops), the server drops
        every resting order of the account (needs a session: ``Client.stream``). Renewed by
        ``reconnect``: the old connection's close has dropped them already."""
        self.send({"op": "cancel_on_disconnect", "enabled": enabled})
        self._expect("cancel_on_disconnect")
        self.cod = enabled

    def resync(self, channel: str, key: int = 0) -> None:
        self.unsubscribe(channel, key)
        self.subscribe(channel, key)

    def reconnect(self) -> None:
        self.close()
        self._open()
        if self.cod:
            self.cancel_on_disconnect(True)
        for ch, key in sorted(self.subs):
            self.send({"op": "subscribe", "channel": ch, "key": key})

    def close(self) -> None:
        self._connection.__exit__(None, None, None)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BookMirror:
    """One book from its stream: ``levels[(side, price)] = (size, orders)``."""

    def __init__(self, asset: int) -> None:
        self.asset, self.levels, self.seq = asset, {}, 0
        self.ready = False

    def apply(self, m: dict) -> bool:
        """Take one message of the book's channel (others are ignored: False)."""
        if (m.get("channel"), m.get("key")) != ("book", self.asset) or m.get("type") not in (
                "snapshot", "delta"):
            return False
        if m["type"] == "snapshot":
            self.levels = {(side, lv["price"]): (lv["size"], lv["orders"])
                           for side, rows in (("bid", m["bids"]), ("ask", m["asks"]))
                           for lv in rows}
            self.seq, self.ready = m["seq"], True
            return True
        if not self.ready or m["seq"] != self.seq + 1:
            self.ready = False
            raise Gap(f"book {self.asset}: got seq {m['seq']} after {self.seq}")
        for side, price, size, orders in m["changes"]:
            if size == 0:
                self.levels.pop((side, price), None)
            else:
                self.levels[(side, price)] = (size, orders)
        self.seq = m["seq"]
        return True

    def as_book(self) -> dict:
        """In the REST answer's form: bids best (highest) first, asks best (lowest) first."""
        def side(s, best_high):
            rows = sorted(((p, z, o) for (ss, p), (z, o) in self.levels.items() if ss == s),
                          reverse=best_high)
            return [{"price": p, "size": z, "orders": o} for p, z, o in rows]
        return {"bids": side("bid", True), "asks": side("ask", False)}
