"""Rebuild the state from published records alone (what a user does when the operator is gone).

Each record is replayed with the same deterministic rules the sequencer applied: funding is
settled on every account a record touches (except deposits), fees go to the fee account, order
slots take (order id, cumulative fill), positions take the first free slot. The rebuilt root
equals the engine's, and the batch circuit's although the circuit credits a batch's fees to
account 0 once at the end: account 0 holds no positions then, so both give the same root (the
argument: docs/state.md). Nothing here re-decides what a record states.
"""

from __future__ import annotations

from dataclasses import replace

from circuits.babyjubjub import unpack_point
from rollup.state.encoding import (
    DEFAULT_ACCOUNT_DEPTH,
    ORDER_TREE_DEPTH,
    SCENARIO_CHUNK,
    SCENARIO_UPDATE_CHUNKS,
    SCENARIOS,
)
from rollup.state.state import (
    EMPTY_SLOT,
    FEE_ACCOUNT,
    Account,
    Asset,
    ScenarioStage,
    State,
    settle_funding,
)
from rollup.transactions import (
    T_DEPOSIT,
    T_EXPIRY_SETTLEMENT,
    T_FORCED_WITHDRAWAL,
    T_FUNDING,
    T_LIQUIDATION,
    T_LIST_ASSET,
    T_ORACLE,
    T_REFUND,
    T_SCENARIO,
    T_SET_ORACLE_KEY,
    T_SETTLEMENT_PRICE,
    T_TRADE,
    T_TRANSFER,
    T_WITHDRAWAL,
    decode_record,
    decode_records,
    trade_fees,
)

_SLOTS = 1 << ORDER_TREE_DEPTH


def fees_of_trade(st: State, f: dict[str, int]) -> tuple[int, int]:
    """(buyer's fee, seller's fee) of a decoded T_TRADE record, at the listing's rates."""
    a = st.assets[f["asset"]]
    return trade_fees(f["size"], f["price"], f["taker_buyer"], a.maker_fee, a.taker_fee)


def _set_balance(acc: Account, asset: Asset, b: int, funding: int) -> None:
    j = acc.slot_of(asset.asset_id)
    if j is None:
        if b == 0:
            return
        j = acc.slot_of(0)
    acc.positions[j] = (asset.asset_id, b, funding if not asset.is_option else 0) if b else \
        EMPTY_SLOT


def _fill(acc: Account, order_id: int, size: int) -> None:
    slot = order_id % _SLOTS
    stored, filled = acc.orders.get(slot, (0, 0))
    acc.orders[slot] = (order_id, (filled if stored == order_id else 0) + size)


L1_RECORD_BYTES = 41


def batch_records(public_data: bytes, diff_bytes: int) -> bytes:
    """The records of one batch's public data (docs/public-input.md): skip the u32 count and
    the count x 41-byte L1 records, then each `diff_bytes` chunk holds one zero-padded record
    (type 0 = a no-op slot)."""
    if len(public_data) < 4:
        raise ValueError("public data shorter than its count")
    start = 4 + int.from_bytes(public_data[:4], "big") * L1_RECORD_BYTES
    body = public_data[start:]
    if start > len(public_data) or len(body) % diff_bytes:
        raise ValueError("public data is not a whole number of state-diff chunks")
    out = bytearray()
    for k in range(0, len(body), diff_bytes):
        chunk = body[k:k + diff_bytes]
        if chunk[0]:
            _, _, n = decode_record(chunk)
            out += chunk[:n]
    return bytes(out)


def rebuild(data: bytes, account_depth: int = DEFAULT_ACCOUNT_DEPTH,
            state: State | None = None) -> State:
    """Replay concatenated records (genesis listings first) on `state` (default: empty)."""
    st = State(account_depth) if state is None else state
    for t, f in decode_records(data):
        apply_in_transaction(st, t, f)
    st.flush()
    return st


def apply_in_transaction(st: State, t: int, f: dict[str, int], *,
                         credit_fees: bool = True) -> None:
    """`apply_record` inside one state transaction: all of it or (on any error) none of it;
    the leaves are rehashed at the next flush."""
    st.begin()
    try:
        apply_record(st, t, f, credit_fees=credit_fees)
    except BaseException:
        st.rollback()
        raise
    st.commit(defer=True)


def _working(st: State, i: int) -> Account:
    acc = st.account(i).copy()
    settle_funding(st, acc)
    return acc


def apply_record(st: State, t: int, f: dict[str, int], *,  # noqa: C901 - one branch per type
                 credit_fees: bool = True) -> None:
    """Apply one record as it states it (nothing here re-decides what the record says: a
    forced withdrawal pays its ``paid``, a liquidation moves its ``size``). ``credit_fees=False``
    leaves a trade's fees out (the batch circuit credits a batch's fees to account 0 at its end;
    ``rollup.settlement.batch`` replays with it to follow the circuit slot by slot)."""
    if t == T_SET_ORACLE_KEY:
        pk = unpack_point(f["key"].to_bytes(32, "big"))
        if pk is None:
            raise ValueError("oracle key record holds no curve point")
        st.set_oracle_key(pk)
    elif t == T_LIST_ASSET:
        st.add_asset(Asset(f["asset"], f["kind"], f["risk_initial"], f["risk_maintenance"],
                           f["underlying"], f["strike"], f["expiry"], f["short_initial"],
                           f["short_maintenance"], f["maker_fee"], f["taker_fee"],
                           f["liquidation_fee"]))
    elif t == T_DEPOSIT:
        i = f["account"]
        if i in st.accounts:
            acc = st.edit_account(i)
        else:
            pk = unpack_point(f["l2_key"].to_bytes(32, "big"))
            if pk is None:
                raise ValueError(f"deposit record for account {i} holds no valid key")
            acc = st.create_account(i, pk)
        acc.collateral += f["amount"]
    elif t == T_REFUND:
        pass  # paid back on L1; the state never held it
    elif t in (T_WITHDRAWAL, T_FORCED_WITHDRAWAL):
        amount = f["amount"] if t == T_WITHDRAWAL else f["paid"]
        if amount:
            acc = _working(st, f["account"])
            acc.collateral -= amount
            acc.nonce += t == T_WITHDRAWAL
            st.put_account(f["account"], acc)
    elif t == T_TRANSFER:
        src, dst = _working(st, f["sender"]), _working(st, f["receiver"])
        src.collateral -= f["amount"]
        src.nonce += 1
        dst.collateral += f["amount"]
        st.put_account(f["sender"], src)
        st.put_account(f["receiver"], dst)
    elif t == T_TRADE:
        asset = st.assets[f["asset"]]
        buyer_fee, seller_fee = fees_of_trade(st, f)
        fees = buyer_fee + seller_fee
        ids = {f["buyer"], f["seller"]} | ({FEE_ACCOUNT} if fees and credit_fees else set())
        w = {i: _working(st, i) for i in ids}
        b, s, q = w[f["buyer"]], w[f["seller"]], f["size"]
        funding = st.oracle[asset.asset_id].funding_index
        _set_balance(b, asset, b.balance(asset.asset_id) + q, funding)
        _set_balance(s, asset, s.balance(asset.asset_id) - q, funding)
        b.collateral -= q * f["price"] + buyer_fee
        s.collateral += q * f["price"] - seller_fee
        if fees and credit_fees:
            w[FEE_ACCOUNT].collateral += fees
        _fill(b, f["buyer_order"], q)
        _fill(s, f["seller_order"], q)
        for i in sorted(ids):
            st.put_account(i, w[i])
    elif t in (T_ORACLE, T_FUNDING, T_SETTLEMENT_PRICE):
        st.set_time(f["time"])
        o = st.oracle[f["asset"]]
        if t == T_ORACLE:
            o = replace(o, price=f["price"])
        elif t == T_FUNDING:
            o = replace(o, funding_index=f["index"], settlement_price=0, settled=0)
        else:
            o = replace(o, funding_index=0, settlement_price=f["price"], settled=1)
        st.set_oracle(f["asset"], o)
    elif t == T_SCENARIO:
        # chunk k writes rows 5k..5k+4 of the stage; the last chunk sets the asset's rows
        st.set_time(f["time"])
        k, first = f["chunk"], f["chunk"] * SCENARIO_CHUNK
        rows = list(st.stage.rows)
        part = [f[f"dv{i}"] for i in range(SCENARIO_CHUNK)][:SCENARIOS - first]
        rows[first:first + len(part)] = part
        last = k == SCENARIO_UPDATE_CHUNKS - 1
        st.set_stage(ScenarioStage(f["asset"], f["time"], 0 if last else k + 1, tuple(rows)))
        if last:
            st.set_oracle(f["asset"], replace(st.oracle[f["asset"]], rows=tuple(rows)))
    elif t == T_LIQUIDATION:
        asset = st.assets[f["asset"]]
        victim, liq = _working(st, f["liquidated"]), _working(st, f["liquidator"])
        d, funding = f["size"], st.oracle[asset.asset_id].funding_index
        _set_balance(victim, asset, victim.balance(asset.asset_id) - d, funding)
        _set_balance(liq, asset, liq.balance(asset.asset_id) + d, funding)
        victim.collateral += d * f["price"] - f["penalty"]
        liq.collateral += -d * f["price"] + f["penalty"]
        liq.nonce += 1
        st.put_account(f["liquidated"], victim)
        st.put_account(f["liquidator"], liq)
    elif t == T_EXPIRY_SETTLEMENT:
        asset = st.assets[f["asset"]]
        acc = _working(st, f["account"])
        acc.collateral += f["payout"]
        _set_balance(acc, asset, 0, 0)
        st.put_account(f["account"], acc)
    else:
        raise ValueError(f"unknown record type {t}")

