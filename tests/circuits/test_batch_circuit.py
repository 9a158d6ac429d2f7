"""The batch circuit and builder at toy size (depth 4, 4 slots of which 2 are L1 slots).

Three honest batches cover every proven transaction type; they share one circuit (the shape
depends only on the sizes), each satisfies it, chains to the engine's root and has the
contract's public input, and the published records rebuild the same state. Each tampering
breaks the constraint system in the component that states the rule."""

from __future__ import annotations

import pytest

from circuits.babyjubjub import pack_point
from circuits.batch import build_batch_circuit, input_names
from circuits.lc import R
from circuits.solver import compile_solver
from prover.fields import limbs_to_ints
from rollup.chain import layout
from rollup.chain.layout import ASSET_ETH, ASSET_TOKEN, KIND_DEPOSIT, QueueEntry, queue_chain
from rollup.chain.layout import KIND_FORCED_WITHDRAWAL as KIND_FORCED
from rollup.engine import testnet as tn
from rollup.engine.testnet import CALL, DOMAIN, EXPIRY, PERP
from rollup.margin.risk import is_liquidatable
from rollup.margin.scenario import perp_row
from rollup.settlement.batch import (
    BatchQueue,
    Unsupported,
    build_batch,
    key_unusable,
    plan_batches,
    refund_witness,
)
from rollup.state.encoding import KIND_CALL, encode
from rollup.state.rebuild import apply_record, batch_records
from rollup.transactions import (
    BUY,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    Deposit,
    ExpirySettlement,
    ForcedWithdrawal,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Refund,
    ScenarioChunk,
    SetOracleKey,
    SettlementPrice,
    Transfer,
    Withdrawal,
    decode_records,
    scenario_chunks,
)

SLOTS, L1, DEPTH = 4, 2, 4
FAR = 10**9


order, oracle = tn.order, tn.oracle


def make(seq, reqs, queue=(), slots=SLOTS, l1=L1):
    pre = seq.clone()
    for r in reqs:
        seq.submit(r)
    return pre, build_batch(pre, reqs, slots=slots, batch_number=1, queue=list(queue),
                            l1_slots=l1)


@pytest.fixture(scope="module")
def venue():
    seq = tn.venue(n_accounts=4, depth=DEPTH, deposit=10**9)
    # 1 long and 2 short 100k perps at 60,000 (leveraged: R = 16% of the notional, 9.6e8), 3
    # sells calls
    seq.submit(order(1, BUY, 100_000, 60_000, 1))
    seq.submit(order(2, SELL, 100_000, 60_000, 1))
    seq.submit(order(3, SELL, 10, 3_000, 2, asset=CALL))
    return seq


@pytest.fixture(scope="module")
def batches(venue):
    """Three batches of the same shape over all proven types."""
    out = {}
    # A: a deposit creating account 5 (L1 queue), a withdrawal, a perp trade, an oracle update
    seq = venue.clone()
    pk5 = tn.public_key(tn.key(5))
    queue = [QueueEntry(KIND_DEPOSIT, ASSET_TOKEN, 5, b"\x22" * 20, 5_000_000, pack_point(pk5))]
    seq.submit(order(4, SELL, 50, 60_500, 7))  # resting maker
    out["a"] = (*make(seq, [Deposit(5, pk5, 5_000_000),
                             Withdrawal(3, 1_000, 0xABCDEF, 0, FAR).signed(tn.key(3), DOMAIN),
                             order(2, BUY, 20, 61_000, 9),
                             oracle(OracleUpdate, PERP, 61_000, 5)], queue), seq, queue)
    # B: an option trade, the perp price falls, account 1 is liquidated, a funding tick
    seq = venue.clone()
    reqs = [order(4, BUY, 10, 3_100, 1, asset=CALL),
            oracle(OracleUpdate, PERP, 54_000, 10),
            Liquidation(4, 1, PERP, 100, 0, FAR).signed(tn.key(4), DOMAIN),
            oracle(FundingTick, PERP, -3, 11)]
    out["b"] = (*make(seq, reqs), seq, [])
    # C: settlement price, two expiry settlements (calls in the money), a transfer
    seq = venue.clone()
    seq.submit(order(4, BUY, 10, 3_100, 1, asset=CALL))
    out["c"] = (*make(seq, [oracle(SettlementPrice, CALL, 65_000, EXPIRY),
                             ExpirySettlement(4, CALL), ExpirySettlement(3, CALL),
                             Transfer(2, 3, 1_000, 0, FAR).signed(tn.key(2), DOMAIN)]), seq, [])
    # D: two forced withdrawals from the L1 queue: one paid, one refused (it would leave the
    # leveraged account 1 under initial margin), then a trade
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))
    fw = [ForcedWithdrawal(3, 2_000, 0x33, ASSET_TOKEN, key_of(3)),
          ForcedWithdrawal(1, 10**9, 0x11, ASSET_TOKEN, key_of(1))]
    queue = [fw_entry(r) for r in fw]
    out["d"] = (*make(seq, [*fw, order(2, BUY, 20, 61_000, 9)], queue), seq, queue)
    # E: an ETH deposit and a forced withdrawal naming an account the state lacks (both
    # consumed, the state unchanged; the ETH goes back on L1); F: token deposits to two unusable
    # keys (y = p is not canonical; y = 0 is a point of order 4), refunded
    seq = venue.clone()
    reqs = [Refund(7, ASSET_ETH, 0x77, 10**15, int.from_bytes(GOOD_KEY, "big")),
            ForcedWithdrawal(9, 500, 0x99, ASSET_TOKEN, key_of(7))]
    queue = [QueueEntry(KIND_DEPOSIT, ASSET_ETH, 7, (0x77).to_bytes(20, "big"), 10**15,
                        GOOD_KEY), fw_entry(reqs[1])]
    out["e"] = (*make(seq, reqs, queue), seq, queue)
    seq = venue.clone()
    bad = [R_KEY, bytes(32)]
    reqs = [Refund(10 + k, ASSET_TOKEN, 0x55, 700, int.from_bytes(key, "big"))
            for k, key in enumerate(bad)]
    queue = [QueueEntry(KIND_DEPOSIT, ASSET_TOKEN, 10 + k, (0x55).to_bytes(20, "big"), 700, key)
             for k, key in enumerate(bad)]
    out["f"] = (*make(seq, reqs, queue), seq, queue)
    # G: the operator lists a new call series after genesis (an L1 slot), its first price and
    # the first chunks of its scenario rows (it trades once all are published: test below)
    seq = venue.clone()
    out["g"] = (*make(seq, [NEW_SERIES, oracle(OracleUpdate, NEW, 2_000, 5),
                             *NEW_ROWS[:2]]), seq, [])
    # H: the operator rotates the oracle key (an L1 slot): the next price is signed with the
    # new key, then a trade
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))  # resting maker
    out["h"] = (*make(seq, [SetOracleKey(tn.public_key(NEW_ORACLE)).signed(tn.ORACLE_KEY,
                                                                            DOMAIN),
                             OracleUpdate(PERP, 60_700, 6).signed(NEW_ORACLE, DOMAIN),
                             order(2, BUY, 20, 61_000, 9)]), seq, [])
    # I: a forced withdrawal from account 3 signed by account 4's key (the contract accepts the
    # signature, the circuit must not pay it), then account 3's own
    seq = venue.clone()
    fw = [ForcedWithdrawal(3, 2_000, 0x44, ASSET_TOKEN, key_of(4)),
          ForcedWithdrawal(3, 1_000, 0x33, ASSET_TOKEN, key_of(3))]
    queue = [fw_entry(r) for r in fw]
    out["i"] = (*make(seq, fw, queue), seq, queue)
    # J, K: a scenario update of the perpetual (6 signed chunks) across two batches: the stage
    # in progress is committed in between; K finishes it (the rows set) and trades
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))  # resting maker
    pre_j, batch_j = make(seq, SCENARIO[:4])
    out["j"] = (pre_j, batch_j, seq.clone(), [])
    out["k"] = (*make(seq, [*SCENARIO[4:], order(2, BUY, 20, 61_000, 9)]), seq, [])
    return out


SCENARIO_TIME = 6
SCENARIO_ROWS = perp_row(60_000)
SCENARIO = [c.signed(tn.ORACLE_KEY, DOMAIN)
            for c in scenario_chunks(PERP, SCENARIO_TIME, SCENARIO_ROWS)]


def key_of(account: int) -> int:
    """The packed L2 key of a test account, as the big-endian integer a queue entry holds."""
    return int.from_bytes(pack_point(tn.public_key(tn.key(account))), "big")


def fw_entry(r: ForcedWithdrawal) -> QueueEntry:
    return QueueEntry(KIND_FORCED, r.asset, r.account, r.to.to_bytes(20, "big"), r.amount,
                      r.l2_key.to_bytes(32, "big"))


NEW_ORACLE = b"rotated-oracle".ljust(32, b"\0")


NEW = 4
NEW_SERIES = ListAsset(NEW, KIND_CALL, risk_initial=100_000, risk_maintenance=50_000,
                       underlying=PERP, strike=62_000, expiry=EXPIRY, short_initial=100_000,
                       short_maintenance=60_000, maker_fee=100, taker_fee=300,
                       liquidation_fee=10_000)


NEW_ROWS = [c.signed(tn.ORACLE_KEY, DOMAIN) for c in scenario_chunks(
    NEW, 5, [x // 3 for x in perp_row(60_000)])]


GOOD_KEY = pack_point(tn.public_key(tn.key(7)))
R_KEY = R.to_bytes(32, "little")  # y = p: not canonical


@pytest.fixture(scope="module")
def cs():
    return build_batch_circuit(SLOTS, DEPTH, l1_slots=L1)


@pytest.fixture(scope="module")
def solver(cs):
    return compile_solver(cs, constraints=True)


def components(cs, values):
    return {v.component for v in cs.check(values=values)}


def hit(bad, name):
    return any(c == name or c.startswith(name + "/") for c in bad)


@pytest.mark.parametrize("which", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"])
def test_honest_batches(batches, cs, solver, which):
    pre, batch, seq, queue = batches[which]
    assert batch.old_root == pre.state.root and batch.new_root == seq.state.root
    assert batch.queue_consumed == len(queue)
    if queue:
        assert batch.queue_after == queue_chain(queue)[-1]
    w = cs.solve(batch.values)
    assert cs.check(values=w) == []
    assert cs.witness(w)[1] == batch.public_input
    # the compiled solver (what the batcher runs) gives the same values on every type
    fast = solver.solve(batch.values)
    assert limbs_to_ints(fast) == w and solver.check(fast) == []
    # the public data rebuilds the state: records replayed on the pre-batch state
    st = pre.state.clone()
    from circuits.batch import DIFF_BYTES
    for t, f in decode_records(batch_records(batch.public_data, DIFF_BYTES)):
        st.begin()
        apply_record(st, t, f)
        st.commit()
    assert st.root == batch.new_root


def test_batch_d_pays_a_healthy_forced_withdrawal_and_refuses_the_other(batches):
    pre, batch, seq, _ = batches["d"]
    recs = [decode_records(r)[0][1] for r in batch.records[:2]]
    assert (recs[0]["paid"], recs[1]["paid"]) == (2_000, 0)
    assert recs[1]["requested"] == 10**9 and recs[0]["to"] == 0x33
    assert seq.state.account(3).collateral == pre.state.account(3).collateral - 2_000
    assert seq.state.account(1).collateral == pre.state.account(1).collateral
    # the L1 record pays the requester; the refused one publishes an empty record
    n = int.from_bytes(batch.public_data[:4], "big")
    l1 = [layout.Withdrawal(3, ASSET_TOKEN, (0x33).to_bytes(20, "big"), 2_000).encode(),
          bytes(layout.RECORD_BYTES)]
    assert n == 2 and batch.public_data[4:4 + 82] == b"".join(l1)


@pytest.mark.adversarial
def test_forced_withdrawal_signed_by_another_key_pays_nothing(batches):
    """The old attack: whoever deposited first to a key became the account's L1 owner and could
    force-withdraw its funds. Now the entry names the key that signed it; another account's key
    (4's, for account 3) is consumed with paid = 0, the account's own key is paid."""
    pre, batch, seq, _ = batches["i"]
    recs = [decode_records(r)[0][1] for r in batch.records[:2]]
    assert (recs[0]["paid"], recs[1]["paid"]) == (0, 1_000)
    assert seq.state.account(3).collateral == pre.state.account(3).collateral - 1_000
    n = int.from_bytes(batch.public_data[:4], "big")
    l1 = [bytes(layout.RECORD_BYTES),
          layout.Withdrawal(3, ASSET_TOKEN, (0x33).to_bytes(20, "big"), 1_000).encode()]
    assert n == 2 and batch.public_data[4:4 + 82] == b"".join(l1)


def test_unconsumable_entries_are_consumed_and_refunded(batches):
    for which, assets in (("e", [ASSET_ETH, None]), ("f", [ASSET_TOKEN, ASSET_TOKEN])):
        pre, batch, seq, queue = batches[which]
        assert seq.state.root == pre.state.root  # nothing entered the state
        assert batch.queue_consumed == 2 and batch.queue_after == queue_chain(queue)[-1]
        l1 = batch.public_data[4:4 + 82]
        for k, asset in enumerate(assets):
            rec = l1[41 * k:41 * (k + 1)]
            if asset is None:  # the forced withdrawal from a missing account pays nothing
                assert rec == bytes(41)
            else:  # the deposit goes back to its depositor, in its asset
                e = queue[k]
                assert rec == layout.Withdrawal(e.account_id, asset, e.l1_address,
                                                e.amount).encode()
    assert key_unusable(GOOD_KEY) is None
    assert key_unusable(R_KEY)[0] == "r_nc" and key_unusable(bytes(32))[0] == "r_so"
    nr = next(k for k in (y.to_bytes(32, "little") for y in range(2, 200))
              if key_unusable(k) and key_unusable(k)[0] == "r_nr")
    assert nr is not None


def test_a_usable_key_is_not_refunded(batches, cs):
    v = dict(batches["f"][1].values)
    # claim the first (non-canonical) key had no reason: a token refund needs one
    v["s0_r_nc"] = 0
    assert hit({x.component for x in cs.check(values=cs.solve(v), only="slot0/key")},
               "slot0/key")
    with pytest.raises(Unsupported):
        refund_witness(GOOD_KEY, ASSET_TOKEN)


def test_batch_b_liquidates_an_account_that_was_below_maintenance(batches):
    pre, batch, seq, _ = batches["b"]
    assert len(batch.records) == 4 and batch.records[2][0] == 10  # the liquidation record
    assert seq.state.account(1).balance(PERP) == 100_000 - 100


def test_shape_is_all_the_circuit_depends_on(batches, cs):
    assert len(input_names(SLOTS, DEPTH)) == cs.stats()["private_inputs"]
    assert set(batches["a"][1].values) == set(input_names(SLOTS, DEPTH))


def test_padding_with_no_ops(batches, cs):
    pre, _, _, queue = batches["a"]
    reqs = [Deposit(5, tn.public_key(tn.key(5)), 5_000_000)]
    small = build_batch(pre, reqs, slots=SLOTS, batch_number=1, queue=queue, l1_slots=L1)
    w = cs.solve(small.values)
    assert cs.check(values=w) == [] and cs.witness(w)[1] == small.public_input


def _resign(v, p, req, prefix):
    (r8x, r8y), s = req.sig
    v.update({f"{p}{prefix}r8x": r8x, f"{p}{prefix}r8y": r8y, f"{p}{prefix}s": s})


def _tamper(batches, which, case):  # noqa: C901 - one branch per case
    v = dict(batches[which][1].values)
    if case == "forged_signature":
        v["s1_sa_s"] = (v["s1_sa_s"] + 1) % (1 << 250)
        return v, "s1_", "signature"
    if case == "replayed_nonce":  # the withdrawal re-signed for nonce 1, the leaf holds 0
        _resign(v, "s1_", Withdrawal(3, 1_000, 0xABCDEF, 1, FAR).signed(tn.key(3), DOMAIN),
                "sa_")
        return v, "s1_", "signature"
    if case == "overspend":  # withdraw more than the account is worth, validly signed
        v["s1_amount"] = 2 * 10**9
        _resign(v, "s1_", Withdrawal(3, 2 * 10**9, 0xABCDEF, 0, FAR).signed(tn.key(3), DOMAIN),
                "sa_")
        return v, "s1_", "margin"
    if case == "under_margined_trade":  # 2 (short 300k) buys 800k, both orders validly signed
        v.update(s2_qty=800_000, s2_a_size=800_000, s2_b_size=800_000)
        _resign(v, "s2_", order(2, BUY, 800_000, 61_000, 9), "sa_")
        _resign(v, "s2_", order(4, SELL, 800_000, 60_500, 7), "sb_")
        return v, "s2_", "margin"
    if case == "trade_above_limit":
        v["s2_price"] = 61_001
        return v, "s2_", "rules"
    if case == "overfill":
        v["s2_qty"] = 51  # the maker's order holds 50
        return v, "s2_", "account_b"
    if case == "oracle_time_backwards":
        v["s3_otime"] = 0
        _resign(v, "s3_", oracle(OracleUpdate, PERP, 61_000, 0), "sa_")
        return v, "s3_", "rules"
    if case == "forged_oracle":
        _resign(v, "s3_", OracleUpdate(PERP, 61_000, 5).signed(tn.key(1), DOMAIN), "sa_")
        return v, "s3_", "signature"
    if case == "wrong_sibling":
        v["s2_b_sib2"] += 1
        return v, "s2_", "account_b"
    if case == "deposit_claims_existing_account":
        v["s0_new"] = 0
        return v, "s0_", "account_a"
    if case == "other_queue_entry":  # the deposit credited from an entry the contract lacks
        v["s0_depositor"] += 1
        return v, None, None
    if case == "healthy_liquidated":  # the liquidation moved before the price drop
        for k in [k for k in v if k.startswith("s1_") or k.startswith("s2_")]:
            v[k] = batches["b"][1].values["s2_" + k[3:]] if k.startswith("s1_") else \
                batches["b"][1].values["s1_" + k[3:]]
        return v, "s1_", "margin"
    if case == "settle_before_expiry":
        v["s0_otime"] = EXPIRY - 1
        _resign(v, "s0_", oracle(SettlementPrice, CALL, 65_000, EXPIRY - 1), "sa_")
        return v, "s0_", "rules"
    if case == "forced_withdrawal_not_paid":  # refuse a payable forced withdrawal by
        v["s0_famount"] = 0  # claiming it asked nothing: the account (reopened as B) would
        return v, "s0_", "account_b"  # have to stay unpaid, and the queue hash changes too
    if case == "forced_withdrawal_paid_to_another_key":  # D's paid request, with the entry
        k = key_of(4)  # naming account 4's key: the paid state it leads to no longer follows
        v.update(s0_key_hi=k >> 128, s0_key_lo=k & ((1 << 128) - 1))
        return v, "s0_", "account_b"
    if case == "listing_not_new":  # claim the new series was listed before the batch
        v["reg4_new"] = 0
        return v, "s0_", "listing"
    if case == "price_before_listing":  # the series' first price moved before its listing
        g = batches["g"][1].values
        for k in [k for k in v if k.startswith("s0_") or k.startswith("s1_")]:
            v[k] = g[("s1_" if k.startswith("s0_") else "s0_") + k[3:]]
        return v, "s0_", "asset"
    if case == "listing_edited":  # another strike than the one listed: another registry root
        v["reg4_strike"] += 1
        return v, None, None
    if case == "old_oracle_key_after_rotation":
        _resign(v, "s1_", OracleUpdate(PERP, 60_700, 6).signed(tn.ORACLE_KEY, DOMAIN), "sa_")
        return v, "s1_", "signature"
    if case == "small_order_oracle_key":  # the order-2 point (0, -1) as the new key
        key = pack_point((0, R - 1))
        v.update(s0_kx=0, s0_key_hi=int.from_bytes(key[:16], "big"),
                 s0_key_lo=int.from_bytes(key[16:], "big"))
        return v, "s0_", "key"
    if case == "scenario_row_forged":  # a row other than the signed one
        v["s1_dv2"] += 1
        return v, "s1_", "signature"
    if case == "scenario_signed_by_another_key":
        _resign(v, "s1_", SCENARIO[1].signed(tn.key(1), DOMAIN), "sa_")
        return v, "s1_", "signature"
    if case == "scenario_stale_time":  # chunk 0 validly signed for a time before the state's
        stale = ScenarioChunk(PERP, 0, 0, SCENARIO[0].dv).signed(tn.ORACLE_KEY, DOMAIN)
        v["s0_otime"] = 0
        _resign(v, "s0_", stale, "sa_")
        return v, "s0_", "rules"
    if case == "scenario_chunk_skipped":  # K without chunk 4: the last chunk right away
        last = SCENARIO[5]
        v.update({"s0_chunk": 5, **{f"s0_dv{i}": encode(x) for i, x in enumerate(last.dv)}})
        _resign(v, "s0_", last, "sa_")
        return v, "s0_", "rules"
    if case == "scenario_other_asset":  # chunk 1 of another asset's update continues PERP's
        other = ScenarioChunk(CALL, 1, SCENARIO_TIME, SCENARIO[1].dv).signed(tn.ORACLE_KEY,
                                                                          DOMAIN)
        v["s1_asset"] = CALL
        _resign(v, "s1_", other, "sa_")
        return v, "s1_", "rules"
    if case == "inflated_payout":
        v["s1_a_p0_bal"] += 1  # claim a larger option position than the leaf holds
        return v, "s1_", "account_a"
    raise AssertionError(case)


@pytest.mark.parametrize("which, case, component", [
    ("a", "forged_signature", "signature"),
    ("a", "replayed_nonce", "signature"),
    ("a", "overspend", "margin"),
    ("a", "under_margined_trade", "margin"),
    ("a", "trade_above_limit", "rules"),
    ("a", "overfill", "account_b/order_tree"),
    ("a", "oracle_time_backwards", "rules"),
    ("a", "forged_oracle", "signature"),
    ("a", "wrong_sibling", "account_b"),
    ("a", "deposit_claims_existing_account", "account_a"),
    ("a", "other_queue_entry", None),
    ("b", "healthy_liquidated", "margin"),
    ("c", "settle_before_expiry", "rules"),
    ("c", "inflated_payout", "account_a"),
    ("d", "forced_withdrawal_not_paid", "account_b"),
    ("d", "forced_withdrawal_paid_to_another_key", "account_b"),
    ("g", "listing_not_new", "listing"),
    ("g", "price_before_listing", "asset"),
    ("g", "listing_edited", None),
    ("h", "old_oracle_key_after_rotation", "signature"),
    ("h", "small_order_oracle_key", "key"),
    ("j", "scenario_row_forged", "signature"),
    ("j", "scenario_signed_by_another_key", "signature"),
    ("j", "scenario_stale_time", "rules"),
    ("j", "scenario_other_asset", "rules"),
    ("k", "scenario_chunk_skipped", "rules"),
])
@pytest.mark.adversarial
def test_tampered_witness_fails(batches, cs, which, case, component):
    v, slot, _ = _tamper(batches, which, case)
    w = cs.solve(v)
    if component is None:  # satisfiable, but not for the public input the contract computes
        assert components(cs, w) == set()
        assert cs.witness(w)[1] != batches[which][1].public_input
        return
    name = f"slot{slot[1:-1]}/{component}"
    bad = {x.component for x in cs.check(values=w, only=name)}
    assert hit(bad, name), sorted(bad)[:20]


def test_changed_public_data_fails(batches, cs):
    b = batches["a"][1]
    w = cs.witness(cs.solve(b.values))
    w[1] += 1
    assert hit({v.component for v in cs.check(w)}, "public_input")
    data = bytearray(b.public_data)
    data[-1] ^= 1
    assert layout.batch_public_input(DOMAIN.chain_id, DOMAIN.rollup_address.to_bytes(20, "big"),
                                     1, b.old_root, b.new_root, b.queue_before, b.queue_after,
                                     bytes(data)) != b.public_input


def test_liquidation_needs_an_account_below_maintenance(batches):
    pre = batches["b"][0]
    assert not is_liquidatable(pre.state, pre.state.account(1))


def test_builder_refuses_what_the_circuit_does_not_prove(venue):
    seq = venue.clone()
    with pytest.raises(Unsupported):  # a withdrawal past the L1 slots
        make(seq, [oracle(OracleUpdate, PERP, 60_000, 2), oracle(OracleUpdate, PERP, 60_000, 3),
                   Withdrawal(3, 1, 0xAB, 0, FAR).signed(tn.key(3), DOMAIN)])
    seq = venue.clone()
    seq.submit(ListAsset(9, 1, risk_initial=50_000, risk_maintenance=30_000))
    with pytest.raises(Unsupported):  # asset 9 is outside an 8-entry table
        make(seq, [oracle(OracleUpdate, PERP, 60_000, 2)])
    seq = venue.clone()
    seq.submit(order(4, SELL, 5, 60_000, 3))
    with pytest.raises(Unsupported):  # account 0 opened after fees accrued
        make(seq, [order(2, BUY, 5, 60_000, 3),
                   Transfer(1, 0, 1, 0, FAR).signed(tn.key(1), DOMAIN)])


def test_reduce_only_and_post_only_rules(venue, cs):
    seq = venue.clone()
    seq.submit(order(1, SELL, 10, 60_000, 5, flags=REDUCE_ONLY | POST_ONLY))  # 1 is long
    _, b = make(seq, [order(3, BUY, 10, 60_000, 5)])
    assert cs.check(values=cs.solve(b.values)) == []
    v = dict(b.values)
    v["s0_taker_buyer"] = 0  # claim the post-only seller took liquidity
    assert hit({x.component for x in cs.check(values=cs.solve(v), only="slot0/rules")},
               "slot0/rules")


def test_plan_batches_respects_slots_l1_slots_and_fees(venue):
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))
    w = [Withdrawal(3, 1, 0xAB, n, FAR).signed(tn.key(3), DOMAIN) for n in range(3)]
    reqs = [w[0], oracle(OracleUpdate, PERP, 60_000, 2), w[1], w[2],
            order(2, BUY, 20, 61_000, 9), Transfer(1, 0, 1, 0, FAR).signed(tn.key(1), DOMAIN)]
    plan = plan_batches(seq, reqs, slots=4, l1_slots=2)
    # w1 would land in slot 2 (not an L1 slot); the transfer to account 0 follows a fee trade
    assert plan == [reqs[:2], reqs[2:5], reqs[5:]]
    pre = seq.clone()
    for batch in plan:  # and the builder accepts each batch in turn
        b = build_batch(pre, batch, slots=4, batch_number=1, l1_slots=2)
        for r in batch:
            pre.apply_verified(r)
        assert b.new_root == pre.state.root


def test_batch_queue_closes_on_size_and_age():
    now = [0.0]
    q = BatchQueue(slots=2, max_age=10, clock=lambda: now[0])
    assert q.add("a") is None
    assert q.add("b") == ["a", "b"]
    assert q.add("c") is None
    now[0] = 11
    assert q.poll() == ["c"] and q.poll() is None
