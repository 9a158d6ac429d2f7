"""JSON in and out of the API: signed requests (checked field by field before they reach the
sequencer), receipts, fills, and the HTTP status of every typed rejection.

A request is ``rollup.transactions.Request.to_json()``'s form: ``{"type": 4, "account": 1, ...,
"sig": [[R8x, R8y], S]}``. Here ``type`` may also be a name (``"order"``), and an integer may be
written as a decimal or 0x-hex string (JavaScript clients cannot hold 254-bit numbers); every
integer must lie in (-2**255, 2**256). Only signed types are accepted on the trader
endpoints: deposits, forced withdrawals and refunds come from the L1 queue, expiry settlements
from the operator, and listings and oracle-key changes through the operator's endpoint
(``ADMIN_TYPES``, a bearer token instead of a trader's signature; ``pk`` as [x, y] or a packed
point; an oracle-key change also carries the current oracle key's ``sig``).
"""

from __future__ import annotations

import dataclasses

from circuits.babyjubjub import unpack_point
from rollup import errors as E
from rollup.transactions import (
    BUY,
    REQUEST_TYPES,
    Cancel,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Order,
    Request,
    SetOracleKey,
    SettlementPrice,
    Transfer,
    Withdrawal,
    request_from_json,
)

# name <-> class of the request types the API accepts (all signed)
SIGNED_TYPES: dict[str, type[Request]] = {
    "withdrawal": Withdrawal, "transfer": Transfer, "order": Order, "cancel": Cancel,
    "funding": FundingTick, "oracle": OracleUpdate, "settlement_price": SettlementPrice,
    "liquidation": Liquidation,
}
TYPE_NAMES = {cls.TYPE: name for name, cls in SIGNED_TYPES.items()}
# the operator's actions after genesis (POST /v1/admin, bearer token; not signed by a trader)
ADMIN_TYPES: dict[str, type[Request]] = {"list_asset": ListAsset, "set_oracle_key": SetOracleKey}
INT_BOUND = 1 << 256
MAX_BATCH = 1000  # requests in one POST /v1/requests/batch


class BadInput(ValueError):
    """Malformed input (HTTP 400): ``code`` is machine-readable, the message says why."""

    def __init__(self, message: str, code: str = "MalformedRequest") -> None:
        super().__init__(message)
        self.code = code


def as_int(v, where: str) -> int:
    if isinstance(v, str):
        s = v.strip()
        try:
            v = int(s, 16) if s.lower().startswith(("0x", "-0x")) else int(s, 10)
        except ValueError:
            raise BadInput(f"{where}: {s[:40]!r} is not an integer") from None
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadInput(f"{where}: expected an integer, got {type(v).__name__}")
    if not -(INT_BOUND >> 1) < v < INT_BOUND:
        raise BadInput(f"{where}: integer out of range")
    return v


def _sig(v) -> list:
    if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], list) and len(v[0]) == 2):
        raise BadInput("sig: expected [[R8x, R8y], S]")
    return [[as_int(v[0][0], "sig"), as_int(v[0][1], "sig")], as_int(v[1], "sig")]


def request_class(t, types: dict[str, type[Request]] = SIGNED_TYPES) -> type[Request]:
    if isinstance(t, str) and t in types:
        return types[t]
    if isinstance(t, int) and not isinstance(t, bool) and t in REQUEST_TYPES:
        cls = REQUEST_TYPES[t]
        if cls not in types.values():
            trader = cls.SIGNED and cls not in ADMIN_TYPES.values()
            where = "a trader (signed)" if trader else "the L1 queue or the operator"
            raise BadInput(f"type {t} ({cls.__name__}) is not accepted here: it comes from "
                           f"{where}", "SignedType" if trader else "UnsignedType")
        return cls
    raise BadInput(f"unknown request type {t!r}; expected one of "
                   f"{', '.join(f'{n} ({c.TYPE})' for n, c in types.items())}",
                   "UnknownType")


def _point(v, where: str) -> tuple[int, int]:
    """A public key: [x, y], or its packed form (32 bytes, hex)."""
    if isinstance(v, str):
        try:
            raw = bytes.fromhex(v.removeprefix("0x"))
        except ValueError:
            raw = b""
        pt = unpack_point(raw) if len(raw) == 32 else None
        if pt is None:
            raise BadInput(f"{where}: not a packed curve point (32 bytes, hex)")
        return pt
    if isinstance(v, list) and len(v) == 2:
        return as_int(v[0], where), as_int(v[1], where)
    raise BadInput(f"{where}: expected [x, y] or a packed point in hex")


def parse_request(obj, *, require_sig: bool = True,
                  types: dict[str, type[Request]] = SIGNED_TYPES) -> Request:
    """A signed request from decoded JSON, or BadInput naming the first bad field
    (``require_sig=False``: the same checks on a request still to be signed; ``types``: the
    accepted types, e.g. ``ADMIN_TYPES``, which carry no signature)."""
    if not isinstance(obj, dict):
        raise BadInput("a request is a JSON object")
    if "type" not in obj:
        raise BadInput("missing field: type")
    cls = request_class(obj["type"], types)
    flds = {f.name: f for f in dataclasses.fields(cls)}
    extra = sorted(set(obj) - set(flds) - {"type"})
    if extra:
        raise BadInput(f"{cls.__name__}: unknown field(s) {', '.join(extra)}")
    out: dict = {"type": cls.TYPE}
    for name, f in flds.items():
        if name not in obj or (name == "sig" and obj[name] is None):
            if name == "sig" and require_sig:
                raise BadInput(f"{cls.__name__}: missing signature (sig)", "MissingSignature")
            if name != "sig" and f.default is dataclasses.MISSING:
                raise BadInput(f"{cls.__name__}: missing field {name}")
            continue
        out[name] = (_sig(obj[name]) if name == "sig" else _point(obj[name], name)
                     if name == "pk" else as_int(obj[name], name))
    return request_from_json(out)


# --- rejections -----------------------------------------------------------------------------------

_STATUS: dict[type[E.EngineError], int] = {
    E.BadSignature: 403,
    E.UnknownAccount: 404, E.UnknownMarket: 404, E.UnknownOrder: 404,
    E.StaleNonce: 409, E.OrderIdReused: 409, E.AccountExists: 409,
    E.JournalError: 503, E.ExodusActive: 503,
}


def engine_status(exc: E.EngineError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 422


def error_json(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


# --- receipts -------------------------------------------------------------------------------------

def side_name(side: int) -> str:
    return "buy" if side == BUY else "sell"


def fill_json(f, fill_id: int, seq: int) -> dict:
    return {"id": fill_id, "seq": seq, "asset": f.asset, "price": f.price, "size": f.size,
            "maker": f.maker, "taker": f.taker, "maker_order": f.maker_order,
            "taker_order": f.taker_order, "taker_side": side_name(f.taker_side),
            "maker_fee": f.maker_fee, "taker_fee": f.taker_fee}


def hex32(x: int) -> str:
    return f"0x{x:064x}"
