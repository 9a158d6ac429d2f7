"""The HTTP/JSON server (standard library ``ThreadingHTTPServer``) in front of one
``SequencerService``.

Routes are one table (``ROUTES``); ``rollup.api.openapi`` describes exactly these (a test holds
the two together). Every answer is JSON; a rejection is ``{"error": {"code", "message"}}`` with a
4xx status (the code is the engine's typed error name, or an input error such as
``MalformedJSON``), and nothing a client sends can stop the server: bodies are bounded
(``Content-Length`` required, at most ``max_body`` bytes; ``max_batch_body`` for a batch), slow
clients time out, and an unexpected failure of one request is a 500 for that request only.
"""

from __future__ import annotations

import hmac
import json
import re
import sys
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from rollup.api import codec
from rollup.api.codec import MAX_BATCH, BadInput, as_int, error_json
from rollup.api.service import SequencerService
from rollup.errors import EngineError

MAX_DEPTH = 1000  # book levels per side
MAX_FILLS = 10_000  # fills per page
MAX_NESTING = 32  # a request is 3 levels deep; the parser never recurses past this


def nesting(data: bytes) -> int:
    """The deepest [ / { nesting of a JSON text (brackets inside strings ignored)."""
    depth = deepest = 0
    in_str = escaped = False
    for c in data:
        if in_str:
            if escaped:
                escaped = False
            elif c == 0x5C:  # backslash
                escaped = True
            elif c == 0x22:  # quote
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif c in (0x5D, 0x7D):
            depth -= 1
    return deepest


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.close = status, code, close


def _q_int(query: dict, name: str, default: int, lo: int, hi: int) -> int:
    vals = query.get(name)
    if not vals:
        return default
    v = as_int(vals[-1], name)
    if not lo <= v <= hi:
        raise BadInput(f"{name} must be in {lo}..{hi}", "BadParameter")
    return v


def _openapi(svc: SequencerService, params: dict, query: dict, body) -> dict:
    from rollup.api.openapi import spec

    return spec()


def _status(svc, params, query, body) -> dict:
    return svc.status()


def _submit(svc, params, query, body) -> dict:
    return svc.submit(codec.parse_request(body))


def _admin(svc, params, query, body) -> dict:
    """The operator's actions after genesis (list a market or series, change the oracle key),
    journaled like every request; the caller presented the service's bearer token."""
    return svc.admin(codec.parse_request(body, require_sig=False, types=codec.ADMIN_TYPES))


def _item_error(index: int, status: int, code: str, message: str) -> dict:
    return {"index": index, "status": status, **error_json(code, message)}


def _submit_batch(svc, params, query, body) -> list[dict]:
    """Per item, in order: ``{"index", "status": 200, ...receipt}`` or ``{"index", "status",
    "error"}`` with the status and error the single endpoint would answer. A malformed item is
    reported in its place and the other items still go ahead (they do not depend on it being
    valid any more than separate submits would)."""
    if not isinstance(body, list):
        raise BadInput("a batch is a JSON array of requests")
    if len(body) > MAX_BATCH:
        raise HttpError(413, "BatchTooLarge", f"{len(body)} requests in a batch; at most "
                        f"{MAX_BATCH}")
    out: list[dict | None] = [None] * len(body)
    reqs, where = [], []
    for i, obj in enumerate(body):
        try:
            reqs.append(codec.parse_request(obj))
            where.append(i)
        except BadInput as exc:
            out[i] = _item_error(i, 400, exc.code, str(exc))
    for i, res in zip(where, svc.submit_batch(reqs), strict=True):
        if isinstance(res, EngineError):
            out[i] = _item_error(i, codec.engine_status(res), type(res).__name__, res.reason)
        elif isinstance(res, BaseException):  # only on the one-request fallback path
            out[i] = _item_error(i, 500, "InternalError", f"{type(res).__name__}: {res}")
        else:
            out[i] = {"index": i, "status": 200, **res}
    return out


def _account(svc, params, query, body) -> dict:
    return svc.account(params["id"])


def _book(svc, params, query, body) -> dict:
    return svc.book(params["asset"], _q_int(query, "depth", 50, 1, MAX_DEPTH))


def _fills(svc, params, query, body) -> dict:
    since = _q_int(query, "since", 0, 0, 1 << 63)
    limit = _q_int(query, "limit", 1000, 1, MAX_FILLS)
    account = _q_int(query, "account", -1, 0, 1 << 32) if "account" in query else None
    return svc.fills_since(since, limit, account)


# (method, path template, handler): the server serves exactly these.
ROUTES: list[tuple[str, str, Callable]] = [
    ("GET", "/openapi.json", _openapi),
    ("GET", "/v1/status", _status),
    ("POST", "/v1/requests", _submit),
    ("POST", "/v1/requests/batch", _submit_batch),
    ("POST", "/v1/admin", _admin),
    ("GET", "/v1/accounts/{id}", _account),
    ("GET", "/v1/books/{asset}", _book),
    ("GET", "/v1/fills", _fills),
]


def _compile(template: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", template)
    rx = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(rx + r"\Z")


_COMPILED = [(m, _compile(t), h) for m, t, h in ROUTES]


def match(method: str, path: str) -> tuple[Callable | None, dict, list[str]]:
    """(handler, path parameters, methods allowed on the path)."""
    allowed, found, params = [], None, {}
    for m, rx, h in _COMPILED:
        mo = rx.match(path)
        if mo:
            allowed.append(m)
            if m == method:
                found = h
                params = {k: as_int(v, k) for k, v in mo.groupdict().items()}
    return found, params, allowed


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zkderiv-sequencer/1"
    timeout = 30  # seconds a client may take to send a request
    # the headers and the body of an answer are two writes: with Nagle's algorithm the body
    # waits for the client's delayed ACK of the headers (about 40 ms on Linux), which would cap
    # a keep-alive client at some 25 requests per second
    disable_nagle_algorithm = True

    server: ApiServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        svc = self.server.service
        headers = {}
        t0 = time.perf_counter()
        handler = None
        try:
            url = urlsplit(self.path)
            try:
                handler, params, allowed = match(method, url.path)
            except BadInput as exc:
                raise HttpError(404, "NotFound", f"{url.path}: {exc}") from None
            if handler is None:
                if allowed:
                    headers["Allow"] = ", ".join(allowed)
                    raise HttpError(405, "MethodNotAllowed",
                                    f"{method} {url.path}: allowed {', '.join(allowed)}",
                                    close=method != "GET")
                raise HttpError(404, "NotFound", f"no route {method} {url.path}",
                                close=method != "GET")
            if method != "POST" and self.headers.get("Content-Length", "0") != "0":
                self.close_connection = True  # a body nobody reads: do not reuse the stream
            if handler is _admin:
                self._authorize(svc, headers)
            body = self._body(handler) if method == "POST" else None
            query = parse_qs(url.query, keep_blank_values=True, max_num_fields=20)
            status, payload = 200, handler(svc, params, query, body)
        except HttpError as exc:
            status, payload = exc.status, error_json(exc.code, str(exc))
            if exc.close:
                self.close_connection = True
        except BadInput as exc:
            status, payload = 400, error_json(exc.code, str(exc))
        except EngineError as exc:
            status, payload = codec.engine_status(exc), error_json(type(exc).__name__, exc.reason)
        except ValueError as exc:  # e.g. too many query fields
            status, payload = 400, error_json("BadParameter", str(exc))
        except OSError:  # the client went away or was too slow: nothing to answer
            self.close_connection = True
            return
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            status, payload = 500, error_json("InternalError", f"{type(exc).__name__}: {exc}")
        self._send(status, payload, headers)
        on_ack = self.server.on_ack
        if on_ack is not None and handler in (_submit, _submit_batch) and status == 200:
            on_ack(time.perf_counter() - t0)

    def _authorize(self, svc, headers: dict) -> None:
        """``Authorization: Bearer <the service's admin token>`` (compared in constant time)."""
        got = self.headers.get("Authorization", "")
        want = getattr(svc, "admin_token", None)
        if not (want and got.startswith("Bearer ")
                and hmac.compare_digest(got[7:].strip().encode(), want.encode())):
            headers["WWW-Authenticate"] = 'Bearer realm="operator"'
            raise HttpError(401, "Unauthorized", "the operator endpoint needs the service's "
                            "token (DATA/admin.token) as a bearer token", close=True)

    def _body(self, handler):
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "LengthRequired", "chunked bodies are not accepted; send "
                            "Content-Length", close=True)
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise HttpError(411, "LengthRequired", "Content-Length is required", close=True)
        try:
            n = int(raw)
        except ValueError:
            n = -1
        if n < 0:
            raise HttpError(400, "BadContentLength", f"bad Content-Length {raw[:20]!r}",
                            close=True)
        limit = self.server.max_batch_body if handler is _submit_batch else self.server.max_body
        if n > limit:
            raise HttpError(413, "BodyTooLarge", f"body of {n} bytes exceeds {limit}",
                            close=True)
        data = self.rfile.read(n)
        if len(data) != n:
            raise OSError("short body")
        if nesting(data) > MAX_NESTING:
            raise BadInput(f"malformed JSON: nested deeper than {MAX_NESTING}", "MalformedJSON")
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, huge ints
            msg = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
            raise BadInput(f"malformed JSON: {msg}", "MalformedJSON") from None

    def _send(self, status: int, payload: dict | list, headers: dict) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for k, v in headers.items():
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def send_error(self, code, message=None, explain=None) -> None:
        """http.server's own errors (bad request line, header overflow...) as JSON too."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # an unparsed request line: answer in HTTP/1.x
            self.request_version = "HTTP/1.0"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = str(code)
        self._send(code, error_json(phrase.replace(" ", ""), message or phrase), {})

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (signature of the base)
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, service: SequencerService | None, host: str, port: int, *,
                 max_body: int = 64 * 1024, max_batch_body: int | None = None,
                 verbose: bool = False) -> None:
        self.service = service
        self.max_body = max_body
        # a batch body holds up to MAX_BATCH requests (a signed request is about 400 bytes as
        # decimal JSON, 500 with hex strings)
        self.max_batch_body = max_batch_body or max(max_body, MAX_BATCH * 1024)
        self.verbose = verbose
        self.on_ack: Callable[[float], None] | None = None  # seconds per accepted submission
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"
