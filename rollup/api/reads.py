"""The API's reads of the engine: account, book, fills, order status, markets and status views
as the wire types of ``rollup.api.types``. ``Reads`` is mixed into ``SequencerService``: the
``*_view`` methods run on its worker thread (they read the sequencer and the journal it owns);
the dict forms (``account``, ``book``, ``fills_since``, ``status``) are for Python callers and
hop onto that thread through ``call``.
"""

from __future__ import annotations

import time

import msgspec

from rollup.api import types as W
from rollup.api.codec import hex32
from rollup.errors import EngineError
from rollup.keys import compress, public_json
from rollup.margin.exposure import AccountGreeks
from rollup.settlement.files import last_batch
from rollup.state.encoding import KIND_CALL, KIND_PERP, KIND_PUT, RISK_SCALE
from rollup.transactions import BUY


def _greeks_view(g: AccountGreeks) -> W.AccountGreeks:
    return W.AccountGreeks(
        [W.PositionGreeks(p.asset, p.underlying, p.balance, W.Greeks(*p.greeks))
         for p in g.positions],
        [W.UnderlyingGreeks(u, W.Greeks(*x)) for u, x in g.underlyings.items()],
        W.GreeksTotal(*g.total))


class Reads:
    """The views; the host class provides ``seq``, ``journal``, ``cfg``, ``history``,
    ``greeks``, ``limiter``, the counters and ``call``."""

    def account(self, i: int) -> dict:
        return msgspec.to_builtins(self.call(lambda s: s.account_view(i)))

    def account_view(self, i: int) -> W.Account:
        v = self.seq.account_view(i)  # UnknownAccount -> 404
        m = v.margin
        pk = public_json(v.pk)
        return W.Account(
            i, W.PublicKey(pk["x"], pk["y"], pk["compressed"]), v.nonce, v.collateral,
            [W.Position(a, b, s) for a, b, s in v.positions],
            [W.OpenOrder(o.asset, o.order_id, "buy" if o.side == BUY else "sell", o.price,
                         o.size, o.remaining, o.expiry, o.flags) for o in v.open_orders],
            W.Margin(m.value, m.unsettled_funding, m.risk_initial // RISK_SCALE,
                     m.risk_maintenance // RISK_SCALE, m.excess_initial // RISK_SCALE,
                     m.excess_maintenance // RISK_SCALE, m.healthy, m.liquidatable),
            _greeks_view(self.greeks.account(self.seq.state, i)))

    def book(self, asset: int, depth: int) -> dict:
        return msgspec.to_builtins(self.call(lambda s: s.book_view(asset, depth)))

    def book_view(self, asset: int, depth: int) -> W.Book:
        b = self.seq.book_levels(asset, depth)  # UnknownMarket -> 404

        def levels(side):
            return [W.Level(x.price, x.size, x.orders) for x in side]

        return W.Book(asset, b.kind, b.oracle_price, b.time, levels(b.bids), levels(b.asks))

    def fills_since(self, since: int, limit: int, account: int | None) -> dict:
        return msgspec.to_builtins(self.call(lambda s: s.fills_page(since, limit, account)))

    def fills_page(self, since: int, limit: int, account: int | None) -> W.Fills:
        page = self.journal.fills_after(max(since, 0), limit, account)
        times = self.journal.receipt_times([f.seq for f in page])
        rows = []
        for f in page:
            received, t = times.get(f.seq, (None, None))
            rows.append(W.Fill(f.id, f.seq, f.asset, f.price, f.size, f.maker, f.taker,
                               f.maker_order, f.taker_order,
                               "buy" if f.taker_side == BUY else "sell", f.maker_fee,
                               f.taker_fee, t, received))
        return W.Fills(since, rows, rows[-1].id if rows else max(since, 0),
                       self.journal.fills_total)

    def order_status(self, account: int, order_id: int) -> W.OrderStatus:
        try:
            live = self.seq.open_orders(account)
        except EngineError:
            live = []
        return self.history.status(account, order_id, live)

    def status(self) -> dict:
        return msgspec.to_builtins(self.call(lambda s: s.status_view()))

    def markets_view(self) -> W.Markets:
        st = self.seq.state
        names = {KIND_PERP: "perp", KIND_CALL: "call", KIND_PUT: "put"}
        return W.Markets(st.time, [
            W.Market(a, x.name, names[x.kind], x.underlying, x.strike, x.expiry,
                     bool(x.expiry and st.time >= x.expiry), st.oracle[a].price, x.risk_initial,
                     x.risk_maintenance, x.short_initial, x.short_maintenance, x.maker_fee,
                     x.taker_fee, x.liquidation_fee)
            for a, x in sorted(st.assets.items())])

    def account_key(self, i: int) -> tuple[int, int]:
        """The public key of account ``i`` (UnknownAccount -> 404)."""
        return self.seq.account_view(i).pk

    def status_view(self) -> W.Status:
        cfg = self.cfg
        st = self.seq.status()
        last = last_batch(cfg)
        batched_to = last["last_seq"] if last else self.genesis_seq
        return W.Status(
            hex32(st.root), st.seq, self.genesis_seq, st.time, cfg.chain_id,
            cfg.rollup_address, cfg.tree_depth, st.accounts, st.assets,
            compress(st.oracle_pk) if st.oracle_pk is not None else None, st.resting_orders,
            self.journal.fills_total, self.accepted, self.rejected, self.limiter.refused,
            W.GroupCommits(self.groups, self.grouped), st.stopped,
            round(time.time() - self.started, 1),
            W.BatchProgress(cfg.batch_slots, cfg.batch_l1_slots, cfg.batch_assets,
                            cfg.batch_underlyings,
                            cfg.batch_time_limit, last["number"] if last else 0, batched_to,
                            st.seq - batched_to))
