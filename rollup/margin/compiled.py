"""The compiled twin of the margin rule (``rollup.margin.risk`` and ``rollup.margin.resting``),
for the matching kernel: the same names and the same integers, on arrays.

An asset table is an int64 array, one row per asset id; the rule reads the columns below (the
engine's table adds its own after ``N_RULE``), the scenario rows dV in ``S_DV .. S_DV + 25``.
Positions are three int64 rows of the 8 slots (asset, balance, funding snapshot). Amounts are
exact 128-bit pairs (``rollup.margin.wide``); each function answers ``ok`` False, rather than a
wrong value, once an input leaves the ranges it is exact on: every notional |b * p|, funding
payment b * (F - snap), settled collateral, resting size or notional, product b * dV and loss
L_u(s) below ``BOUND`` = 2**62. Then value < 2**66, R < 9 * 2**62, risk = 10**6 R < 2**86.
"""

from __future__ import annotations

from numba import njit

from rollup.margin.scenario import N_SCENARIOS, SPREAD_BITS
from rollup.margin.wide import w, wadd, wlt, wmul, wsmall, wsub
from rollup.state.encoding import KIND_PERP, POSITION_SLOTS, RISK_SCALE

# the rule's columns of an asset table (S_OK: the row's values are in range; S_HAS: the oracle
# published its scenario rows)
S_OK, S_KIND, S_UNDER, S_HAS, S_PRICE, S_FUND, S_DV = range(7)
N_RULE = S_DV + N_SCENARIOS
BOUND = 1 << 62
WINDOW = 1 << SPREAD_BITS


@njit(cache=True, inline="always")
def under_of(asi, a):
    """The underlying whose losses asset a adds to: a perpetual's own id."""
    return a if asi[a, S_KIND] == KIND_PERP else asi[a, S_UNDER]


@njit(cache=True, inline="always")
def shift(x, q, d):
    """(ok, x - q * d) for |x| < BOUND, in range: a loss after q more units with row value d."""
    p, ok = wsmall(wmul(w(q), w(d)), BOUND)
    if not ok:
        return False, 0
    y = x - p  # |x|, |p| < 2**62: no wrap
    return -BOUND < y < BOUND, y


@njit(cache=True)
def loss(asi, pa, pb, u, s, aid, hb, a2, q2):
    """(ok, L_u(s)) over the slots (pa, pb), with balance hb for asset aid (-1: none) and q2
    more units of asset a2 (0: none)."""
    x = 0
    seen = False
    for j in range(POSITION_SLOTS):
        a = pa[j]
        if a == 0:
            continue
        b = hb if a == aid else pb[j]
        if a == aid:
            seen = True
        if b != 0 and under_of(asi, a) == u:
            ok, x = shift(x, b, asi[a, S_DV + s])
            if not ok:
                return False, 0
    if aid > 0 and not seen and hb != 0 and under_of(asi, aid) == u:
        ok, x = shift(x, hb, asi[aid, S_DV + s])
        if not ok:
            return False, 0
    if a2 > 0 and q2 != 0 and under_of(asi, a2) == u:
        ok, x = shift(x, q2, asi[a2, S_DV + s])
        if not ok:
            return False, 0
    return True, x


@njit(cache=True)
def worst(asi, pa, pb, u, aid, hb, a2, q2):
    """(ok, M_u, spread in the window) of ``loss``'s positions."""
    hi = 0
    lo = 0
    for s in range(N_SCENARIOS):
        ok, x = loss(asi, pa, pb, u, s, aid, hb, a2, q2)
        if not ok:
            return False, 0, False
        hi = max(hi, x)
        lo = min(lo, x)
    return True, hi, hi - lo < WINDOW


@njit(cache=True)
def requirement(asi, pa, pb):
    """(ok, R) of the slots (pa, pb), R a 128-bit pair: sum over underlyings of M_u."""
    r = w(0)
    for j in range(POSITION_SLOTS):
        a = pa[j]
        if a == 0 or pb[j] == 0:
            continue
        u = under_of(asi, a)
        first = True  # count each underlying once, at its first slot
        for i in range(j):
            if pa[i] != 0 and pb[i] != 0 and under_of(asi, pa[i]) == u:
                first = False
                break
        if first:
            ok, m, _ = worst(asi, pa, pb, u, -1, 0, 0, 0)
            if not ok:
                return False, w(0)
            r = wadd(r, w(m))
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
    ok, req = requirement(asi, pa, pb)
    if not ok:
        return False, 0, w(0), w(0)
    settled, ok = wsmall(c, BOUND)
    if not ok:
        return False, 0, w(0), w(0)
    return True, settled, wadd(v, w(settled)), wmul(req, w(RISK_SCALE))


@njit(cache=True)
def resting_worst(totals, asi, pa, pb, aid, hb):
    """(ok, dv, dr): the value and risk changes of resting orders with these ``totals`` (one row
    [bid size, bid notional, ask size, ask notional] per asset) in the worst case, each asset
    against the losses of the slots (pa, pb) with balance ``hb`` for asset ``aid``."""
    dv_t = w(0)
    dr_t = w(0)
    for a in range(totals.shape[0]):
        bq, bn, aq, an = totals[a, 0], totals[a, 1], totals[a, 2], totals[a, 3]
        if bq == 0 and aq == 0:
            continue
        if asi[a, S_OK] == 0:
            return False, w(0), w(0)
        price = asi[a, S_PRICE]
        u = under_of(asi, a)
        ok, m_b, _ = worst(asi, pa, pb, u, aid, hb, 0, 0)
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
            ok, m_x, _ = worst(asi, pa, pb, u, aid, hb, a, q)
            if not ok:
                return False, w(0), w(0)
            dr = wmul(w(m_x - m_b), w(RISK_SCALE))
            ex = wsub(wmul(dv, w(RISK_SCALE)), dr)
            # (ex, dv, dr) < (best_ex, best_dv, best_dr), lexicographically
            if wlt(ex, best_ex) or (ex == best_ex and (wlt(dv, best_dv) or (
                    dv == best_dv and wlt(dr, best_dr)))):
                best_ex, best_dv, best_dr = ex, dv, dr
        dv_t = wadd(dv_t, best_dv)
        dr_t = wadd(dr_t, best_dr)
    return True, dv_t, dr_t
