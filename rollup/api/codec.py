"""Bytes in, requests out: a body decoded and validated with the types of ``rollup.api.types``
(msgspec), and the HTTP status of every typed rejection.

Only signed types are accepted on the trader endpoints: deposits, forced withdrawals and refunds
come from the L1 queue, expiry settlements from the operator, and listings and oracle-key
changes through the operator's endpoint (``ADMIN_TYPES``, a bearer token instead of a trader's
signature). Input errors are ``BadInput`` (HTTP 400) with a machine-readable code:
MalformedJSON (not JSON), MalformedRequest (wrong shape, type, range, or an unknown field),
UnknownType, UnsignedType, SignedType, MissingSignature.
"""

from __future__ import annotations

import msgspec

from rollup import errors as E
from rollup.api import types as W
from rollup.transactions import REQUEST_TYPES, Request

MAX_BATCH = 1000  # requests in one POST /v1/requests/batch


class ApiError(Exception):
    """A rejection by the API itself: HTTP ``status``, error ``code``, one-line message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 close: bool = False, index: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers, self.close = status, code, headers or {}, close
        self.index = index  # the item of a group it is about


class BadInput(ApiError, ValueError):
    """Malformed input (HTTP 400): ``code`` is machine-readable, the message says why."""

    def __init__(self, message: str, code: str = "MalformedRequest") -> None:
        super().__init__(400, code, message)


def _table(types: tuple[type[W.WireRequest], ...]) -> dict[int | str, type[W.WireRequest]]:
    out: dict[int | str, type[W.WireRequest]] = {}
    for cls in types:
        for key in W.type_names(cls):
            out[key] = cls
    return out


SIGNED = _table(W.SIGNED_TYPES)
ADMIN = _table(W.ADMIN_TYPES)
_ADMIN_CLASSES = {cls.REQUEST for cls in W.ADMIN_TYPES}


def wire_type(t, table: dict[int | str, type[W.WireRequest]] = SIGNED) -> type[W.WireRequest]:
    """The wire type of ``type`` value ``t`` among ``table``'s, or BadInput saying why not."""
    cls = table.get(t) if type(t) in (int, str) else None
    if cls is not None:
        return cls
    if type(t) is int and t in REQUEST_TYPES:
        req = REQUEST_TYPES[t]
        trader = req.SIGNED and req not in _ADMIN_CLASSES
        where = "a trader (signed)" if trader else "the L1 queue or the operator"
        raise BadInput(f"type {t} ({req.__name__}) is not accepted here: it comes from {where}",
                       "SignedType" if trader else "UnsignedType")
    names = ", ".join(f"{n} ({k})" for k, n in (W.type_names(c) for c in set(table.values())))
    raise BadInput(f"unknown request type {t!r}; expected one of {names}", "UnknownType")


def _decode(data, typ):
    try:
        return msgspec.json.decode(data, type=typ)
    except msgspec.ValidationError as exc:
        raise BadInput(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise BadInput(f"malformed JSON: {exc}", "MalformedJSON") from None
    except RecursionError:
        raise BadInput("malformed JSON: nested too deeply", "MalformedJSON") from None


def decode_request(data: bytes, *, require_sig: bool = True,
                   table: dict[int | str, type[W.WireRequest]] = SIGNED) -> Request:
    """A request from one JSON body, or BadInput naming the first bad field
    (``require_sig=False``: the same checks on a request still to be signed)."""
    head = _decode(data, W.Head)
    cls = wire_type(head.type, table)
    try:
        wire = _decode(data, cls)
    except BadInput as exc:
        raise BadInput(f"{cls.REQUEST.__name__}: {exc}", exc.code) from None
    if require_sig and "sig" in cls.__struct_fields__ and wire.sig is None:
        raise BadInput(f"{cls.REQUEST.__name__}: missing signature (sig)", "MissingSignature")
    return wire.to_request()


_ORDERS = list[W.Order]


def decode_batch(data: bytes, limit: int = MAX_BATCH) -> list[Request | BadInput]:
    """The requests of a batch body in order, each decoded as ``decode_request`` would (a
    malformed item is its BadInput, in its place); BadInput / ApiError for the body itself.
    A body of signed orders only (a market maker's) is decoded in one typed pass; anything else,
    or any error, goes item by item (``decode_items``), which gives the same requests."""
    orders = _signed_orders(data, limit)
    return orders if orders is not None else decode_items(data, limit)


def _signed_orders(data: bytes, limit: int) -> list[Request] | None:
    """The orders of a body that is an array of at most ``limit`` valid, signed orders, decoded
    straight into ``W.Order`` (no per-item split, no ``Head`` pass); None for any other body."""
    try:
        wires = msgspec.json.decode(data, type=_ORDERS)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError):
        return None
    if len(wires) > limit:
        return None
    out = []
    for w in wires:
        if w.sig is None:
            return None
        out.append(w.to_request())
    return out


def decode_items(data: bytes, limit: int = MAX_BATCH) -> list[Request | BadInput]:
    """``decode_batch`` item by item: the array split into raw items, each decoded as
    ``decode_request`` decodes a body (the clear path, and the one every error comes from)."""
    try:
        items = _decode(data, list[msgspec.Raw])
    except BadInput as exc:
        if exc.code == "MalformedRequest":
            _decode(data, msgspec.Raw)  # not JSON at all: MalformedJSON (nothing is built)
            raise BadInput(f"a batch is a JSON array of requests ({exc})") from None
        raise
    if len(items) > limit:
        raise ApiError(413, "BatchTooLarge", f"{len(items)} requests in a batch; at most "
                       f"{limit}")
    out: list[Request | BadInput] = []
    for raw in items:
        try:
            out.append(decode_request(raw))
        except BadInput as exc:
            out.append(exc)
    return out


def parse_request(obj, *, require_sig: bool = True) -> Request:
    """``decode_request`` of an already decoded JSON value (e.g. a file read by the CLI)."""
    return decode_request(msgspec.json.encode(obj), require_sig=require_sig)


# --- rejections -----------------------------------------------------------------------------------

_STATUS: dict[type[E.EngineError], int] = {
    E.BadSignature: 403,
    E.UnknownAccount: 404, E.UnknownMarket: 404, E.UnknownOrder: 404,
    E.StaleNonce: 409, E.OrderIdReused: 409, E.AccountExists: 409, E.Replayed: 409,
    E.JournalError: 503, E.ExodusActive: 503,
}


def engine_status(exc: E.EngineError) -> int:
    if isinstance(exc, E.GroupRejected):  # the status its item would have had alone
        return engine_status(exc.error)
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 422


def error(code: str, message: str, index: int | None = None,
          cause: str | None = None) -> W.Error:
    return W.Error(W.ErrorBody(code, message, index, cause))


def engine_error(exc: E.EngineError) -> W.Error:
    """The body of an engine rejection (a group's names its item and that item's error)."""
    if isinstance(exc, E.GroupRejected):
        return error("GroupRejected", exc.reason, exc.index, type(exc.error).__name__)
    return error(type(exc).__name__, exc.reason)


def hex32(x: int) -> str:
    return f"0x{x:064x}"
