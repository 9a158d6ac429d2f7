"""The sequencer: the single writer that validates requests, matches orders and updates the state.

Every request goes through the same steps: verify its signature against the key committed in the
state, validate it and build the new account values on working copies (nothing in the state or
the books changes yet), journal it, then apply: state commit (new root) and book changes. Any
typed error before the journal write rolls back, so a rejected request leaves the root, every
balance and every book exactly as they were. A journaled request is acknowledged; replaying the
journal through ``apply_verified`` reproduces the same state, since every step is a
deterministic function of the state and the request (time is the oracle's, never the clock's).

Deposits and forced withdrawals (read from the L1 priority queue), expiry settlements, and the
operator's listings (ListAsset, SetOracleKey) carry no signature: only the queue reader and the
operator may pass them in; user-facing endpoints must accept signed request types only.
Matching policy: price-time priority, trades at the maker's price, self-trade prevention cancels
the resting order, a maker that would breach margin is cancelled and matching goes on, a taker
that would breach margin stops (rejected if nothing filled), a resting remainder must be
affordable at its limit price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from circuits.babyjubjub import pack_point
from circuits.eddsa import public_key_is_safe
from rollup import errors as E
from rollup.engine.orderbook import OrderBook, RestingOrder
from rollup.margin.risk import (
    account_value,
    excess,
    is_healthy,
    is_liquidatable,
    settle_funding,
    trade_allowed,
)
from rollup.state.encoding import (
    AMOUNT_BITS,
    BALANCE_BITS,
    COLLATERAL_BITS,
    FUNDING_BITS,
    KIND_CALL,
    KIND_PERP,
    ORDER_ID_BITS,
    ORDER_TREE_DEPTH,
    PRICE_BITS,
    RISK_SCALE,
    TIME_BITS,
    fits,
    fits_unsigned,
)
from rollup.state.state import EMPTY_SLOT, FEE_ACCOUNT, Account, Asset, OracleEntry, State
from rollup.transactions import (
    BUY,
    IOC,
    MARKET,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    T_DEPOSIT,
    T_EXPIRY_SETTLEMENT,
    T_FORCED_WITHDRAWAL,
    T_FUNDING,
    T_LIQUIDATION,
    T_LIST_ASSET,
    T_ORACLE,
    T_SET_ORACLE_KEY,
    T_SETTLEMENT_PRICE,
    T_TRADE,
    T_TRANSFER,
    T_WITHDRAWAL,
    Cancel,
    Deposit,
    Domain,
    ExpirySettlement,
    ForcedWithdrawal,
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
    encode_record,
)

ORDER_SLOTS = 1 << ORDER_TREE_DEPTH


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


def _check(cond: bool, exc: type[E.EngineError], reason: str) -> None:
    if not cond:
        raise exc(reason)


def _set_balance(acc: Account, asset: Asset, b: int, funding: int) -> None:
    """Write the balance of ``asset`` (allocating or freeing its slot)."""
    _check(fits(b, BALANCE_BITS), E.InvalidRequest, "balance out of range")
    j = acc.slot_of(asset.asset_id)
    if j is None:
        if b == 0:
            return
        j = acc.slot_of(0)
        _check(j is not None, E.NoPositionSlot, f"no free position slot for asset {asset.asset_id}")
    snap = funding if asset.kind == KIND_PERP else 0
    acc.positions[j] = (asset.asset_id, b, snap) if b else EMPTY_SLOT


def _check_collateral(acc: Account) -> None:
    _check(fits(acc.collateral, COLLATERAL_BITS), E.InvalidRequest, "collateral out of range")


class Sequencer:
    def __init__(self, state: State, domain: Domain, journal=None,
                 verify: Callable[[Request, tuple[int, int], Domain], bool] | None = None) -> None:
        self.state = state
        self.domain = domain
        self.journal = journal
        self._verify = verify or (lambda req, pk, dom: req.verify(pk, dom))
        self.books: dict[int, OrderBook] = {}
        self.live: dict[tuple[int, int], tuple[int, int]] = {}  # (account, slot) -> (asset, id)
        self.seen_orders: set[tuple[int, int]] = set()
        # the signed orders resting in the books: a fill's batch slot proves both signatures
        self.resting: dict[tuple[int, int], Order] = {}
        self.seq = 0
        self.records: list[bytes] = []  # public data of the applied, not yet batched txs
        self.defer_root = False  # when True, commits queue leaves and ``flush`` hashes them

    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d["journal"] = None
        d["_verify"] = None
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        self._verify = lambda req, pk, dom: req.verify(pk, dom)

    # --- entry points ---------------------------------------------------------------------------

    def submit(self, req: Request) -> Receipt:
        """Verify, validate, journal and apply one request (or raise a typed error, unchanged)."""
        if req.SIGNED:
            pk = self._signer_key(req)
            _check(self._verify(req, pk, self.domain), E.BadSignature,
                   f"{type(req).__name__} signature does not verify")
        return self.apply_verified(req)

    def apply_verified(self, req: Request) -> Receipt:
        """``submit`` without the signature check: for journal replay, and for callers that
        verified the signature already (e.g. a verifier pool in front of the sequencer)."""
        handler = self._handlers[type(req)]
        state = self.state
        state.begin()
        try:
            receipt, book_ops = handler(self, req)
            if self.journal is not None:
                self.journal.append(self.seq + 1, req)
        except BaseException:
            state.rollback()
            raise
        self.seq += 1
        receipt.seq = self.seq
        receipt.root = state.commit(defer=self.defer_root)
        for op in book_ops:
            op()
        self.records.extend(receipt.records)
        return receipt

    def flush(self) -> int:
        return self.state.flush()

    def _signer_key(self, req: Request) -> tuple[int, int]:
        if isinstance(req, OracleUpdate | FundingTick | SettlementPrice):
            _check(self.state.oracle_pk != (0, 0), E.BadOracle, "no oracle key registered")
            return self.state.oracle_pk
        who = {Transfer: "sender", Liquidation: "liquidator"}.get(type(req), "account")
        return self.state.account(getattr(req, who)).pk

    def book(self, asset: int) -> OrderBook:
        b = self.books.get(asset)
        if b is None:
            b = self.books[asset] = OrderBook(asset)
        return b

    # --- helpers --------------------------------------------------------------------------------

    def _asset(self, asset_id: int) -> Asset:
        a = self.state.assets.get(asset_id)
        _check(a is not None, E.UnknownMarket, f"asset {asset_id} is not listed")
        return a

    def _expiry(self, expiry: int) -> None:
        _check(expiry >= self.state.time, E.Expired,
               f"expired at {expiry}, state time is {self.state.time}")

    def _nonce(self, acc: Account, nonce: int) -> None:
        _check(nonce == acc.nonce, E.StaleNonce, f"nonce {nonce}, account expects {acc.nonce}")

    def _working(self, i: int) -> Account:
        acc = self.state.account(i).copy()
        settle_funding(self.state, acc)
        return acc

    def _funding(self, asset: Asset) -> int:
        return self.state.oracle[asset.asset_id].funding_index

    # --- collateral -----------------------------------------------------------------------------

    def _deposit(self, req: Deposit):
        _check(fits_unsigned(req.amount, AMOUNT_BITS), E.InvalidRequest, "amount out of range")
        st = self.state
        existing = st.accounts.get(req.account)
        if existing is None:
            _check(public_key_is_safe(req.pk), E.UnsafeKey, "key off the curve or small order")
            acc = st.create_account(req.account, tuple(req.pk))
        else:
            _check(tuple(existing.pk) == tuple(req.pk), E.AccountExists,
                   f"account {req.account} holds another key")
            acc = st.edit_account(req.account)
        acc.collateral += req.amount
        _check_collateral(acc)
        rec = encode_record(T_DEPOSIT, account=req.account,
                            l2_key=int.from_bytes(pack_point(req.pk), "big"), amount=req.amount)
        return Receipt(0, 0, [rec]), []

    def _debit(self, i: int, amount: int) -> Account:
        """Working copy of account i after paying ``amount`` out (collateral and margin checked)."""
        _check(0 < amount and fits_unsigned(amount, AMOUNT_BITS), E.InvalidRequest,
               "amount must be positive and fit 64 bits")
        acc = self._working(i)
        equity = account_value(self.state, acc)
        _check(amount <= equity, E.InsufficientCollateral,
               f"account {i} is worth {equity}, asked {amount}")
        acc.collateral -= amount
        _check(is_healthy(self.state, acc), E.InsufficientMargin,
               f"account {i} would be under initial margin")
        return acc

    def _withdrawal(self, req: Withdrawal):
        acc = self.state.account(req.account)
        self._nonce(acc, req.nonce)
        self._expiry(req.expiry)
        _check(fits_unsigned(req.to, 160), E.InvalidRequest, "L1 address out of range")
        new = self._debit(req.account, req.amount)
        new.nonce += 1
        self.state.put_account(req.account, new)
        rec = encode_record(T_WITHDRAWAL, account=req.account, amount=req.amount, to=req.to,
                            nonce=req.nonce)
        return Receipt(0, 0, [rec]), []

    def _forced_withdrawal(self, req: ForcedWithdrawal):
        # An L1 queue entry is always consumed: when it cannot be paid, it publishes paid = 0.
        paid = 0
        try:
            _check(fits_unsigned(req.to, 160), E.InvalidRequest, "L1 address out of range")
            new = self._debit(req.account, req.amount)
            self.state.put_account(req.account, new)
            paid = req.amount
        except E.EngineError as exc:
            note = f"not paid: {exc.reason}"
        else:
            note = "paid"
        rec = encode_record(T_FORCED_WITHDRAWAL, account=req.account,
                            requested=min(req.amount, (1 << 64) - 1), paid=paid,
                            to=req.to if fits_unsigned(req.to, 160) else 0)
        return Receipt(0, 0, [rec], note=note), []

    def _transfer(self, req: Transfer):
        acc = self.state.account(req.sender)
        self._nonce(acc, req.nonce)
        self._expiry(req.expiry)
        _check(req.sender != req.receiver, E.InvalidRequest, "transfer to self")
        self.state.account(req.receiver)
        new = self._debit(req.sender, req.amount)
        new.nonce += 1
        dst = self._working(req.receiver)
        dst.collateral += req.amount
        _check_collateral(dst)
        self.state.put_account(req.sender, new)
        self.state.put_account(req.receiver, dst)
        rec = encode_record(T_TRANSFER, sender=req.sender, receiver=req.receiver,
                            amount=req.amount, nonce=req.nonce)
        return Receipt(0, 0, [rec]), []

    # --- orders ---------------------------------------------------------------------------------

    def _validate_order(self, req: Order) -> Asset:
        st = self.state
        acc = st.account(req.account)
        asset = self._asset(req.asset)
        _check(req.side in (BUY, SELL), E.InvalidRequest, "side must be 0 (buy) or 1 (sell)")
        _check(0 < req.size and fits(req.size, BALANCE_BITS), E.InvalidRequest, "bad size")
        _check(0 < req.price and fits_unsigned(req.price, PRICE_BITS), E.InvalidRequest,
               "bad price")
        _check(0 < req.order_id and fits_unsigned(req.order_id, ORDER_ID_BITS),
               E.InvalidRequest, "order id must be in 1..2**64-1")
        _check(0 <= req.flags < 16, E.InvalidRequest, "unknown flags")
        _check(not (req.flags & POST_ONLY and req.flags & (IOC | MARKET)), E.InvalidRequest,
               "post-only cannot be IOC or market")
        self._expiry(req.expiry)
        if asset.is_option:
            _check(st.time < asset.expiry, E.Expired, f"series {asset.asset_id} has expired")
        _check(st.oracle[asset.asset_id].price > 0, E.UnknownMarket,
               f"asset {asset.asset_id} has no oracle price yet")
        slot = req.order_id % ORDER_SLOTS
        stored_id, _ = acc.orders.get(slot, (0, 0))
        _check((req.account, req.order_id) not in self.seen_orders and req.order_id > stored_id,
               E.OrderIdReused, f"order id {req.order_id} already used")
        _check((req.account, slot) not in self.live, E.OrderIdReused,
               f"order slot {slot} holds a resting order")
        return asset

    @staticmethod
    def _fee(notional: int, ppm: int) -> int:
        return notional * ppm // RISK_SCALE

    def _order(self, req: Order):
        st = self.state
        asset = self._validate_order(req)
        book = self.books.get(req.asset)
        if book is None:
            book = OrderBook(req.asset)  # registered when the request is applied
        size = req.size
        position = st.account(req.account).balance(req.asset)
        if req.flags & REDUCE_ONLY:
            room = -position if req.side == BUY else position
            _check(room > 0, E.ReduceOnlyViolation, "reduce-only order would not reduce")
            size = min(size, room)
        if req.flags & POST_ONLY:
            _check(not book.crosses(req.side, req.price), E.PostOnlyWouldCross,
                   "post-only order would take liquidity")
        immediate = bool(req.flags & (IOC | MARKET))

        originals: dict[int, Account] = {}
        work: dict[int, Account] = {}

        def get(i: int) -> Account:
            if i not in work:
                originals[i] = st.account(i)
                work[i] = self._working(i)
            return work[i]

        touched: set[int] = set()
        fills: list[Fill] = []
        dropped: list[tuple[RestingOrder, str]] = []
        remaining = size
        note = ""
        taker_slot = req.order_id % ORDER_SLOTS
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
            maker_fee = self._fee(notional, asset.maker_fee)
            taker_fee = self._fee(notional, asset.taker_fee)
            fees = maker_fee + taker_fee
            ids = {buyer, seller}
            if fees:
                _check(FEE_ACCOUNT in st.accounts, E.InvalidRequest, "no fee account")
                ids.add(FEE_ACCOUNT)
            cand = {i: get(i).copy() for i in ids}
            b, s = cand[buyer], cand[seller]
            funding = self._funding(asset)
            _set_balance(b, asset, b.balance(req.asset) + q, funding)
            _set_balance(s, asset, s.balance(req.asset) - q, funding)
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
                _check_collateral(acc)
            # margin is checked fill by fill, against the account just before the fill (the
            # rule the batch circuit proves per slot)
            if not trade_allowed(st, get(m.account), cand[m.account]):
                dropped.append((m, "maker under initial margin"))
                continue
            if not trade_allowed(st, get(req.account), cand[req.account]):
                _check(bool(fills), E.InsufficientMargin,
                       f"account {req.account} would be under initial margin")
                note = "stopped: further fills would breach initial margin"
                break
            work.update(cand)
            touched.update(cand)
            fills.append(Fill(m.account, req.account, m.order_id, req.order_id, req.asset, q,
                              m.price, req.side, maker_fee, taker_fee))
            remaining -= q

        if immediate:
            _check(bool(fills), E.NoLiquidity, "nothing to match within the limit price")
            rest = 0
        else:
            rest = 0 if note else remaining
        if rest and not req.flags & REDUCE_ONLY:
            # a resting order must be affordable if it fills entirely at its limit price
            before = originals.get(req.account) or st.account(req.account)
            hyp = (work.get(req.account) or self._working(req.account)).copy()
            signed_rest = rest if req.side == BUY else -rest
            _set_balance(hyp, asset, hyp.balance(req.asset) + signed_rest, self._funding(asset))
            hyp.collateral -= signed_rest * req.price
            if not trade_allowed(st, before, hyp):
                _check(bool(fills), E.InsufficientMargin,
                       f"account {req.account}: resting order would breach initial margin")
                rest, note = 0, "remainder cancelled: resting it would breach initial margin"

        for i in sorted(touched):
            st.put_account(i, work[i])
        records = []
        for f in fills:
            buyer, seller = (f.taker, f.maker) if f.taker_side == BUY else (f.maker, f.taker)
            bo, so = ((f.taker_order, f.maker_order) if f.taker_side == BUY
                      else (f.maker_order, f.taker_order))
            bf, sf = ((f.taker_fee, f.maker_fee) if f.taker_side == BUY
                      else (f.maker_fee, f.taker_fee))
            records.append(encode_record(T_TRADE, buyer=buyer, seller=seller, asset=f.asset,
                                         size=f.size, price=f.price, buyer_order=bo,
                                         seller_order=so, buyer_fee=bf, seller_fee=sf))

        def apply_book() -> None:
            self.books.setdefault(req.asset, book)
            for m, _ in dropped:
                self._unrest(book, m)
            for f in fills:
                m = book.get(f.maker, f.maker_order)
                if m is not None:
                    book.fill(m, f.size)
                    if not m.live:
                        self.live.pop((m.account, m.order_id % ORDER_SLOTS), None)
                        self.resting.pop((m.account, m.order_id), None)
            self.seen_orders.add((req.account, req.order_id))
            if rest:
                book.add(req.account, req.order_id, req.side, req.price, req.size, rest,
                         req.expiry, req.flags)
                self.live[(req.account, taker_slot)] = (req.asset, req.order_id)
                self.resting[(req.account, req.order_id)] = req

        receipt = Receipt(0, 0, records, fills,
                          [(m.account, m.order_id, why) for m, why in dropped], rest, note)
        return receipt, [apply_book]

    def _unrest(self, book: OrderBook, m: RestingOrder) -> None:
        book.remove(m)
        self.live.pop((m.account, m.order_id % ORDER_SLOTS), None)
        self.resting.pop((m.account, m.order_id), None)

    def _cancel(self, req: Cancel):
        self.state.account(req.account)
        book = self.books.get(req.asset)
        m = book.get(req.account, req.order_id) if book is not None else None
        _check(m is not None, E.UnknownOrder, f"order {req.order_id} is not resting")
        return Receipt(0, 0, note="cancelled"), [lambda: self._unrest(book, m)]

    # --- oracle ---------------------------------------------------------------------------------

    def _oracle_time(self, t: int) -> None:
        _check(fits_unsigned(t, TIME_BITS) and t >= self.state.time, E.BadOracle,
               f"oracle time {t} is before state time {self.state.time}")
        self.state.set_time(t)

    def _oracle_update(self, req: OracleUpdate):
        self._asset(req.asset)
        _check(0 < req.price and fits_unsigned(req.price, PRICE_BITS), E.BadOracle, "bad price")
        self._oracle_time(req.time)
        old = self.state.oracle[req.asset]
        self.state.set_oracle(req.asset, OracleEntry(req.price, old.funding_index,
                                                     old.settlement_price, old.settled))
        rec = encode_record(T_ORACLE, asset=req.asset, price=req.price, time=req.time)
        return Receipt(0, 0, [rec]), []

    def _funding_tick(self, req: FundingTick):
        asset = self._asset(req.asset)
        _check(asset.kind == KIND_PERP, E.UnknownMarket, "funding applies to perpetuals only")
        _check(fits(req.index, FUNDING_BITS), E.BadOracle, "funding index out of range")
        self._oracle_time(req.time)
        old = self.state.oracle[req.asset]
        self.state.set_oracle(req.asset, OracleEntry(old.price, req.index, 0, 0))
        rec = encode_record(T_FUNDING, asset=req.asset, index=req.index, time=req.time)
        return Receipt(0, 0, [rec]), []

    def _settlement_price(self, req: SettlementPrice):
        asset = self._asset(req.asset)
        _check(asset.is_option, E.UnknownMarket, "settlement applies to option series only")
        _check(fits_unsigned(req.price, PRICE_BITS), E.BadOracle, "bad price")
        self._oracle_time(req.time)
        _check(req.time >= asset.expiry, E.NotSettleable, "series has not expired")
        old = self.state.oracle[req.asset]
        _check(not old.settled, E.BadOracle, "series already settled")
        self.state.set_oracle(req.asset, OracleEntry(old.price, 0, req.price, 1))
        rec = encode_record(T_SETTLEMENT_PRICE, asset=req.asset, price=req.price, time=req.time)
        return Receipt(0, 0, [rec]), []

    # --- liquidation and settlement -------------------------------------------------------------

    def _liquidation(self, req: Liquidation):
        st = self.state
        lq = st.account(req.liquidator)
        self._nonce(lq, req.nonce)
        self._expiry(req.expiry)
        _check(req.liquidator != req.liquidated, E.InvalidRequest, "self-liquidation")
        asset = self._asset(req.asset)
        victim_before = st.account(req.liquidated)
        _check(is_liquidatable(st, victim_before), E.NotLiquidatable,
               f"account {req.liquidated} is above maintenance margin")
        b = victim_before.balance(req.asset)
        _check(b != 0, E.NotLiquidatable, "no position in that asset")
        _check(0 < req.size <= abs(b), E.InvalidRequest, "size must be in 1..|position|")
        delta = req.size if b > 0 else -req.size  # balance moving from victim to liquidator
        price = st.oracle[req.asset].price
        notional = req.size * price
        penalty = self._fee(notional, asset.liquidation_fee)
        victim, liq = self._working(req.liquidated), self._working(req.liquidator)
        funding = self._funding(asset)
        _set_balance(victim, asset, b - delta, funding)
        _set_balance(liq, asset, liq.balance(req.asset) + delta, funding)
        victim.collateral += delta * price - penalty
        liq.collateral += -delta * price + penalty
        liq.nonce += 1
        _check_collateral(victim)
        _check_collateral(liq)
        _check(excess(st, victim, maintenance=True) > excess(st, victim_before, maintenance=True),
               E.NotLiquidatable, "liquidation would not improve the account")
        _check(trade_allowed(st, lq, liq), E.InsufficientMargin,
               f"liquidator {req.liquidator} would be under initial margin")
        st.put_account(req.liquidated, victim)
        st.put_account(req.liquidator, liq)
        rec = encode_record(T_LIQUIDATION, liquidator=req.liquidator, liquidated=req.liquidated,
                            asset=req.asset, size=delta, price=price, penalty=penalty,
                            nonce=req.nonce)
        return Receipt(0, 0, [rec]), []

    def _expiry_settlement(self, req: ExpirySettlement):
        st = self.state
        asset = self._asset(req.asset)
        _check(asset.is_option, E.UnknownMarket, "not an option series")
        o = st.oracle[req.asset]
        _check(bool(o.settled), E.NotSettleable, "series has no settlement price yet")
        b = st.account(req.account).balance(req.asset)
        _check(b != 0, E.NotSettleable, "no position in that series")
        s, k = o.settlement_price, asset.strike
        intrinsic = max(s - k, 0) if asset.kind == KIND_CALL else max(k - s, 0)
        acc = self._working(req.account)
        acc.collateral += b * intrinsic
        _set_balance(acc, asset, 0, 0)
        _check_collateral(acc)
        st.put_account(req.account, acc)
        rec = encode_record(T_EXPIRY_SETTLEMENT, account=req.account, asset=req.asset,
                            payout=b * intrinsic)
        return Receipt(0, 0, [rec]), []

    # --- operator -------------------------------------------------------------------------------

    def _list_asset(self, req: ListAsset):
        _check(req.asset not in self.state.assets, E.InvalidRequest, "asset already listed")
        if req.kind != KIND_PERP:
            u = self._asset(req.underlying)
            _check(u.kind == KIND_PERP, E.UnknownMarket, "underlying must be a perpetual")
            _check(req.expiry > self.state.time, E.Expired, "series expiry in the past")
        ppm = (req.risk_initial, req.risk_maintenance, req.short_initial, req.short_maintenance,
               req.maker_fee, req.taker_fee, req.liquidation_fee)
        _check(all(0 <= x < 1 << 32 for x in ppm), E.InvalidRequest, "factors out of range")
        _check(req.risk_maintenance <= req.risk_initial
               and req.short_maintenance <= req.short_initial, E.InvalidRequest,
               "maintenance factors must not exceed initial ones")
        asset = Asset(req.asset, req.kind, req.risk_initial, req.risk_maintenance,
                      req.underlying, req.strike, req.expiry, req.short_initial,
                      req.short_maintenance, req.maker_fee, req.taker_fee, req.liquidation_fee)
        try:
            self.state.add_asset(asset)
        except ValueError as exc:
            raise E.InvalidRequest(str(exc)) from None
        rec = encode_record(T_LIST_ASSET, asset=req.asset, kind=req.kind,
                            underlying=req.underlying, strike=req.strike, expiry=req.expiry,
                            risk_initial=req.risk_initial, risk_maintenance=req.risk_maintenance,
                            short_initial=req.short_initial,
                            short_maintenance=req.short_maintenance, maker_fee=req.maker_fee,
                            taker_fee=req.taker_fee, liquidation_fee=req.liquidation_fee)
        return Receipt(0, 0, [rec]), []

    def _set_oracle_key(self, req: SetOracleKey):
        _check(public_key_is_safe(req.pk), E.UnsafeKey, "oracle key off curve or small order")
        self.state.set_oracle_key(tuple(req.pk))
        rec = encode_record(T_SET_ORACLE_KEY, pk_x=req.pk[0], pk_y=req.pk[1])
        return Receipt(0, 0, [rec]), []

    _handlers = {
        Deposit: _deposit, Withdrawal: _withdrawal, ForcedWithdrawal: _forced_withdrawal,
        Transfer: _transfer, Order: _order, Cancel: _cancel, OracleUpdate: _oracle_update,
        FundingTick: _funding_tick, SettlementPrice: _settlement_price,
        Liquidation: _liquidation, ExpirySettlement: _expiry_settlement,
        ListAsset: _list_asset, SetOracleKey: _set_oracle_key,
    }
