"""The matching kernel: ``match_run`` validates, matches and margin-checks a run of orders on the
books' arrays and the account mirror (``rollup.engine.core``) in one call, with the exact rules
of the Python matcher (``rollup.engine.matching``), and hands back (``BAIL``) every order it
cannot decide exactly as that one would: any rejection (the Python path raises the typed error),
a reduce-only taker, a value outside the ranges of ``rollup.margin.compiled``, a full working set.
A handed-back order has changed nothing. Its arguments are grouped (``BOOKS``, ``MIRROR`` and
``ASSETS`` name the ``Core``'s arrays, ``OUT`` the outputs); the run's inputs are ``qi`` / ``qu``
(one row per order). The margin rule is ``rollup.margin.compiled``'s; ``docs/engine.md``
describes the run.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np
from numba import njit

from rollup.engine.core import (
    A_COLL,
    A_FLAG,
    A_TOUCH,
    BUY,
    F_LOADED,
    F_RTWIDE,
    F_WIDE,
    G_FEE_ROW,
    G_RUN,
    IOC,
    KIND_PERP,
    M_STAMP,
    MARKET,
    O_ACCT,
    O_ASSET,
    O_FLAGS,
    O_NEXT,
    O_REM,
    O_ROW,
    O_SIDE,
    POST_ONLY,
    REDUCE_ONLY,
    S_FUND,
    S_HAS,
    S_KIND,
    S_LISTED,
    S_MF,
    S_OK,
    S_PRICE,
    S_TF,
    SELL,
    SLOTS,
    U_EXP,
    U_OID,
    U_PRICE,
    book_add,
    book_remove,
    release,
)
from rollup.margin.compiled import (
    BOUND,
    S_DV,
    WINDOW,
    allowed,
    loss,
    resting_worst,
    shift,
    under_of,
    value_and_risk,
)
from rollup.margin.scenario import N_SCENARIOS
from rollup.margin.wide import w, wadd, wmul, wsmall, wsub
from rollup.state.encoding import RISK_SCALE

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

UBOUND = np.uint64(BOUND)
BAL_MIN, BAL_MAX = -(1 << 63), (1 << 63) - 1
WORK = 64  # accounts one order may involve (taker, makers, fee account)


# match_run's argument groups: tuples of the Core's arrays, named here in the order the kernel
# unpacks them. Plain tuples, because Numba types a tuple subclass (a NamedTuple) in Python on
# every call: measured 3.5 us a call with 28 arrays, 4.3 us with these tuples, 8.8 us with
# NamedTuples.
BOOKS = ("oi", "ou", "free", "pend", "meta", "lp", "lh", "lt", "ln")  # pool, levels
MIRROR = ("ai", "pa", "pb", "ps", "rt", "rw_stamp", "rw_idx")  # account rows, working stamps
ASSETS = ("asi", "asu", "g", "gu")  # asset table, expiries, globals, time
OUT = ("res", "fo", "fu", "do", "du", "tr", "counts")  # per order, fills, drops, rows, counts
books_of = attrgetter(*BOOKS)
mirror_of = attrgetter(*MIRROR)
assets_of = attrgetter(*ASSETS)


def outputs(res: np.ndarray, cap: int) -> tuple[np.ndarray, ...]:
    """The ``OUT`` buffers: ``res`` (one row per order of the run), room for ``cap`` fills and
    dropped makers, the touched rows and the counts."""
    return (res, np.zeros((cap, N_FO), np.int64), np.zeros((cap, 2), np.uint64),
            np.zeros((cap, N_DO), np.int64), np.zeros((cap, 2), np.uint64),
            np.zeros(2 * cap, np.int64), np.zeros(3, np.int64))


@njit(cache=True)
def _load(ai, pa, pb, ps, asi, row, k, wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot, wdirty,
          wl, aid):
    """Working copy k of account row ``row``: its positions with funding settled, its value and
    initial risk now and before the order, the losses ``wl[k]`` of the traded asset's
    underlying; False when the row is outside the kernel's ranges."""
    fl = ai[row, A_FLAG]
    if fl & F_LOADED == 0 or fl & F_WIDE:
        return False
    ok, c, v, r = value_and_risk(asi, pa[row], pb[row], ps[row], ai[row, A_COLL])
    if not ok:
        return False
    wslot[k] = -1
    wbal[k] = 0
    for j in range(SLOTS):
        a, b, s = pa[row, j], pb[row, j], ps[row, j]
        if a != 0:
            if asi[a, S_KIND] == KIND_PERP:
                s = asi[a, S_FUND]  # funding settled
            if a == aid:
                wslot[k] = j
                wbal[k] = b
        wpa[k, j], wpb[k, j], wps[k, j] = a, b, s
    u = under_of(asi, aid)
    for s in range(N_SCENARIOS):
        ok, x = loss(asi, pa[row], pb[row], u, s, -1, 0, 0, 0)
        if not ok:
            return False
        wl[k, s] = x
    wrow[k] = row
    wcoll[k] = c
    wv[k, 0], wv[k, 1] = v
    wr[k, 0], wr[k, 1] = r
    wv[k, 2], wv[k, 3] = v  # value and risk before the order
    wr[k, 2], wr[k, 3] = r
    wdirty[k] = 0
    return True


@njit(cache=True)
def _fee(notional, ppm):
    """(ok, notional * ppm // 10**6) for 0 <= notional < 2**62, ppm < 2**31, exactly; ok when
    the fee is below 2**62."""
    hi, ok = wsmall(wmul(w(notional // RISK_SCALE), w(ppm)), BOUND)
    fee = hi + (notional % RISK_SCALE) * ppm // RISK_SCALE  # < 2**62 + 2**31: no wrap
    return ok and fee < BOUND, fee


@njit(cache=True, inline="always")
def _work(ai, pa, pb, ps, asi, row, stamp, rw_stamp, rw_idx, nw, wrow, wcoll, wpa, wpb, wps,
          wv, wr, wbal, wslot, wdirty, wl, aid):
    """(k, nw, how): the working copy k of row (loaded now if the order has none yet), the
    working set's new size, and DONE, FULL (no room) or BAIL (the row is out of range)."""
    if rw_stamp[row] == stamp:
        return rw_idx[row], nw, DONE
    if nw >= WORK:
        return -1, nw, FULL
    if not _load(ai, pa, pb, ps, asi, row, nw, wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot,
                 wdirty, wl, aid):
        return -1, nw, BAIL
    rw_stamp[row], rw_idx[row] = stamp, nw
    return nw, nw + 1, DONE


@njit(cache=True)
def match_run(books, mirror, assets, qi, qu, start, out):
    """Match orders ``start..`` of the run (inputs ``qi`` / ``qu``) in sequence. Returns (k,
    how): orders before k are applied (books, rows, ``rt``) with their outputs in ``out`` and
    the rows they changed listed in its ``tr``; how is DONE (all), BAIL (order k must go through
    the Python path) or FULL (an output buffer or the working set is full before order k)."""
    oi, ou, free, pend, meta, lp, lh, lt, ln = books
    ai, pa, pb, ps, rt, rw_stamp, rw_idx = mirror
    asi, asu, g, gu = assets
    res, fo, fu, do_, du, tr, counts = out
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
    wl = np.empty((WORK, N_SCENARIOS), np.int64)  # losses of the traded underlying
    nl = np.empty((2, N_SCENARIOS), np.int64)  # the maker's and taker's after a fill
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
        # validation (``rollup.engine.orders.validate``; account, order id and slot were
        # checked by the caller): anything it would reject goes back to Python for the typed error
        if (aid <= 0 or aid >= asi.shape[0] or asi[aid, S_LISTED] == 0 or asi[aid, S_OK] == 0
                or asi[aid, S_HAS] == 0
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
                                        wl, aid)
                if how == DONE:
                    km, nw, how = _work(ai, pa, pb, ps, asi, mrow, stamp, rw_stamp, rw_idx, nw,
                                        wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot, wdirty,
                                        wl, aid)
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
                                            wdirty, wl, aid)
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
                # maker: value and risk after the fill, margin against before it; a spread
                # out of the window is InvalidRequest in Python
                okl, mb0, mb1 = _after(wl, nl, 0, km, nm - bm, asi, aid)
                okt, mt0, mt1 = _after(wl, nl, 1, kt, nt - bt, asi, aid)
                if not (okl and okt):
                    bail = True
                    break
                vm0 = (wv[km, 0], wv[km, 1])
                rm0 = (wr[km, 0], wr[km, 1])
                vm = wadd(wadd(vm0, w(dm)), w(-qm if side == BUY else qm))
                rm = wadd(rm0, wmul(w(mb1 - mb0), w(RISK_SCALE)))
                if not allowed(vm0, rm0, vm, rm):
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
                rtk = wadd(rtk0, wmul(w(mt1 - mt0), w(RISK_SCALE)))
                if not allowed(vt0, rtk0, vt, rtk):
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
                for s in range(N_SCENARIOS):
                    wl[km, s] = nl[0, s]
                    wl[kt, s] = nl[1, s]
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
                                    wrow, wcoll, wpa, wpb, wps, wv, wr, wbal, wslot, wdirty, wl,
                                    aid)
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
            okr, mh0, mh1 = _shifted_worst(wl, kt, signed_rest, asi, aid)
            if not (ok1 and ok2 and okr):
                return k, BAIL
            # the resting total after adding it must stay in range too
            tq = rt[trow, aid, 2 * side]
            tn = rt[trow, aid, 2 * side + 1]
            nq, ok1 = wsmall(wadd(w(tq), w(rest)), BOUND)
            nn, ok2 = wsmall(wadd(w(tn), w(abs(rp))), BOUND)
            if not (ok1 and ok2):
                return k, BAIL
            vh = wadd(wsub((wv[kt, 0], wv[kt, 1]), w(rp)), w(rmk))
            rh = wadd((wr[kt, 0], wr[kt, 1]), wmul(w(mh1 - mh0), w(RISK_SCALE)))
            ok, dv, dr = resting_worst(rt[trow], asi, wpa[kt], wpb[kt], aid, hb)
            if not ok:
                return k, BAIL
            if not allowed((wv[kt, 2], wv[kt, 3]), (wr[kt, 2], wr[kt, 3]), wadd(vh, dv),
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
        # --- commit: book, resting totals, rows, outputs (``rollup.engine.orders.apply_book``) ---
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


@njit(cache=True)
def _after(wl, nl, i, k, q, asi, aid):
    """(ok, M before, M after) of working copy k's losses ``wl[k]`` after q more units of
    asset aid, written to ``nl[i]``; ok False out of range or out of the window."""
    hi0 = 0
    hi = 0
    lo = 0
    for s in range(N_SCENARIOS):
        x = wl[k, s]
        hi0 = max(hi0, x)
        ok, y = shift(x, q, asi[aid, S_DV + s])
        if not ok:
            return False, 0, 0
        nl[i, s] = y
        hi = max(hi, y)
        lo = min(lo, y)
    return hi - lo < WINDOW, hi0, hi


@njit(cache=True)
def _shifted_worst(wl, k, q, asi, aid):
    """(ok, M before, M after) of working copy k's losses after q more units of asset aid."""
    hi0 = 0
    hi = 0
    for s in range(N_SCENARIOS):
        x = wl[k, s]
        hi0 = max(hi0, x)
        ok, y = shift(x, q, asi[aid, S_DV + s])
        if not ok:
            return False, 0, 0
        hi = max(hi, y)
    return True, hi0, hi


@njit(cache=True, inline="always")
def _free_slot(wpa, k):
    for j in range(SLOTS):
        if wpa[k, j] == 0:
            return j
    return -1


@njit(cache=True, inline="always")
def _set_bal(wpa, wpb, wps, wslot, wbal, k, aid, b, snap):
    """``rollup.engine.matching._Work.set_balance``: write balance b of the traded asset
    (allocating or freeing its slot)."""
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
    """``rollup.margin.resting.add``: qty more (or fewer) of resting order h in its account's
    totals (reduce-only orders are not counted; an account whose totals left the range keeps
    them in Python: ``rollup.margin.resting``'s ``wide``)."""
    row, a = oi[h, O_ROW], oi[h, O_ASSET]
    if oi[h, O_FLAGS] & REDUCE_ONLY or ai[row, A_FLAG] & F_RTWIDE:
        return
    c = 0 if oi[h, O_SIDE] == BUY else 2
    rt[row, a, c] += qty
    rt[row, a, c + 1] += qty * np.int64(ou[h, U_PRICE])

