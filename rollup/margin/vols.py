"""Implied volatility of each option series, the one source for the Greeks
(``rollup.margin.exposure``) and the scenario rows (``rollup.margin.scenario.oracle_table``).

The oracle publishes prices, no volatility (docs/margin.md#greeks): a series' volatility is the
one at which Black-Scholes (rate ``rate``, 0 by default as in ``oracle_table``) reprices its
oracle mark from the underlying's oracle price, its strike and the time to expiry
(``greeks.implied_vol``, clamped to [IV_MIN, IV_MAX]). An expired series, or one without a
positive mark, spot or strike, gets IV_MIN: its Greeks are then intrinsic (or zero).
"""

from __future__ import annotations

import numpy as np

from rollup.margin.greeks import IV_MIN, implied_vol
from rollup.state.encoding import KIND_CALL, KIND_PERP
from rollup.state.state import OracleEntry, State

SECONDS_PER_YEAR = 365 * 86_400
_NONE = OracleEntry()


def series_inputs(state: State) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray,
                                          np.ndarray, np.ndarray]:
    """(option ids, spot, strike, years to expiry, mark, is_call) of every listed series, as
    floats from the state's integers (spot and mark 0 where the oracle has posted nothing)."""
    ids = sorted(a for a, x in state.assets.items() if x.kind != KIND_PERP)
    xs = [state.assets[a] for a in ids]
    spot = np.array([state.oracle.get(x.underlying, _NONE).price for x in xs], dtype=np.float64)
    strike = np.array([x.strike for x in xs], dtype=np.float64)
    years = np.array([(x.expiry - state.time) / SECONDS_PER_YEAR for x in xs], dtype=np.float64)
    mark = np.array([state.oracle.get(a, _NONE).price for a in ids], dtype=np.float64)
    call = np.array([x.kind == KIND_CALL for x in xs], dtype=bool)
    return ids, spot, strike, years, mark, call


def priced(spot, strike, years, mark) -> np.ndarray:
    """The series whose volatility the mark determines: live, with positive mark, spot, strike."""
    return (years > 0) & (spot > 0) & (strike > 0) & (mark > 0)


def implied_vols(state: State, rate: float = 0.0) -> dict[int, float]:
    """asset id -> implied volatility, for every listed option series."""
    ids, spot, strike, years, mark, call = series_inputs(state)
    ok = priced(spot, strike, years, mark)
    iv = np.full(len(ids), IV_MIN)
    if ok.any():
        iv[ok] = implied_vol(mark[ok], spot[ok], strike[ok], years[ok], rate, call[ok])
    return {a: float(v) for a, v in zip(ids, iv, strict=True)}
