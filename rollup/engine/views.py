"""The engine's read interface: what the API and the node read of a sequencer (an account with
its open orders and margin, one book's price levels, the status), as plain frozen values. They
are computed on demand from the engine's state and books, and never hand out the books, their
orders or the bookkeeping dicts, so a reader cannot change the engine or depend on its layout.
The ``Sequencer`` methods of the same names call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from rollup import errors as E
from rollup.margin.risk import account_risk, account_value, unsettled_funding
from rollup.state.encoding import RISK_SCALE


@dataclass(frozen=True)
class OpenOrder:
    asset: int
    order_id: int
    side: int
    price: int
    size: int
    remaining: int
    expiry: int
    flags: int


@dataclass(frozen=True)
class Level:
    price: int
    size: int  # resting at this price, all orders together
    orders: int


@dataclass(frozen=True)
class BookView:
    asset: int
    kind: int
    oracle_price: int
    time: int
    bids: list[Level]  # best first
    asks: list[Level]


@dataclass(frozen=True)
class MarginView:
    """``rollup.margin.risk`` for one account; risks in ppm-scaled units (value * RISK_SCALE)."""

    value: int
    unsettled_funding: int
    risk_initial: int
    risk_maintenance: int

    @property
    def excess_initial(self) -> int:
        return self.value * RISK_SCALE - self.risk_initial

    @property
    def excess_maintenance(self) -> int:
        return self.value * RISK_SCALE - self.risk_maintenance

    @property
    def healthy(self) -> bool:
        return self.excess_initial >= 0

    @property
    def liquidatable(self) -> bool:
        return self.excess_maintenance < 0


@dataclass(frozen=True)
class AccountView:
    id: int
    pk: tuple[int, int]
    nonce: int
    collateral: int
    positions: list[tuple[int, int, int]]  # (asset, balance, funding snapshot), held slots
    open_orders: list[OpenOrder]
    margin: MarginView


@dataclass(frozen=True)
class StatusView:
    root: int
    seq: int  # requests applied (the journal's length)
    time: int
    accounts: int
    assets: list[int]
    oracle_pk: tuple[int, int] | None
    resting_orders: int
    stopped: str | None  # why the sequencer refuses requests, if it does


def open_orders(seq, account: int) -> list[OpenOrder]:
    """The account's resting orders, by order slot."""
    out = []
    books = seq.books
    live = seq.live
    for _slot, (asset, oid) in sorted((slot, live[(account, slot)])
                                      for slot in live.slots_of(account)):
        o = books[asset].get(account, oid)
        if o is not None:
            out.append(OpenOrder(asset, oid, o.side, o.price, o.size, o.remaining, o.expiry,
                                 o.flags))
    return out


def _levels(side, depth: int) -> list[Level]:
    levels: list[list[int]] = []  # [price, size, orders]
    for o in side.iter_orders():  # best level first, FIFO within a level
        if not o.live:
            continue
        if not levels or levels[-1][0] != o.price:
            if len(levels) == depth:
                break
            levels.append([o.price, 0, 0])
        levels[-1][1] += o.remaining
        levels[-1][2] += 1
    return [Level(*x) for x in levels]


def book_levels(seq, asset: int, depth: int) -> BookView:
    """The best ``depth`` price levels of each side of the asset's book (UnknownMarket if the
    asset is not listed)."""
    st = seq.state
    if asset not in st.assets:
        raise E.UnknownMarket(f"asset {asset} is not listed")
    book = seq.books.get(asset)
    bids = _levels(book.bids, depth) if book is not None else []
    asks = _levels(book.asks, depth) if book is not None else []
    o = st.oracle.get(asset)
    return BookView(asset, st.assets[asset].kind, o.price if o else 0, st.time, bids, asks)


def account_view(seq, account: int) -> AccountView:
    """Account i with its open orders and margin (UnknownAccount if it does not exist)."""
    st = seq.state
    acc = st.account(account)
    margin = MarginView(account_value(st, acc), unsettled_funding(st, acc),
                        account_risk(st, acc), account_risk(st, acc, True))
    return AccountView(account, acc.pk, acc.nonce, acc.collateral,
                       [p for p in acc.positions if p[0]], open_orders(seq, account), margin)


def status_view(seq) -> StatusView:
    st = seq.state
    return StatusView(st.root, seq.seq, st.time, len(st.accounts), sorted(st.assets),
                      st.oracle_pk if st.oracle_pk != (0, 0) else None,
                      sum(len(b) for b in seq.books.values()), seq.failed)
