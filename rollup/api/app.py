"""The ASGI application (Starlette): the route table ``ROUTES`` in front of one
``SequencerService``.

Each ``Endpoint`` names its request and answer types (``rollup.api.types``), its query type and
its errors; the routes served and the OpenAPI document (``rollup.api.openapi``) both come from
this table. Every answer is JSON; a rejection is ``{"error": {"code", "message"}}`` with a 4xx
status (the engine's typed error name, or an input error such as ``MalformedRequest``), and an
unexpected failure of one request is a 500 for that request only. Bodies need a Content-Length
of at most ``max_body`` bytes (``max_batch_body`` for a batch). Handlers never block the event
loop: a single request goes to the worker thread as decoded (it checks the signature and the
rate limit at its turn), batches and groups are decoded, verified and limited on a small thread
pool, and the engine's answer is awaited as a future of its worker thread. ``Endpoint.auth``
names a checker in ``AUTH`` (the operator's bearer token today); ``create_app(extra_routes=...)``
mounts routes outside the table (a WebSocket endpoint).
"""

from __future__ import annotations

import asyncio
import hmac
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from rollup.api import codec, ws
from rollup.api import types as W
from rollup.api.codec import ApiError, BadInput, engine_error, engine_status, error
from rollup.api.limits import GROUP_ITEMS_PER_TOKEN, refusal
from rollup.api.openapi import spec_bytes
from rollup.api.service import Replayed, SequencerService, now_us
from rollup.api.sessions import Sessions
from rollup.api.streams import QUEUE
from rollup.api.types import OneOf
from rollup.engine.groups import MAX_GROUP
from rollup.errors import EngineError

JSON = "application/json"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # OpenAPI's form: /v1/accounts/{id}; every path parameter is an integer
    handler: Callable[[Api, Request, dict], Awaitable[tuple]]
    operation_id: str
    summary: str
    response: Any  # the 200 answer's type
    body: Any = None  # the request body's type
    query: type | None = None
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> description
    errors: dict[int, str] = field(default_factory=dict)  # status -> when
    auth: str | None = None  # a key of AUTH
    description: str = ""


class Api:
    """What the handlers share: the service, the limits, the thread pool."""

    def __init__(self, service: SequencerService | None, max_body: int, max_batch_body: int,
                 on_ack: Callable[[float], None] | None, ws_queue: int = QUEUE) -> None:
        self.service = service
        self.ws_queue = ws_queue  # a WebSocket client's unread messages before ``Lagged``
        self.max_body, self.max_batch_body = max_body, max_batch_body
        self.on_ack = on_ack
        self.openapi = spec_bytes(ROUTES)
        self.sessions = Sessions()
        self.hub = None  # rollup.api.streams.Hub, made with the WebSocket endpoint
        self.armed: dict[int, int] = {}  # account -> connections with cancel-on-disconnect on
        # signature checks release the GIL: with more than one core they run beside the writer
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="api")

    async def answered(self) -> None:
        """An answer of the writer's is written: its bookkeeping may run now
        (``SequencerService.answered``)."""
        svc = self.service
        if svc is not None:
            svc.answered()

    async def off_loop(self, fn: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def engine(self, fut: Future):
        return await asyncio.wrap_future(fut)

    async def read(self, fn: Callable[[SequencerService], object]):
        """``fn(service)`` on the sequencer's worker thread (reads see a state between
        requests)."""
        return await self.engine(self.service.call_soon(fn))


# --- bodies, parameters, authorization ------------------------------------------------------------

async def body(request: Request, limit: int) -> bytes:
    if request.headers.get("transfer-encoding"):
        raise ApiError(411, "LengthRequired", "chunked bodies are not accepted; send "
                       "Content-Length", close=True)
    raw = request.headers.get("content-length")
    if raw is None:
        raise ApiError(411, "LengthRequired", "Content-Length is required", close=True)
    n = int(raw) if raw.isdigit() else -1
    if n < 0:
        raise ApiError(400, "BadContentLength", f"bad Content-Length {raw[:20]!r}", close=True)
    if n > limit:
        raise ApiError(413, "BodyTooLarge", f"body of {n} bytes exceeds {limit}", close=True)
    return await request.body()


def query(request: Request, typ: type):
    try:
        return msgspec.convert(dict(request.query_params), typ, strict=False)
    except msgspec.ValidationError as exc:
        raise BadInput(str(exc), "BadParameter") from None


async def operator_token(api: Api, request: Request) -> None:
    """``Authorization: Bearer <the service's admin token>`` (compared in constant time)."""
    got = request.headers.get("authorization", "")
    want = getattr(api.service, "admin_token", None)
    if not (want and got.startswith("Bearer ")
            and hmac.compare_digest(got[7:].strip().encode(), want.encode())):
        raise ApiError(401, "Unauthorized", "the operator endpoint needs the service's token "
                       "(DATA/admin.token) as a bearer token",
                       {"WWW-Authenticate": 'Bearer realm="operator"'}, close=True)


AUTH: dict[str, Callable[[Api, Request], Awaitable[None]]] = {"operator": operator_token}


# --- handlers: each returns (answer, extra headers) -----------------------------------------------

async def get_openapi(api: Api, request: Request, params: dict) -> tuple:
    return api.openapi, {}


async def get_status(api: Api, request: Request, params: dict) -> tuple:
    return await api.read(lambda s: s.status_view()), {}


async def post_request(api: Api, request: Request, params: dict) -> tuple:
    received = now_us()
    req = codec.decode_request(await body(request, api.max_body))
    # straight to the writer: it checks the signature and the rate limit at the request's
    # turn (with whatever is queued beside it, in one batch); a pool thread in between would
    # add two thread hand-offs to every lone order
    fut = api.service.enqueue([req], single=True, received=received, public=True, admit=True)
    r = await api.engine(fut)
    return r, {"Idempotent-Replay": "true"} if isinstance(r, Replayed) else {}


async def post_admin(api: Api, request: Request, params: dict) -> tuple:
    received = now_us()
    req = codec.decode_request(await body(request, api.max_body), require_sig=False,
                               table=codec.ADMIN)
    api.service.check_admin(req)
    return await api.engine(api.service.enqueue([req], single=True, received=received)), {}


def _item_error(index: int, status: int, code: str, message: str) -> W.BatchRejected:
    return W.BatchRejected(index, status, W.ErrorBody(code, message))


async def post_batch(api: Api, request: Request, params: dict) -> tuple:
    """Per item, in order: ``{"index", "status": 200, ...receipt}`` or ``{"index", "status",
    "error"}`` with the status and error the single endpoint would answer. A malformed or
    rate-limited item is answered in its place; the others still go ahead."""
    received = now_us()
    data = await body(request, api.max_batch_body)
    svc = api.service
    out: list = []

    def decode_admit_queue():
        items = codec.decode_batch(data)
        out.extend([None] * len(items))
        reqs, where = [], []
        for i, x in enumerate(items):
            if isinstance(x, BadInput):
                out[i] = _item_error(i, 400, x.code, str(x))
            else:
                reqs.append(x)
                where.append(i)
        pre = svc.preverify(reqs)
        go = []
        for i, req, p, wait in zip(where, reqs, pre, svc.admit(reqs, pre), strict=True):
            if wait is None:
                go.append((i, req, p))
            else:
                e = refusal(wait)
                out[i] = _item_error(i, 429, e.code, str(e))
        if not go:
            return None, go
        return svc.enqueue([r for _, r, _ in go], single=False, pre=[p for *_, p in go],
                           received=received, public=True), go

    fut, go = await api.off_loop(decode_admit_queue)
    results = await api.engine(fut) if fut is not None else []
    for (i, _, _), res in zip(go, results, strict=True):
        if isinstance(res, EngineError):
            out[i] = _item_error(i, engine_status(res), type(res).__name__, res.reason)
        elif isinstance(res, BaseException):  # only on the one-request fallback path
            out[i] = _item_error(i, 500, "InternalError", f"{type(res).__name__}: {res}")
        else:
            out[i] = W.BatchAccepted(**msgspec.structs.asdict(res), index=i)
    return out, {}


async def post_group(api: Api, request: Request, params: dict) -> tuple:
    """An atomic group: the receipts of all its requests, or one GroupRejected (the status its
    item alone would have had; ``index``, ``cause``) and nothing applied."""
    received = now_us()
    data = await body(request, api.max_batch_body)
    svc = api.service

    def decode_admit_queue():
        items = codec.decode_batch(data, limit=MAX_GROUP)
        for i, x in enumerate(items):
            if isinstance(x, BadInput):
                raise ApiError(400, x.code, f"group item {i}: {x}", index=i)
        pre = svc.preverify(items)
        wait = svc.admit_group(items, pre)
        if wait is not None:
            raise refusal(wait)
        return svc.enqueue_group(items, pre=pre, received=received)

    return await api.engine(await api.off_loop(decode_admit_queue)), {}


def private(api: Api, request: Request, account: int) -> None:
    """An account's private views need a live session of that account (POST /v1/sessions)."""
    api.sessions.check(request.headers.get("authorization"), account)


def _int_of(v) -> int:
    if isinstance(v, str):
        return int(v, 16) if v.lower().startswith(("0x", "-0x")) else int(v, 10)
    return v


async def post_session(api: Api, request: Request, params: dict) -> tuple:
    try:
        r = msgspec.json.decode(await body(request, api.max_body), type=W.SessionRequest)
        (rx, ry), rs = r.sig
        account, expiry, nonce = _int_of(r.account), _int_of(r.expiry), _int_of(r.nonce)
        sig = ((_int_of(rx), _int_of(ry)), _int_of(rs))
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise BadInput(f"session request: {exc}", "MalformedRequest") from None
    pk = await api.read(lambda s: s.account_key(account))  # UnknownAccount -> 404
    domain = api.service.cfg.domain()
    token, sess = await api.off_loop(api.sessions.open, domain, pk, account, expiry, nonce, sig,
                                     r.scope)
    return W.SessionToken(token, sess.account, sess.expires, sess.scope), {}


async def get_markets(api: Api, request: Request, params: dict) -> tuple:
    return await api.read(lambda s: s.markets_view()), {}


async def get_account(api: Api, request: Request, params: dict) -> tuple:
    i = params["id"]
    private(api, request, i)
    return await api.read(lambda s: s.account_view(i)), {}


async def get_book(api: Api, request: Request, params: dict) -> tuple:
    q = query(request, W.BookQuery)
    asset = params["asset"]
    return await api.read(lambda s: s.book_view(asset, q.depth)), {}


async def get_fills(api: Api, request: Request, params: dict) -> tuple:
    q = query(request, W.FillsQuery)
    if q.account is not None:
        private(api, request, q.account)
    return await api.read(lambda s: s.fills_page(q.since, q.limit, q.account)), {}


async def get_order(api: Api, request: Request, params: dict) -> tuple:
    a, o = params["account"], params["order_id"]
    private(api, request, a)
    return await api.read(lambda s: s.order_status(a, o)), {}


SIGNED_REQUEST = OneOf(W.SIGNED_TYPES)
_ENGINE_ERRORS = {
    403: "BadSignature.",
    404: "UnknownAccount, UnknownMarket, UnknownOrder.",
    409: "StaleNonce, OrderIdReused (a different request with the same id or nonce; the same "
         "signed request again gets its receipt: Idempotent-Replay); Replayed (a cancel-all "
         "taken already, past the idempotency window).",
    411: "Content-Length missing (or a chunked body).",
    413: "Body larger than the configured api.max_body (BodyTooLarge).",
    422: "Any other rejection by the engine: InsufficientMargin, InsufficientCollateral, "
         "Expired, InvalidRequest, NoLiquidity, PostOnlyWouldCross, ...",
    429: "RateLimited: the account's rate limit ([api] rate, burst); Retry-After says when.",
    503: "JournalError (not journaled, not applied) or ExodusActive.",
}
_BAD = "Malformed input: bad JSON (MalformedJSON), unknown or unsigned type, missing, mistyped " \
       "or out-of-range field, unknown field (MalformedRequest), bad query parameter."

ROUTES: list[Endpoint] = [
    Endpoint("GET", "/openapi.json", get_openapi, "getOpenApi", "This description", dict),
    Endpoint("GET", "/v1/status", get_status, "getStatus", "State root, counts, batch progress",
             W.Status),
    Endpoint("POST", "/v1/requests", post_request, "submitRequest", "Submit one signed request",
             W.Receipt, SIGNED_REQUEST, errors={400: _BAD, **_ENGINE_ERRORS},
             description="Answered once the request is in the journal (200, its receipt) or "
                         "rejected (nothing changed). A retry of a request already accepted "
                         "gets the original receipt again, with the header "
                         "Idempotent-Replay: true."),
    Endpoint("POST", "/v1/requests/batch", post_batch, "submitBatch",
             "Submit several signed requests, applied in order",
             list[OneOf((W.BatchAccepted, W.BatchRejected))], list[SIGNED_REQUEST],
             errors={400: "Malformed body: bad JSON (MalformedJSON), or not a JSON array "
                          "(MalformedRequest).",
                     411: _ENGINE_ERRORS[411],
                     413: f"More than {codec.MAX_BATCH} requests (BatchTooLarge), or a body "
                          "over the server's batch body limit (BodyTooLarge).",
                     503: "JournalError: the batch could not be journaled and none of it was "
                          "applied."},
             description=f"At most {codec.MAX_BATCH} requests, each in the form of POST "
                         "/v1/requests, applied in the order given and journaled together (one "
                         "group commit); the answer comes once they are on disk: one entry "
                         "per request, in order, with its index and the status the single "
                         "endpoint would have answered (a rejected request changes nothing; "
                         "the ones after it still go ahead). A malformed item is answered in "
                         "its place with status 400 and is not submitted; the others are. "
                         "Requests from other clients may be applied between batches, never "
                         "inside one."),
    Endpoint("POST", "/v1/groups", post_group, "submitGroup",
             "Atomic group of one account's cancels, cancel-alls and orders: amend, mass quote",
             list[W.Receipt], list[OneOf((W.Order, W.Cancel, W.CancelAll))],
             errors={400: "Malformed body or item (its index in `index`), not a JSON array.",
                     **{k: v for k, v in _ENGINE_ERRORS.items() if k not in (400, 413)},
                     413: f"More than {MAX_GROUP} requests (BatchTooLarge), or a body over "
                          "the server's batch body limit (BodyTooLarge)."},
             description=f"At most {MAX_GROUP} signed requests of one account, applied in "
                         "order all or nothing: each order sees the book the items before it "
                         "left (cancelled quotes free their slots and margin). Accepted: every "
                         "receipt, each with the root after the group, once all are in the "
                         "journal (one transaction). Rejected: the status the failing item "
                         "alone would have had, error code GroupRejected with `index` (the "
                         "item) and `cause` (its own error code); nothing changed. An amend is "
                         "[cancel(old), order(new)]; a mass quote [cancel_all(account, asset, "
                         "up_to_order_id, expiry), order, ...]. The same group again gets its "
                         "stored receipts (Idempotent-Replay is not set). A group costs one "
                         f"rate-limit token per {GROUP_ITEMS_PER_TOKEN} items."),
    Endpoint("POST", "/v1/admin", post_admin, "operatorAction",
             "The operator's actions after genesis: list a market or option series, change "
             "the oracle key", W.Receipt, OneOf(W.ADMIN_TYPES), auth="operator",
             errors={400: _BAD, 401: "Unauthorized: no or a wrong bearer token.",
                     404: "UnknownMarket (an option's underlying).",
                     422: "InvalidRequest (already listed, factors out of range), Expired, "
                          "UnsafeKey.",
                     503: "JournalError."},
             description="Authorization: Bearer <token>, the token the running service writes "
                         "to DATA/admin.token (mode 0600, a new one each start; `rollup "
                         "sequencer list-asset` / `set-oracle-key` read it). A set_oracle_key "
                         "request carries the current oracle key's signature over the new key "
                         "(message H(domain, 14, x, y, 0...)) once a key is registered. "
                         "Journaled and applied like any request; batches prove both (an L1 "
                         "slot each)."),
    Endpoint("POST", "/v1/sessions", post_session, "openSession",
             "A bearer token for one account's private views and streams", W.SessionToken,
             W.SessionRequest,
             errors={400: "MalformedRequest, BadScope, or BadExpiry (not within a day from "
                          "now).",
                     401: "BadSignature: not signed by the account's key.",
                     404: "UnknownAccount.",
                     409: "SessionReplayed: this signed message opened a session already."},
             description="The account's key signs H10(domain, 256, account, expiry, nonce, "
                         "scope, 0, 0, 0, 0) (docs/api.md, Sessions); the token lasts until "
                         "expiry (wall clock) or the server's restart. Scope 1 also lets the "
                         "holder arm cancel-on-disconnect on a WebSocket."),
    Endpoint("GET", "/v1/markets", get_markets, "getMarkets",
             "Listed markets: kind, underlying, strike, expiry, oracle price, factors, fees",
             W.Markets),
    Endpoint("GET", "/v1/accounts/{id}", get_account, "getAccount",
             "Collateral, nonce, positions, open orders, margin (a session of the account)",
             W.Account, params={"id": "account id"},
             errors={401: "Unauthorized: no live session token.",
                     403: "Forbidden: the session is another account's.",
                     404: "UnknownAccount (or a path that is not a number: NotFound)."}),
    Endpoint("GET", "/v1/books/{asset}", get_book, "getBook",
             "Order book depth (aggregated price levels)", W.Book, query=W.BookQuery,
             params={"asset": "asset id"}, errors={400: _BAD, 404: "UnknownMarket."}),
    Endpoint("GET", "/v1/fills", get_fills, "getFills",
             "Fills after a fill id, oldest first (with account=: a session of the account)",
             W.Fills, query=W.FillsQuery,
             errors={400: _BAD, 401: "Unauthorized (account=).", 403: "Forbidden (account=)."}),
    Endpoint("GET", "/v1/orders/{account}/{order_id}", get_order, "getOrder",
             "An order's status by (account, order id) (a session of the account)",
             W.OrderStatus, errors={401: "Unauthorized.", 403: "Forbidden."},
             params={"account": "account id", "order_id": "the order's id"}),
]


# --- the application ------------------------------------------------------------------------------

def _response(status: int, payload, headers: dict, close: bool = False) -> Response:
    data = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
    h = {"Cache-Control": "no-store", **headers}
    if close:
        h["Connection"] = "close"
    return Response(data, status, h, media_type=JSON)


def _endpoint(api: Api, ep: Endpoint):
    check = AUTH[ep.auth] if ep.auth else None
    timed = ep.handler in (post_request, post_batch) and api.on_ack is not None
    settle = ep.handler in (post_request, post_batch, post_group)

    async def run(request: Request) -> Response:
        t0 = time.perf_counter()
        try:
            if check is not None:
                await check(api, request)
            payload, headers = await ep.handler(api, request, request.path_params)
        except ApiError as exc:
            return _response(exc.status, error(exc.code, str(exc), exc.index), exc.headers,
                             exc.close)
        except EngineError as exc:
            return _response(engine_status(exc), engine_error(exc), {})
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            return _response(500, error("InternalError", f"{type(exc).__name__}: {exc}"), {})
        if timed:
            api.on_ack(time.perf_counter() - t0)
        resp = _response(200, payload, headers)
        if settle:
            resp.background = BackgroundTask(api.answered)  # run once the answer is written
        return resp

    return run


def starlette_path(path: str) -> str:
    """``/v1/accounts/{id}`` -> ``/v1/accounts/{id:int}`` (a non-number is NotFound)."""
    return path.replace("}", ":int}")


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own 404 / 405 in the error shape."""
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return _response(405, error("MethodNotAllowed", f"{request.method} {request.url.path}: "
                                    f"allowed {allowed}"), dict(exc.headers or {}))
    if exc.status_code == 404:
        return _response(404, error("NotFound", f"no route {request.method} "
                                    f"{request.url.path}"), {})
    return _response(exc.status_code, error("HTTPError", str(exc.detail)), {})


class _App(Starlette):
    """Starlette, with the single-order route (``HOT``) sent straight to its endpoint: its
    middleware and router cost a lone order ~15-50 us of its ack, and the endpoint answers every
    error itself (``_endpoint``), so they add nothing to it."""

    hot: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            run = self.hot.get((scope["method"], scope["path"]))
            if run is not None:
                scope["app"] = self
                response = await run(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


HOT = {("POST", "/v1/requests")}  # routes that skip Starlette's middleware and router


def create_app(service: SequencerService | None, *, max_body: int = 64 * 1024,
               max_batch_body: int | None = None,
               on_ack: Callable[[float], None] | None = None,
               extra_routes: Sequence[BaseRoute] = (), ws_queue: int = QUEUE) -> Starlette:
    """The application for ``service`` (``app.state.api.service`` may be set later, before the
    first request). ``max_batch_body``: by default room for ``MAX_BATCH`` requests (a signed
    request is about 400 bytes as decimal JSON, 500 with hex strings). ``ws_queue``: messages a
    WebSocket client may leave unread before it is told ``Lagged`` and closed."""
    api = Api(service, max_body, max_batch_body or max(max_body, codec.MAX_BATCH * 1024),
              on_ack, ws_queue)
    runs = {(ep.method, ep.path): _endpoint(api, ep) for ep in ROUTES}
    routes = [Route(starlette_path(ep.path), runs[ep.method, ep.path], methods=[ep.method])
              for ep in ROUTES]
    routes.append(WebSocketRoute("/v1/ws", ws.endpoint(api)))
    app = _App(routes=[*routes, *extra_routes],
               exception_handlers={HTTPException: _http_error})
    app.hot = {k: runs[k] for k in HOT}
    app.router.redirect_slashes = False  # /v1/status/ is no route, not a redirect
    app.state.api = api
    return app
