"""The compiled matching core: the order books in arrays, and a Numba kernel that matches a run
of orders against them with the sequencer's exact rules.

Why: matching one order in Python costs 28-75 us (dispatch, objects, dicts), far from 20 us an
order. Here the books, a mirror of the trading accounts and the resting-order totals are arrays;
``match_run`` validates, matches and margin-checks a whole run of orders in one call, and the
sequencer (``Sequencer._run_core``) turns its outputs into receipts, records and accounts once
per run.

Exactness. Every decision is the one ``Sequencer._order`` makes on Python integers. The kernel
handles the common case and *hands an order back* (``BAIL``) whenever it is not sure to decide it
the same way: any rejection (the Python path raises the typed error), a reduce-only taker, a
value outside the ranges below, a full working set. A handed-back order has changed nothing; the
sequencer applies it through ``_order``, which uses these same books (``OrderBook`` is a view).
Ranges: collateral and every per-position notional |b * p| below 2**62 (a position's notional at
the oracle price, and every fill's notional q * p, each fee and their sum, every funding payment
b * (F - snapshot), and every resting total), prices below 2**62, risk factors and fees below
2**31. Margin sums are exact 128-bit integers
(``rollup.engine.wide``): value < 2**66, value * 10**6 < 2**86, risk < 2**98.

Books. An order is a handle into the pool arrays (``oi`` int64 columns, ``ou`` uint64 columns).
Each (asset, side) has its price levels in a row of ``lp`` (price), ``lh`` / ``lt`` (head and
tail handles of the level's FIFO, doubly linked through O_NEXT / O_PREV), sorted worst first so
the best level is last (emptying it is O(1)). A removed order's handle goes to ``pend`` and is
reused only after ``release`` (the start of the next run or request), so handles named in the
outputs of a run stay readable until the caller has read them.

Accounts. Row r mirrors an account: collateral, the 8 position slots (asset, balance, funding
snapshot) and its resting totals per asset [bid size, bid notional, ask size, ask notional]
(``rt``). The sequencer loads rows from the state and invalidates them when the state changes an
account (``State.accounts`` records changed ids); rows written by the kernel are written back to
the state once per run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rollup.engine.wide import w, wadd, wlt, wmul, wsmall, wsub

# order pool, int64 columns
O_ACCT, O_ROW, O_SIDE, O_SIZE, O_REM, O_FLAGS, O_SEQ, O_NEXT, O_PREV, O_ASSET, O_LIVE, O_GEN = \
    range(12)
N_OI = 12
# order pool, uint64 columns
U_OID, U_PRICE, U_EXP = range(3)
N_OU = 3
# meta: pool high-water mark, free handles, pending handles, last sequence number
M_USED, M_NFREE, M_NPEND, M_SEQ, M_STAMP = range(5)
N_META = 5
# account rows
A_ID, A_COLL, A_FLAG, A_TOUCH = range(4)
N_AI = 4
F_LOADED, F_WIDE, F_RTWIDE = 1, 2, 4
SLOTS = 8
# assets (int64 columns; expiry in ``asu``)
S_LISTED, S_KIND, S_UNDER, S_RI, S_SI, S_MF, S_TF, S_PRICE, S_FUND, S_OK = range(10)
N_AS = 10
# globals: fee account row (-1: none), run stamp; time is ``gu[0]``
G_FEE_ROW, G_RUN = 0, 1
# run inputs: int64 columns, uint64 columns
Q_ROW, Q_ACCT, Q_ASSET, Q_SIDE, Q_SIZE, Q_FLAGS = range(6)
N_Q = 6
QU_OID, QU_PRICE, QU_EXP = range(3)
# per-order outputs
R_F0, R_NF, R_D0, R_ND, R_REST, R_NOTE, R_H, R_FILLED = range(8)
N_R = 8
# fill outputs (int64) and (uint64)
FO_H, FO_Q, FO_MFEE, FO_TFEE, FO_MACCT, FO_MFLAGS, FO_DONE = range(7)
N_FO = 7
FU_MOID, FU_PRICE = range(2)
# dropped-maker outputs
DO_H, DO_WHY, DO_MACCT, DO_REM, DO_SIDE, DO_FLAGS = range(6)
N_DO = 6
DU_MOID, DU_PRICE = range(2)
# why a maker was dropped / a note
WHY_EXPIRED, WHY_SELF, WHY_REDUCE, WHY_MARGIN = 1, 2, 3, 4
NOTE_NONE, NOTE_STOPPED, NOTE_CANCELLED = 0, 1, 2
# how a run ended
DONE, BAIL, FULL = 0, 1, 2

KIND_PERP = 1
BUY, SELL = 0, 1
POST_ONLY, IOC, REDUCE_ONLY, MARKET = 1, 2, 4, 8
RISK_SCALE = 1_000_000
BOUND = 1 << 62  # the kernel's range for amounts (see the module docstring)
UBOUND = np.uint64(BOUND)
LIMIT = (1 << 31)  # ... and for factors
BAL_MIN, BAL_MAX = -(1 << 63), (1 << 63) - 1
WORK = 64  # accounts one order may involve (taker, makers, fee account)


# --- books ---------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _find_level(lp, ln, r, price, bid):
    """(index, found) of ``price`` in level row r (sorted worst first: bids ascending, asks
    descending); index is where it would be inserted when not found."""
    lo, hi = 0, ln[r]
    while lo < hi:
        mid = (lo + hi) >> 1
        p = lp[r, mid]
        if p == price:
            return mid, True
        if (p < price) == bid:
            lo = mid + 1
        else:
            hi = mid
    return lo, False


@njit(cache=True)
def book_add(oi, ou, free, meta, lp, lh, lt, ln, asset, side, acct, row, oid, price, size, rem,
             expiry, flags):
    """Rest an order at the back of its level; its handle. The caller ensured capacity."""
    if meta[M_NFREE] > 0:
        meta[M_NFREE] -= 1
        h = free[meta[M_NFREE]]
    else:
        h = meta[M_USED]
        meta[M_USED] += 1
    meta[M_SEQ] += 1
    oi[h, O_ACCT] = acct
    oi[h, O_ROW] = row
    oi[h, O_SIDE] = side
    oi[h, O_SIZE] = size
    oi[h, O_REM] = rem
    oi[h, O_FLAGS] = flags
    oi[h, O_SEQ] = meta[M_SEQ]
    oi[h, O_ASSET] = asset
    oi[h, O_LIVE] = 1
    oi[h, O_GEN] += 1
    ou[h, U_OID] = oid
    ou[h, U_PRICE] = price
    ou[h, U_EXP] = expiry
    r = asset * 2 + side
    i, found = _find_level(lp, ln, r, price, side == BUY)
    if not found:
        n = ln[r]
        for k in range(n, i, -1):
            lp[r, k] = lp[r, k - 1]
            lh[r, k] = lh[r, k - 1]
            lt[r, k] = lt[r, k - 1]
        lp[r, i] = price
        lh[r, i] = -1
        lt[r, i] = -1
        ln[r] = n + 1
    tail = lt[r, i]
    oi[h, O_PREV] = tail
    oi[h, O_NEXT] = -1
    if tail >= 0:
        oi[tail, O_NEXT] = h
    else:
        lh[r, i] = h
    lt[r, i] = h
    return h


@njit(cache=True)
def book_remove(oi, ou, pend, meta, lp, lh, lt, ln, h):
    """Take a live order out of its level (dropping an emptied level); its handle waits in
    ``pend`` until ``release``."""
    side = oi[h, O_SIDE]
    r = oi[h, O_ASSET] * 2 + side
    i, found = _find_level(lp, ln, r, ou[h, U_PRICE], side == BUY)
    prev, nxt = oi[h, O_PREV], oi[h, O_NEXT]
    if prev >= 0:
        oi[prev, O_NEXT] = nxt
    else:
        lh[r, i] = nxt
    if nxt >= 0:
        oi[nxt, O_PREV] = prev
    else:
        lt[r, i] = prev
    if lh[r, i] < 0:
        n = ln[r] - 1
        for k in range(i, n):
            lp[r, k] = lp[r, k + 1]
            lh[r, k] = lh[r, k + 1]
            lt[r, k] = lt[r, k + 1]
        ln[r] = n
    oi[h, O_LIVE] = 0
    pend[meta[M_NPEND]] = h
    meta[M_NPEND] += 1


@njit(cache=True)
def release(free, pend, meta):
    """Make the handles removed since the last release reusable."""
    for k in range(meta[M_NPEND]):
        free[meta[M_NFREE]] = pend[k]
        meta[M_NFREE] += 1
    meta[M_NPEND] = 0


@njit(cache=True)
def side_handles(oi, lh, ln, r, out):
    """The live handles of level row r in priority order (best level first, FIFO within a
    level) into ``out``; their number."""
    k = 0
    for i in range(ln[r] - 1, -1, -1):
        h = lh[r, i]
        while h >= 0:
            out[k] = h
            k += 1
            h = oi[h, O_NEXT]
    return k


# --- margin --------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _risk(asi, a, b):
    """(ok, position risk of balance b in asset a at the initial factors): |b| * p * rf, plus
    |b| * p_underlying * sf for a short option; ok is False when a notional leaves the range."""
    if b == 0:
        return True, w(0)
    bp, ok = wsmall(wmul(w(b), w(asi[a, S_PRICE])), BOUND)
    if not ok:
        return False, w(0)
    r = wmul(w(abs(bp)), w(asi[a, S_RI]))
    if b < 0 and asi[a, S_KIND] != KIND_PERP:
        bu, ok = wsmall(wmul(w(b), w(asi[asi[a, S_UNDER], S_PRICE])), BOUND)
        if not ok:
            return False, w(0)
        r = wadd(r, wmul(w(-bu), w(asi[a, S_SI])))
    return True, r


@njit(cache=True, inline="always")
def _allowed(v0, r0, v1, r1):
    """``rollup.margin.risk.allowed``: healthy after, or less risk with no less excess."""
    scale = w(RISK_SCALE)
    ex1 = wsub(wmul(v1, scale), r1)
    if not wlt(ex1, w(0)):
        return True
    return wlt(r1, r0) and not wlt(ex1, wsub(wmul(v0, scale), r0))


# --- the run -------------------------------------------------------------------------------------

@njit(cache=True)
def _load(ai, pa, pb, ps, asi, row, k, wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot, wdirty,
          aid):
    """Working copy k of account row r with funding settled and its value and initial risk
    (``Sequencer._summary``); False when the row is outside the kernel's ranges."""
    fl = ai[row, A_FLAG]
    if fl & F_LOADED == 0 or fl & F_WIDE:
        return False
    coll = w(ai[row, A_COLL])
    v = w(0)
    r = w(0)
    wslot[k] = -1
    wbal[k] = 0
    for j in range(SLOTS):
        a, b, s = pa[row, j], pb[row, j], ps[row, j]
        wpa[k, j], wpb[k, j], wps[k, j] = a, b, s
        if a == 0:
            continue
        if asi[a, S_OK] == 0:
            return False
        if a == aid:
            wslot[k] = j
            wbal[k] = b
        if asi[a, S_KIND] == KIND_PERP:
            f = asi[a, S_FUND]
            if f != s:
                # each payment in range before summing: b * (f - s) reaches ~2**126 and 8 of
                # them could wrap 128 bits
                pay, ok = wsmall(wmul(w(b), wsub(w(f), w(s))), BOUND)
                if not ok:
                    return False
                coll = wsub(coll, w(pay))
                wps[k, j] = f
        bp, ok = wsmall(wmul(w(b), w(asi[a, S_PRICE])), BOUND)
        if not ok:
            return False
        v = wadd(v, w(bp))
        ok, rk = _risk(asi, a, b)
        if not ok:
            return False
        r = wadd(r, rk)
    c, ok = wsmall(coll, BOUND)
    if not ok:
        return False
    wrow[k] = row
    wcoll[k] = c
    v = wadd(v, w(c))
    wv[k, 0], wv[k, 1] = v
    wr[k, 0], wr[k, 1] = r
    wv[k, 2], wv[k, 3] = v  # value and risk before the order
    wr[k, 2], wr[k, 3] = r
    wdirty[k] = 0
    return True


@njit(cache=True)
def _resting_worst(rt, asi, row, wpa, wpb, k, aid, hb):
    """``Sequencer._resting_worst`` on the kernel's arrays: (ok, dv, dr) of the account's
    resting orders filling on their worst side per asset."""
    dv_t = w(0)
    dr_t = w(0)
    for a in range(rt.shape[1]):
        bq, bn, aq, an = rt[row, a, 0], rt[row, a, 1], rt[row, a, 2], rt[row, a, 3]
        if bq == 0 and aq == 0:
            continue
        if asi[a, S_OK] == 0:
            return False, w(0), w(0)
        if a == aid:
            b = hb
        else:
            b = 0
            for j in range(SLOTS):
                if wpa[k, j] == a:
                    b = wpb[k, j]
                    break
        price = asi[a, S_PRICE]
        ok, r_b = _risk(asi, a, b)
        if not ok:
            return False, w(0), w(0)
        best_ex = w(0)
        best_dv = w(0)
        best_dr = w(0)
        for c in range(2):
            q, n = (bq, bn) if c == 0 else (-aq, -an)
            if q == 0:
                continue
            qp, ok = wsmall(wmul(w(q), w(price)), BOUND)
            if not ok:
                return False, w(0), w(0)
            dv = w(qp - n)
            x, ok = wsmall(wadd(w(b), w(q)), BOUND)
            if not ok:
                return False, w(0), w(0)
            ok, rx = _risk(asi, a, x)
            if not ok:
                return False, w(0), w(0)
            dr = wsub(rx, r_b)
            ex = wsub(wmul(dv, w(RISK_SCALE)), dr)
            # (ex, dv, dr) < (best_ex, best_dv, best_dr), lexicographically
            if wlt(ex, best_ex) or (ex == best_ex and (wlt(dv, best_dv) or (
                    dv == best_dv and wlt(dr, best_dr)))):
                best_ex, best_dv, best_dr = ex, dv, dr
        dv_t = wadd(dv_t, best_dv)
        dr_t = wadd(dr_t, best_dr)
    return True, dv_t, dr_t


@njit(cache=True)
def _fee(notional, ppm):
    """(ok, notional * ppm // 10**6) for 0 <= notional < 2**62, ppm < 2**31, exactly; ok when
    the fee is below 2**62."""
    hi, ok = wsmall(wmul(w(notional // RISK_SCALE), w(ppm)), BOUND)
    fee = hi + (notional % RISK_SCALE) * ppm // RISK_SCALE  # < 2**62 + 2**31: no wrap
    return ok and fee < BOUND, fee


@njit(cache=True, inline="always")
def _work(ai, pa, pb, ps, asi, row, stamp, rw_stamp, rw_idx, nw, wrow, wcoll, wpa, wpb, wps,
          wv, wr, wbal, wslot, wdirty, aid):
    """(k, nw, how): the working copy k of row (loaded now if the order has none yet), the
    working set's new size, and DONE, FULL (no room) or BAIL (the row is out of range)."""
    if rw_stamp[row] == stamp:
        return rw_idx[row], nw, DONE
    if nw >= WORK:
        return -1, nw, FULL
    if not _load(ai, pa, pb, ps, asi, row, nw, wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot,
                 wdirty, aid):
        return -1, nw, BAIL
    rw_stamp[row], rw_idx[row] = stamp, nw
    return nw, nw + 1, DONE


@njit(cache=True)
def match_run(oi, ou, free, pend, meta, lp, lh, lt, ln, ai, pa, pb, ps, rt, asi, asu, g, gu,
              rw_stamp, rw_idx, qi, qu, start, res, fo, fu, do_, du, tr, counts):
    """Match orders ``start..`` of the run (inputs ``qi`` / ``qu``) in sequence. Returns (k,
    how): orders before k are applied (books, rows, ``rt``) with their outputs in ``res`` /
    ``fo`` / ``do_`` and the rows they changed listed in ``tr``; how is DONE (all), BAIL (order k
    must go through the Python path) or FULL (an output buffer or the working set is full
    before order k). ``counts`` = [fills, drops, touched rows] written so far."""
    release(free, pend, meta)
    wrow = np.empty(WORK, np.int64)
    wcoll = np.empty(WORK, np.int64)
    wpa = np.empty((WORK, SLOTS), np.int64)
    wpb = np.empty((WORK, SLOTS), np.int64)
    wps = np.empty((WORK, SLOTS), np.int64)
    wv = np.empty((WORK, 4), np.int64)  # (v hi, v lo, v0 hi, v0 lo)
    wr = np.empty((WORK, 4), np.int64)
    wbal = np.empty(WORK, np.int64)
    wslot = np.empty(WORK, np.int64)
    wdirty = np.empty(WORK, np.int64)
    plan_h = np.empty(fo.shape[0], np.int64)
    plan_q = np.empty(fo.shape[0], np.int64)
    drop_h = np.empty(do_.shape[0], np.int64)
    drop_why = np.empty(do_.shape[0], np.int64)
    fee_row = g[G_FEE_ROW]
    time_now = gu[0]
    n_orders = qi.shape[0]
    for k in range(start, n_orders):
        meta[M_STAMP] += 1
        stamp = meta[M_STAMP]
        trow, acct, aid, side, size, flags = (qi[k, Q_ROW], qi[k, Q_ACCT], qi[k, Q_ASSET],
                                              qi[k, Q_SIDE], qi[k, Q_SIZE], qi[k, Q_FLAGS])
        limit, expiry = qu[k, QU_PRICE], qu[k, QU_EXP]
        limit_i = np.int64(limit) if limit < UBOUND else np.int64(0)
        # validation (``_validate_order``; account, order id and slot were checked by the
        # caller): anything it would reject goes back to Python for the typed error
        if (aid <= 0 or aid >= asi.shape[0] or asi[aid, S_LISTED] == 0 or asi[aid, S_OK] == 0
                or (side != BUY and side != SELL) or size <= 0 or limit == 0 or limit >= UBOUND
                or flags < 0 or flags >= 16 or flags & REDUCE_ONLY
                or (flags & POST_ONLY and flags & (IOC | MARKET)) or expiry < time_now):
            return k, BAIL
        kind = asi[aid, S_KIND]
        if kind != KIND_PERP and time_now >= asu[aid]:
            return k, BAIL
        mark = asi[aid, S_PRICE]
        if mark <= 0:
            return k, BAIL
        rs = 1 - side  # the resting side it takes from
        r = aid * 2 + rs
        nlev = ln[r]
        if flags & POST_ONLY and nlev > 0:
            best = lp[r, nlev - 1]
            if (side == BUY and limit >= best) or (side == SELL and limit <= best):
                return k, BAIL
        f0, d0, t0 = counts[0], counts[1], counts[2]
        nf = 0
        nd = 0
        nw = 0
        kt = -1  # the taker's working copy
        remaining = size
        note = NOTE_NONE
        mfee_ppm, tfee_ppm = asi[aid, S_MF], asi[aid, S_TF]
        series_over = kind != KIND_PERP and time_now >= asu[aid]
        full = False
        bail = False
        for li in range(nlev - 1, -1, -1):
            lprice = lp[r, li]
            if (side == BUY and lprice > limit) or (side == SELL and lprice < limit):
                break
            h = lh[r, li]
            while h >= 0 and remaining > 0:
                nxt = oi[h, O_NEXT]
                mrow = oi[h, O_ROW]
                if ou[h, U_EXP] < time_now or series_over:
                    why = WHY_EXPIRED
                elif mrow == trow:
                    why = WHY_SELF
                else:
                    why = 0
                if why:
                    if d0 + nd >= do_.shape[0]:
                        full = True
                        break
                    drop_h[nd], drop_why[nd] = h, why
                    nd += 1
                    h = nxt
                    continue
                how = DONE
                if kt < 0:
                    kt, nw, how = _work(ai, pa, pb, ps, asi, trow, stamp, rw_stamp, rw_idx, nw,
                                        wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot, wdirty,
                                        aid)
                if how == DONE:
                    km, nw, how = _work(ai, pa, pb, ps, asi, mrow, stamp, rw_stamp, rw_idx, nw,
                                        wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot, wdirty,
                                        aid)
                if how != DONE:
                    full, bail = how == FULL, how == BAIL
                    break
                q = oi[h, O_REM]
                if remaining < q:
                    q = remaining
                if oi[h, O_FLAGS] & REDUCE_ONLY:
                    mpos = wbal[km]
                    room = mpos if oi[h, O_SIDE] == SELL else -mpos
                    if room < q:
                        q = room
                    if q <= 0:
                        if d0 + nd >= do_.shape[0]:
                            full = True
                            break
                        drop_h[nd], drop_why[nd] = h, WHY_REDUCE
                        nd += 1
                        h = nxt
                        continue
                pu = ou[h, U_PRICE]
                if pu >= UBOUND:
                    bail = True
                    break
                price = np.int64(pu)
                notional, ok = wsmall(wmul(w(q), w(price)), BOUND)
                if not ok:
                    bail = True
                    break
                ok1, maker_fee = _fee(notional, mfee_ppm)
                ok2, taker_fee = _fee(notional, tfee_ppm)
                if not (ok1 and ok2):
                    bail = True
                    break
                fees = maker_fee + taker_fee  # < 2**63: no wrap
                if fees >= BOUND:
                    bail = True
                    break
                kf = -1
                if fees:
                    if fee_row < 0:
                        bail = True
                        break
                    if fee_row != trow and fee_row != mrow:
                        kf, nw, how = _work(ai, pa, pb, ps, asi, fee_row, stamp, rw_stamp, rw_idx,
                                            nw, wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot,
                                            wdirty, aid)
                        if how != DONE:
                            full, bail = how == FULL, how == BAIL
                            break
                bt, bm = wbal[kt], wbal[km]
                if side == BUY:
                    if bt > BAL_MAX - q or bm < BAL_MIN + q:
                        bail = True
                        break
                    nt, nm = bt + q, bm - q
                    dt, dm = -notional - taker_fee, notional - maker_fee
                else:
                    if bt < BAL_MIN + q or bm > BAL_MAX - q:
                        bail = True
                        break
                    nt, nm = bt - q, bm + q
                    dt, dm = notional - taker_fee, -notional - maker_fee
                # a position slot for a new balance (else NoPositionSlot in Python)
                if (wslot[kt] < 0 and nt != 0 and _free_slot(wpa, kt) < 0) or (
                        wslot[km] < 0 and nm != 0 and _free_slot(wpa, km) < 0):
                    bail = True
                    break
                if fees:
                    if fee_row == trow:
                        dt += fees
                    elif fee_row == mrow:
                        dm += fees
                    else:
                        _, ok = wsmall(wadd(w(wcoll[kf]), w(fees)), BOUND)
                        if not ok:
                            bail = True
                            break
                ct, ok1 = wsmall(wadd(w(wcoll[kt]), w(dt)), BOUND)
                cm, ok2 = wsmall(wadd(w(wcoll[km]), w(dm)), BOUND)
                if not (ok1 and ok2):
                    bail = True
                    break
                qm, ok = wsmall(wmul(w(q), w(mark)), BOUND)
                if not ok:
                    bail = True
                    break
                # maker: value and risk after the fill, margin against before it
                okr0, rb0 = _risk(asi, aid, bm)
                okr1, rb1 = _risk(asi, aid, nm)
                if not (okr0 and okr1):
                    bail = True
                    break
                vm0 = (wv[km, 0], wv[km, 1])
                rm0 = (wr[km, 0], wr[km, 1])
                vm = wadd(wadd(vm0, w(dm)), w(-qm if side == BUY else qm))
                rm = wadd(wsub(rm0, rb0), rb1)
                okr0, rt0 = _risk(asi, aid, bt)
                okr1, rt1 = _risk(asi, aid, nt)
                if not (okr0 and okr1):
                    bail = True
                    break
                if not _allowed(vm0, rm0, vm, rm):
                    if d0 + nd >= do_.shape[0]:
                        full = True
                        break
                    drop_h[nd], drop_why[nd] = h, WHY_MARGIN
                    nd += 1
                    h = nxt
                    continue
                vt0 = (wv[kt, 0], wv[kt, 1])
                rtk0 = (wr[kt, 0], wr[kt, 1])
                vt = wadd(wadd(vt0, w(dt)), w(qm if side == BUY else -qm))
                rtk = wadd(wsub(rtk0, rt0), rt1)
                if not _allowed(vt0, rtk0, vt, rtk):
                    if nf == 0:
                        bail = True  # InsufficientMargin
                        break
                    note = NOTE_STOPPED
                    break
                if f0 + nf >= fo.shape[0]:
                    full = True
                    break
                # apply to the working copies
                wcoll[kt] = ct
                wcoll[km] = cm
                if kf >= 0:
                    wcoll[kf] += fees
                    vf = wadd((wv[kf, 0], wv[kf, 1]), w(fees))
                    wv[kf, 0], wv[kf, 1] = vf
                    wdirty[kf] = 1
                _set_bal(wpa, wpb, wps, wslot, wbal, km, aid, nm, asi[aid, S_FUND]
                         if kind == KIND_PERP else 0)
                _set_bal(wpa, wpb, wps, wslot, wbal, kt, aid, nt, asi[aid, S_FUND]
                         if kind == KIND_PERP else 0)
                wv[km, 0], wv[km, 1] = vm
                wr[km, 0], wr[km, 1] = rm
                wv[kt, 0], wv[kt, 1] = vt
                wr[kt, 0], wr[kt, 1] = rtk
                wdirty[kt] = 1
                wdirty[km] = 1
                plan_h[nf], plan_q[nf] = h, q
                j = f0 + nf
                fo[j, FO_H], fo[j, FO_Q] = h, q
                fo[j, FO_MFEE], fo[j, FO_TFEE] = maker_fee, taker_fee
                fo[j, FO_MACCT], fo[j, FO_MFLAGS] = oi[h, O_ACCT], oi[h, O_FLAGS]
                fu[j, FU_MOID], fu[j, FU_PRICE] = ou[h, U_OID], pu
                nf += 1
                remaining -= q
                h = nxt
            if full or bail or note != NOTE_NONE or remaining == 0:
                break
        if full:
            return k, FULL
        if bail:
            return k, BAIL
        if flags & (IOC | MARKET):
            if nf == 0:
                return k, BAIL  # NoLiquidity
            rest = 0
        else:
            rest = 0 if note != NOTE_NONE else remaining
        if rest:
            # the resting-order rule against the account before the order
            if kt < 0:
                kt, nw, how = _work(ai, pa, pb, ps, asi, trow, stamp, rw_stamp, rw_idx, nw,
                                    wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot, wdirty, aid)
                if how != DONE:
                    return k, how
            if ai[trow, A_FLAG] & F_RTWIDE:
                return k, BAIL
            signed_rest = rest if side == BUY else -rest
            b0 = wbal[kt]
            if (signed_rest > 0 and b0 > BAL_MAX - signed_rest) or (
                    signed_rest < 0 and b0 < BAL_MIN - signed_rest):
                return k, BAIL
            hb = b0 + signed_rest
            if wslot[kt] < 0 and hb != 0 and _free_slot(wpa, kt) < 0:
                return k, BAIL
            rp, ok1 = wsmall(wmul(w(signed_rest), w(limit_i)), BOUND)
            rmk, ok2 = wsmall(wmul(w(signed_rest), w(mark)), BOUND)
            okr0, rb0 = _risk(asi, aid, b0)
            okr1, rb1 = _risk(asi, aid, hb)
            if not (ok1 and ok2 and okr0 and okr1):
                return k, BAIL
            # the resting total after adding it must stay in range too
            tq = rt[trow, aid, 2 * side]
            tn = rt[trow, aid, 2 * side + 1]
            nq, ok1 = wsmall(wadd(w(tq), w(rest)), BOUND)
            nn, ok2 = wsmall(wadd(w(tn), w(abs(rp))), BOUND)
            if not (ok1 and ok2):
                return k, BAIL
            vh = wadd(wsub((wv[kt, 0], wv[kt, 1]), w(rp)), w(rmk))
            rh = wadd(wsub((wr[kt, 0], wr[kt, 1]), rb0), rb1)
            ok, dv, dr = _resting_worst(rt, asi, trow, wpa, wpb, kt, aid, hb)
            if not ok:
                return k, BAIL
            if not _allowed((wv[kt, 2], wv[kt, 3]), (wr[kt, 2], wr[kt, 3]), wadd(vh, dv),
                            wadd(rh, dr)):
                if nf == 0:
                    return k, BAIL  # InsufficientMargin
                rest = 0
                note = NOTE_CANCELLED
        # touched rows must fit the output before anything is applied
        n_new = 0
        for x in range(nw):
            if wdirty[x] and ai[wrow[x], A_TOUCH] != g[G_RUN]:
                n_new += 1
        if t0 + n_new > tr.shape[0]:
            return k, FULL
        # --- commit: book, resting totals, rows, outputs (``_apply_book``) ---
        for x in range(nd):
            h = drop_h[x]
            j = d0 + x
            do_[j, DO_H], do_[j, DO_WHY] = h, drop_why[x]
            do_[j, DO_MACCT], do_[j, DO_REM] = oi[h, O_ACCT], oi[h, O_REM]
            do_[j, DO_SIDE], do_[j, DO_FLAGS] = oi[h, O_SIDE], oi[h, O_FLAGS]
            du[j, DU_MOID], du[j, DU_PRICE] = ou[h, U_OID], ou[h, U_PRICE]
            _rt_add(rt, ai, oi, ou, h, -oi[h, O_REM])
            book_remove(oi, ou, pend, meta, lp, lh, lt, ln, h)
        for x in range(nf):
            h, q = plan_h[x], plan_q[x]
            _rt_add(rt, ai, oi, ou, h, -q)
            oi[h, O_REM] -= q
            fo[f0 + x, FO_DONE] = 0
            if oi[h, O_REM] == 0:
                fo[f0 + x, FO_DONE] = 1
                book_remove(oi, ou, pend, meta, lp, lh, lt, ln, h)
        hr = -1
        if rest:
            hr = book_add(oi, ou, free, meta, lp, lh, lt, ln, aid, side, acct, trow,
                          qu[k, QU_OID], limit, size, rest, expiry, flags)
            _rt_add(rt, ai, oi, ou, hr, rest)
        t = t0
        for x in range(nw):
            if not wdirty[x]:
                continue
            row = wrow[x]
            ai[row, A_COLL] = wcoll[x]
            for j in range(SLOTS):
                pa[row, j], pb[row, j], ps[row, j] = wpa[x, j], wpb[x, j], wps[x, j]
            if ai[row, A_TOUCH] != g[G_RUN]:
                ai[row, A_TOUCH] = g[G_RUN]
                tr[t] = row
                t += 1
        res[k, R_F0], res[k, R_NF], res[k, R_D0], res[k, R_ND] = f0, nf, d0, nd
        res[k, R_REST], res[k, R_NOTE], res[k, R_H] = rest, note, hr
        res[k, R_FILLED] = size - remaining
        counts[0] = f0 + nf
        counts[1] = d0 + nd
        counts[2] = t
    return n_orders, DONE


@njit(cache=True, inline="always")
def _free_slot(wpa, k):
    for j in range(SLOTS):
        if wpa[k, j] == 0:
            return j
    return -1


@njit(cache=True, inline="always")
def _set_bal(wpa, wpb, wps, wslot, wbal, k, aid, b, snap):
    """``_Work.set_balance``: write balance b of the traded asset (allocating or freeing its
    slot)."""
    j = wslot[k]
    if j < 0:
        if b != 0:
            j = _free_slot(wpa, k)
            wpa[k, j], wpb[k, j], wps[k, j] = aid, b, snap
    elif b != 0:
        wpa[k, j], wpb[k, j], wps[k, j] = aid, b, snap
    else:
        wpa[k, j], wpb[k, j], wps[k, j] = 0, 0, 0
    wslot[k] = j if b != 0 else -1
    wbal[k] = b


@njit(cache=True, inline="always")
def _rt_add(rt, ai, oi, ou, h, qty):
    """``Sequencer._resting_add``: qty more (or fewer) of resting order h in its account's
    totals (reduce-only orders are not counted; an account whose totals left the range keeps
    them in Python: ``Sequencer._wide_totals``)."""
    row, a = oi[h, O_ROW], oi[h, O_ASSET]
    if oi[h, O_FLAGS] & REDUCE_ONLY or ai[row, A_FLAG] & F_RTWIDE:
        return
    c = 0 if oi[h, O_SIDE] == BUY else 2
    rt[row, a, c] += qty
    rt[row, a, c + 1] += qty * np.int64(ou[h, U_PRICE])


# --- the arrays and their upkeep (Python) --------------------------------------------------------

def _grow(a: np.ndarray, n: int, axis: int = 0, fill: int = 0) -> np.ndarray:
    """``a`` with axis ``axis`` grown to n (new entries ``fill``)."""
    shape = list(a.shape)
    shape[axis] = n
    out = np.full(shape, fill, a.dtype)
    out[tuple(slice(0, s) for s in a.shape)] = a
    return out


class Core:
    """The books and the account mirror as arrays (see the module docstring), with the upkeep
    the kernels leave to Python: capacity, loading account rows from the state, the asset table.
    One per sequencer; ``OrderBook`` objects are views of one asset of it."""

    def __init__(self) -> None:
        self.oi = np.zeros((1024, N_OI), np.int64)
        self.ou = np.zeros((1024, N_OU), np.uint64)
        self.free = np.zeros(1024, np.int64)
        self.pend = np.zeros(1024, np.int64)
        self.meta = np.zeros(N_META, np.int64)
        self.n_assets = 8
        self.lp = np.zeros((16, 16), np.uint64)
        self.lh = np.full((16, 16), -1, np.int64)
        self.lt = np.full((16, 16), -1, np.int64)
        self.ln = np.zeros(16, np.int64)
        self.ai = np.zeros((256, N_AI), np.int64)
        self.pa = np.zeros((256, SLOTS), np.int64)
        self.pb = np.zeros((256, SLOTS), np.int64)
        self.ps = np.zeros((256, SLOTS), np.int64)
        self.rt = np.zeros((256, 8, 4), np.int64)
        self.rw_stamp = np.zeros(256, np.int64)
        self.rw_idx = np.zeros(256, np.int64)
        self.asi = np.zeros((8, N_AS), np.int64)
        self.asu = np.zeros(8, np.uint64)
        self.g = np.array([-1, 0], np.int64)
        self.gu = np.zeros(1, np.uint64)
        self.index: dict[int, int] = {}  # account id -> row
        self._reset_mirror()

    def _reset_mirror(self) -> None:
        self.stale: set[int] = set(self.index.values())  # rows to reload before the next run
        self._accounts = None  # the state's accounts table the rows were loaded from
        self._versions = None  # (oracle, registry) versions the asset table was loaded at

    # --- capacity ---

    def reserve(self, orders: int, row: int | None = None) -> None:
        """Room for ``orders`` more resting orders and price levels on any side (on level row
        ``row`` only, if given)."""
        need = int(self.meta[M_USED]) + orders
        if need > self.oi.shape[0] and int(self.meta[M_NFREE]) < orders:
            n = max(2 * self.oi.shape[0], need)
            self.oi = _grow(self.oi, n)
            self.ou = _grow(self.ou, n)
            self.free = _grow(self.free, n)
            self.pend = _grow(self.pend, n)
        need = int(self.ln.max() if row is None else self.ln[row]) + orders
        if need > self.lp.shape[1]:
            n = max(2 * self.lp.shape[1], need)
            self.lp = _grow(self.lp, n, 1)
            self.lh = _grow(self.lh, n, 1, -1)
            self.lt = _grow(self.lt, n, 1, -1)

    def ensure_asset(self, asset: int) -> None:
        if asset < self.n_assets:
            return
        n = max(2 * self.n_assets, asset + 1)
        self.lp = _grow(self.lp, 2 * n)
        self.lh = _grow(self.lh, 2 * n, 0, -1)
        self.lt = _grow(self.lt, 2 * n, 0, -1)
        self.ln = _grow(self.ln, 2 * n)
        self.rt = _grow(self.rt, n, 1)
        self.asi = _grow(self.asi, n)
        self.asu = _grow(self.asu, n)
        self.n_assets = n
        self._versions = None

    def _grow_rows(self, n: int) -> None:
        for name in ("ai", "pa", "pb", "ps", "rt", "rw_stamp", "rw_idx"):
            setattr(self, name, _grow(getattr(self, name), n))

    # --- the account mirror ---

    def row(self, i: int) -> int:
        """Account i's row (allocated empty and stale if new)."""
        r = self.index.get(i)
        if r is None:
            r = len(self.index)
            if r >= self.ai.shape[0]:
                self._grow_rows(2 * self.ai.shape[0])
            self.index[i] = r
            self.ai[r, A_ID] = i
            self.ai[r, A_FLAG] = 0
            self.stale.add(r)
        return r

    def _load_row(self, r: int, acc) -> None:
        keep = int(self.ai[r, A_FLAG]) & F_RTWIDE
        if acc is None:  # the account is gone: nothing may trade on this row
            self.ai[r, A_FLAG] = keep
            return
        c = acc.collateral
        # trade records carry account ids in 32 bits: a fill with a larger id is left to Python
        wide = not -BOUND < c < BOUND or not 0 <= int(self.ai[r, A_ID]) < 1 << 32
        self.ai[r, A_COLL] = 0 if wide else c
        self.ai[r, A_FLAG] = keep | F_LOADED | (F_WIDE if wide else 0)
        for j, (a, b, s) in enumerate(acc.positions):
            self.pa[r, j], self.pb[r, j], self.ps[r, j] = a, b, s

    def sync(self, state) -> None:
        """Bring the mirror up to date with ``state`` before a run: rows of changed accounts
        reloaded, the asset table, the time and the fee account's row."""
        accounts = state.accounts
        index = self.index
        if accounts is not self._accounts or not hasattr(accounts, "changed"):
            self.stale.update(index.values())
            self._accounts = accounts
            if hasattr(accounts, "changed"):
                accounts.changed.clear()
        else:
            changed = accounts.changed
            if changed:
                for i in changed:
                    r = index.get(i)
                    if r is not None:
                        self.stale.add(r)
                changed.clear()
        if self.stale:
            get = accounts.get
            ai = self.ai
            for r in self.stale:
                self._load_row(r, get(int(ai[r, A_ID])))
            self.stale.clear()
        versions = (state.oracle.version, state.assets.version)
        if versions != self._versions:
            self._load_assets(state)
            self._versions = versions
        t = state.time
        self.gu[0] = t if t < 1 << 64 else (1 << 64) - 1
        from rollup.state.state import FEE_ACCOUNT

        self.g[G_FEE_ROW] = self.row_loaded(FEE_ACCOUNT, accounts) if FEE_ACCOUNT in accounts \
            else -1

    def row_loaded(self, i: int, accounts) -> int:
        """Account i's row, loaded now if it is new."""
        r = self.index.get(i)
        if r is None:
            r = self.row(i)
            self.stale.discard(r)
            self._load_row(r, accounts.get(i))
        return r

    def _load_assets(self, state) -> None:
        top = max(list(state.assets) + list(state.oracle) + [0])
        self.ensure_asset(top)
        self.asi[:] = 0
        self.asu[:] = 0
        for a, asset in state.assets.items():
            o = state.oracle.get(a)
            price = o.price if o is not None else 0
            fund = o.funding_index if o is not None else 0
            s = self.asi[a]
            s[S_LISTED] = 1
            s[S_KIND] = asset.kind
            s[S_UNDER] = asset.underlying if 0 <= asset.underlying < self.n_assets else 0
            factors = (asset.risk_initial, asset.short_initial, asset.maker_fee, asset.taker_fee)
            ok = (all(0 <= x < LIMIT for x in factors) and 0 <= price < BOUND
                  and -BOUND < fund < BOUND and 0 <= asset.underlying < self.n_assets)
            s[S_OK] = 1 if ok else 0
            if ok:
                s[S_RI], s[S_SI], s[S_MF], s[S_TF] = factors
                s[S_PRICE], s[S_FUND] = price, fund
            self.asu[a] = asset.expiry if 0 <= asset.expiry < 1 << 64 else 0
        # an option whose underlying's entry is out of range cannot be margined here
        for a in state.assets:
            if self.asi[a, S_KIND] != KIND_PERP and not self.asi[self.asi[a, S_UNDER], S_OK]:
                self.asi[a, S_OK] = 0

    def committed(self, ids: list[int], accounts: dict) -> None:
        """The kernel's rows were written back to the state (which recorded their ids as
        changed): they mirror what was written and need no reload."""
        changed = getattr(accounts, "changed", None)
        if changed is not None:
            changed.difference_update(ids)

    # --- resting totals written by the Python path ---

    def rt_add(self, account: int, asset: int, side: int, price: int, qty: int,
               accounts) -> bool:
        """Add qty (at this price) to the account's resting totals; False, changing nothing but
        marking the row, when a total would leave the kernel's range (the caller keeps that
        account's totals exactly from then on; the kernel hands its resting-order rule back)."""
        r = self.row_loaded(account, accounts)
        self.ensure_asset(asset)
        c = 0 if side == BUY else 2
        q = int(self.rt[r, asset, c]) + qty
        n = int(self.rt[r, asset, c + 1]) + qty * price
        if self.ai[r, A_FLAG] & F_RTWIDE or not (-BOUND < q < BOUND and -BOUND < n < BOUND):
            self.ai[r, A_FLAG] |= F_RTWIDE
            return False
        self.rt[r, asset, c] = q
        self.rt[r, asset, c + 1] = n
        return True

    def totals_of(self, account: int) -> dict[int, list[int]]:
        """asset -> [bid size, bid notional, ask size, ask notional] of the account's resting
        orders, from the arrays (exact unless the row is marked wide)."""
        r = self.index.get(account)
        if r is None:
            return {}
        return {a: t for a, t in enumerate(self.rt[r].tolist()) if t[0] or t[2]}

    def all_totals(self) -> dict[int, dict[int, list[int]]]:
        """``totals_of`` for every account with resting orders, wide rows aside."""
        out = {}
        for i, r in self.index.items():
            if not self.ai[r, A_FLAG] & F_RTWIDE and (self.rt[r, :, 0].any()
                                                       or self.rt[r, :, 2].any()):
                out[i] = self.totals_of(i)
        return out
