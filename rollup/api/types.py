"""The API's request and response types, declared once as msgspec Structs: the server decodes
and validates with them, encodes its answers with them, and ``rollup.api.openapi`` generates the
OpenAPI schemas from them.

A request on the wire is ``rollup.transactions.Request.to_json()``'s form (``type`` a number or
a name such as ``"order"``); an integer may be written as a decimal or 0x-hex string (JavaScript
clients cannot hold 254-bit numbers). Decoding checks the wire form only: no unknown field, each
field of its type and within its declared ``Bound`` (the request's integer domain); what a value
means (a known account, enough margin, an L1 address below 2**160) is the engine's to check,
with its typed errors. Query parameters are Structs too (``BookQuery``, ``FillsQuery``).
"""

import dataclasses
import typing
from typing import Annotated, ClassVar, Literal, NamedTuple

import msgspec
from msgspec import Meta, Struct

from circuits.babyjubjub import unpack_point
from circuits.eddsa import public_key_is_safe
from rollup import transactions as T
from rollup.transactions import Request


@dataclasses.dataclass(frozen=True)
class OneOf:
    """An answer or body that is one of several types (for the OpenAPI document)."""

    types: tuple[type, ...]


class Bound(NamedTuple):
    """Inclusive range of an integer field (checked after a string is converted)."""

    lo: int
    hi: int


U256 = (1 << 256) - 1
_INT_TEXT = Annotated[str, Meta(pattern=r"^-?(0[xX][0-9a-fA-F]+|[0-9]+)$", max_length=80,
                                description="the integer as a decimal or 0x-hex string")]


def _int(lo: int, hi: int, doc: str) -> object:
    """An integer field in lo..hi, as a JSON number or a decimal / 0x-hex string."""
    return Annotated[int | _INT_TEXT, Bound(lo, hi),
                     Meta(description=doc, extra_json_schema={"minimum": lo, "maximum": hi})]


def _uint(doc: str) -> object:
    return _int(0, U256, doc)


AccountId = _uint("account id")
Asset = _uint("asset id")
Amount = _uint("collateral units")
Expiry = _uint("oracle time (s) after which the request is void")
Nonce = _uint("the account's next nonce")
Time = _uint("oracle time (s)")
Price = _uint("collateral units per base unit")
Size = _uint("base units")
SigInt = _uint("signature component")
Signature = Annotated[tuple[tuple[SigInt, SigInt], SigInt],
                      Meta(description="EdDSA-Poseidon signature [[R8x, R8y], S] over the "
                           "request's message in the domain (chain id, rollup address)")]
PointText = Annotated[str, Meta(pattern=r"^(0x)?[0-9a-fA-F]{64}$",
                                description="a packed Baby Jubjub point (32 bytes, hex)")]


def _bounds(cls: type) -> dict[str, Bound]:
    hints = typing.get_type_hints(cls, include_extras=True)
    out = {}
    for name in cls.__struct_fields__:
        meta = getattr(hints[name], "__metadata__", ())
        for m in meta:
            if isinstance(m, Bound):
                out[name] = m
    return out


def _to_int(v: int | str, name: str, b: Bound) -> int:
    if type(v) is str:
        s = v.lower()
        v = int(s, 16) if s.startswith(("0x", "-0x")) else int(s, 10)
    if not b.lo <= v <= b.hi:
        raise ValueError(f"`{name}` out of range {b.lo}..{b.hi}")
    return v


class WireRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of the request types: integers checked against their bounds and made ``int``."""

    REQUEST: ClassVar[type[Request]]
    _BOUNDS: ClassVar[dict[str, Bound]] = {}
    _CHECKS: ClassVar[tuple[tuple[str, int, int], ...]] = ()  # _BOUNDS as (name, lo, hi)
    _POSITIONAL: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name, lo, hi in self._CHECKS:
            v = getattr(self, name)
            if type(v) is not int or v < lo or v > hi:
                setattr(self, name, _to_int(v, name, Bound(lo, hi)))
        sig = getattr(self, "sig", None)
        if sig is not None:
            (rx, ry), s = sig
            if not (type(rx) is int and type(ry) is int and type(s) is int
                    and 0 <= rx <= U256 and 0 <= ry <= U256 and 0 <= s <= U256):
                b = Bound(0, U256)
                self.sig = ((_to_int(rx, "sig", b), _to_int(ry, "sig", b)),
                            _to_int(s, "sig", b))

    def to_request(self) -> Request:
        """The engine's request (``rollup.transactions``) with these fields."""
        if self._POSITIONAL:  # the wire's fields after ``type`` are the request's, in order
            return self.REQUEST(*msgspec.structs.astuple(self)[1:])
        return self.REQUEST(**{n: getattr(self, n) for n in self.__struct_fields__
                               if n != "type"})


class Order(WireRequest):
    """A perpetual or option order (the asset's kind decides)."""

    REQUEST: ClassVar[type[Request]] = T.Order
    type: Literal[4, "order"]
    account: AccountId
    asset: Asset
    side: _int(0, U256, "0 buy, 1 sell")
    size: Size
    price: Price
    order_id: _uint("unused id >= 1; its slot in the account's order tree is id mod 4096")
    expiry: Expiry
    flags: _int(0, U256, "bits: 1 post-only, 2 IOC, 4 reduce-only, 8 market") = 0
    sig: Signature | None = None


class Cancel(WireRequest):
    """Cancel a resting order."""

    REQUEST: ClassVar[type[Request]] = T.Cancel
    type: Literal[6, "cancel"]
    account: AccountId
    asset: Asset
    order_id: _uint("the order's id")
    sig: Signature | None = None


class CancelAll(WireRequest):
    """Cancel the account's resting orders in a market (0: every market) whose id is at most
    ``up_to_order_id``; taken once (a replay: 409 Replayed), expiry at most a day ahead."""

    REQUEST: ClassVar[type[Request]] = T.CancelAll
    type: Literal[16, "cancel_all"]
    account: AccountId
    asset: _uint("asset id, 0: every market")
    up_to_order_id: _uint("the largest order id cancelled (1..2**64-1)")
    expiry: Expiry
    sig: Signature | None = None


class Withdrawal(WireRequest):
    """Collateral out to an L1 address."""

    REQUEST: ClassVar[type[Request]] = T.Withdrawal
    type: Literal[2, "withdrawal"]
    account: AccountId
    amount: Amount
    to: _uint("the L1 address as an integer (the engine checks it is below 2**160)")
    nonce: Nonce
    expiry: Expiry
    sig: Signature | None = None


class Transfer(WireRequest):
    """Collateral to another account."""

    REQUEST: ClassVar[type[Request]] = T.Transfer
    type: Literal[3, "transfer"]
    sender: AccountId
    receiver: AccountId
    amount: Amount
    nonce: Nonce
    expiry: Expiry
    sig: Signature | None = None


class Liquidation(WireRequest):
    """Take over part of a liquidatable position."""

    REQUEST: ClassVar[type[Request]] = T.Liquidation
    type: Literal[10, "liquidation"]
    liquidator: AccountId
    liquidated: AccountId
    asset: Asset
    size: Size
    nonce: Nonce
    expiry: Expiry
    sig: Signature | None = None


class OracleUpdate(WireRequest):
    """A price, signed by the oracle key."""

    REQUEST: ClassVar[type[Request]] = T.OracleUpdate
    type: Literal[8, "oracle"]
    asset: Asset
    price: Price
    time: Time
    sig: Signature | None = None


class FundingTick(WireRequest):
    """A perpetual's funding index (signed), signed by the oracle key."""

    REQUEST: ClassVar[type[Request]] = T.FundingTick
    type: Literal[7, "funding"]
    asset: Asset
    index: _int(-(1 << 255) + 1, (1 << 255) - 1, "cumulative funding per base unit")
    time: Time
    sig: Signature | None = None


class SettlementPrice(WireRequest):
    """An expired option series' settlement price, signed by the oracle key."""

    REQUEST: ClassVar[type[Request]] = T.SettlementPrice
    type: Literal[9, "settlement_price"]
    asset: Asset
    price: Price
    time: Time
    sig: Signature | None = None


class ListAsset(WireRequest):
    """The operator's listing of a perpetual market or an option series (not signed)."""

    REQUEST: ClassVar[type[Request]] = T.ListAsset
    type: Literal[13, "list_asset"]
    asset: Asset
    kind: _int(0, U256, "1 perp, 2 call, 3 put")
    risk_initial: _uint("ppm of |balance| * price")
    risk_maintenance: _uint("ppm of |balance| * price")
    underlying: _uint("an option's perpetual") = 0
    strike: Price = 0
    expiry: Expiry = 0
    short_initial: _uint("short options: ppm of |balance| * underlying price") = 0
    short_maintenance: _uint("short options: ppm of |balance| * underlying price") = 0
    maker_fee: _uint("ppm of notional") = 0
    taker_fee: _uint("ppm of notional") = 0
    liquidation_fee: _uint("ppm of notional") = 0


class SetOracleKey(WireRequest):
    """A new oracle key, signed by the current oracle key (once one is registered)."""

    REQUEST: ClassVar[type[Request]] = T.SetOracleKey
    type: Literal[14, "set_oracle_key"]
    pk: tuple[SigInt, SigInt] | PointText
    sig: Signature | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.pk, str):
            pt = unpack_point(bytes.fromhex(self.pk.removeprefix("0x")))
            if pt is None:
                raise ValueError("`pk` is not a packed curve point")
            self.pk = pt
        else:
            b = Bound(0, U256)
            self.pk = (_to_int(self.pk[0], "pk", b), _to_int(self.pk[1], "pk", b))
        if not public_key_is_safe(self.pk):  # as the engine decides it (UnsafeKey): a 400 here
            raise ValueError("`pk` is not a safe key (on the curve, in the prime-order subgroup)")


# the trader endpoints' types (all signed) and the operator's (POST /v1/admin)
SIGNED_TYPES: tuple[type[WireRequest], ...] = (
    Order, Cancel, CancelAll, Withdrawal, Transfer, Liquidation, OracleUpdate,
    FundingTick, SettlementPrice)
ADMIN_TYPES: tuple[type[WireRequest], ...] = (ListAsset, SetOracleKey)

for _cls in SIGNED_TYPES + ADMIN_TYPES:
    _cls._BOUNDS = _bounds(_cls)
    _cls._CHECKS = tuple((name, b.lo, b.hi) for name, b in _cls._BOUNDS.items())
    _cls._POSITIONAL = _cls.__struct_fields__[0] == "type" and list(
        _cls.__struct_fields__[1:]) == [f.name for f in dataclasses.fields(_cls.REQUEST)]


def type_names(cls: type[WireRequest]) -> tuple[int, str]:
    """(number, name) that ``type`` may take for this request type."""
    return typing.get_args(typing.get_type_hints(cls)["type"])


class Head(Struct):
    """The one field read before the request's own type is known."""

    type: int | str


# --- answers --------------------------------------------------------------------------------------

Uint = Annotated[int, Meta(ge=0)]
Hex32 = Annotated[str, Meta(pattern=r"^0x[0-9a-f]{64}$")]
Side = Literal["buy", "sell"]
Micros = Annotated[int, Meta(ge=0, description="wall-clock time the API received the request "
                             "(microseconds since the Unix epoch)")]
EngineTime = Annotated[int, Meta(ge=0, description="the state's oracle time (s) when the "
                                 "request was applied")]


class ErrorBody(Struct, omit_defaults=True):
    code: Annotated[str, Meta(description=(
        "The engine's typed error (rollup.errors: InsufficientMargin, StaleNonce, BadSignature, "
        "GroupRejected, ...) or an input error (MalformedJSON, MalformedRequest, UnknownType, "
        "UnsignedType, SignedType, MissingSignature, BodyTooLarge, BatchTooLarge, "
        "LengthRequired, NotFound, MethodNotAllowed, BadParameter, Unauthorized, RateLimited, "
        "InternalError)."))]
    message: str
    index: Annotated[int | None, Meta(description=(
        "GroupRejected, or an input error in a group: the rejected item (0-based)"))] = None
    cause: Annotated[str | None, Meta(description=(
        "GroupRejected: the item's own error code (InsufficientMargin, OrderIdReused, ...)"
        ))] = None


class Error(Struct):
    """Every rejection: a 4xx (or 5xx) status with this body."""

    error: ErrorBody


class Fill(Struct):
    id: Annotated[int, Meta(ge=0, description="1, 2, ... in the order of the fills")]
    seq: Annotated[int, Meta(ge=0, description="journal number of the taker's request")]
    asset: Uint
    price: Uint
    size: Uint
    maker: Uint
    taker: Uint
    maker_order: Uint
    taker_order: Uint
    taker_side: Side
    maker_fee: Uint
    taker_fee: Uint
    engine_time: EngineTime | None = None
    received_us: Micros | None = None


class Resting(Struct):
    """The order's remainder now in the book."""

    asset: Uint
    order_id: Uint
    side: Side
    price: Uint
    remaining: Uint


class Dropped(Struct):
    """A resting order removed while matching (expired, or no longer covered by margin)."""

    account: Uint
    order_id: Uint
    reason: str


class Receipt(Struct):
    """The request is in the journal and applied. A retry of the same signed request gets this
    same receipt again (``Idempotent-Replay: true``)."""

    seq: Annotated[int, Meta(ge=0, description="position in the journal")]
    root: Annotated[Hex32, Meta(description="state root after the request; for requests "
                                "applied together in a group commit (a batch, or concurrent "
                                "submits), the root after the group")]
    type: str
    fills: list[Fill]
    resting: Resting | None
    dropped: list[Dropped]
    note: str
    public_data: Annotated[list[str], Meta(description="hex of the public-data records")]
    engine_time: EngineTime
    received_us: Annotated[Micros | None, Meta(description="null in a receipt rebuilt from "
                                               "the journal after a crash")]
    accepted: bool = True


class BatchAccepted(Receipt, kw_only=True):
    """An accepted item of a batch: its index, status 200 and the receipt's fields."""

    index: Uint
    status: Literal[200] = 200


class BatchRejected(Struct):
    """A rejected item of a batch: its index, the status the single endpoint would have
    answered, and the error."""

    index: Uint
    status: Annotated[int, Meta(ge=400, le=599)]
    error: ErrorBody


class PublicKey(Struct):
    x: str
    y: str
    compressed: str


class Position(Struct):
    asset: Uint
    balance: int
    funding_snapshot: int


class OpenOrder(Struct):
    asset: Uint
    order_id: Uint
    side: Side
    price: Uint
    size: Uint
    remaining: Uint
    expiry: Uint
    flags: Uint


class Margin(Struct):
    """At the current oracle prices, in collateral units; healthy: excess_initial >= 0;
    liquidatable: excess_maintenance < 0."""

    value: int
    unsettled_funding: int
    risk_initial: int
    risk_maintenance: int
    excess_initial: int
    excess_maintenance: int
    healthy: bool
    liquidatable: bool


class Greeks(Struct):
    """Black-Scholes at the oracle's marks and implied volatilities (docs/margin.md#greeks):
    delta in base units of the underlying, gamma per +1 of its price, vega per volatility point
    and theta per day in collateral units."""

    delta: float
    gamma: float
    vega: float
    theta: float


class PositionGreeks(Struct):
    asset: Uint
    underlying: Uint
    balance: int
    greeks: Greeks


class UnderlyingGreeks(Struct):
    underlying: Uint
    greeks: Greeks


class GreeksTotal(Struct):
    """Across underlyings, collateral units: delta_1pct = sum delta x spot / 100 (gain of +1%
    in every underlying), gamma_1pct = sum gamma x spot^2 / 10^4 (the change of delta_1pct)."""

    delta_1pct: float
    gamma_1pct: float
    vega: float
    theta: float


class AccountGreeks(Struct):
    positions: list[PositionGreeks]
    underlyings: list[UnderlyingGreeks]
    total: GreeksTotal


class Account(Struct):
    id: Uint
    public_key: PublicKey
    nonce: Uint
    collateral: int
    positions: list[Position]
    open_orders: list[OpenOrder]
    margin: Margin
    greeks: AccountGreeks


class Level(Struct):
    price: Uint
    size: Uint
    orders: Uint


class Book(Struct):
    asset: Uint
    kind: Annotated[int, Meta(ge=0, description="1 perp, 2 call, 3 put")]
    oracle_price: Uint
    time: Uint
    bids: Annotated[list[Level], Meta(description="best (highest) first")]
    asks: Annotated[list[Level], Meta(description="best (lowest) first")]


class Fills(Struct):
    since: Uint
    fills: list[Fill]
    next: Annotated[int, Meta(ge=0, description="pass as since for the next page")]
    total: Uint


OrderState = Literal["open", "filled", "cancelled", "unknown"]


class OrderStatus(Struct):
    """An order by (account, order id): ``open`` (resting), ``filled``, ``cancelled`` (by the
    trader, or dropped by the engine: ``reason``) or ``unknown`` (never accepted, or older
    than the service's history window and no longer resting)."""

    account: Uint
    order_id: Uint
    status: OrderState
    asset: Uint | None = None
    side: Side | None = None
    price: Uint | None = None
    size: Uint | None = None
    filled: Annotated[int, Meta(ge=0, description="size filled so far")] = 0
    remaining: Annotated[int, Meta(ge=0, description="size still resting")] = 0
    average_price: Annotated[int | None, Meta(description="size-weighted fill price "
                                              "(rounded down)")] = None
    seq: Annotated[int | None, Meta(description="journal number of the order")] = None
    reason: str | None = None
    created_us: Micros | None = None
    updated_us: Annotated[int | None, Meta(description="wall-clock time of its last event "
                                           "(fill, cancel), microseconds")] = None
    engine_time: Annotated[int | None, Meta(description="the state's oracle time at its last "
                                            "event")] = None


class GroupCommits(Struct):
    """Group commits of more than one request since start: how many, and their requests."""

    groups: Uint
    requests: Uint


class BatchProgress(Struct):
    slots: Uint
    l1_slots: Uint
    assets: Uint
    underlyings: Uint
    time_limit: float
    last_built: Uint
    last_built_seq: Uint
    unbatched_requests: Uint


class Status(Struct):
    root: Hex32
    seq: Annotated[int, Meta(ge=0, description="journal length")]
    genesis_seq: Uint
    time: Annotated[int, Meta(ge=0, description="oracle time")]
    chain_id: Uint
    rollup_address: str
    tree_depth: Uint
    accounts: Uint
    assets: list[Uint]
    oracle_key: str | None
    resting_orders: Uint
    fills: Uint
    accepted: Uint
    rejected: Uint
    rate_limited: Uint
    group_commits: GroupCommits
    stopped: Annotated[str | None, Meta(description="why the sequencer refuses requests (a "
                                        "failed journal write); null while it accepts them")]
    uptime_s: float
    batch: BatchProgress


# --- query parameters -----------------------------------------------------------------------------

MAX_DEPTH = 1000  # book levels per side
MAX_FILLS = 10_000  # fills per page


class BookQuery(Struct, forbid_unknown_fields=True):
    depth: Annotated[int, Meta(ge=1, le=MAX_DEPTH, description="price levels per side")] = 50


class FillsQuery(Struct, forbid_unknown_fields=True):
    since: Annotated[int, Meta(ge=0, le=(1 << 63) - 1,
                               description="return fills with id > since")] = 0
    limit: Annotated[int, Meta(ge=1, le=MAX_FILLS)] = 1000
    account: Annotated[int, Meta(ge=0, le=1 << 32, description="only fills where this "
                                 "account is maker or taker")] | None = None


def encode(obj) -> bytes:
    return msgspec.json.encode(obj)


# --- sessions and instrument metadata ----------------------------------------------------------

class SessionRequest(Struct, forbid_unknown_fields=True):
    """Open a session: the account's key signs H10(domain, 256, account, expiry, nonce, scope,
    0...)."""

    account: AccountId
    expiry: _uint("wall-clock seconds, at most a day from now")
    nonce: _uint("any number not used for a session of this account before")
    sig: Signature
    scope: Annotated[int, Meta(ge=0, le=1, description=(
        "0: private reads and streams; 1: also cancel-on-disconnect"))] = 0


class SessionToken(Struct):
    token: Annotated[str, Meta(description="send as Authorization: Bearer <token>")]
    account: Uint
    expires: Uint
    scope: Uint = 0


class Market(Struct):
    asset: Uint
    name: str
    kind: Literal["perp", "call", "put"]
    underlying: Annotated[int, Meta(ge=0, description="options: the perpetual they settle on")]
    strike: Uint
    expiry: Annotated[int, Meta(ge=0, description="options: oracle time (s) of expiry")]
    expired: bool
    oracle_price: Uint
    risk_initial: Annotated[int, Meta(ge=0, description="ppm of |balance| x price")]
    risk_maintenance: Uint
    short_initial: Annotated[int, Meta(ge=0, description="short options: ppm of the "
                                       "underlying's notional")]
    short_maintenance: Uint
    maker_fee: Annotated[int, Meta(ge=0, description="ppm of notional")]
    taker_fee: Uint
    liquidation_fee: Uint


class Markets(Struct):
    time: Uint
    markets: list[Market]
