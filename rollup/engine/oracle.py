"""Request handlers for markets: oracle update, scenario rows, funding tick, settlement price,
expiry settlement, asset listing, oracle key.

The oracle's messages are signed by the registered oracle key and carry the time, which only
moves forward (the state's time is the oracle's, never the clock's). Expiry settlements and
listings are the operator's and carry no signature; an oracle-key change is signed by the
current oracle key (the first one excepted). Handlers have the shape of ``rollup.engine.funds``'.
"""

from __future__ import annotations

from dataclasses import replace

from circuits.babyjubjub import pack_point
from circuits.eddsa import public_key_is_safe
from rollup import errors as E
from rollup.engine.checks import check, check_collateral, listed, set_balance, working
from rollup.engine.receipts import Receipt, record
from rollup.state.encoding import (
    DV_BITS,
    FUNDING_BITS,
    KIND_CALL,
    KIND_PERP,
    PRICE_BITS,
    SCENARIO_CHUNK,
    SCENARIO_UPDATE_CHUNKS,
    SCENARIOS,
    TIME_BITS,
    fits,
    fits_unsigned,
)
from rollup.state.state import Asset, ScenarioStage
from rollup.transactions import (
    T_EXPIRY_SETTLEMENT,
    T_FUNDING,
    T_LIST_ASSET,
    T_ORACLE,
    T_SCENARIO,
    T_SET_ORACLE_KEY,
    T_SETTLEMENT_PRICE,
    ExpirySettlement,
    FundingTick,
    ListAsset,
    OracleUpdate,
    ScenarioChunk,
    SetOracleKey,
    SettlementPrice,
)


def _advance_time(st, t: int) -> None:
    check(fits_unsigned(t, TIME_BITS) and t >= st.time, E.BadOracle,
          f"oracle time {t} is before state time {st.time}")
    st.set_time(t)


def oracle_update(seq, req: OracleUpdate):
    st = seq.state
    listed(st, req.asset)
    check(0 < req.price and fits_unsigned(req.price, PRICE_BITS), E.BadOracle, "bad price")
    _advance_time(st, req.time)
    old = st.oracle[req.asset]
    st.set_oracle(req.asset, replace(old, price=req.price))
    rec = record(T_ORACLE, asset=req.asset, price=req.price, time=req.time)
    return Receipt(0, 0, [rec]), []


def scenario_chunk(seq, req: ScenarioChunk):
    """Chunk k of an asset's scenario rows (docs/state.md, "Scenario updates"): chunk 0 starts
    an update at its time; chunk k > 0 continues the one in progress (same asset and time, the
    next chunk); the last sets the asset's rows. The rule of ``rollup.state.rebuild`` and of
    the batch circuit. Admission only (not a state rule): a chunk already applied at the
    state's time is refused as Replayed, so no one's replay resets another update's stage."""
    st = seq.state
    listed(st, req.asset)
    k = req.chunk
    check(0 <= k < SCENARIO_UPDATE_CHUNKS and len(req.dv) == SCENARIO_CHUNK, E.BadOracle,
          f"a scenario chunk is one of {SCENARIO_UPDATE_CHUNKS} of {SCENARIO_CHUNK} rows")
    check(all(fits(x, DV_BITS) for x in req.dv), E.BadOracle,
          f"a scenario row is outside the published range 2**{DV_BITS - 1}")
    first = k * SCENARIO_CHUNK
    check(all(x == 0 for x in req.dv[SCENARIOS - first:]), E.BadOracle,
          "the last scenario chunk holds one row")
    key = (req.asset, k, req.time, tuple(req.dv))
    if key in seq.chunks_seen and req.time == st.time:
        raise E.Replayed(f"scenario chunk {k} of asset {req.asset} at time {req.time} was "
                         "applied already")
    stage = st.stage
    if k:
        check(stage.next == k and stage.asset == req.asset and stage.time == req.time,
              E.BadOracle, f"scenario chunk {k} of asset {req.asset} at time {req.time} "
              "does not continue the update in progress")
    _advance_time(st, req.time)
    rows = list(stage.rows)
    part = req.dv[:SCENARIOS - first]
    rows[first:first + len(part)] = part
    last = k == SCENARIO_UPDATE_CHUNKS - 1
    st.set_stage(ScenarioStage(req.asset, req.time, 0 if last else k + 1, tuple(rows)))
    if last:
        st.set_oracle(req.asset, replace(st.oracle[req.asset], rows=tuple(rows)))
    seen = seq.chunks_seen
    if seen and next(iter(seen))[2] != req.time:  # time moved on: the older ones cannot recur
        seen.clear()
    seen[key] = None
    rec = record(T_SCENARIO, asset=req.asset, chunk=k, time=req.time,
                 **{f"dv{i}": x for i, x in enumerate(req.dv)})
    return Receipt(0, 0, [rec]), []


def funding_tick(seq, req: FundingTick):
    st = seq.state
    asset = listed(st, req.asset)
    check(asset.kind == KIND_PERP, E.UnknownMarket, "funding applies to perpetuals only")
    check(fits(req.index, FUNDING_BITS), E.BadOracle, "funding index out of range")
    _advance_time(st, req.time)
    old = st.oracle[req.asset]
    st.set_oracle(req.asset, replace(old, funding_index=req.index, settlement_price=0,
                                     settled=0))
    rec = record(T_FUNDING, asset=req.asset, index=req.index, time=req.time)
    return Receipt(0, 0, [rec]), []


def settlement_price(seq, req: SettlementPrice):
    st = seq.state
    asset = listed(st, req.asset)
    check(asset.is_option, E.UnknownMarket, "settlement applies to option series only")
    check(fits_unsigned(req.price, PRICE_BITS), E.BadOracle, "bad price")
    _advance_time(st, req.time)
    check(req.time >= asset.expiry, E.NotSettleable, "series has not expired")
    old = st.oracle[req.asset]
    check(not old.settled, E.BadOracle, "series already settled")
    st.set_oracle(req.asset, replace(old, funding_index=0, settlement_price=req.price,
                                     settled=1))
    rec = record(T_SETTLEMENT_PRICE, asset=req.asset, price=req.price, time=req.time)
    return Receipt(0, 0, [rec]), []


def expiry_settlement(seq, req: ExpirySettlement):
    st = seq.state
    asset = listed(st, req.asset)
    check(asset.is_option, E.UnknownMarket, "not an option series")
    o = st.oracle[req.asset]
    check(bool(o.settled), E.NotSettleable, "series has no settlement price yet")
    b = st.account(req.account).balance(req.asset)
    check(b != 0, E.NotSettleable, "no position in that series")
    s, k = o.settlement_price, asset.strike
    intrinsic = max(s - k, 0) if asset.kind == KIND_CALL else max(k - s, 0)
    acc = working(st, req.account)
    acc.collateral += b * intrinsic
    set_balance(acc, asset, 0, 0)
    check_collateral(acc)
    st.put_account(req.account, acc)
    rec = record(T_EXPIRY_SETTLEMENT, account=req.account, asset=req.asset,
                 payout=b * intrinsic)
    return Receipt(0, 0, [rec]), []


def list_asset(seq, req: ListAsset):
    st = seq.state
    check(req.asset not in st.assets, E.InvalidRequest, "asset already listed")
    check(all(fits_unsigned(x, 64) for x in (req.underlying, req.strike, req.expiry)),
          E.InvalidRequest, "underlying, strike and expiry must be 64-bit unsigned")
    if req.kind == KIND_PERP:
        # the registry's rule (and the batch circuit's): a perpetual has no underlying
        check(req.underlying == 0, E.InvalidRequest, "a perpetual has no underlying")
    else:
        u = listed(st, req.underlying)
        check(u.kind == KIND_PERP, E.UnknownMarket, "underlying must be a perpetual")
        check(req.expiry > st.time, E.Expired, "series expiry in the past")
    ppm = (req.risk_initial, req.risk_maintenance, req.short_initial, req.short_maintenance,
           req.maker_fee, req.taker_fee, req.liquidation_fee)
    check(all(0 <= x < 1 << 32 for x in ppm), E.InvalidRequest, "factors out of range")
    check(req.risk_maintenance <= req.risk_initial
          and req.short_maintenance <= req.short_initial, E.InvalidRequest,
          "maintenance factors must not exceed initial ones")
    asset = Asset(req.asset, req.kind, req.risk_initial, req.risk_maintenance,
                  req.underlying, req.strike, req.expiry, req.short_initial,
                  req.short_maintenance, req.maker_fee, req.taker_fee, req.liquidation_fee)
    try:
        st.add_asset(asset)
    except ValueError as exc:
        raise E.InvalidRequest(str(exc)) from None
    rec = record(T_LIST_ASSET, asset=req.asset, kind=req.kind, underlying=req.underlying,
                 strike=req.strike, expiry=req.expiry, risk_initial=req.risk_initial,
                 risk_maintenance=req.risk_maintenance, short_initial=req.short_initial,
                 short_maintenance=req.short_maintenance, maker_fee=req.maker_fee,
                 taker_fee=req.taker_fee, liquidation_fee=req.liquidation_fee)
    return Receipt(0, 0, [rec]), []


def set_oracle_key(seq, req: SetOracleKey):
    check(public_key_is_safe(req.pk), E.UnsafeKey, "oracle key off curve or small order")
    seq.state.set_oracle_key(tuple(req.pk))
    rec = record(T_SET_ORACLE_KEY, key=int.from_bytes(pack_point(req.pk), "big"))
    return Receipt(0, 0, [rec]), []
