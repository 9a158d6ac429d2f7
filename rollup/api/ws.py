"""The WebSocket endpoint ``/v1/ws``: JSON text frames in both directions.

In: ``{"op": "subscribe" | "unsubscribe", "channel": name, "key": n}``, ``{"op": "auth",
"token": session token}`` (for the private channels of that account), ``{"op": "ping"}``,
``{"op": "cancel_on_disconnect", "enabled": bool}`` (after an auth with a cancel-scoped session,
at most ``MAX_ARMED`` connections per account: when this connection closes, however it closes,
while that session is live, the operator drops every resting order of the account).
Out: the channel messages of ``rollup.api.streams`` (each with ``channel``, ``key``, ``seq``),
``{"type": "subscribed" | "unsubscribed" | "authenticated" | "pong", ...}`` and
``{"type": "error", "code", "message"}``. A book subscription answers with its snapshot first.
Frames are decoded into one typed message (no untyped decode: depth cannot hurt), at most
``MAX_FRAME`` bytes; a client that falls ``QUEUE`` messages behind (the server's ``ws_queue``)
is told ``Lagged`` and closed. One whose socket takes nothing for the server's ``ws_send_timeout``
(``rollup.api.server``) is reset, and its connection ends here as any other does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from rollup.api.streams import PRIVATE, Hub, Subscriber, encode
from rollup.errors import EngineError
from rollup.transactions import SCOPE_CANCEL

MAX_FRAME = 4096
MAX_ARMED = 4  # connections of one account with cancel-on-disconnect on


class WsIn(msgspec.Struct, forbid_unknown_fields=True):
    op: Literal["subscribe", "unsubscribe", "auth", "ping", "cancel_on_disconnect"]
    channel: str | None = None
    key: int = 0
    token: str | None = None
    enabled: bool = True


def hub_of(api) -> Hub:
    """The API's hub, made on first use and handed to the service (which feeds it)."""
    if api.hub is None:
        svc = api.service
        api.hub = Hub(lambda asset: msgspec.to_builtins(svc.book_view(asset, 1 << 30)))
        svc.hub = api.hub
    return api.hub


def _error(code: str, message: str) -> dict:
    return {"type": "error", "code": code, "message": message}


async def _pump(ws: WebSocket, sub: Subscriber) -> None:
    try:
        while True:
            msg = await sub.next()
            await ws.send_text(encode(msg).decode())
            if type(msg) is dict and msg.get("code") == "Lagged":
                await ws.close(1008)
                return
    except (WebSocketDisconnect, RuntimeError):
        return  # the connection is gone (or reset by the server); the route's loop ends it


def endpoint(api):
    async def ws_route(ws: WebSocket) -> None:
        await ws.accept()
        hub = hub_of(api)
        sub = Subscriber(asyncio.get_running_loop(), limit=api.ws_queue)
        pump = asyncio.create_task(_pump(ws, sub))
        try:
            while True:
                raw = await ws.receive_text()
                if len(raw) > MAX_FRAME:
                    sub.push(_error("FrameTooLarge", f"at most {MAX_FRAME} bytes"))
                    continue
                try:
                    m = msgspec.json.decode(raw, type=WsIn)
                except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                    sub.push(_error("MalformedMessage", str(exc)[:200]))
                    continue
                await _handle(api, hub, sub, m)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away
        finally:
            sub.closed = True
            pump.cancel()
            hub.unsubscribe(sub)
            armed = sub.cancel_on_disconnect
            if armed is not None:
                _disarm(api, sub)
                if armed[1] > time.time():  # the session that armed it still holds
                    try:
                        api.service.drop_orders(armed[0], "its cancel-on-disconnect "
                                                "connection closed")
                    except RuntimeError:  # the service is stopping: no one trades until a
                        pass                # restart, which starts with no connection

    return ws_route


def _disarm(api, sub: Subscriber) -> None:
    armed = sub.cancel_on_disconnect
    if armed is not None:
        sub.cancel_on_disconnect = None
        n = api.armed.get(armed[0], 0) - 1
        if n > 0:
            api.armed[armed[0]] = n
        else:
            api.armed.pop(armed[0], None)


async def _handle(api, hub: Hub, sub: Subscriber, m: WsIn) -> None:
    if m.op == "ping":
        sub.push({"type": "pong"})
    elif m.op == "auth":
        s = api.sessions.resolve(m.token or "")
        if s is None:
            sub.push(_error("Unauthorized", "not a live session token (POST /v1/sessions)"))
            return
        if sub.cancel_on_disconnect is not None and sub.cancel_on_disconnect[0] != s.account:
            _disarm(api, sub)
        sub.account, sub.session = s.account, s
        if sub.cancel_on_disconnect is not None:  # a new session of the account extends it
            sub.cancel_on_disconnect = (s.account, s.expires if s.scope & SCOPE_CANCEL
                                        else sub.cancel_on_disconnect[1])
        sub.push({"type": "authenticated", "account": s.account, "expires": s.expires,
                  "scope": s.scope})
    elif m.op == "cancel_on_disconnect":
        s = sub.session
        if s is None or not s.scope & SCOPE_CANCEL or s.expires <= time.time():
            sub.push(_error("Unauthorized", "cancel_on_disconnect needs an auth with a live "
                            f"session of scope {SCOPE_CANCEL} (POST /v1/sessions)"))
            return
        if not m.enabled:
            _disarm(api, sub)
        elif sub.cancel_on_disconnect is None:
            n = api.armed.get(s.account, 0)
            if n >= MAX_ARMED:
                sub.push(_error("TooManyConnections", f"at most {MAX_ARMED} connections of "
                                "an account have cancel-on-disconnect on"))
                return
            api.armed[s.account] = n + 1
            sub.cancel_on_disconnect = (s.account, s.expires)
        sub.push({"type": "cancel_on_disconnect", "account": s.account,
                  "enabled": m.enabled, "until": s.expires})
    elif m.op == "unsubscribe":
        n = hub.unsubscribe(sub, m.channel, m.key)
        sub.push({"type": "unsubscribed", "channel": m.channel, "key": m.key, "count": n})
    else:
        if m.channel in PRIVATE and sub.account != m.key:
            sub.push(_error("Forbidden", f"{m.channel}:{m.key} needs an auth with a session "
                            f"of account {m.key}"))
            return

        def subscribe(svc):
            hub.subscribe(sub, m.channel, m.key)  # a book's snapshot is pushed here
            sub.push({"type": "subscribed", "channel": m.channel, "key": m.key})

        try:
            await api.read(subscribe)
        except KeyError as exc:
            sub.push(_error("UnknownChannel", str(exc.args[0])))
        except PermissionError as exc:
            sub.push(_error("Forbidden", str(exc)))
        except EngineError as exc:
            sub.push(_error(type(exc).__name__, exc.reason))
