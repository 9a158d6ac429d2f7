"""Integer margin: the rules the state transition (and the batch circuit) enforces.

    value  = collateral + sum_j b_j * p_j - sum_{perp j} b_j * (F_j - snapshot_j)
    risk_f = sum_j |b_j| * p_j * rf_j  +  sum_{short options j} |b_j| * p_underlying_j * sf_j
    healthy:       value * RISK_SCALE >= risk_initial
    liquidatable:  value * RISK_SCALE <  risk_maintenance
(b balance, p oracle price, F funding index, rf/sf ppm factors; see rollup.state.encoding.)
A trade that leaves an account unhealthy is still allowed when it lowers the account's risk
without lowering value * RISK_SCALE - risk (so positions can always be reduced at fair prices).
"""

from __future__ import annotations

from rollup.state.encoding import KIND_PERP, RISK_SCALE
from rollup.state.state import Account, State, settle_funding  # noqa: F401 (re-export)


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
    r = 0
    for a, b, _ in acc.positions:
        if not a or not b:
            continue
        asset = state.assets[a]
        rf = asset.risk_maintenance if maintenance else asset.risk_initial
        r += abs(b) * state.oracle[a].price * rf
        if b < 0 and asset.is_option:
            sf = asset.short_maintenance if maintenance else asset.short_initial
            r += -b * state.oracle[asset.underlying].price * sf
    return r


def excess(state: State, acc: Account, maintenance: bool = False) -> int:
    """value * RISK_SCALE - risk: >= 0 is healthy (initial) / not liquidatable (maintenance)."""
    return account_value(state, acc) * RISK_SCALE - account_risk(state, acc, maintenance)


def is_healthy(state: State, acc: Account) -> bool:
    return excess(state, acc) >= 0


def is_liquidatable(state: State, acc: Account) -> bool:
    return excess(state, acc, maintenance=True) < 0


def value_and_risk(state: State, acc: Account, maintenance: bool = False) -> tuple[int, int]:
    """(account_value, account_risk) in one pass over the slots (the same integers)."""
    assets, oracle = state.assets, state.oracle
    v, r = acc.collateral, 0
    for a, b, snap in acc.positions:
        if not a:
            continue
        asset, o = assets[a], oracle[a]
        if asset.kind == KIND_PERP:
            v -= b * (o.funding_index - snap)
        v += b * o.price
        if b:
            r += abs(b) * o.price * (asset.risk_maintenance if maintenance else asset.risk_initial)
            if b < 0 and asset.is_option:
                sf = asset.short_maintenance if maintenance else asset.short_initial
                r += -b * oracle[asset.underlying].price * sf
    return v, r


def position_risk(state: State, asset_id: int, b: int, maintenance: bool = False) -> int:
    """The part of ``account_risk`` that a balance b of one asset contributes."""
    if not b:
        return 0
    asset, oracle = state.assets[asset_id], state.oracle
    r = abs(b) * oracle[asset_id].price * (asset.risk_maintenance if maintenance
                                          else asset.risk_initial)
    if b < 0 and asset.is_option:
        sf = asset.short_maintenance if maintenance else asset.short_initial
        r += -b * oracle[asset.underlying].price * sf
    return r


def allowed(v0: int, r0: int, v1: int, r1: int) -> bool:
    """``trade_allowed`` on (value, initial risk) pairs: before (v0, r0), after (v1, r1)."""
    ex1 = v1 * RISK_SCALE - r1
    return ex1 >= 0 or (r1 < r0 and ex1 >= v0 * RISK_SCALE - r0)


def trade_allowed(state: State, before: Account, after: Account) -> bool:
    """Healthy after, or strictly less risk with no less excess (initial factors)."""
    ex_after = excess(state, after)
    if ex_after >= 0:
        return True
    return (account_risk(state, after) < account_risk(state, before)
            and ex_after >= excess(state, before))
