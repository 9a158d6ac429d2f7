"""Integer margin: the rule the state transition (and the batch circuit) enforces, stated once.

    value   = collateral + sum_j b_j * p_j - sum_{perp j} b_j * (F_j - snapshot_j)
    risk    = sum_j risk_at(b_j),  risk_at(b) = b * long_j if b >= 0 else -b * short_j
    long_j  = p_j * rf_j;  short_j = long_j, plus p_underlying_j * sf_j for an option
    healthy: value * RISK_SCALE >= risk_initial;  liquidatable: value * RISK_SCALE < risk_maint.
    allowed(before, after): healthy after, or strictly less initial risk with no less excess
(b balance, p oracle price, F funding index, rf/sf ppm factors; see rollup.state.encoding.) The
``allowed`` clause lets a position always be reduced at fair prices. Everything else in
``rollup.margin`` (summaries, resting orders, the liquidation scan) is built on these functions;
``rollup.margin.compiled`` is their Numba twin, and tests hold the two equal.
"""

from __future__ import annotations

from rollup.state.encoding import KIND_PERP, RISK_SCALE
from rollup.state.state import Account, State, settle_funding  # noqa: F401 (re-export)


def rates(state: State, asset_id: int, maintenance: bool = False) -> tuple[int, int]:
    """(long, short): the risk of a balance b of the asset is ``risk_at(b, long, short)``."""
    asset, oracle = state.assets[asset_id], state.oracle
    long = oracle[asset_id].price * (asset.risk_maintenance if maintenance
                                     else asset.risk_initial)
    if asset.kind == KIND_PERP:
        return long, long
    sf = asset.short_maintenance if maintenance else asset.short_initial
    return long, long + oracle[asset.underlying].price * sf


def risk_at(b: int, long: int, short: int) -> int:
    """The risk of balance b at the asset's ``rates``."""
    return b * long if b >= 0 else -b * short


def position_risk(state: State, asset_id: int, b: int, maintenance: bool = False) -> int:
    """The part of ``account_risk`` that a balance b of one asset contributes."""
    return risk_at(b, *rates(state, asset_id, maintenance)) if b else 0


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
    return sum(position_risk(state, a, b, maintenance) for a, b, _ in acc.positions if a)


def value_and_risk(state: State, acc: Account, maintenance: bool = False) -> tuple[int, int]:
    """(account_value, account_risk) in one pass over the slots (the same integers)."""
    assets, oracle = state.assets, state.oracle
    v, r = acc.collateral, 0
    for a, b, snap in acc.positions:
        if not a:
            continue
        o = oracle[a]
        if assets[a].kind == KIND_PERP:
            v -= b * (o.funding_index - snap)
        v += b * o.price
        if b:
            r += risk_at(b, *rates(state, a, maintenance))
    return v, r


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
