"""The compiled twin of the margin rule (``rollup.margin.risk`` and ``rollup.margin.resting``),
for the matching kernel: the same names and the same integers, on arrays.

An asset table is an int64 array, one row per asset id; the rule reads the columns below (the
engine's table adds its own after ``N_RULE``). Positions are three int64 rows of the 8 slots
(asset, balance, funding snapshot). Amounts are exact 128-bit pairs (``rollup.margin.wide``);
each function answers ``ok`` False, rather than a wrong value, once an input leaves the ranges
it is exact on: every notional |b * p| (and |b * p_underlying|), funding payment b * (F - snap),
settled collateral and resting size or notional below ``BOUND`` = 2**62, factors below 2**31.
Then value < 2**66, value * 10**6 < 2**86, risk < 2**98: no 128-bit sum wraps.
"""

from __future__ import annotations

from numba import njit

from rollup.margin.wide import w, wadd, wlt, wmul, wsmall, wsub
from rollup.state.encoding import KIND_PERP, POSITION_SLOTS, RISK_SCALE

# the rule's columns of an asset table (S_OK: the row's values are in range)
S_OK, S_KIND, S_UNDER, S_RI, S_SI, S_PRICE, S_FUND = range(7)
N_RULE = 7
BOUND = 1 << 62


@njit(cache=True, inline="always")
def position_risk(asi, a, b):
    """(ok, risk of balance b in asset a at the initial factors): |b| * p * rf, plus
    |b| * p_underlying * sf for a short option."""
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
def allowed(v0, r0, v1, r1):
    """Healthy after, or strictly less risk with no less excess (128-bit pairs)."""
    scale = w(RISK_SCALE)
    ex1 = wsub(wmul(v1, scale), r1)
    if not wlt(ex1, w(0)):
        return True
    return wlt(r1, r0) and not wlt(ex1, wsub(wmul(v0, scale), r0))


@njit(cache=True)
def value_and_risk(asi, pa, pb, ps, coll):
    """(ok, collateral with funding settled, value, initial risk) of an account with raw
    collateral ``coll`` and positions (pa, pb, ps)."""
    c = w(coll)
    v = w(0)
    r = w(0)
    for j in range(POSITION_SLOTS):
        a, b = pa[j], pb[j]
        if a == 0:
            continue
        if asi[a, S_OK] == 0:
            return False, 0, w(0), w(0)
        if asi[a, S_KIND] == KIND_PERP:
            f = asi[a, S_FUND]
            if f != ps[j]:
                # each payment in range before summing: b * (f - s) reaches ~2**126 and 8 of
                # them could wrap 128 bits
                pay, ok = wsmall(wmul(w(b), wsub(w(f), w(ps[j]))), BOUND)
                if not ok:
                    return False, 0, w(0), w(0)
                c = wsub(c, w(pay))
        bp, ok = wsmall(wmul(w(b), w(asi[a, S_PRICE])), BOUND)
        if not ok:
            return False, 0, w(0), w(0)
        v = wadd(v, w(bp))
        ok, rk = position_risk(asi, a, b)
        if not ok:
            return False, 0, w(0), w(0)
        r = wadd(r, rk)
    settled, ok = wsmall(c, BOUND)
    if not ok:
        return False, 0, w(0), w(0)
    return True, settled, wadd(v, w(settled)), r


@njit(cache=True)
def resting_worst(totals, asi, pa, pb, aid, hb):
    """(ok, dv, dr): the value and risk changes of resting orders with these ``totals`` (one row
    [bid size, bid notional, ask size, ask notional] per asset) in the worst case; the balances
    are those of the slots (pa, pb), except ``hb`` for asset ``aid``."""
    dv_t = w(0)
    dr_t = w(0)
    for a in range(totals.shape[0]):
        bq, bn, aq, an = totals[a, 0], totals[a, 1], totals[a, 2], totals[a, 3]
        if bq == 0 and aq == 0:
            continue
        if asi[a, S_OK] == 0:
            return False, w(0), w(0)
        if a == aid:
            b = hb
        else:
            b = 0
            for j in range(POSITION_SLOTS):
                if pa[j] == a:
                    b = pb[j]
                    break
        price = asi[a, S_PRICE]
        ok, r_b = position_risk(asi, a, b)
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
            ok, rx = position_risk(asi, a, x)
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
