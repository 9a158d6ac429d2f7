"""Integer margin: the rule the state transition (and the batch circuit) enforces, stated once
(docs/margin.md, the scenario rule, on the rows dV the oracle published into the state).

    value   = collateral + sum_j b_j * p_j - sum_{perp j} b_j * (F_j - snapshot_j)
    L_u(s)  = -sum_{j: under(a_j) = u} b_j * dV[a_j, s];  M_u = max(0, max_s L_u(s))
    risk_initial = RISK_SCALE * sum_u M_u;  risk_maintenance = MAINTENANCE_PPM * sum_u M_u
    healthy: value * RISK_SCALE >= risk_initial;  liquidatable: value * RISK_SCALE < risk_maint.
    allowed(before, after): healthy after, or strictly less initial risk with no less excess
    in_window: every M_u - min(0, min_s L_u(s)) < 2**SPREAD_BITS (the circuit's range clause)
(b balance, p oracle price, F funding index, under(a) = a for a perpetual, else its
underlying.) A market whose rows are all zero (none published yet) refuses trades
(``has_rows``). ``rollup.margin.compiled`` is the Numba twin; tests hold the two equal.
"""

from __future__ import annotations

from rollup.margin.scenario import MAINTENANCE_PPM, N_SCENARIOS, SPREAD_BITS
from rollup.state.encoding import KIND_PERP, RISK_SCALE
from rollup.state.state import ZERO_ROWS, Account, State, settle_funding  # noqa: F401

WINDOW = 1 << SPREAD_BITS


def under_of(state: State, asset_id: int) -> int:
    """The underlying whose losses an asset's rows add to: a perpetual's own id."""
    asset = state.assets[asset_id]
    return asset_id if asset.kind == KIND_PERP else asset.underlying


def has_rows(state: State, asset_id: int) -> bool:
    """The oracle published the asset's scenario rows (not all zero)."""
    return state.oracle[asset_id].rows != ZERO_ROWS


def losses(state: State, positions) -> dict[int, list[int]]:
    """underlying -> [L_u(s) for each scenario] over positions (asset, balance, ...)."""
    out: dict[int, list[int]] = {}
    for a, b, *_ in positions:
        if not a or not b:
            continue
        rows = state.oracle[a].rows
        row = out.get(u := under_of(state, a))
        if row is None:
            row = out[u] = [0] * N_SCENARIOS
        for s in range(N_SCENARIOS):
            row[s] -= b * rows[s]
    return out


def shifted(row: list[int], q: int, dv: tuple[int, ...]) -> list[int]:
    """The losses of an underlying after q more units of an asset with rows dv."""
    return [x - q * d for x, d in zip(row, dv, strict=True)]


def worst(row) -> int:
    """M_u = max(0, max_s L_u(s))."""
    return max(0, *row)


def fits_window(row) -> bool:
    return max(0, *row) - min(0, *row) < WINDOW


def requirement(ls: dict[int, list[int]]) -> int:
    """R = sum_u M_u, collateral base units."""
    return sum(worst(row) for row in ls.values())


def in_window(state: State, acc: Account) -> bool:
    """The range clause: every underlying's spread below 2**SPREAD_BITS."""
    return all(fits_window(row) for row in losses(state, acc.positions).values())


def unsettled_funding(state: State, acc: Account) -> int:
    """Collateral change that settling funding would make: -sum b * (F - snapshot)."""
    total = 0
    for a, b, snap in acc.positions:
        if a and state.assets[a].kind == KIND_PERP:
            total -= b * (state.oracle[a].funding_index - snap)
    return total


def account_value(state: State, acc: Account) -> int:
    v = acc.collateral + unsettled_funding(state, acc)
    for a, b, _ in acc.positions:
        if a:
            v += b * state.oracle[a].price
    return v


def account_risk(state: State, acc: Account, maintenance: bool = False) -> int:
    """Total risk in ppm-scaled collateral units (compare with value * RISK_SCALE)."""
    r = requirement(losses(state, acc.positions))
    return (MAINTENANCE_PPM if maintenance else RISK_SCALE) * r


def value_and_risk(state: State, acc: Account, maintenance: bool = False) -> tuple[int, int]:
    """(account_value, account_risk)."""
    return account_value(state, acc), account_risk(state, acc, maintenance)


def excess(state: State, acc: Account, maintenance: bool = False) -> int:
    """value * RISK_SCALE - risk: >= 0 is healthy (initial) / not liquidatable (maintenance)."""
    return account_value(state, acc) * RISK_SCALE - account_risk(state, acc, maintenance)


def is_healthy(state: State, acc: Account) -> bool:
    return excess(state, acc) >= 0


def is_liquidatable(state: State, acc: Account) -> bool:
    return excess(state, acc, maintenance=True) < 0


def allowed(v0: int, r0: int, v1: int, r1: int) -> bool:
    """The trade rule on (value, initial risk) pairs: before (v0, r0), after (v1, r1)."""
    ex1 = v1 * RISK_SCALE - r1
    return ex1 >= 0 or (r1 < r0 and ex1 >= v0 * RISK_SCALE - r0)


def trade_allowed(state: State, before: Account, after: Account) -> bool:
    """``allowed`` on two versions of an account (initial factors)."""
    return allowed(*value_and_risk(state, before), *value_and_risk(state, after))
