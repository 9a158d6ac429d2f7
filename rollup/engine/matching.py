"""The Python matcher: one order matched against its book on Python integers.

The plan is built on per-account working copies (``_Work``) whose value and initial risk are
updated incrementally fill by fill (only the traded asset's term changes), so a fill copies no
account; margin is ``rollup.margin``'s rule. Nothing changes in the state or the books until
the plan is complete: the accounts go into the open transaction, the book changes run after the
commit (``rollup.engine.orders.apply_book``). The straightforward version that recomputes
everything on account copies is the tests' oracle; the compiled kernel is held to this one.
"""

from __future__ import annotations

from rollup import errors as E
from rollup.engine.checks import check
from rollup.engine.orderbook import OrderBook, RestingOrder
from rollup.engine.orders import BALANCE_LIMIT, ORDER_SLOTS, BookOps, apply_book, validate
from rollup.engine.receipts import Fill, Receipt, trade_record
from rollup.margin.resting import resting_worst, totals_of
from rollup.margin.risk import allowed, fits_window, shifted, under_of, worst
from rollup.margin.scenario import N_SCENARIOS
from rollup.margin.summary import store, summary
from rollup.state.encoding import COLLATERAL_BITS, KIND_PERP, RISK_SCALE
from rollup.state.state import EMPTY_SLOT, FEE_ACCOUNT, POSITION_SLOTS, Account
from rollup.transactions import BUY, IOC, MARKET, POST_ONLY, REDUCE_ONLY, SELL, Order

_COLLATERAL_LIMIT = 1 << (COLLATERAL_BITS - 1)
_FEE_LIMIT = 1 << 64


def _free_slot(positions: list[tuple[int, int, int]]) -> int | None:
    """``Account.slot_of(0)`` on a positions list."""
    for j, (a, _, _) in enumerate(positions):
        if a == 0:
            return j
    return None


class _Work:
    """An account while one order is matched: its positions with funding settled and its
    collateral (``rollup.engine.checks.working``), plus the order slots written so far; its
    value and initial risk now (v, r) and before the order (v0, r0); its balance of the traded
    asset and the slot holding it. The account object itself is built once, at the end
    (``account()``), and only for an account that traded."""

    __slots__ = ("src", "positions", "coll", "orders", "v0", "r0", "v", "r", "bal", "slot",
                 "losses", "lu", "under")

    def __init__(self, summary: tuple, asset_id: int, under: int) -> None:
        # summary: rollup.margin.summary (account, versions, raw collateral, settled collateral,
        # settled positions, value, risk)
        self.src = summary[0]
        self.coll = summary[4]
        self.positions = positions = list(summary[5])
        self.v0 = self.v = summary[6]
        self.r0 = self.r = summary[7]
        self.orders = None
        self.slot, self.bal = None, 0
        # the losses of every underlying, and of the traded asset's (a list, kept current)
        self.losses, self.under = summary[8], under
        row = self.losses.get(under)
        self.lu = list(row) if row is not None else [0] * N_SCENARIOS
        for j in range(POSITION_SLOTS):
            p = positions[j]
            if p[0] == asset_id:
                self.slot, self.bal = j, p[1]
                break

    def check_balance(self, asset_id: int, b: int) -> None:
        """The errors ``rollup.engine.checks.set_balance`` would raise for balance b."""
        if not -BALANCE_LIMIT <= b < BALANCE_LIMIT:
            raise E.InvalidRequest("balance out of range")
        if self.slot is None and b and _free_slot(self.positions) is None:
            raise E.NoPositionSlot(f"no free position slot for asset {asset_id}")

    def after(self, q: int, dv: tuple[int, ...]) -> tuple[list[int], int]:
        """(losses of the traded underlying, initial risk) after q more units of the asset;
        InvalidRequest when its spread leaves the window (the circuit's range clause)."""
        lu = shifted(self.lu, q, dv)
        if not fits_window(lu):
            raise E.InvalidRequest("scenario losses out of range")
        return lu, self.r + RISK_SCALE * (worst(lu) - worst(self.lu))

    def set_balance(self, asset_id: int, b: int, snap: int, v: int, r: int,
                    lu: list[int]) -> None:
        """``set_balance`` (checked before), and the new value, risk and losses."""
        j = self.slot
        if j is None:
            if b:
                j = _free_slot(self.positions)
                self.positions[j] = (asset_id, b, snap)
        else:
            self.positions[j] = (asset_id, b, snap) if b else EMPTY_SLOT
        self.slot = j if b else None
        self.bal, self.v, self.r, self.lu = b, v, r, lu

    def all_losses(self) -> dict:
        out = dict(self.losses)
        if any(self.lu):
            out[self.under] = tuple(self.lu)
        else:
            out.pop(self.under, None)
        return out

    def fill_order(self, order_id: int, q: int) -> None:
        """Order slot ``order_id % ORDER_SLOTS`` := (id, filled + q), filled reset for a new id."""
        slot = order_id % ORDER_SLOTS
        if self.orders is None:
            self.orders = {}
        sid, filled = self.orders.get(slot) or self.src.orders.get(slot, (0, 0))
        self.orders[slot] = (order_id, (filled if sid == order_id else 0) + q)

    def account(self) -> Account:
        src = self.src
        orders = dict(src.orders)
        if self.orders:
            orders.update(self.orders)
        return Account(src.pk, src.nonce, self.coll, self.positions, orders)


class PythonMatcher:
    """Every order through ``order`` (no compiled runs)."""

    def __init__(self) -> None:
        self.stats = {"matched": 0, "handed_back": 0}  # (counted by compiled runs only)

    def run(self, seq, reqs: list, pre: list, i: int, out: list, verified: bool) -> int:
        return i

    def order(self, seq, req: Order) -> tuple[Receipt, BookOps]:
        st = seq.state
        asset = validate(seq, req)
        aid, taker, side, flags = req.asset, req.account, req.side, req.flags
        book = seq.books.get(aid)
        if book is None:
            book = OrderBook(aid, seq.core)  # registered when the request is applied
        size = req.size
        if flags & REDUCE_ONLY:
            position = st.accounts[taker].balance(aid)
            room = -position if side == BUY else position
            check(room > 0, E.ReduceOnlyViolation, "reduce-only order would not reduce")
            size = min(size, room)
        if flags & POST_ONLY:
            check(not book.crosses(side, req.price), E.PostOnlyWouldCross,
                  "post-only order would take liquidity")

        o = st.oracle[aid]
        mark = o.price
        snap = o.funding_index if asset.kind == KIND_PERP else 0
        u, dva = under_of(st, aid), o.rows
        sums = seq._sums
        work: dict[int, _Work] = {}
        fills: list[Fill] = []
        records: list[bytes] = []
        plan: list[tuple[RestingOrder, int]] = []
        dropped: list[tuple[RestingOrder, str]] = []
        remaining = size
        note = ""
        time_now = st.time
        series_over = asset.kind != KIND_PERP and time_now >= asset.expiry
        maker_ppm, taker_ppm = asset.maker_fee, asset.taker_fee
        wt = None
        touched: set[int] = set()  # accounts a fill changed (only those are written)
        for m in book.makers(side, req.price):
            if remaining == 0:
                break
            if m.expiry < time_now or series_over:
                dropped.append((m, "expired"))
                continue
            mk = m.account
            if mk == taker:
                dropped.append((m, "self-trade prevention: resting order cancelled"))
                continue
            if wt is None:
                wt = work[taker] = _Work(summary(st, taker, sums), aid, u)
            wm = work.get(mk)
            if wm is None:
                wm = work[mk] = _Work(summary(st, mk, sums), aid, u)
            q = m.remaining
            if remaining < q:
                q = remaining
            if m.flags & REDUCE_ONLY:
                mpos = wm.bal
                q = min(q, mpos if m.side == SELL else -mpos)
                if q <= 0:
                    dropped.append((m, "reduce-only order would not reduce"))
                    continue
            price = m.price
            notional = q * price
            maker_fee = notional * maker_ppm // RISK_SCALE
            taker_fee = notional * taker_ppm // RISK_SCALE
            # the circuit proves each fee < 2^64 (the record no longer carries them, so nothing
            # else would refuse a larger one: a fill no batch could prove)
            check(maker_fee < _FEE_LIMIT and taker_fee < _FEE_LIMIT, E.InvalidRequest,
                  "a fee does not fit its 64-bit field")
            fees = maker_fee + taker_fee
            wf = None
            if fees:
                check(FEE_ACCOUNT in st.accounts, E.InvalidRequest, "no fee account")
                if FEE_ACCOUNT != taker and FEE_ACCOUNT != mk:
                    wf = work.get(FEE_ACCOUNT)
                    if wf is None:
                        wf = work[FEE_ACCOUNT] = _Work(summary(st, FEE_ACCOUNT, sums), aid, u)
            if side == BUY:
                nt, nm = wt.bal + q, wm.bal - q
                wt.check_balance(aid, nt)  # the buyer's, then the seller's
                wm.check_balance(aid, nm)
                dt, dm = -notional - taker_fee, notional - maker_fee
            else:
                nt, nm = wt.bal - q, wm.bal + q
                wm.check_balance(aid, nm)
                wt.check_balance(aid, nt)
                dt, dm = notional - taker_fee, -notional - maker_fee
            if fees:
                if FEE_ACCOUNT == taker:
                    dt += fees
                elif FEE_ACCOUNT == mk:
                    dm += fees
                elif not -_COLLATERAL_LIMIT <= wf.coll + fees < _COLLATERAL_LIMIT:
                    raise E.InvalidRequest("collateral out of range")
            if not (-_COLLATERAL_LIMIT <= wt.coll + dt < _COLLATERAL_LIMIT
                    and -_COLLATERAL_LIMIT <= wm.coll + dm < _COLLATERAL_LIMIT):
                raise E.InvalidRequest("collateral out of range")
            # margin is checked fill by fill, against the account just before the fill (the
            # rule the batch circuit proves per slot)
            vm = wm.v + dm + (nm - wm.bal) * mark
            lum, rm = wm.after(nm - wm.bal, dva)
            if not allowed(wm.v, wm.r, vm, rm):
                dropped.append((m, "maker under initial margin"))
                continue
            vt = wt.v + dt + (nt - wt.bal) * mark
            lut, rt = wt.after(nt - wt.bal, dva)
            if not allowed(wt.v, wt.r, vt, rt):
                check(bool(fills), E.InsufficientMargin,
                      f"account {taker} would be under initial margin")
                note = "stopped: further fills would breach initial margin"
                break
            wt.coll += dt
            wm.coll += dm
            if wf is not None:
                wf.coll += fees
                wf.v += fees
                touched.add(FEE_ACCOUNT)
            touched.add(taker)
            touched.add(mk)
            wm.set_balance(aid, nm, snap, vm, rm, lum)
            wt.set_balance(aid, nt, snap, vt, rt, lut)
            # an order slot holds (id, filled): a fill adds to it while the id is the same
            wm.fill_order(m.order_id, q)
            wt.fill_order(req.order_id, q)
            fills.append(Fill(mk, taker, m.order_id, req.order_id, aid, q, price, side,
                              maker_fee, taker_fee))
            if side == BUY:
                records.append(trade_record(taker, mk, aid, q, price, req.order_id,
                                            m.order_id, True))
            else:
                records.append(trade_record(mk, taker, aid, q, price, m.order_id,
                                            req.order_id, False))
            plan.append((m, q))
            remaining -= q

        if flags & (IOC | MARKET):
            check(bool(fills), E.NoLiquidity, "nothing to match within the limit price")
            rest = 0
        else:
            rest = 0 if note else remaining
        if rest and not flags & REDUCE_ONLY:
            # resting-order margin (rollup.margin.resting), against the account before the order
            if wt is None:
                wt = _Work(summary(st, taker, sums), aid, u)  # read only: nothing traded
            signed_rest = rest if side == BUY else -rest
            hb = wt.bal + signed_rest
            wt.check_balance(aid, hb)
            vh = wt.v - signed_rest * req.price + signed_rest * mark
            rh = wt.r + RISK_SCALE * (worst(shifted(wt.lu, signed_rest, dva)) - worst(wt.lu))
            dv, dr = resting_worst(st, totals_of(seq.core, seq._wide_totals, taker),
                                   wt.positions, aid, hb)
            if not allowed(wt.v0, wt.r0, vh + dv, rh + dr):
                check(bool(fills), E.InsufficientMargin,
                      f"account {taker}: resting order would breach initial margin")
                rest, note = 0, "remainder cancelled: resting it would breach initial margin"

        for i in sorted(touched):
            w = work[i]
            acc = w.account()
            st.put_account(i, acc)
            # settled: what ``summary`` would compute
            store(st, i, acc, w.v, w.r, w.all_losses(), sums)
        receipt = Receipt(0, 0, records, fills,
                          [(m.account, m.order_id, why) for m, why in dropped] if dropped else [],
                          rest, note)
        return receipt, [lambda: apply_book(seq, req, book, plan, dropped, rest)]
