"""Requests, their signed messages, and the public-data record of every transaction type.

    domain  = H3(DOMAIN_TAG, chain_id, rollup_address)        (H = circomlib Poseidon)
    message = H10(domain, type, f_1, ..., f_8)                the request's fields in dataclass
                                                              order, zero-padded to 8
signed with EdDSA-Poseidon; signed integers enter as ``v mod r``. Replay protection: the
account's next nonce (withdrawals, transfers, liquidations), an order id held in the account's
order tree (orders), an order-id bound (cancel-all), an expiry (every user request); oracle
messages are signed by the committed oracle key and never go back in time.

Each applied transaction publishes one record: a 1-byte type, then the fields of
``RECORDS[type]`` big-endian at the listed widths (signed: two's complement). The records are
enough to replay every state change from genesis. Details: docs/state.md.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from circuits import eddsa_sign, eddsa_verify, poseidon
from circuits.gadgets.signed import encode

DOMAIN_TAG = int.from_bytes(b"zkderiv/v1", "big")
MSG_FIELDS = 8
PPM = 10**6  # fee rates are parts per million of the notional (= rollup.state RISK_SCALE)

T_NOOP = 0
T_DEPOSIT = 1
T_WITHDRAWAL = 2
T_TRANSFER = 3
T_ORDER = 4  # signed request only; what it publishes is TRADE records
T_TRADE = 5
T_CANCEL = 6  # signed request only; changes the book, not the state
T_FUNDING = 7
T_ORACLE = 8
T_SETTLEMENT_PRICE = 9
T_LIQUIDATION = 10
T_EXPIRY_SETTLEMENT = 11
T_FORCED_WITHDRAWAL = 12
T_LIST_ASSET = 13
T_SET_ORACLE_KEY = 14
T_REFUND = 15  # an L1 deposit the state cannot take (ETH, unusable key), paid back on L1
T_CANCEL_ALL = 16  # signed request only; changes the book, not the state
T_DROP_ORDERS = 17  # the operator's (unsigned); changes the book, not the state
T_SCENARIO = 18  # the oracle's scenario rows, SCENARIO_CHUNK per request (docs/margin.md)

# scenario margin (docs/margin.md): SCENARIOS rows dV per asset, |dV| < 2**(DV_BITS - 1), sent
# and published in chunks of SCENARIO_CHUNK rows (chunk k holds rows 5k..5k+4; the last, row
# 25 alone): SCENARIO_UPDATE_CHUNKS signed requests make one update
SCENARIOS = 26
SCENARIO_CHUNK = 5
SCENARIO_UPDATE_CHUNKS = -(-SCENARIOS // SCENARIO_CHUNK)
DV_BITS = 61

# (field, bytes, signed) per record type; every record starts with its 1-byte type.
U32, U64, U160, U256 = 4, 8, 20, 32
RECORDS: dict[int, list[tuple[str, int, bool]]] = {
    # l2_key: the credited key compressed (circomlib packPoint, as in the L1 queue entry)
    T_DEPOSIT: [("account", U32, False), ("l2_key", U256, False), ("amount", U64, False)],
    T_WITHDRAWAL: [("account", U32, False), ("amount", U64, False), ("to", U160, False),
                   ("nonce", U32, False)],
    T_TRANSFER: [("sender", U32, False), ("receiver", U32, False), ("amount", U64, False),
                 ("nonce", U32, False)],
    # taker_buyer: 1 if the buyer took (the seller's order rested), else 0; the fees are not
    # published: both follow from it, the notional and the listing's rates (``trade_fees``)
    T_TRADE: [("buyer", U32, False), ("seller", U32, False), ("asset", 2, False),
              ("size", U64, False), ("price", U64, False), ("buyer_order", U64, False),
              ("seller_order", U64, False), ("taker_buyer", 1, False)],
    T_FUNDING: [("asset", 2, False), ("index", U64, True), ("time", U64, False)],
    T_ORACLE: [("asset", 2, False), ("price", U64, False), ("time", U64, False)],
    T_SETTLEMENT_PRICE: [("asset", 2, False), ("price", U64, False), ("time", U64, False)],
    T_LIQUIDATION: [("liquidator", U32, False), ("liquidated", U32, False), ("asset", 2, False),
                    ("size", U64, True), ("price", U64, False), ("penalty", U64, False),
                    ("nonce", U32, False)],
    T_EXPIRY_SETTLEMENT: [("account", U32, False), ("asset", 2, False), ("payout", 12, True)],
    T_FORCED_WITHDRAWAL: [("account", U32, False), ("requested", U64, False),
                          ("paid", U64, False), ("to", U160, False)],
    T_LIST_ASSET: [("asset", 2, False), ("kind", 1, False), ("underlying", 2, False),
                   ("strike", U64, False), ("expiry", U64, False), ("risk_initial", U32, False),
                   ("risk_maintenance", U32, False), ("short_initial", U32, False),
                   ("short_maintenance", U32, False), ("maker_fee", U32, False),
                   ("taker_fee", U32, False), ("liquidation_fee", U32, False)],
    T_SET_ORACLE_KEY: [("key", U256, False)],  # packed (circomlib packPoint), as l2_key
    T_REFUND: [("account", U32, False), ("asset", 1, False), ("to", U160, False),
               ("amount", U64, False)],
    T_SCENARIO: [("asset", 2, False), ("chunk", 1, False), ("time", U64, False),
                 *((f"dv{i}", U64, True) for i in range(SCENARIO_CHUNK))],
}


def trade_fees(size: int, price: int, taker_buyer: int, maker_ppm: int,
               taker_ppm: int) -> tuple[int, int]:
    """(buyer's fee, seller's fee) of a trade: floor(size * price * rate / 10^6), the taker's
    rate for the side that took, the maker's for the other (the engine's and the circuit's
    rule; a T_TRADE record carries ``taker_buyer`` instead of the two fees)."""
    notional = size * price
    maker, taker = notional * maker_ppm // PPM, notional * taker_ppm // PPM
    return (taker, maker) if taker_buyer else (maker, taker)


def record_size(tx_type: int) -> int:
    return 1 + sum(w for _, w, _ in RECORDS[tx_type])


def encode_record(tx_type: int, **values: int) -> bytes:
    out = bytearray([tx_type])
    for name, width, signed in RECORDS[tx_type]:
        out += int(values[name]).to_bytes(width, "big", signed=signed)
    return bytes(out)


def decode_record(data: bytes) -> tuple[int, dict[str, int], int]:
    """(type, fields, bytes consumed) of the record at the start of ``data``."""
    tx_type = data[0]
    pos, fields = 1, {}
    for name, width, signed in RECORDS[tx_type]:
        fields[name] = int.from_bytes(data[pos:pos + width], "big", signed=signed)
        pos += width
    return tx_type, fields, pos


def decode_records(data: bytes) -> list[tuple[int, dict[str, int]]]:
    out, pos = [], 0
    while pos < len(data):
        t, f, n = decode_record(data[pos:])
        out.append((t, f))
        pos += n
    return out


@functools.lru_cache(maxsize=64)
def _domain_field(chain_id: int, rollup_address: int) -> int:
    return poseidon([DOMAIN_TAG, chain_id, rollup_address])


@dataclass(frozen=True)
class Domain:
    chain_id: int
    rollup_address: int  # the L1 contract address as a 160-bit integer

    @property
    def field(self) -> int:
        """H(DOMAIN_TAG, chain_id, rollup_address), hashed once per domain (a lone signature
        check would otherwise spend a fifth of its time on it)."""
        return _domain_field(self.chain_id, self.rollup_address)


Signature = tuple[tuple[int, int], int]

# Order flags (bit field, signed with the order)
POST_ONLY = 1
IOC = 2
REDUCE_ONLY = 4
MARKET = 8  # IOC whose price is only a protection limit
BUY, SELL = 0, 1


@dataclass(frozen=True)
class Request:
    """Base of all requests; ``TYPE`` is the message/record type, ``SIGNED`` whether a
    signature is required (L1 queue requests and settlements are not signed)."""

    TYPE: ClassVar[int] = T_NOOP
    SIGNED: ClassVar[bool] = True

    def message_fields(self) -> list[int]:
        return [encode(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name != "sig"]

    def message(self, domain: Domain) -> int:
        fields = self.message_fields()
        if len(fields) > MSG_FIELDS:
            raise ValueError(f"{type(self).__name__} has more than {MSG_FIELDS} message fields")
        return poseidon([domain.field, self.TYPE, *fields, *[0] * (MSG_FIELDS - len(fields))])

    def signed(self, private_key: bytes, domain: Domain):
        return dataclasses.replace(self, sig=eddsa_sign(private_key, self.message(domain)))

    def verify(self, pk: tuple[int, int], domain: Domain) -> bool:
        sig = getattr(self, "sig", None)
        if sig is None:
            return False
        return eddsa_verify(pk, self.message(domain), sig)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["type"] = self.TYPE
        return d


@dataclass(frozen=True)
class Deposit(Request):
    TYPE: ClassVar[int] = T_DEPOSIT
    SIGNED: ClassVar[bool] = False
    account: int
    pk: tuple[int, int]
    amount: int

    def message_fields(self) -> list[int]:
        return [self.account, *self.pk, self.amount]


@dataclass(frozen=True)
class ForcedWithdrawal(Request):
    """From the L1 queue: the contract checked a signature by the key ``l2_key`` (packed, as a
    big-endian integer) over the payee ``to`` and the amount. It pays only when that key is the
    account's. Only the collateral token (asset 1) is held in the state: a request for another
    asset pays nothing."""

    TYPE: ClassVar[int] = T_FORCED_WITHDRAWAL
    SIGNED: ClassVar[bool] = False
    account: int
    amount: int
    to: int
    asset: int = 1
    l2_key: int = 0  # the entry's 32 key bytes as a big-endian integer


@dataclass(frozen=True)
class Refund(Request):
    """An L1 deposit the state cannot take (ETH, or a key that is not a usable curve point):
    consumed from the queue and paid back to the depositor ``to`` on L1."""

    TYPE: ClassVar[int] = T_REFUND
    SIGNED: ClassVar[bool] = False
    account: int  # the id the contract assigned to the deposit's key
    asset: int
    to: int
    amount: int
    l2_key: int = 0  # the entry's 32 key bytes as a big-endian integer

    def message_fields(self) -> list[int]:
        return [self.account, self.asset, self.to, self.amount, self.l2_key % (1 << 253)]


@dataclass(frozen=True)
class Withdrawal(Request):
    TYPE: ClassVar[int] = T_WITHDRAWAL
    account: int
    amount: int
    to: int
    nonce: int
    expiry: int
    sig: Signature | None = None


@dataclass(frozen=True)
class Transfer(Request):
    TYPE: ClassVar[int] = T_TRANSFER
    sender: int
    receiver: int
    amount: int
    nonce: int
    expiry: int
    sig: Signature | None = None


@dataclass(frozen=True)
class Order(Request):
    """Perpetual or option order (the asset's kind decides). ``price`` is the limit (for MARKET,
    the worst acceptable price)."""

    TYPE: ClassVar[int] = T_ORDER
    account: int
    asset: int
    side: int
    size: int
    price: int
    order_id: int
    expiry: int
    flags: int = 0
    sig: Signature | None = None


@dataclass(frozen=True)
class Cancel(Request):
    TYPE: ClassVar[int] = T_CANCEL
    account: int
    asset: int
    order_id: int
    sig: Signature | None = None


@dataclass(frozen=True)
class CancelAll(Request):
    """Cancel the account's resting orders in market ``asset`` (0: every market) whose order id
    is at most ``up_to_order_id``: a replayed signature cannot reach an order newer than those
    it was signed for (order ids that grow over time make the bound a time bound)."""

    TYPE: ClassVar[int] = T_CANCEL_ALL
    account: int
    asset: int  # 0: every market
    up_to_order_id: int
    expiry: int
    sig: Signature | None = None


@dataclass(frozen=True)
class DropOrders(Request):
    """Operator action (cancel-on-disconnect, risk controls): drop the account's resting orders
    in market ``asset`` (0: every market) with an order id at most ``up_to_order_id``. Unsigned,
    so a public endpoint never takes it (``PUBLIC_TYPES``)."""

    TYPE: ClassVar[int] = T_DROP_ORDERS
    SIGNED: ClassVar[bool] = False
    account: int
    asset: int = 0  # 0: every market
    up_to_order_id: int = (1 << 64) - 1


@dataclass(frozen=True)
class OracleUpdate(Request):
    TYPE: ClassVar[int] = T_ORACLE
    asset: int
    price: int
    time: int
    sig: Signature | None = None


@dataclass(frozen=True)
class ScenarioChunk(Request):
    """Rows ``5 chunk .. 5 chunk + 4`` of an asset's scenario update at ``time`` (``dv``: the
    weighted P&L of +1 unit per scenario, docs/margin.md; the last chunk holds row 25 and four
    zeros). Chunks 0..5 of one (asset, time), in order, make the update; the state takes the
    rows with the last one (chunk 0 starts an update, dropping any unfinished one)."""

    TYPE: ClassVar[int] = T_SCENARIO
    asset: int
    chunk: int
    time: int
    dv: tuple[int, ...]
    sig: Signature | None = None

    def message_fields(self) -> list[int]:
        return [self.asset, self.chunk, self.time, *(encode(x) for x in self.dv)]


def scenario_chunks(asset: int, time: int, rows: Sequence[int]) -> list[ScenarioChunk]:
    """The unsigned chunks of one scenario update (``len(rows) == SCENARIOS``)."""
    if len(rows) != SCENARIOS:
        raise ValueError(f"a scenario update has {SCENARIOS} rows")
    out = []
    for k in range(SCENARIO_UPDATE_CHUNKS):
        part = [int(x) for x in rows[k * SCENARIO_CHUNK:(k + 1) * SCENARIO_CHUNK]]
        out.append(ScenarioChunk(asset, k, time, tuple(part + [0] * (SCENARIO_CHUNK - len(part)))))
    return out


@dataclass(frozen=True)
class FundingTick(Request):
    TYPE: ClassVar[int] = T_FUNDING
    asset: int
    index: int
    time: int
    sig: Signature | None = None


@dataclass(frozen=True)
class SettlementPrice(Request):
    TYPE: ClassVar[int] = T_SETTLEMENT_PRICE
    asset: int
    price: int
    time: int
    sig: Signature | None = None


@dataclass(frozen=True)
class Liquidation(Request):
    """The liquidator takes ``size`` (a positive amount, at most the liquidated position) of the
    liquidated account's position at the oracle price and receives the liquidation fee."""

    TYPE: ClassVar[int] = T_LIQUIDATION
    liquidator: int
    liquidated: int
    asset: int
    size: int
    nonce: int
    expiry: int
    sig: Signature | None = None


@dataclass(frozen=True)
class ExpirySettlement(Request):
    TYPE: ClassVar[int] = T_EXPIRY_SETTLEMENT
    SIGNED: ClassVar[bool] = False
    account: int
    asset: int


@dataclass(frozen=True)
class ListAsset(Request):
    """Operator action (genesis or governance): list a market or option series."""

    TYPE: ClassVar[int] = T_LIST_ASSET
    SIGNED: ClassVar[bool] = False
    asset: int
    kind: int
    risk_initial: int
    risk_maintenance: int
    underlying: int = 0
    strike: int = 0
    expiry: int = 0
    short_initial: int = 0
    short_maintenance: int = 0
    maker_fee: int = 0
    taker_fee: int = 0
    liquidation_fee: int = 0


@dataclass(frozen=True)
class SetOracleKey(Request):
    """Operator action: replace the oracle key. Signed by the current oracle key over the new
    key (message fields x, y), so an operator that does not hold the oracle key cannot replace
    the oracle (one that does could sign any price already). The first key, set while none is
    registered (genesis), carries no signature."""

    TYPE: ClassVar[int] = T_SET_ORACLE_KEY
    pk: tuple[int, int]
    sig: Signature | None = None

    def message_fields(self) -> list[int]:
        return [self.pk[0], self.pk[1]]


REQUEST_TYPES: dict[int, type[Request]] = {
    cls.TYPE: cls for cls in (Deposit, ForcedWithdrawal, Withdrawal, Transfer, Order, Cancel,
                              OracleUpdate, FundingTick, SettlementPrice, Liquidation,
                              ExpirySettlement, ListAsset, SetOracleKey, Refund, CancelAll,
                              DropOrders, ScenarioChunk)
}
# what a public endpoint may pass in: requests signed by an account's key (or the oracle's);
# the L1 queue's, the operator's (listings, oracle-key changes, DropOrders) and expiry
# settlements come from the node itself
PUBLIC_TYPES: frozenset[type[Request]] = frozenset(
    (Withdrawal, Transfer, Order, Cancel, CancelAll, Liquidation, OracleUpdate, FundingTick,
     SettlementPrice, ScenarioChunk))


def request_messages(requests: Sequence[Request], domain: Domain) -> list[int]:
    """``[r.message(domain) for r in requests]``, the H10 hashes in one batch Poseidon call
    (``circuits.poseidon_batch.hash_ints``) and the domain hash computed once. Where a request's
    message cannot be hashed, ``message`` itself raises its error (first offending request)."""
    if not requests:
        return []
    from circuits.poseidon_batch import hash_ints  # lazy: Numba, loaded on first use

    dom = domain.field
    rows = []
    for r in requests:
        fields = r.message_fields()
        if len(fields) > MSG_FIELDS:
            r.message(domain)  # raises its ValueError
        rows.append([dom, r.TYPE, *fields, *[0] * (MSG_FIELDS - len(fields))])
    try:
        return hash_ints(rows)
    except (TypeError, ValueError):
        return [r.message(domain) for r in requests]


def verify_requests(requests: Sequence[Request], public_keys: Sequence[tuple[int, int]],
                    domain: Domain) -> list[bool]:
    """``[r.verify(pk, domain) for r, pk in zip(requests, public_keys)]`` in one batch: the
    messages through ``request_messages``, the signatures through
    ``circuits.eddsa_batch.verify_many`` (same answers as ``eddsa_verify``). A request without a
    signature (``sig`` None or no ``sig`` field) is False; its message is not computed."""
    if len(public_keys) != len(requests):
        raise ValueError("verify_requests: one public key per request")
    from circuits.eddsa_batch import verify_many  # lazy: Numba, loaded on first use

    out = [False] * len(requests)
    idx = [i for i, r in enumerate(requests) if getattr(r, "sig", None) is not None]
    if not idx:
        return out
    msgs = request_messages([requests[i] for i in idx], domain)
    ok = verify_many([public_keys[i] for i in idx], msgs, [requests[i].sig for i in idx])
    for i, v in zip(idx, ok, strict=True):
        out[i] = v
    return out


def request_from_json(d: dict) -> Request:
    d = dict(d)
    cls = REQUEST_TYPES[d.pop("type")]
    if d.get("sig") is not None:
        (rx, ry), s = d["sig"]
        d["sig"] = ((rx, ry), s)
    if "pk" in d:
        d["pk"] = tuple(d["pk"])
    if "dv" in d:
        d["dv"] = tuple(d["dv"])
    return cls(**d)


# --- sessions: who may read an account's private views (not a transaction: never in a batch) ---

SESSION_TYPE = 256  # outside the record type byte: a session signature is no transaction's
SESSION_MAX_S = 86_400  # a session lasts at most a day


SCOPE_CANCEL = 1  # a session scope bit: the holder may arm cancel-on-disconnect


def session_message(domain: Domain, account: int, expiry: int, nonce: int,
                    scope: int = 0) -> int:
    """H10(domain, 256, account, expiry, nonce, scope, 0...): what the account's key signs to
    open an API session until ``expiry`` (wall-clock seconds); ``nonce`` makes each signature
    single-use; ``scope`` 0 reads only, ``SCOPE_CANCEL`` may also have the server cancel the
    account's orders (cancel-on-disconnect)."""
    return poseidon([domain.field, SESSION_TYPE, account, expiry, nonce, scope,
                     *[0] * (MSG_FIELDS - 4)])
