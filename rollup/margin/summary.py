"""An account's margin summary: its positions and collateral with funding settled, its value,
initial risk and losses per underlying (``rollup.margin.risk``), cached per account.

A summary is the tuple (account, oracle version, registry version, raw collateral, settled
collateral, settled positions, value, initial risk, losses: underlying -> tuple of the
scenario losses). A cache entry is valid while the account object, its collateral and the
oracle and registry tables are unchanged (committed accounts are never edited in place: a
transaction edits a copy), so a hit costs four comparisons.
"""

from __future__ import annotations

from rollup.margin.risk import losses, requirement
from rollup.state.encoding import KIND_PERP, POSITION_SLOTS, RISK_SCALE
from rollup.state.state import Account, State


def summary(state: State, i: int, cache: dict[int, tuple]) -> tuple:
    """Account i's summary, from ``cache`` when still valid (else computed and stored)."""
    acc = state.accounts[i]
    oracle, assets = state.oracle, state.assets
    e = cache.get(i)
    if (e is not None and e[0] is acc and e[1] == oracle.version
            and e[2] == assets.version and e[3] == acc.collateral):
        return e
    positions = list(acc.positions)
    coll = acc.collateral
    v = 0
    for j in range(POSITION_SLOTS):
        a, b, snap = positions[j]
        if not a:
            continue
        o = oracle[a]
        if assets[a].kind == KIND_PERP:
            f = o.funding_index
            if f != snap:
                coll -= b * (f - snap)
                positions[j] = (a, b, f)
        v += b * o.price
    ls = losses(state, positions)
    e = (acc, oracle.version, assets.version, acc.collateral, coll, tuple(positions), v + coll,
         RISK_SCALE * requirement(ls), {u: tuple(row) for u, row in ls.items()})
    cache[i] = e
    return e


def store(state: State, i: int, acc: Account, v: int, r: int, ls: dict,
          cache: dict[int, tuple]) -> None:
    """Record the summary of ``acc``, just written as account i with its funding settled, whose
    value, initial risk and losses the caller computed (v, r, ls)."""
    cache[i] = (acc, state.oracle.version, state.assets.version, acc.collateral, acc.collateral,
                tuple(acc.positions), v, r, ls)
