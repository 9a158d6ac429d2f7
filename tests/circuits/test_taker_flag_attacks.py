"""Review of fees22: a T_TRADE record publishes `taker_buyer` instead of the two fees, which
rebuild recomputes from the flag, the notional and the listing's rates. Forged witnesses and
requests against that rule: what the circuit accepts must rebuild exactly from the published
bytes, and what the engine accepts must be provable."""

from __future__ import annotations

import pytest

from circuits.batch import DIFF_BYTES, L1_RECORD_BYTES, build_batch_circuit
from circuits.lc import R
from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.sequencer import Sequencer
from rollup.engine.testnet import CALL, DOMAIN, ORACLE_KEY, PERP
from rollup.settlement.batch import build_batch
from rollup.state.encoding import KIND_PERP
from rollup.state.rebuild import batch_records, fees_of_trade, rebuild
from rollup.state.state import FEE_ACCOUNT, State
from rollup.transactions import (
    BUY,
    POST_ONLY,
    RECORDS,
    SELL,
    T_SCENARIO,
    T_TRADE,
    Deposit,
    ListAsset,
    OracleUpdate,
    SetOracleKey,
    Transfer,
    decode_record,
    record_size,
    trade_fees,
)

SLOTS, L1, DEPTH = 3, 1, 4
FAR = 10**9
order = tn.order
HEAD = 4 + L1_RECORD_BYTES * L1  # slot 0's chunk starts here


@pytest.fixture(scope="module")
def cs():
    return build_batch_circuit(SLOTS, DEPTH, l1_slots=L1)


@pytest.fixture(scope="module")
def venue():
    return tn.venue(n_accounts=4, depth=DEPTH, deposit=3 * 10**9)


def make(seq, reqs):
    pre = seq.clone()
    for r in reqs:
        seq.submit(r)
    return pre, build_batch(pre, reqs, slots=SLOTS, batch_number=1, l1_slots=L1)


def bad(cs, values, component=None) -> set[str]:
    return {x.component for x in cs.check(values=cs.solve(values), only=component)}


def hit(components, name):
    return any(c == name or c.startswith(name + "/") for c in components)


def rebuilt(pre, b):
    return rebuild(batch_records(b.public_data, DIFF_BYTES), state=pre.state.clone())


# -- the published flag is the circuit's flag ----------------------------------------------------


@pytest.mark.adversarial
@pytest.mark.parametrize("asset,side", [(PERP, BUY), (PERP, SELL), (CALL, BUY)])
def test_published_flag_is_the_one_the_circuit_charged(venue, cs, asset, side):
    """A perp and an option trade, buyer or seller taking: the chunk is exactly the engine's
    RECORDS[T_TRADE] bytes (flag in byte 43, zero padding to 52), the circuit accepts it, and the
    published bytes alone rebuild the proven root with the fees the engine charged."""
    seq = venue.clone()
    price = 60_000 if asset == PERP else 3_000
    seq.submit(order(4, SELL if side == BUY else BUY, 50, price, 7, asset))  # rests
    pre, b = make(seq, [order(2, side, 20, price, 9, asset)])
    chunk = b.public_data[HEAD:HEAD + DIFF_BYTES]
    t, f = decode_record(chunk[:record_size(T_TRADE)])[:2]
    assert t == T_TRADE and chunk[record_size(T_TRADE):] == bytes(DIFF_BYTES - 44)
    assert chunk[43] == f["taker_buyer"] == (side == BUY) == b.values["s0_taker_buyer"]
    assert cs.check(values=cs.solve(b.values)) == []
    st = rebuilt(pre, b)
    assert st.root == b.new_root == seq.state.root
    a = pre.state.assets[asset]
    maker, taker = 20 * price * a.maker_fee // 10**6, 20 * price * a.taker_fee // 10**6
    assert fees_of_trade(pre.state, f) == ((taker, maker) if side == BUY else (maker, taker))
    assert st.accounts[FEE_ACCOUNT].collateral - pre.state.accounts[FEE_ACCOUNT].collateral \
        == maker + taker


@pytest.mark.adversarial
def test_flipped_flag_breaks_the_maker_price(venue, cs):
    """Limits 61,000 (buyer, taking) and 60,500 (seller, resting): the operator publishes
    taker_buyer = 0 to charge the seller the taker fee. The maker price is then the buyer's
    61,000, not the 60,500 traded: refused in "rules"."""
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))
    _, b = make(seq, [order(2, BUY, 20, 61_000, 9)])
    v = dict(b.values)
    assert v["s0_taker_buyer"] == 1
    v["s0_taker_buyer"] = 0
    assert hit(bad(cs, v, "slot0/rules"), "slot0/rules")


@pytest.mark.adversarial
def test_flipped_flag_makes_a_post_only_order_take(venue, cs):
    """Equal limits, the seller's order post-only: flipping the flag (the seller taking) meets
    the maker-price rule but not the post-only rule."""
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_000, 7, flags=POST_ONLY))
    _, b = make(seq, [order(2, BUY, 20, 60_000, 9)])
    v = dict(b.values)
    v["s0_taker_buyer"] = 0
    assert hit(bad(cs, v, "slot0/rules"), "slot0/rules")


@pytest.mark.adversarial
def test_flag_with_equal_limits_only_moves_the_fees_it_publishes(venue, cs):
    """Equal limits, neither post-only: the rules leave the flag to the prover (the signed
    orders do not say who arrived first). Flipping it alone is refused only where the fees
    land (the collateral of A, B and the fee total), i.e. a fully re-solved witness with the
    flipped flag charges exactly the fees its published flag gives: rebuild still agrees."""
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_000, 7))
    _, b = make(seq, [order(2, BUY, 20, 60_000, 9)])
    v = dict(b.values)
    v["s0_taker_buyer"] = 0
    assert not hit(bad(cs, v, "slot0/rules"), "slot0/rules")
    assert not hit(bad(cs, v, "slot0/type"), "slot0/type")
    assert bad(cs, v)  # the old roots / collateral no longer match


@pytest.mark.adversarial
@pytest.mark.parametrize("value", [2, -1, 256])
def test_flag_is_boolean(venue, cs, value):
    """A non-boolean flag would publish other bits (as_lc(taker_buyer) is the byte's low bit)."""
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_000, 7))
    _, b = make(seq, [order(2, BUY, 20, 60_000, 9)])
    v = dict(b.values, s0_taker_buyer=value % R)
    assert hit(bad(cs, v, "slot0/type"), "slot0/type")


@pytest.mark.adversarial
def test_flag_is_zero_outside_trades(venue, cs):
    """A transfer (slot 0) with taker_buyer = 1: refused (the flag only exists in trades)."""
    seq = venue.clone()
    _, b = make(seq, [Transfer(3, 1, 10, 0, FAR).signed(tn.key(3), DOMAIN)])
    assert b.values["s0_trd"] == 0
    v = dict(b.values, s0_taker_buyer=1)
    assert hit(bad(cs, v, "slot0/rules"), "slot0/rules")


@pytest.mark.adversarial
def test_rates_are_the_registrys(venue, cs):
    """The circuit reads the rates from the registry table, hashed into the old root it proves
    from: a witness with a lower taker rate for the traded asset (the fees re-solved) proves
    another old root, so another public input than the batch's (the contract's stored root)."""
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_000, 7))
    _, b = make(seq, [order(2, BUY, 20, 60_000, 9)])
    k = next(k for k in range(1, 8) if b.values.get(f"reg{k}_taker_fee") == 500)
    v = dict(b.values, **{f"reg{k}_taker_fee": 0})
    w = cs.solve(v)
    assert cs.check(values=w) or cs.witness(w)[1] != b.public_input


# -- layout ---------------------------------------------------------------------------------------


def test_every_record_fits_the_52_byte_chunk():
    """RECORDS widths: the trade is 44 bytes (flag last), the scenario chunk the longest at
    exactly DIFF_BYTES = 52; no type is longer."""
    sizes = {t: record_size(t) for t in RECORDS}
    assert max(sizes.values()) == sizes[T_SCENARIO] == DIFF_BYTES == 52
    assert sizes[T_TRADE] == 44 and RECORDS[T_TRADE][-1] == ("taker_buyer", 1, False)
    assert [n for n, _, _ in RECORDS[T_TRADE]] == [
        "buyer", "seller", "asset", "size", "price", "buyer_order", "seller_order", "taker_buyer"]


def test_rebuild_fees_equal_the_engine_floor():
    """trade_fees is floor(size * price * rate / 10**6) for each side, at the edges of the
    rounding (a remainder of 10**6 - 1) and at the 64-bit fee bound."""
    assert trade_fees(1, 999_999, 1, 1, 1) == (0, 0)
    assert trade_fees(1, 1_000_000, 1, 2, 3) == (3, 2)
    assert trade_fees(1, 1_000_000, 0, 2, 3) == (2, 3)
    n = (1 << 64) * 10**6 // 500 - 1
    assert trade_fees(1, n, 1, 0, 500)[0] == (1 << 64) - 1


# -- a fee the circuit cannot prove ------------------------------------------------------------


def _rich_venue(taker_fee: int) -> Sequencer:
    """One perpetual at 60,000 with a taker rate of `taker_fee` ppm; accounts 1, 2 funded
    with two 2**63-scale deposits each (u64 deposits)."""
    seq = Sequencer(State(account_depth=DEPTH), DOMAIN)
    seq.submit(SetOracleKey(tn.public_key(ORACLE_KEY)))
    seq.submit(Deposit(FEE_ACCOUNT, tn.public_key(tn.key(0)), 0))
    seq.submit(ListAsset(PERP, KIND_PERP, risk_initial=50_000, risk_maintenance=30_000,
                         maker_fee=0, taker_fee=taker_fee, liquidation_fee=10_000))
    for i in (1, 2):
        for _ in range(2):
            seq.submit(Deposit(i, tn.public_key(tn.key(i)), (1 << 64) - 1))
    seq.submit(OracleUpdate(PERP, 60_000, 1).signed(ORACLE_KEY, DOMAIN))
    tn.rows_update(seq, 1)
    return seq


@pytest.mark.adversarial
def test_engine_refuses_a_fee_above_64_bits(cs):
    """Taker rate 2**32 - 1 ppm (the listing's limit): a notional of 5 * 10**15 gives a taker
    fee of ~2.1 * 10**19 > 2**64. The circuit proves fees < 2**64 (floor_div_ppm, 64 bits), so
    the engine must refuse the fill (main did: the fee did not fit the record's u64 field, a
    typed InvalidRequest). Accepting it leaves the engine ahead of any provable batch."""
    seq = _rich_venue((1 << 32) - 1)
    q = 5 * 10**15 // 60_000
    seq.submit(order(2, SELL, q, 60_000, 7))  # rests, maker rate 0
    taker = order(1, BUY, q, 60_000, 9)
    pre = seq.clone()
    try:
        seq.submit(taker)
    except E.InvalidRequest:
        return  # refused: what main did
    (rec,) = [r for r in seq.records if r[0] == T_TRADE]
    fee = fees_of_trade(seq.state, decode_record(rec)[1])[0]
    assert fee >= 1 << 64
    b = build_batch(pre, [taker], slots=SLOTS, batch_number=1, l1_slots=L1, strict=False)
    problems = bad(cs, b.values, "slot0")
    assert hit(problems, "slot0/rules")  # floor_div_ppm: the quotient is not < 2**64
    pytest.fail(f"engine accepted a fill with a {fee.bit_length()}-bit fee; the circuit "
                f"refuses its witness in {sorted(problems)}")
