"""Delta, gamma, vega and theta of positions, accounts and the whole book at the oracle's marks,
kept current by a cache like ``rollup.margin.summary``'s.

Units (docs/margin.md#greeks): delta in base units of the underlying (collateral units gained
per +1 of the underlying's price), gamma the change of that delta per +1 of price, vega per
volatility point (+0.01), theta per calendar day (1/365 year), both in collateral units. Per
underlying they add up; across underlyings only ``Total`` does: delta_1pct = sum_u delta_u S_u /
100 and gamma_1pct = sum_u gamma_u S_u^2 / 10^4 (a +1% move of every underlying gains about
delta_1pct + gamma_1pct / 2). A perpetual is delta 1 on itself. Options: Black-Scholes at
``rollup.margin.vols.implied_vols`` (the scenario rows' volatility), rate 0; an expired series
(or one without a positive mark) has its intrinsic delta (+-1 or 0) and nothing else.
A ``GreeksCache`` keeps per-asset Greeks per (oracle version, registry version, time) and an
account's while its object and that key are unchanged (accounts are never edited in place).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from rollup.margin import greeks as bs
from rollup.margin.vols import implied_vols, priced, series_inputs
from rollup.state.encoding import ASSET_DEPTH, KIND_PERP
from rollup.state.state import Account, OracleEntry, State

N_ASSETS = 1 << ASSET_DEPTH
DAYS_PER_YEAR = 365
VOL_POINT = 0.01
_NONE = OracleEntry()


class Greeks(NamedTuple):
    delta: float
    gamma: float
    vega: float
    theta: float


class Total(NamedTuple):
    """Across underlyings, in collateral units: see the module docstring."""

    delta_1pct: float
    gamma_1pct: float
    vega: float
    theta: float


class PositionGreeks(NamedTuple):
    asset: int
    balance: int
    underlying: int
    greeks: Greeks


@dataclass(frozen=True)
class AccountGreeks:
    positions: tuple[PositionGreeks, ...]
    underlyings: dict[int, Greeks]  # underlying -> sum of its positions' Greeks
    total: Total


@dataclass(frozen=True)
class Series:
    """Per-asset Greeks of +1 unit (row a of ``unit``: delta, gamma, vega, theta), the
    underlying ``under[a]`` (0: no asset), its price ``spot[a]`` and the options' volatility."""

    key: tuple
    unit: np.ndarray  # (N_ASSETS, 4) float64
    under: np.ndarray  # (N_ASSETS,) int64
    spot: np.ndarray  # (N_ASSETS,) float64
    vols: dict[int, float]
    # Python copies of unit (rows of tuples), under and spot, for the per-account path
    rows: list = field(init=False, repr=False, compare=False)
    unders: list = field(init=False, repr=False, compare=False)
    spots: list = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", [tuple(r) for r in self.unit.tolist()])
        object.__setattr__(self, "unders", self.under.tolist())
        object.__setattr__(self, "spots", self.spot.tolist())


def series_key(state: State) -> tuple:
    return (state.oracle.version, state.assets.version, state.time)


def series(state: State, rate: float = 0.0) -> Series:
    """Greeks of one unit of every listed asset at the state's oracle prices and time."""
    unit = np.zeros((N_ASSETS, 4))
    under = np.zeros(N_ASSETS, dtype=np.int64)
    spot = np.zeros(N_ASSETS)
    for a, x in state.assets.items():
        u = a if x.kind == KIND_PERP else x.underlying
        under[a], spot[a] = u, state.oracle.get(u, _NONE).price
        if x.kind == KIND_PERP:
            unit[a, 0] = 1.0
    ids, s, k, years, mark, call = series_inputs(state)
    vols = implied_vols(state, rate)  # the scenario rows' volatility too
    if ids:
        live = priced(s, k, years, mark)
        iv = np.array([vols[a] for a in ids])
        one = np.ones(len(ids))  # harmless inputs where the series is not live
        g = bs.greeks(np.where(live, s, one), np.where(live, k, one),
                      np.where(live, years, one), rate, iv, call)
        itm = np.where(call, s > k, s < k) & (s > 0)
        intrinsic = np.where(itm, np.where(call, 1.0, -1.0), 0.0)
        unit[ids, 0] = np.where(live, g["delta"], intrinsic)
        unit[ids, 1] = np.where(live, g["gamma"], 0.0)
        unit[ids, 2] = np.where(live, g["vega"] * VOL_POINT, 0.0)
        unit[ids, 3] = np.where(live, g["theta"] / DAYS_PER_YEAR, 0.0)
    return Series(series_key(state), unit, under, spot, vols)


def total(underlyings: dict[int, Greeks], spot) -> Total:
    d = g = v = t = 0.0
    for u, x in underlyings.items():
        s = float(spot[u])
        d += x.delta * s / 100
        g += x.gamma * s * s / 10_000
        v += x.vega
        t += x.theta
    return Total(d, g, v, t)


def account_greeks(acc: Account, ser: Series) -> AccountGreeks:
    """The Greeks of each position of ``acc`` (unit Greeks times balance) and their sums."""
    rows = []
    by_u: dict[int, list[float]] = {}
    unit, under = ser.rows, ser.unders
    for a, b, _ in acc.positions:
        if not a or not b:
            continue
        fb = float(b)
        d, g, v, t = unit[a]
        # + 0.0: no -0.0 for a short perpetual
        pg = Greeks(d * fb + 0.0, g * fb + 0.0, v * fb + 0.0, t * fb + 0.0)
        u = under[a]
        rows.append(PositionGreeks(a, b, u, pg))
        s = by_u.get(u)
        if s is None:
            by_u[u] = list(pg)
        else:
            s[0] += pg[0]
            s[1] += pg[1]
            s[2] += pg[2]
            s[3] += pg[3]
    unders = {u: Greeks(*g) for u, g in sorted(by_u.items())}
    return AccountGreeks(tuple(rows), unders, total(unders, ser.spots))


class GreeksCache:
    """``account(state, i)`` recomputes an account's Greeks only when its object or the
    oracle / registry / time changed since the last read; the per-asset table likewise."""

    def __init__(self, rate: float = 0.0) -> None:
        self.rate = rate
        self._series: Series | None = None
        self._accounts: dict[int, tuple[Account, tuple, AccountGreeks]] = {}
        self.computed = 0  # accounts computed (not served from the cache)

    def series(self, state: State) -> Series:
        if self._series is None or self._series.key != series_key(state):
            self._series = series(state, self.rate)
        return self._series

    def account(self, state: State, i: int) -> AccountGreeks:
        acc = state.accounts[i]
        ser = self.series(state)
        e = self._accounts.get(i)
        if e is not None and e[0] is acc and e[1] == ser.key:
            return e[2]
        out = account_greeks(acc, ser)
        self._accounts[i] = (acc, ser.key, out)
        self.computed += 1
        return out


# -- many accounts at once: the book ------------------------------------------------------------


def positions_arrays(state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account ids, asset (n, slots), balance (n, slots)) of every account, int64."""
    ids = np.array(sorted(state.accounts), dtype=np.int64)
    asset = np.array([[a for a, _, _ in state.accounts[i].positions] for i in ids.tolist()],
                     dtype=np.int64).reshape(len(ids), -1)
    bal = np.array([[b for _, b, _ in state.accounts[i].positions] for i in ids.tolist()],
                   dtype=np.int64).reshape(len(ids), -1)
    return ids, asset, bal


def accounts_greeks(asset: np.ndarray, bal: np.ndarray, ser: Series
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(underlyings U, G (n, len(U), 4)): each account's Greeks per underlying, vectorized."""
    under = ser.under[asset]
    unders = np.unique(ser.under[ser.under > 0])
    col = np.searchsorted(unders, under)  # slots without an asset are dropped by ``live``
    live = (asset > 0) & (bal != 0) & (under > 0)
    n, m = asset.shape[0], len(unders)
    key = (np.arange(n)[:, None] * m + col)[live]
    g = ser.unit[asset[live]] * bal[live].astype(np.float64)[:, None]
    out = np.empty((n, m, 4))
    for j in range(4):
        out[:, :, j] = np.bincount(key, weights=g[:, j], minlength=n * m).reshape(n, m)
    return unders, out


@dataclass(frozen=True)
class BookGreeks:
    """Per underlying: ``net`` (the sum over all accounts: the open interest nets each asset to
    0 when every position has its counterparty on the platform), ``long`` / ``short`` (the sums
    of the accounts' positive / negative Greeks, each Greek on its own)."""

    net: dict[int, Greeks]
    long: dict[int, Greeks]
    short: dict[int, Greeks]
    total: Total  # of ``net``


def book_greeks(asset: np.ndarray, bal: np.ndarray, ser: Series) -> BookGreeks:
    # net per asset in int64 first (wrapping sums are exact when the total fits): exactly 0
    # for an asset whose open interest nets out
    live = (asset > 0) & (bal != 0)
    per_asset = np.zeros(N_ASSETS, dtype=np.int64)
    np.add.at(per_asset, asset[live], bal[live])
    held_assets = np.nonzero(per_asset)[0]
    unders, g = accounts_greeks(asset, bal, ser)
    net_g = np.zeros((len(unders), 4))
    cols = np.searchsorted(unders, ser.under[held_assets])
    np.add.at(net_g, cols, ser.unit[held_assets] * per_asset[held_assets, None].astype(float))
    long = np.where(g > 0, g, 0.0).sum(axis=0)
    short = np.where(g < 0, g, 0.0).sum(axis=0)
    held = sorted(set(ser.under[np.unique(asset[live])].tolist()))
    at = dict(zip(held, np.searchsorted(unders, held).tolist(), strict=True))

    def per_u(x: np.ndarray) -> dict[int, Greeks]:
        return {u: Greeks(*map(float, x[c])) for u, c in at.items()}

    net = per_u(net_g)
    return BookGreeks(net, per_u(long), per_u(short), total(net, ser.spot))
