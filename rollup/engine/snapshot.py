"""The sequencer in a snapshot (``rollup.durability.snapshot``, format 1) and back.

A snapshot holds what the journal rows up to ``seq`` determine, nothing else: the state
(``rollup.state.snapshot``), the books as a table of resting orders in priority order (per
book, bids then asks, best level first, each level in time order, with their priority stamps),
the signed resting orders, the live order slots, every order id seen, the unbatched public
data, the exact resting totals of the accounts that left the compiled core's range, and the
domain. Modes, counters, caches and the core's array layout are not in it: ``restore`` rebuilds
the books through ``OrderBook.add`` (same priority order and stamps; handles may differ, and
nothing observable depends on them) and recomputes the core's resting totals. Loading checks
the domain and tree depth when given and the state root against the snapshot's; a mismatch or
a malformed table is a SnapshotError. ``clone`` copies the same content object by object
(a snapshot's cost is converting Python integers to arrays; a copy needs none of it).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TypeVar

import numpy as np
from numba import njit

from rollup.durability.snapshot import Snapshot, SnapshotError
from rollup.engine import core as C
from rollup.engine.orderbook import OrderBook
from rollup.engine.orders import LiveOrders
from rollup.state.snapshot import column_ints, int_column, state_from_tables, state_tables
from rollup.state.state import State
from rollup.transactions import BUY, REDUCE_ONLY, SELL, Domain, Order

S = TypeVar("S")

_BOOK = ("asset", "side", "account", "order_id", "price", "size", "remaining", "expiry",
         "flags", "stamp")
_ORDER = ("account", "asset", "side", "size", "price", "order_id", "expiry", "flags")
_UBOUND = np.uint64(C.BOUND)  # the core's range for amounts, as a price


def _book_columns(seq, out: dict) -> None:
    """Every resting order as the ``engine.book.*`` columns (``_BOOK``): books in their order,
    bids then asks, best level first, each level oldest first."""
    core = seq.core
    hs, assets, sides = [], [], []
    for asset, book in seq.books.items():
        n = 0
        for side in (BUY, SELL):
            got = book.side(side).handles()
            hs += got
            assets += [asset] * len(got)
            sides += [side] * len(got)
            n += len(got)
        if n != len(book):
            raise SnapshotError(f"book {asset}: {len(book)} orders indexed, {n} in its levels")
    h = np.array(hs, np.int64)
    oi, ou = core.oi[h], core.ou[h]
    cols = {"asset": np.array(assets, np.int64), "side": np.array(sides, np.int64),
            "account": oi[:, C.O_ACCT], "order_id": ou[:, C.U_OID], "price": ou[:, C.U_PRICE],
            "size": oi[:, C.O_SIZE], "remaining": oi[:, C.O_REM], "expiry": ou[:, C.U_EXP],
            "flags": oi[:, C.O_FLAGS], "stamp": oi[:, C.O_SEQ]}
    for name in _BOOK:
        out[f"engine.book.{name}"] = np.ascontiguousarray(cols[name])


def _columns(prefix: str, names: tuple[str, ...], rows: list[tuple], out: dict) -> None:
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    for name, col in zip(names, cols, strict=True):
        out[f"{prefix}.{name}"] = int_column(list(col))


def _rows(prefix: str, names: tuple[str, ...], a: dict) -> list[tuple]:
    return list(zip(*[column_ints(a[f"{prefix}.{n}"]) for n in names], strict=True))


def _sig_columns(orders: list[Order], out: dict) -> None:
    sigs = []
    for o in orders:
        if o.sig is None:
            sigs.append((0, 0, 0, 0))
            continue
        try:
            (rx, ry), s = o.sig
        except (TypeError, ValueError):
            raise SnapshotError(f"order {o.account}/{o.order_id}: malformed signature") from None
        sigs.append((1, rx, ry, s))
    _columns("engine.resting", ("signed", "sig_rx", "sig_ry", "sig_s"), sigs, out)


def tables(seq) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a sequencer between requests."""
    if seq.state.in_txn:
        raise SnapshotError("a snapshot is taken between requests only")
    try:
        smeta, sarrays = state_tables(seq.state)
    except ValueError as exc:
        raise SnapshotError(str(exc)) from None
    a = {f"state.{k}": v for k, v in sarrays.items()}
    _book_columns(seq, a)
    resting = list(seq.resting.values())
    _columns("engine.resting", _ORDER, list(map(attrgetter(*_ORDER), resting)), a)
    _sig_columns(resting, a)
    _columns("engine.live", ("account", "slot", "asset", "order_id"),
             [(k[0], k[1], v[0], v[1]) for k, v in seq.live.items()], a)
    _columns("engine.seen", ("account", "order_id"), list(seq.seen_orders), a)
    acc, oid = a["engine.seen.account"], a["engine.seen.order_id"]
    if acc.ndim == oid.ndim == 1:  # in order, so that equal engines give equal files
        order = np.lexsort((oid, acc))
        a["engine.seen.account"], a["engine.seen.order_id"] = acc[order], oid[order]
    records = seq.records
    a["engine.records.length"] = np.array([len(r) for r in records], np.int64)
    a["engine.records.data"] = np.frombuffer(b"".join(records), np.uint8)
    meta = {
        "state": smeta,
        "engine": {
            "domain": [seq.domain.chain_id, seq.domain.rollup_address],
            "books": list(seq.books),
            "order_stamp": int(seq.core.meta[C.M_SEQ]),
            "wide_totals": [[i, [[asset, t] for asset, t in per.items()]]
                            for i, per in seq._wide_totals.items()],
            # the cancel-alls a replay must still refuse (the expired ones are refused anyway)
            "cancel_alls": sorted(list(k) for k in seq.cancel_alls if k[3] >= seq.state.time),
            # the scenario chunks applied at the state's time (a replay must still be refused)
            "chunks_seen": [[a, k, t, list(dv)] for a, k, t, dv in seq.chunks_seen
                            if t == seq.state.time],
        },
    }
    return meta, a


def export(seq) -> Snapshot:
    """The snapshot of ``seq`` at its sequence number."""
    meta, arrays = tables(seq)
    return Snapshot(seq.seq, seq.state.root, meta, arrays)


def restore(make: Callable[[State, Domain], S], snap: Snapshot, *, domain: Domain | None = None,
            account_depth: int | None = None) -> S:
    """``make(state, domain)``, a fresh sequencer, given back everything in ``snap``."""
    try:
        meta = snap.meta["engine"]
        got = Domain(*meta["domain"])
        if domain is not None and got != domain:
            raise SnapshotError(f"snapshot of another domain ({got})")
        depth = snap.meta["state"]["account_depth"]
        if account_depth is not None and depth != account_depth:
            raise SnapshotError(f"snapshot of a depth-{depth} accounts tree")
        prefix = "state."
        state = state_from_tables(snap.meta["state"], {k[len(prefix):]: v for k, v in
                                                      snap.arrays.items()
                                                      if k.startswith(prefix)})
        if state.root != snap.root:
            raise SnapshotError("the state's trees do not give the snapshot's root")
        seq = make(state, got)
        _restore_engine(seq, meta, snap.arrays)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise SnapshotError(f"malformed snapshot: {exc!r}") from None
    seq.seq = snap.seq
    return seq


@njit(cache=True)
def _load_books(oi, ou, free, meta, lp, lh, lt, ln, rt, q, qu, counted, handles):
    """Rest the orders of q (asset, side, account, row, size, remaining, flags, stamp) / qu
    (order id, price, expiry) in this order, each with its priority stamp, and add the counted
    ones to the resting totals ``rt``; -1, or the index of an order whose totals would leave
    the core's range (``Core.rt_add``'s bound)."""
    for k in range(q.shape[0]):
        asset, side, acct, row, size, rem, flags = q[k, 0], q[k, 1], q[k, 2], q[k, 3], \
            q[k, 4], q[k, 5], q[k, 6]
        h = C.book_add(oi, ou, free, meta, lp, lh, lt, ln, asset, side, acct, row, qu[k, 0],
                       qu[k, 1], size, rem, qu[k, 2], flags)
        oi[h, C.O_SEQ] = q[k, 7]
        handles[k] = h
        if counted[k]:
            if qu[k, 1] >= _UBOUND or rem < 0:
                return k
            price = np.int64(qu[k, 1])
            c = 0 if side == C.BUY else 2
            total = rt[row, asset, c] + rem
            if total >= C.BOUND or (price and rem > (C.BOUND - 1 - rt[row, asset, c + 1]) // price):
                return k
            rt[row, asset, c] = total
            rt[row, asset, c + 1] += rem * price
    return -1


def _as(a: np.ndarray, dtype) -> np.ndarray:
    """An integer column as ``dtype`` (ValueError if a value does not fit)."""
    if a.ndim == 1 and a.dtype in (np.int64, np.uint64):
        if a.dtype != dtype and a.size and (a.max() > np.iinfo(dtype).max
                                            or a.min() < np.iinfo(dtype).min):
            raise ValueError("a column value out of range")
        return a.astype(dtype)
    try:
        return np.array(column_ints(a), dtype)
    except OverflowError:
        raise ValueError("a column value out of range") from None


def _books(seq, meta: dict, a: dict) -> None:
    """The books of ``_book_rows`` rebuilt in a fresh core, with the resting totals of every
    account that is not wide."""
    core = seq.core
    for asset in meta["books"]:
        seq.books[asset] = OrderBook(asset, core)
    cols = {n: _as(a[f"engine.book.{n}"], np.uint64 if n in ("order_id", "price", "expiry")
                   else np.int64) for n in _BOOK}
    n = len(cols["asset"])
    if not n:
        return
    # the kernel does not check bounds: the rows must name existing books and sides
    if not set(np.unique(cols["asset"]).tolist()) <= set(seq.books):
        raise ValueError("a resting order in a book that is not listed")
    if not (np.isin(cols["side"], (BUY, SELL)).all() and (cols["remaining"] > 0).all()
            and (cols["remaining"] <= cols["size"]).all()):
        raise ValueError("a resting order with a bad side or remaining size")
    accts, inverse = np.unique(cols["account"], return_inverse=True)
    rows = np.array([core.row(i) for i in accts.tolist()], np.int64)[inverse]
    wide = np.array([i in seq._wide_totals for i in accts.tolist()], np.bool_)[inverse]
    counted = ~wide & ((cols["flags"] & REDUCE_ONLY) == 0)
    # capacity: the pool for n orders, each level row for its distinct prices
    if core.oi.shape[0] < n:
        core.oi, core.ou = C._grow(core.oi, n), C._grow(core.ou, n)
        core.free, core.pend = C._grow(core.free, n), C._grow(core.pend, n)
    level_rows = cols["asset"] * 2 + cols["side"]
    levels = np.unique(np.stack([level_rows, cols["price"].astype(np.int64)]), axis=1)
    need = int(np.bincount(levels[0]).max())
    if core.lp.shape[1] < need:
        core.lp = C._grow(core.lp, need, 1)
        core.lh, core.lt = C._grow(core.lh, need, 1, -1), C._grow(core.lt, need, 1, -1)
    q = np.stack([cols["asset"], cols["side"], cols["account"], rows, cols["size"],
                  cols["remaining"], cols["flags"], cols["stamp"]], axis=1)
    qu = np.stack([cols["order_id"], cols["price"], cols["expiry"]], axis=1)
    handles = np.empty(n, np.int64)
    bad = _load_books(core.oi, core.ou, core.free, core.meta, core.lp, core.lh, core.lt,
                      core.ln, core.rt, q, qu, counted, handles)
    if bad >= 0:
        raise ValueError(f"account {int(q[bad, 2])}: resting totals out of the core's range")
    books = seq.books
    for asset, acct, oid, h in zip(cols["asset"].tolist(), cols["account"].tolist(),
                                   cols["order_id"].tolist(), handles.tolist(), strict=True):
        books[asset]._h[(acct, oid)] = h


def _restore_engine(seq, meta: dict, a: dict) -> None:
    core = seq.core
    seq._wide_totals = {i: {asset: list(t) for asset, t in per}
                        for i, per in meta["wide_totals"]}
    for asset in meta["books"]:
        core.ensure_asset(asset)
    _books(seq, meta, a)
    for i in seq._wide_totals:
        core.ai[core.row(i), C.A_FLAG] |= C.F_RTWIDE
    core.meta[C.M_SEQ] = meta["order_stamp"]
    sigs = _rows("engine.resting", ("signed", "sig_rx", "sig_ry", "sig_s"), a)
    seq.resting = {}
    for f, (signed, rx, ry, s) in zip(_rows("engine.resting", _ORDER, a), sigs, strict=True):
        o = Order(*f, sig=((rx, ry), s) if signed else None)
        seq.resting[(o.account, o.order_id)] = o
    seq.live = LiveOrders(((i, slot), (asset, oid))
                          for i, slot, asset, oid in _rows("engine.live", ("account", "slot",
                                                                            "asset", "order_id"),
                                                           a))
    seq.seen_orders = set(_rows("engine.seen", ("account", "order_id"), a))
    seq.cancel_alls = dict.fromkeys(tuple(k) for k in meta.get("cancel_alls", []))
    if any(len(k) != 4 for k in seq.cancel_alls):
        raise ValueError("malformed cancel-all rows")
    rows = meta.get("chunks_seen", [])
    if not (isinstance(rows, list) and all(isinstance(r, list) and len(r) == 4
                                           and isinstance(r[3], list) for r in rows)):
        raise ValueError("malformed scenario-chunk rows")
    seq.chunks_seen = dict.fromkeys((a, k, t, tuple(dv)) for a, k, t, dv in rows)
    data = a["engine.records.data"].tobytes()
    bounds = np.concatenate([[0], np.cumsum(a["engine.records.length"])]).tolist()
    if bounds[-1] != len(data):
        raise ValueError("record lengths do not add up")
    seq.records = [data[x:y] for x, y in zip(bounds[:-1], bounds[1:], strict=True)]


def clone(seq, make: Callable[[State, Domain], S]) -> S:
    """An independent copy of ``seq`` made directly from its objects (no tables: the same
    content as a snapshot, plus the core's arrays as they are); ``make`` sets the modes."""
    new = make(seq.state.clone(), seq.domain)
    core = C.Core.__new__(C.Core)
    for k, v in vars(seq.core).items():
        setattr(core, k, v.copy() if isinstance(v, np.ndarray | dict | set) else v)
    core._reset_mirror()  # every row reloaded from the new state before the next run
    core.undo = None
    new.core = core
    new.books = {}
    for asset, book in seq.books.items():
        b = new.books[asset] = OrderBook(asset, core)
        b._h = dict(book._h)
    new.live, new.resting = LiveOrders(seq.live), dict(seq.resting)
    new.seen_orders, new.records = set(seq.seen_orders), list(seq.records)
    new.cancel_alls = dict(seq.cancel_alls)
    new.chunks_seen = dict(seq.chunks_seen)
    new._wide_totals = {i: {a: list(t) for a, t in per.items()}
                        for i, per in seq._wide_totals.items()}
    new.seq = seq.seq
    return new
