"""The tests' oracle for matching: ``ReferenceMatcher`` writes the matching step directly on
account copies (one copy per account per fill attempt, margin recomputed in full with
``rollup.margin.risk``). ``rollup.engine.matching.PythonMatcher`` (incremental margin integers,
no copies per fill) is held to it, and the compiled kernel to that one."""

from __future__ import annotations

from rollup import errors as E
from rollup.engine.checks import (
    check,
    check_collateral,
    fee,
    funding_of,
    set_balance,
    working,
)
from rollup.engine.matching import PythonMatcher
from rollup.engine.orderbook import OrderBook, RestingOrder
from rollup.engine.orders import ORDER_SLOTS, apply_book, validate
from rollup.engine.receipts import Fill, Receipt, trade_record
from rollup.margin.resting import resting_worst, totals_of
from rollup.margin.risk import allowed, trade_allowed, value_and_risk
from rollup.state.state import FEE_ACCOUNT, Account
from rollup.transactions import BUY, IOC, MARKET, POST_ONLY, REDUCE_ONLY, SELL, Order


class ReferenceMatcher(PythonMatcher):
    """Every order through the straightforward matching step (no compiled runs)."""

    def order(self, seq, req: Order):
        st = seq.state
        asset = validate(seq, req)
        book = seq.books.get(req.asset)
        if book is None:
            book = OrderBook(req.asset, seq.core)  # registered when the request is applied
        size = req.size
        position = st.account(req.account).balance(req.asset)
        if req.flags & REDUCE_ONLY:
            room = -position if req.side == BUY else position
            check(room > 0, E.ReduceOnlyViolation, "reduce-only order would not reduce")
            size = min(size, room)
        if req.flags & POST_ONLY:
            check(not book.crosses(req.side, req.price), E.PostOnlyWouldCross,
                  "post-only order would take liquidity")
        immediate = bool(req.flags & (IOC | MARKET))

        originals: dict[int, Account] = {}
        work: dict[int, Account] = {}

        def get(i: int) -> Account:
            if i not in work:
                originals[i] = st.account(i)
                work[i] = working(st, i)
            return work[i]

        touched: set[int] = set()
        fills: list[Fill] = []
        dropped: list[tuple[RestingOrder, str]] = []
        remaining = size
        note = ""
        for m in book.makers(req.side, req.price):
            if remaining == 0:
                break
            if m.expiry < st.time or (asset.is_option and st.time >= asset.expiry):
                dropped.append((m, "expired"))
                continue
            if m.account == req.account:
                dropped.append((m, "self-trade prevention: resting order cancelled"))
                continue
            q = min(remaining, m.remaining)
            if m.flags & REDUCE_ONLY:
                mpos = get(m.account).balance(req.asset)
                q = min(q, mpos if m.side == SELL else -mpos)
                if q <= 0:
                    dropped.append((m, "reduce-only order would not reduce"))
                    continue
            buyer, seller = (req.account, m.account) if req.side == BUY else (m.account,
                                                                               req.account)
            notional = q * m.price
            maker_fee = fee(notional, asset.maker_fee)
            taker_fee = fee(notional, asset.taker_fee)
            fees = maker_fee + taker_fee
            ids = {buyer, seller}
            if fees:
                check(FEE_ACCOUNT in st.accounts, E.InvalidRequest, "no fee account")
                ids.add(FEE_ACCOUNT)
            cand = {i: get(i).copy() for i in ids}
            b, s = cand[buyer], cand[seller]
            funding = funding_of(st, asset)
            set_balance(b, asset, b.balance(req.asset) + q, funding)
            set_balance(s, asset, s.balance(req.asset) - q, funding)
            b.collateral -= notional
            s.collateral += notional
            cand[req.account].collateral -= taker_fee
            cand[m.account].collateral -= maker_fee
            if fees:
                cand[FEE_ACCOUNT].collateral += fees
            # an order slot holds (id, filled): a fill adds to it while the id is the same
            for i, oid in ((m.account, m.order_id), (req.account, req.order_id)):
                sid, filled = cand[i].orders.get(oid % ORDER_SLOTS, (0, 0))
                cand[i].orders[oid % ORDER_SLOTS] = (oid, (filled if sid == oid else 0) + q)
            for acc in cand.values():
                check_collateral(acc)
            # margin is checked fill by fill, against the account just before the fill (the
            # rule the batch circuit proves per slot)
            if not trade_allowed(st, get(m.account), cand[m.account]):
                dropped.append((m, "maker under initial margin"))
                continue
            if not trade_allowed(st, get(req.account), cand[req.account]):
                check(bool(fills), E.InsufficientMargin,
                      f"account {req.account} would be under initial margin")
                note = "stopped: further fills would breach initial margin"
                break
            work.update(cand)
            touched.update(cand)
            fills.append(Fill(m.account, req.account, m.order_id, req.order_id, req.asset, q,
                              m.price, req.side, maker_fee, taker_fee))
            remaining -= q

        if immediate:
            check(bool(fills), E.NoLiquidity, "nothing to match within the limit price")
            rest = 0
        else:
            rest = 0 if note else remaining
        if rest and not req.flags & REDUCE_ONLY:
            # a resting order must be affordable if it fills entirely at its limit price, and so
            # must the account's other resting orders (each asset at its worse side)
            before = originals.get(req.account) or st.account(req.account)
            hyp = (work.get(req.account) or working(st, req.account)).copy()
            signed_rest = rest if req.side == BUY else -rest
            set_balance(hyp, asset, hyp.balance(req.asset) + signed_rest, funding_of(st, asset))
            hyp.collateral -= signed_rest * req.price
            dv, dr = resting_worst(st, totals_of(seq.core, seq._wide_totals, req.account),
                                   hyp.positions, req.asset, hyp.balance(req.asset))
            v0, r0 = value_and_risk(st, before)
            v1, r1 = value_and_risk(st, hyp)
            if not allowed(v0, r0, v1 + dv, r1 + dr):
                check(bool(fills), E.InsufficientMargin,
                      f"account {req.account}: resting order would breach initial margin")
                rest, note = 0, "remainder cancelled: resting it would breach initial margin"

        for i in sorted(touched):
            st.put_account(i, work[i])
        records = []
        for f in fills:
            if f.taker_side == BUY:
                records.append(trade_record(f.taker, f.maker, f.asset, f.size, f.price,
                                            f.taker_order, f.maker_order, True))
            else:
                records.append(trade_record(f.maker, f.taker, f.asset, f.size, f.price,
                                            f.maker_order, f.taker_order, False))
        plan = [(book.get(f.maker, f.maker_order), f.size) for f in fills]
        receipt = Receipt(0, 0, records, fills,
                          [(m.account, m.order_id, why) for m, why in dropped], rest, note)
        return receipt, [lambda: apply_book(seq, req, book, plan, dropped, rest)]
