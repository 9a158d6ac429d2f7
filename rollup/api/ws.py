"""The WebSocket endpoint ``/v1/ws``: JSON text frames in both directions.

In: ``{"op": "subscribe" | "unsubscribe", "channel": name, "key": n}``, ``{"op": "auth",
"token": session token}`` (for the private channels of that account), ``{"op": "ping"}``,
``{"op": "cancel_on_disconnect", "enabled": bool}`` (after auth: when this connection closes,
however it closes, the operator drops every resting order of the account: ``DropOrders``).
Out: the channel messages of ``rollup.api.streams`` (each with ``channel``, ``key``, ``seq``),
``{"type": "subscribed" | "unsubscribed" | "authenticated" | "pong", ...}`` and
``{"type": "error", "code", "message"}``. A book subscription answers with its snapshot first.
Frames are decoded into one typed message (no untyped decode: depth cannot hurt), at most
``MAX_FRAME`` bytes; a client that falls ``QUEUE`` messages behind is told ``Lagged`` and closed.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from rollup.api.streams import PRIVATE, Hub, Subscriber
from rollup.errors import EngineError

MAX_FRAME = 4096


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
    while True:
        msg = await sub.next()
        await ws.send_text(msgspec.json.encode(msg).decode())
        if msg.get("code") == "Lagged":
            await ws.close(1008)
            return


def endpoint(api):
    async def ws_route(ws: WebSocket) -> None:
        await ws.accept()
        hub = hub_of(api)
        sub = Subscriber(asyncio.get_running_loop())
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
            if sub.cancel_on_disconnect is not None:
                try:
                    api.service.drop_orders(sub.cancel_on_disconnect,
                                            "its cancel-on-disconnect connection closed")
                except RuntimeError:  # the service is stopping: nothing rests after a restart
                    pass                # that the journal does not hold, and no one trades

    return ws_route


async def _handle(api, hub: Hub, sub: Subscriber, m: WsIn) -> None:
    if m.op == "ping":
        sub.push({"type": "pong"})
    elif m.op == "auth":
        s = api.sessions.resolve(m.token or "")
        if s is None:
            sub.push(_error("Unauthorized", "not a live session token (POST /v1/sessions)"))
            return
        sub.account = s.account
        sub.push({"type": "authenticated", "account": s.account, "expires": s.expires})
    elif m.op == "cancel_on_disconnect":
        if sub.account is None:
            sub.push(_error("Unauthorized", "cancel_on_disconnect needs an auth first"))
            return
        sub.cancel_on_disconnect = sub.account if m.enabled else None
        sub.push({"type": "cancel_on_disconnect", "account": sub.account,
                  "enabled": m.enabled})
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
