"""Scenario (portfolio) margin, the rule of docs/margin.md: the oracle's revaluation, the
reference in Python integers and its compiled twin.

    L_u(s) = -sum_{j: under(a_j) = u} b_j * dV[a_j, s]      loss of underlying u in scenario s
    M_u    = max(0, max_s L_u(s));   R = sum_u M_u           (collateral base units)
    risk_initial = RISK_SCALE * R;   risk_maintenance = MAINTENANCE_PPM * R
dV[a, s] is the oracle's integer P&L of +1 unit of asset a in scenario s, weighted and floored,
|dV| < DV_LIMIT: rows 0..23 the spot x vol grid (``GRID``), 24 and 25 the delta charge. A
perpetual's row is exact integer arithmetic on its price (``perp_row``); an option's comes from
Black-Scholes in floats (``option_rows``), floored. The value side and the ``allowed`` rule are
``rollup.margin.risk``'s, unchanged. ``requirements`` (Numba, 128-bit pairs, many accounts at
once) equals ``requirement`` and ``spread`` exactly: with |b| <= 2**63 and |dV| <= 2**60 (a
published row may be -2**60) no sum of 8 slots leaves 128 bits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit

from rollup.errors import BadOracle, UnknownMarket
from rollup.margin import greeks as bs
from rollup.margin.vols import SECONDS_PER_YEAR, implied_vols
from rollup.margin.wide import w, wadd, wlt, wmul, wsub
from rollup.state.encoding import ASSET_DEPTH, KIND_CALL, KIND_PERP, RISK_SCALE
from rollup.state.state import State

# (spot shock, vol shock, weight), ppm: Paradex's portfolio-margin table (docs/margin.md). The
# tail weights are about 16% / |shock|: a linear position loses 15.8-16% of its notional there.
GRID: tuple[tuple[int, int, int], ...] = (
    (160_000, 400_000, 1_000_000),
    (120_000, 400_000, 1_000_000), (120_000, -220_000, 1_000_000),
    (80_000, 400_000, 1_000_000), (80_000, -220_000, 1_000_000),
    (40_000, 400_000, 1_000_000), (40_000, -220_000, 1_000_000),
    (0, 400_000, 1_000_000), (0, -220_000, 1_000_000),
    (-40_000, 400_000, 1_000_000), (-40_000, -220_000, 1_000_000),
    (-80_000, 400_000, 1_000_000), (-80_000, -220_000, 1_000_000),
    (-120_000, 400_000, 1_000_000), (-120_000, -220_000, 1_000_000),
    (-160_000, 400_000, 1_000_000),
    (-660_000, 400_000, 240_000), (-330_000, 400_000, 480_000),
    (500_000, 400_000, 320_000), (1_000_000, 400_000, 160_000),
    (2_000_000, 400_000, 80_000), (3_000_000, 400_000, 53_333),
    (4_000_000, 400_000, 40_000), (5_000_000, 400_000, 32_000),
)
DELTA_CHARGE_PPM = 20_000  # of |net delta| x spot, per underlying (rows 24: down, 25: up)
N_SCENARIOS = len(GRID) + 2
MAINTENANCE_PPM = 500_000  # maintenance = half the initial requirement
DV_LIMIT = 1 << 60  # |dV| < DV_LIMIT (DV_BITS = 61, signed)
SPREAD_BITS = 60  # the circuit's window: M_u - min(0, min_s L_u(s)) < 2**SPREAD_BITS
N_ASSETS = 1 << ASSET_DEPTH
VOL_DAYS = 30  # vol shocks scale by (VOL_DAYS / max(1, DTE)) ** power
VEGA_POWER_SHORT, VEGA_POWER_LONG = 0.30, 0.13  # DTE < 30 days / DTE >= 30 days


@dataclass(frozen=True)
class Table:
    """What the oracle publishes per listed asset: ``dv[a, s]`` (int64, N_ASSETS x
    N_SCENARIOS) and ``under[a]``, the underlying (a perpetual's own id; 0 for no asset)."""

    dv: np.ndarray
    under: np.ndarray


# -- the oracle's side: one row of dV per asset ------------------------------------------------


def perp_row(price: int) -> list[int]:
    """dV of one unit of a perpetual at ``price``: floor(p * shock * weight), exactly."""
    row = [price * spot * weight // RISK_SCALE**2 for spot, _, weight in GRID]
    return row + [-DELTA_CHARGE_PPM * price // RISK_SCALE, DELTA_CHARGE_PPM * price // RISK_SCALE]


def vol_scale(dte_days):
    """(30 / max(1, DTE)) ** power, power 0.30 below 30 days, 0.13 from 30 days on."""
    dte = np.maximum(1.0, np.asarray(dte_days, dtype=np.float64))
    return (VOL_DAYS / dte) ** np.where(dte < VOL_DAYS, VEGA_POWER_SHORT, VEGA_POWER_LONG)


def _value(s, k, t, r, sigma, is_call):
    """Black-Scholes per unit; intrinsic value where the series has expired (t <= 0)."""
    live = t > 0
    v = bs.price(s, k, np.where(live, t, 1.0), r, sigma, is_call)
    return np.where(live, v, np.where(is_call, np.maximum(s - k, 0.0), np.maximum(k - s, 0.0)))


def option_rows(spot, strike, seconds_left, rate, iv, is_call) -> np.ndarray:
    """dV rows (n x N_SCENARIOS, int64) of option series: full Black-Scholes revaluation at
    spot * (1 + shock) and iv * (1 + vol shock * vol_scale(DTE)), minus the value now, times
    the weight, floored; the delta rows are floor(-/+ DELTA_CHARGE * delta * spot). ``spot``,
    ``strike``: collateral base units per underlying base unit; ``rate``: per year."""
    *floats, call = (x.reshape(-1) for x in np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (spot, strike, seconds_left, iv)),
        np.asarray(is_call, dtype=bool)))
    s, k, secs, iv = floats
    if np.any(iv <= 0) or np.any(s <= 0) or np.any(k <= 0):
        raise BadOracle("option revaluation needs positive spot, strike and volatility")
    t = secs / SECONDS_PER_YEAR
    g = bs.greeks(s, k, np.where(t > 0, t, 1.0), rate, iv, call)
    v0 = np.where(t > 0, g["price"], _value(s, k, t, rate, iv, call))
    spot_shock, vol_shock, weight = (np.array(c, dtype=np.float64) / RISK_SCALE
                                     for c in zip(*GRID, strict=True))
    scale = vol_scale(secs / 86_400)[:, None]
    col = (slice(None), None)
    vs = _value(s[col] * (1 + spot_shock), k[col], t[col], rate, iv[col] *
                (1 + vol_shock * scale), call[col])
    out = np.empty((s.size, N_SCENARIOS))
    out[:, :len(GRID)] = weight * (vs - v0[col])
    itm = np.where(call, s > k, s < k)
    delta = np.where(t > 0, g["delta"], np.where(itm, np.where(call, 1.0, -1.0), 0.0))
    dc = DELTA_CHARGE_PPM / RISK_SCALE
    out[:, len(GRID)] = -dc * delta * s
    out[:, len(GRID) + 1] = dc * delta * s
    out = np.floor(out)
    if not np.all(np.abs(out) < DV_LIMIT):
        raise BadOracle("a scenario P&L of one unit is outside the published range 2**60")
    return out.astype(np.int64)


def oracle_table(state: State, vols: Mapping[int, float] | None = None,
                 rate: float = 0.0) -> Table:
    """The dV table at the state's oracle prices and time, each option series revalued at its
    implied volatility ``vols[asset id]`` (default: ``rollup.margin.vols.implied_vols``, the
    volatility that reprices the oracle's mark; the Greeks use the same)."""
    if vols is None:
        vols = implied_vols(state, rate)
    dv = np.zeros((N_ASSETS, N_SCENARIOS), dtype=np.int64)
    under = np.zeros(N_ASSETS, dtype=np.int64)
    options = []
    for a, asset in state.assets.items():
        if asset.kind == KIND_PERP:
            row = perp_row(state.oracle[a].price)
            if any(abs(x) >= DV_LIMIT for x in row):
                raise BadOracle(f"asset {a}: a scenario P&L is outside the published range")
            dv[a] = row
            under[a] = a
        else:
            if a not in vols:
                raise BadOracle(f"no implied volatility for option series {a}")
            options.append(a)
            under[a] = asset.underlying
    if options:
        assets = [state.assets[a] for a in options]
        dv[options] = option_rows(
            [state.oracle[x.underlying].price for x in assets], [x.strike for x in assets],
            [x.expiry - state.time for x in assets], rate, [vols[a] for a in options],
            [x.kind == KIND_CALL for x in assets])
    return Table(dv, under)


def published_table(state: State) -> Table:
    """The dV table the state holds (the rows the oracle published, all 0 where none yet): the
    one the margin rule (``rollup.margin.risk``) reads."""
    dv = np.zeros((N_ASSETS, N_SCENARIOS), dtype=np.int64)
    under = np.zeros(N_ASSETS, dtype=np.int64)
    for a, asset in state.assets.items():
        dv[a] = state.oracle[a].rows
        under[a] = a if asset.kind == KIND_PERP else asset.underlying
    return Table(dv, under)


def changed_rows(state: State, vols: Mapping[int, float] | None = None,
                 rate: float = 0.0) -> dict[int, list[int]]:
    """asset -> its dV row at the state's prices and time, for every listed asset priced by
    the oracle whose row differs from the one the state holds (what an oracle publishes next
    as ``rollup.transactions.scenario_chunks``). Assets unpriced (price 0, or an option whose
    underlying is) are left out: they have no row to publish yet."""
    priced = {a for a, x in state.assets.items() if state.oracle[a].price > 0
              and (x.kind == KIND_PERP or state.oracle[x.underlying].price > 0)}
    if not priced:
        return {}
    sub = state if priced == set(state.assets) else _only(state, priced)
    table = oracle_table(sub, vols, rate)
    return {a: [int(x) for x in table.dv[a]] for a in sorted(priced)
            if tuple(int(x) for x in table.dv[a]) != state.oracle[a].rows}


def _only(state: State, keep: set[int]) -> State:
    """A shallow view of the state with only the ``keep`` assets listed (for ``oracle_table``)."""
    view = State.__new__(State)
    view.__dict__.update(state.__dict__)
    view.assets = {a: x for a, x in state.assets.items() if a in keep}
    return view


# -- the rule in Python integers (the reference) -----------------------------------------------


def losses(positions: Iterable[tuple], table: Table) -> dict[int, list[int]]:
    """underlying -> [L_u(s) for each scenario] over the positions (asset, balance, ...)."""
    out: dict[int, list[int]] = {}
    for a, b, *_ in positions:
        if not a or not b:
            continue
        if not 0 < a < table.under.shape[0] or not table.under[a]:
            raise UnknownMarket(f"asset {a} has no scenario row")
        row = out.setdefault(int(table.under[a]), [0] * N_SCENARIOS)
        dv = table.dv[a]
        for s in range(N_SCENARIOS):
            row[s] -= b * int(dv[s])
    return out


def requirement(positions: Iterable[tuple], table: Table) -> int:
    """R = sum_u max(0, max_s L_u(s)), collateral base units."""
    return sum(max(0, *row) for row in losses(positions, table).values())


def spread(positions: Iterable[tuple], table: Table) -> int:
    """max_u (M_u - min(0, min_s L_u(s))): what the circuit's window must hold."""
    return max((max(0, *row) - min(0, *row) for row in losses(positions, table).values()),
               default=0)


def risks(positions: Iterable[tuple], table: Table) -> tuple[int, int]:
    """(risk_initial, risk_maintenance), ppm-scaled like ``rollup.margin.risk``'s."""
    r = requirement(positions, table)
    return RISK_SCALE * r, MAINTENANCE_PPM * r


# -- the compiled twin: many accounts at once --------------------------------------------------

OK, BAD_ASSET = 0, 1


@njit(cache=True)
def _requirements(asset, bal, dv, under, r_out, sp_out, status):
    n, slots = asset.shape
    ns = dv.shape[1]
    acc_hi = np.empty((slots, ns), dtype=np.int64)
    acc_lo = np.empty((slots, ns), dtype=np.int64)
    us = np.empty(slots, dtype=np.int64)
    for i in range(n):
        nu = 0
        bad = False
        for j in range(slots):
            a, b = asset[i, j], bal[i, j]
            if a == 0 or b == 0:
                continue
            if a < 0 or a >= under.shape[0] or under[a] == 0:
                bad = True
                break
            u = under[a]
            k = 0
            while k < nu and us[k] != u:
                k += 1
            if k == nu:
                us[k] = u
                nu += 1
                for s in range(ns):
                    acc_hi[k, s] = 0
                    acc_lo[k, s] = 0
            for s in range(ns):
                # the loss accumulates -b * dV: |b * dV| <= 2**123, 8 of them stay in 128 bits
                x = wsub((acc_hi[k, s], acc_lo[k, s]), wmul(w(b), w(dv[a, s])))
                acc_hi[k, s] = x[0]
                acc_lo[k, s] = x[1]
        if bad:
            status[i] = BAD_ASSET
            continue
        r = w(0)
        sp = w(0)
        for k in range(nu):
            hi = w(0)
            lo = w(0)
            for s in range(ns):
                x = (acc_hi[k, s], acc_lo[k, s])
                if wlt(hi, x):
                    hi = x
                if wlt(x, lo):
                    lo = x
            r = wadd(r, hi)
            d = wsub(hi, lo)
            if wlt(sp, d):
                sp = d
        r_out[i, 0], r_out[i, 1] = r
        sp_out[i, 0], sp_out[i, 1] = sp
        status[i] = OK


def requirements(asset: np.ndarray, bal: np.ndarray, table: Table):
    """(R, spread, status) for accounts with positions (asset[i, j], bal[i, j]): R and spread
    as (n, 2) int64 (hi, lo) pairs of ``rollup.margin.wide``; status OK, or BAD_ASSET where
    an account holds an asset without a row (its R and spread are then meaningless)."""
    asset = np.ascontiguousarray(asset, dtype=np.int64)
    bal = np.ascontiguousarray(bal, dtype=np.int64)
    dv = np.ascontiguousarray(table.dv, dtype=np.int64)
    under = np.ascontiguousarray(table.under, dtype=np.int64)
    if asset.shape != bal.shape or asset.ndim != 2 or dv.shape[1] != N_SCENARIOS:
        raise ValueError("positions must be (accounts, slots) and dV (assets, N_SCENARIOS)")
    # the published range (a ScenarioChunk's and the circuit's): -2**60 <= dV < 2**60
    if dv.size and not (-DV_LIMIT <= dv.min() and dv.max() < DV_LIMIT):
        raise BadOracle("a scenario P&L of one unit is outside the published range 2**60")
    n = asset.shape[0]
    r = np.zeros((n, 2), dtype=np.int64)
    sp = np.zeros((n, 2), dtype=np.int64)
    status = np.zeros(n, dtype=np.int8)
    _requirements(asset, bal, dv, under, r, sp, status)
    return r, sp, status


def to_int(pair) -> int:
    """The Python integer of a (hi, lo) pair."""
    hi, lo = int(pair[0]), int(pair[1])
    return (hi << 64) + (lo & ((1 << 64) - 1))


def to_float(pairs: np.ndarray) -> np.ndarray:
    """(n, 2) pairs as float64 (for screens and reports, not for decisions)."""
    return pairs[:, 0].astype(np.float64) * 2.0**64 + pairs[:, 1].astype(np.uint64)

