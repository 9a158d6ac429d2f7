"""What an accepted request gives back (``Receipt``, with its ``Fill``s) and the public-data
records that the request handlers write (``rollup.transactions.encode_record``'s layout)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from rollup import errors as E
from rollup.transactions import T_TRADE, encode_record, record_size


@dataclass
class Fill:
    maker: int
    taker: int
    maker_order: int
    taker_order: int
    asset: int
    size: int
    price: int
    taker_side: int
    maker_fee: int
    taker_fee: int


@dataclass
class Receipt:
    seq: int  # position in the journal (accepted requests only)
    root: int
    records: list[bytes] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    dropped: list[tuple[int, int, str]] = field(default_factory=list)  # (account, order, why)
    resting: int = 0  # size left resting in the book
    note: str = ""


_TRADE = struct.Struct(">BIIHQQQQB")  # RECORDS[T_TRADE], big-endian
assert _TRADE.size == record_size(T_TRADE)


def record(tx_type: int, **values: int) -> bytes:
    """``encode_record``, with a value that does not fit its field a typed rejection (a fee, a
    penalty or a payout too large for the public data) rather than an OverflowError."""
    try:
        return encode_record(tx_type, **values)
    except OverflowError:
        raise E.InvalidRequest("a value does not fit its public-data record field") from None


def trade_record(buyer: int, seller: int, asset: int, size: int, price: int, buyer_order: int,
                 seller_order: int, taker_buyer: bool) -> bytes:
    """``encode_record(T_TRADE, ...)``, packed in one call (the same bytes; a value that does
    not fit: ``record``'s typed error). ``taker_buyer``: the buyer took (the seller rested)."""
    try:
        return _TRADE.pack(T_TRADE, buyer, seller, asset, size, price, buyer_order, seller_order,
                           1 if taker_buyer else 0)
    except struct.error:
        return record(T_TRADE, buyer=buyer, seller=seller, asset=asset, size=size, price=price,
                      buyer_order=buyer_order, seller_order=seller_order,
                      taker_buyer=1 if taker_buyer else 0)
