"""The operator's risk report over one state (``rollup risk report``): the accounts nearest to
liquidation under today's rule and the scenario rule side by side, the book's Greeks per
underlying, and the platform's P&L across the scenario grid. Read-only.

    ratio_today    = risk_maintenance / (value x RISK_SCALE)            (rollup.margin.risk)
    ratio_scenario = MAINTENANCE_PPM x R / (value x RISK_SCALE)          (rollup.margin.scenario)
Above 1 is liquidatable (decided in integers; the ratios are floats for ranking), None where
value <= 0 < risk (ranked first). Only accounts holding positions are ranked. Grid P&L of row s,
every underlying shocked at once: account i gains -L_i(s) (its losses summed over underlyings);
the platform loses what no account can cover, uncovered(s) = sum_i max(0, L_i(s) - value_i).
Both rules' requirements use one oracle table (``oracle_table``, implied volatilities). Each
listed account liquidatable under the enforced rule ("today") carries its liquidation plan
(``rollup.margin.sizing``: the position and size a liquidator takes over), else None.
"""

from __future__ import annotations

import math

import numpy as np

from rollup.margin import scenario as sc
from rollup.margin import sizing
from rollup.margin.exposure import Greeks, book_greeks, positions_arrays, series
from rollup.margin.risk import value_and_risk
from rollup.state.encoding import RISK_SCALE
from rollup.state.state import State

BY = ("today", "scenario")


def ratio(risk: int, value: int) -> float:
    """risk / (value x RISK_SCALE): inf where value <= 0 < risk, 0 without risk."""
    if risk <= 0:
        return 0.0
    return math.inf if value <= 0 else risk / (value * RISK_SCALE)


def _finite(x: float) -> float | None:
    return None if math.isinf(x) else x


def scenario_rows() -> list[dict]:
    """The (spot shock, vol shock, weight) of each row, as fractions; rows 24/25 the delta
    charge (spot shock -/+ 2% of delta x spot)."""
    rows = [{"row": s, "spot": x / 1e6, "vol": v / 1e6, "weight": wt / 1e6}
            for s, (x, v, wt) in enumerate(sc.GRID)]
    dc = sc.DELTA_CHARGE_PPM / 1e6
    rows += [{"row": len(sc.GRID), "spot": -dc, "vol": 0.0, "weight": 1.0, "delta_charge": True},
             {"row": len(sc.GRID) + 1, "spot": dc, "vol": 0.0, "weight": 1.0,
              "delta_charge": True}]
    return rows


def losses_matrix(asset: np.ndarray, bal: np.ndarray, table: sc.Table,
                  chunk: int = 8192) -> np.ndarray:
    """(n, N_SCENARIOS) float64: sum_u L_u(s) of each account (-sum_j b_j dV[a_j, s])."""
    out = np.empty((asset.shape[0], sc.N_SCENARIOS))
    dv = table.dv.astype(np.float64)
    for lo in range(0, asset.shape[0], chunk):
        a, b = asset[lo:lo + chunk], bal[lo:lo + chunk].astype(np.float64)
        out[lo:lo + chunk] = -np.einsum("ij,ijs->is", b, dv[a])
    return out


def _greeks_json(g: dict[int, Greeks]) -> dict[str, dict]:
    return {str(u): x._asdict() for u, x in g.items()}


def report(state: State, top: int = 10, by: str = "today") -> dict:
    """The report as a JSON-ready dict (see the module docstring); ``by`` picks the rule that
    ranks the accounts."""
    if by not in BY:
        raise ValueError(f"rank by one of {BY}, not {by!r}")
    ser = series(state)
    table = sc.oracle_table(state, ser.vols)
    ids, asset, bal = positions_arrays(state)
    holds = ((asset > 0) & (bal != 0)).any(axis=1)
    r_pairs, _, _ = sc.requirements(asset, bal, table)
    value = np.zeros(len(ids))
    rows = []
    for k, i in enumerate(ids.tolist()):
        v, risk_m = value_and_risk(state, state.accounts[i], maintenance=True)
        value[k] = v
        if not holds[k]:
            continue
        r = sc.to_int(r_pairs[k])
        scen_m = sc.MAINTENANCE_PPM * r
        rows.append({
            "account": i, "value": v,
            "today": {"maintenance": risk_m // RISK_SCALE, "ratio": ratio(risk_m, v),
                      "liquidatable": v * RISK_SCALE < risk_m},
            "scenario": {"requirement": r, "maintenance": scen_m // RISK_SCALE,
                         "ratio": ratio(scen_m, v), "liquidatable": v * RISK_SCALE < scen_m}})
    rows.sort(key=lambda x: (-x[by]["ratio"], x["account"]))
    for x in rows:
        for rule in BY:
            x[rule]["ratio"] = _finite(x[rule]["ratio"])
    for x in rows[:top]:  # sizing tries sizes per position: only for the accounts listed
        p = sizing.plan(state, x["account"]) if x["today"]["liquidatable"] else None
        x["plan"] = None if p is None else {
            "asset": p.asset, "size": p.size, "excess_before": p.excess_before,
            "excess_after": p.excess_after, "restores": p.restores}
    loss = losses_matrix(asset, bal, table)
    uncovered = np.maximum(0.0, loss - value[:, None]).sum(axis=0)
    grid = [{**row, "net_pnl": float(-loss[:, s].sum()),
             "losing_accounts_loss": float(np.maximum(loss[:, s], 0.0).sum()),
             "platform_pnl": float(-uncovered[s])}
            for s, row in enumerate(scenario_rows())]
    book = book_greeks(asset, bal, ser)
    return {
        "time": state.time, "accounts": len(ids), "accounts_with_positions": int(holds.sum()),
        "ranked_by": by, "nearest_to_liquidation": rows[:top],
        "liquidatable": {rule: sum(x[rule]["liquidatable"] for x in rows) for rule in BY},
        "greeks": {"net": _greeks_json(book.net), "long": _greeks_json(book.long),
                   "short": _greeks_json(book.short), "total": book.total._asdict()},
        "implied_vols": {str(a): v for a, v in ser.vols.items()},
        "scenario_grid": grid,
    }
