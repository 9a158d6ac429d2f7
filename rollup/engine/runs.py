"""The compiled matcher: runs of consecutive orders through the matching kernel
(``rollup.engine.kernel.match_run``), with the Python matcher's results.

``run`` admits into a run the orders whose checks that need Python objects pass now (account,
signature, order id, slot) and that cannot interfere with each other (no (account, order slot)
twice); the kernel checks the rest and hands back every order it cannot decide exactly as
``PythonMatcher.order`` would (every rejection among them), which then goes through
``Sequencer.apply_verified``. ``_results`` turns a kernel call's outputs into the same receipts,
records, journal rows, book bookkeeping and account objects, once per call. Runs need deferred
roots (the sequencer sends them here only then); single orders go through ``order``.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from rollup import errors as E
from rollup.engine import core as C
from rollup.engine import kernel as K
from rollup.engine.matching import PythonMatcher
from rollup.engine.orderbook import OrderBook
from rollup.engine.orders import ORDER_SLOTS
from rollup.engine.receipts import Fill, Receipt, trade_record
from rollup.margin import resting as R
from rollup.state.state import FEE_ACCOUNT, Account
from rollup.transactions import BUY, REDUCE_ONLY, SELL, Order

# the kernel's codes for why a maker was dropped, and for a receipt's note
_WHY = {K.WHY_EXPIRED: "expired",
        K.WHY_SELF: "self-trade prevention: resting order cancelled",
        K.WHY_REDUCE: "reduce-only order would not reduce",
        K.WHY_MARGIN: "maker under initial margin"}
_NOTES = {K.NOTE_NONE: "", K.NOTE_STOPPED: "stopped: further fills would breach initial margin",
          K.NOTE_CANCELLED: "remainder cancelled: resting it would breach initial margin"}
# an order's fields as the kernel's input columns (Q_ACCT.. and QU_..)
_Q_INT = attrgetter("account", "asset", "side", "size", "flags")
_Q_UINT = attrgetter("order_id", "price", "expiry")
_I64, _U64 = 1 << 63, 1 << 64


class CompiledMatcher(PythonMatcher):
    """Runs through the kernel (at most ``run_cap`` orders a call), single orders and handed-back
    ones through ``PythonMatcher.order``; ``stats`` counts both."""

    def __init__(self, run_cap: int = 4096) -> None:
        super().__init__()
        self.run_cap = run_cap

    def run(self, seq, reqs: list, pre: list, i: int, out: list, verified: bool) -> int:
        st = seq.state
        core = seq.core
        core.sync(st)
        accounts = st.accounts
        seen, live = seq.seen_orders, seq.live
        row_loaded = core.row_loaded
        index = core.index
        run: list[Order] = []
        rows: list[int] = []
        slots: set[tuple[int, int]] = set()
        n = min(len(reqs), i + self.run_cap)
        j = i
        while j < n:
            req = reqs[j]
            if type(req) is not Order:
                break
            a = req.account
            acc = accounts.get(a)
            if acc is None or a == FEE_ACCOUNT:  # ``validate`` rejects it
                break
            if not verified:
                p = pre[j]
                if p is not None and p[0] == acc.pk:
                    if not p[1]:
                        break  # ``submit`` rejects it at its turn
                else:  # no answer for this key: verify now, as ``submit`` would
                    try:
                        if not seq._verify(req, acc.pk, seq.domain):
                            break
                    except Exception:  # raised again by ``submit`` at the request's turn
                        break
            oid = req.order_id
            if type(oid) is not int or oid <= 0:
                break
            key = (a, oid % ORDER_SLOTS)
            if key in slots or key in live or (a, oid) in seen:
                break
            stored = acc.orders.get(key[1])
            if stored is not None and oid <= stored[0]:
                break
            slots.add(key)
            run.append(req)
            r = index.get(a)
            rows.append(r if r is not None else row_loaded(a, accounts))
            j += 1
        if not run:
            return i
        fi, fu_ = list(map(_Q_INT, run)), list(map(_Q_UINT, run))
        m = len(run)
        qi = np.empty((m, K.N_Q), np.int64)
        try:
            if {type(x) for t in fi for x in t} | {type(x) for t in fu_ for x in t} != {int}:
                raise TypeError
            qi[:, K.Q_ACCT:] = fi
            qu = np.array(fu_, np.uint64)
        except (TypeError, OverflowError, ValueError):
            # a field the arrays cannot hold: the run stops before the first such order (which
            # the Python path then decides on its own)
            cut = next(k for k, (a, b) in enumerate(zip(fi, fu_, strict=True))
                       if not all(type(x) is int and -_I64 <= x < _I64 for x in a)
                       or not all(type(x) is int and 0 <= x < _U64 for x in b))
            if cut == 0:
                return i
            del run[cut:], rows[cut:], fi[cut:], fu_[cut:]
            m = cut
            qi = np.empty((m, K.N_Q), np.int64)
            qi[:, K.Q_ACCT:] = fi
            qu = np.array(fu_, np.uint64)
        qi[:, K.Q_ROW] = rows
        res = np.zeros((m, K.N_R), np.int64)
        start = 0
        while start < m:
            core.reserve(m - start)
            buf = K.outputs(res, 4 * (m - start) + 64)
            core.g[C.G_RUN] += 1
            k, how = K.match_run(K.books_of(core), K.mirror_of(core), K.assets_of(core), qi, qu,
                                 start, buf)
            self._results(seq, run, start, k, buf, out)
            self.stats["matched"] += k - start
            if how == K.DONE:
                break
            if how == K.FULL and k > start:
                start = k
                continue
            # BAIL (or one order needing more than a call's buffers): the Python path
            self.stats["handed_back"] += 1
            try:
                out.append(seq.apply_verified(run[k]))
            except E.EngineError as exc:
                out.append(exc)
            start = k + 1
            if start < m:
                core.sync(st)
        return i + m

    def _results(self, seq, run: list[Order], start: int, stop: int, buf: tuple,
                 out: list) -> None:
        """Receipts, records, journal rows, book and order-slot bookkeeping and the written
        accounts for orders ``start..stop`` of a kernel call (what ``apply_verified`` and
        ``rollup.engine.orders.apply_book`` do for one order)."""
        if stop <= start:
            return
        st = seq.state
        core = seq.core
        res, fo, fu, do, du, tr, counts = buf  # (kernel.OUT)
        nf, nd, nt = (int(x) for x in counts)
        fol, ful = fo[:nf].tolist(), fu[:nf].tolist()
        dol, dul = do[:nd].tolist(), du[:nd].tolist()
        resl = res[start:stop].tolist()
        group = seq._group if seq.journal is not None else None
        live, resting, seen = seq.live, seq.resting, seq.seen_orders
        wide = seq._wide_totals
        accounts = st.accounts
        records_all = seq.records
        # (account, order id) -> size filled in this call: an order slot holds (id, filled),
        # filled reset for a new id; within a run all fills written to one (account, slot) are
        # of one order (``run`` admits no order whose slot is live or used in the run)
        filled_in: dict[tuple[int, int], int] = {}
        why_text = _WHY
        notes = _NOTES
        n = seq.seq
        books = seq.books
        last_aid, bh = None, None
        for k in range(start, stop):
            req = run[k]
            f0, nfk, d0, ndk, rest, note, hr, filled = resl[k - start]
            taker, aid, toid = req.account, req.asset, req.order_id
            if aid != last_aid:
                book = books.get(aid)
                if book is None:
                    book = books[aid] = OrderBook(aid, core)
                last_aid, bh = aid, book._h
            dropped = []
            if ndk:
                for x in range(d0, d0 + ndk):
                    _, why, mk, rem, mside, mflags = dol[x]
                    moid, mprice = dul[x]
                    dropped.append((mk, moid, why_text[why]))
                    if mk in wide and not mflags & REDUCE_ONLY:  # (the kernel did the others)
                        R.add(core, wide, mk, aid, mside, mprice, -rem, accounts)
                    live.pop((mk, moid % ORDER_SLOTS), None)
                    resting.pop((mk, moid), None)
                    bh.pop((mk, moid), None)
            fills, records = [], []
            if nfk:
                side = req.side
                mside = SELL if side == BUY else BUY
                for x in range(f0, f0 + nfk):
                    _, q, mfee, tfee, mk, mflags, done = fol[x]
                    moid, price = ful[x]
                    fills.append(Fill(mk, taker, moid, toid, aid, q, price, side, mfee, tfee))
                    if side == BUY:
                        records.append(trade_record(taker, mk, aid, q, price, toid, moid, True))
                    else:
                        records.append(trade_record(mk, taker, aid, q, price, moid, toid, False))
                    if mk in wide and not mflags & REDUCE_ONLY:
                        R.add(core, wide, mk, aid, mside, price, -q, accounts)
                    key = (mk, moid)
                    if done:
                        live.pop((mk, moid % ORDER_SLOTS), None)
                        resting.pop(key, None)
                        bh.pop(key, None)
                    filled_in[key] = filled_in.get(key, 0) + q
                records_all.extend(records)
            key = (taker, toid)
            if filled:
                filled_in[key] = filled_in.get(key, 0) + filled
            seen.add(key)
            if rest:
                bh[key] = hr  # (the kernel counted it: the taker's row is not wide)
                live[(taker, toid % ORDER_SLOTS)] = (aid, toid)
                resting[key] = req
            n += 1
            if group is not None:
                group.append((n, req, fills))
            out.append(Receipt(n, None, records, fills, dropped, rest, notes[note]))
        seq.seq = n
        overlay: dict[int, dict[int, tuple[int, int]]] = {}
        for (acct, oid), q in filled_in.items():
            ov = overlay.get(acct)
            if ov is None:
                ov = overlay[acct] = {}
            slot = oid % ORDER_SLOTS
            cur = accounts[acct].orders.get(slot, (0, 0))
            ov[slot] = (oid, (cur[1] if cur[0] == oid else 0) + q)
        if nt:
            rows = tr[:nt]
            ids = core.ai[rows, C.A_ID].tolist()
            colls = core.ai[rows, C.A_COLL].tolist()
            pas, pbs, pss = core.pa[rows].tolist(), core.pb[rows].tolist(), core.ps[rows].tolist()
            st.begin()
            for x, i in enumerate(ids):
                src = accounts[i]
                orders = dict(src.orders)
                ov = overlay.get(i)
                if ov:
                    orders.update(ov)
                acc = Account(src.pk, src.nonce, colls[x],
                              list(zip(pas[x], pbs[x], pss[x], strict=True)), orders)
                st.put_account(i, acc)
            st.commit(defer=True)
            core.committed(ids, accounts)
