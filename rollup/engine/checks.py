"""The checks and account edits the request handlers share: each check raises the typed error
(``rollup.errors``) with its reason; edits are made on working copies (``working``), which a
handler writes back with ``State.put_account`` only once every check passed."""

from __future__ import annotations

from rollup import errors as E
from rollup.state.encoding import BALANCE_BITS, COLLATERAL_BITS, KIND_PERP, RISK_SCALE, fits
from rollup.state.state import EMPTY_SLOT, Account, Asset, State, settle_funding


def check(cond: bool, exc: type[E.EngineError], reason: str) -> None:
    if not cond:
        raise exc(reason)


def listed(state: State, asset_id: int) -> Asset:
    a = state.assets.get(asset_id)
    check(a is not None, E.UnknownMarket, f"asset {asset_id} is not listed")
    return a


def not_expired(state: State, expiry: int) -> None:
    check(expiry >= state.time, E.Expired, f"expired at {expiry}, state time is {state.time}")


def nonce_is(acc: Account, nonce: int) -> None:
    check(nonce == acc.nonce, E.StaleNonce, f"nonce {nonce}, account expects {acc.nonce}")


def working(state: State, i: int) -> Account:
    """A copy of account i with its funding settled (what every request edits)."""
    acc = state.account(i).copy()
    settle_funding(state, acc)
    return acc


def funding_of(state: State, asset: Asset) -> int:
    return state.oracle[asset.asset_id].funding_index


def fee(notional: int, ppm: int) -> int:
    return notional * ppm // RISK_SCALE


def set_balance(acc: Account, asset: Asset, b: int, funding: int) -> None:
    """Write the balance of ``asset`` (allocating or freeing its slot)."""
    check(fits(b, BALANCE_BITS), E.InvalidRequest, "balance out of range")
    j = acc.slot_of(asset.asset_id)
    if j is None:
        if b == 0:
            return
        j = acc.slot_of(0)
        check(j is not None, E.NoPositionSlot, f"no free position slot for asset {asset.asset_id}")
    snap = funding if asset.kind == KIND_PERP else 0
    acc.positions[j] = (asset.asset_id, b, snap) if b else EMPTY_SLOT


def check_collateral(acc: Account) -> None:
    check(fits(acc.collateral, COLLATERAL_BITS), E.InvalidRequest, "collateral out of range")
