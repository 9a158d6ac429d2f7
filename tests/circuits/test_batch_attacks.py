"""Attacks on the batch circuit that must fail: forged witnesses an operator could build, each
against the rule that stops it, and a differential test holding what the circuit accepts to
what the published records rebuild.

A small circuit (depth 4, 3 slots of which 1 is an L1 slot) serves every test. Each attack test
names the review finding it closes and says what the circuit before the fix did with it."""

from __future__ import annotations

import random

import pytest

from circuits.batch import DIFF_BYTES, EMPTY_POSITIONS_ROOT, build_batch_circuit
from circuits.lc import R
from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.sequencer import Sequencer
from rollup.engine.testnet import CALL, DOMAIN, PERP
from rollup.margin.risk import is_liquidatable
from rollup.settlement.batch import Unsupported, build_batch
from rollup.state.rebuild import batch_records, rebuild
from rollup.state.state import FEE_ACCOUNT, State
from rollup.transactions import (
    BUY,
    SELL,
    Deposit,
    FundingTick,
    Liquidation,
    OracleUpdate,
    SetOracleKey,
    Transfer,
    Withdrawal,
)

SLOTS, L1, DEPTH = 3, 1, 4
FAR = 10**9


order, oracle = tn.order, tn.oracle


def copy(x):
    return x.clone()


def make(seq, reqs, *, strict=True, slots=SLOTS, l1=L1):
    pre = copy(seq)
    for r in reqs:
        seq.submit(r)
    return pre, build_batch(pre, reqs, slots=slots, batch_number=1, l1_slots=l1, strict=strict)


def rebuilt_root(pre, batch) -> int:
    """The root a user rebuilds from the batch's public data alone, on the pre-batch state."""
    st = rebuild(batch_records(batch.public_data, DIFF_BYTES), state=copy(pre.state))
    return st.root


def violated(cs, values, component=None) -> set[str]:
    return {x.component for x in cs.check(values=cs.solve(values), only=component)}


def hit(bad, name):
    return any(c == name or c.startswith(name + "/") for c in bad)


@pytest.fixture(scope="module")
def cs():
    return build_batch_circuit(SLOTS, DEPTH, l1_slots=L1)


@pytest.fixture(scope="module")
def venue():
    """Accounts 1..4 funded (3 x 10**9: 300k perps at 60,000 need 16% of 1.8 x 10**10 under
    the scenario rule); 1 long and 2 short 300k perps at 60,000; account 0 holds the fees of
    that trade plus a transfer, so it has collateral to move."""
    seq = tn.venue(n_accounts=4, depth=DEPTH, deposit=3 * 10**9)
    seq.submit(order(1, BUY, 300_000, 60_000, 1))
    seq.submit(order(2, SELL, 300_000, 60_000, 1))
    seq.submit(Transfer(3, FEE_ACCOUNT, 10**6, 0, FAR).signed(tn.key(3), DOMAIN))
    return seq


def _give_fee_account_a_position(seq, size=1_000):
    """Account 0 long `size` perps, as an engine that let account 0 trade would have left it
    (the state edited directly: today's engine refuses account 0's orders)."""
    st = seq.state
    st.begin()
    acc = st.edit_account(FEE_ACCOUNT)
    acc.positions[0] = (PERP, size, st.oracle[PERP].funding_index)
    st.commit()
    seq._sums.clear()


# -- finding 3 (price): the execution price is the maker's ------------------------------------


@pytest.mark.adversarial
def test_trade_price_between_both_limits(venue, cs):
    """The operator fills a buy limit 61,000 against a resting sell limit 60,500 at 60,700, a
    price it chose between the two limits. The circuit before the fix accepted it (it checked
    only a_price >= price >= b_price); the price must now be the maker's signed limit."""
    seq = copy(venue)
    seq.submit(order(4, SELL, 50, 60_700, 7))  # rests: the engine will trade at 60,700
    _, b = make(seq, [order(2, BUY, 20, 61_000, 9)])
    assert b.records[0][0] == 5 and cs.check(values=cs.solve(b.values)) == []
    # the same state change, the maker's order signed at 60,500: 60,500 <= 60,700 <= 61,000
    v = dict(b.values)
    (r8x, r8y), s = order(4, SELL, 50, 60_500, 7).sig
    v.update(s0_b_price=60_500, s0_sb_r8x=r8x, s0_sb_r8y=r8y, s0_sb_s=s)
    assert v["s0_taker_buyer"] == 1 and v["s0_price"] == 60_700
    assert not hit(violated(cs, v, "slot0/signature"), "slot0/signature")
    assert hit(violated(cs, v, "slot0/rules"), "slot0/rules")
    # and with the buyer as the maker (taker_buyer = 0): the buyer's limit is the price
    v = dict(b.values)
    (r8x, r8y), s = order(2, BUY, 20, 60_800, 9).sig
    v.update(s0_taker_buyer=0, s0_a_price=60_800, s0_sa_r8x=r8x, s0_sa_r8y=r8y, s0_sa_s=s)
    assert hit(violated(cs, v, "slot0/rules"), "slot0/rules")


# -- finding 2: the fee account's positions ---------------------------------------------------


@pytest.mark.adversarial
def test_fee_account_with_positions_proves_an_unrebuildable_root(venue, cs):
    """Account 0 holds a perpetual, funding moves, then a trade pays fees: the records' replay
    settles account 0's funding when it credits the fees, the circuit (crediting once at the end)
    did not. The circuit before the fix accepted this witness, proving a root that the published
    data does not rebuild; it now requires account 0 to hold no positions at the crediting."""
    seq = copy(venue)
    _give_fee_account_a_position(seq)
    seq.submit(oracle(FundingTick, PERP, -7, 2))  # account 0 now owes funding
    seq.submit(order(4, SELL, 50, 60_500, 7))
    pre, b = make(seq, [order(2, BUY, 20, 60_500, 9)], strict=False)
    assert b.values["fee_positions"] != EMPTY_POSITIONS_ROOT
    assert rebuilt_root(pre, b) == seq.state.root != b.new_root  # the two roots differ
    assert hit(violated(cs, b.values), "fee_account")
    with pytest.raises(Unsupported):  # the builder refuses it too
        make(copy(pre), [order(2, BUY, 20, 60_500, 9)])


@pytest.mark.adversarial
def test_fee_account_cannot_trade_or_liquidate(venue):
    """The engine never gives account 0 a position: its orders and its liquidations are
    refused (before the fix both were accepted)."""
    seq = copy(venue)
    seq.submit(order(4, SELL, 50, 60_500, 7))
    with pytest.raises(E.InvalidRequest):
        seq.submit(order(FEE_ACCOUNT, BUY, 1, 60_500, 1))
    # also through the compiled matcher's path
    out = seq.submit_many([order(FEE_ACCOUNT, BUY, 1, 60_500, 2)], group_root=True)
    assert isinstance(out[0], E.InvalidRequest), out
    seq.submit(oracle(OracleUpdate, PERP, 54_000, 3))  # account 1 (long) can be liquidated
    assert is_liquidatable(seq.state, seq.state.account(1))
    with pytest.raises(E.InvalidRequest):
        seq.submit(Liquidation(FEE_ACCOUNT, 1, PERP, 100, 0, FAR).signed(tn.key(0), DOMAIN))
    assert not any(a for a, _, _ in seq.state.account(FEE_ACCOUNT).positions)


# -- packed positions: a slot is hashed as its word asset + 2**8 * balance -------------------


@pytest.mark.adversarial
def test_position_word_reopened_as_another_slot(venue, cs):
    """The positions root hashes each slot's word asset + 2**8 * balance, so (PERP, b) and
    (0, (PERP + 2**8 b) / 2**8 mod r) open the same leaf: the operator could show account 1's
    long as an empty slot. The leaf and its path hold; the opening's balance range refuses it
    (and an asset id >= 2**8 fails its one-hot)."""
    seq = copy(venue)
    seq.submit(order(4, SELL, 50, 60_000, 7))
    _, b = make(seq, [order(1, BUY, 20, 60_000, 9)])
    assert b.records[0][0] == 5 and b.values["s0_a_id"] == 1
    assert cs.check(values=cs.solve(b.values)) == []
    j = next(j for j in range(8) if b.values[f"s0_a_p{j}_asset"] == PERP)
    word = (PERP + 256 * b.values[f"s0_a_p{j}_bal"]) % R
    v = dict(b.values)
    v[f"s0_a_p{j}_asset"], v[f"s0_a_p{j}_bal"] = 0, word * pow(256, -1, R) % R
    bad = violated(cs, v)
    assert not hit(bad, "slot0/account_a/merkle_update"), bad  # the same old leaf
    assert "slot0/account_a/positions/num2bits64" in bad, bad  # |balance| < 2**63
    # the asset pushed past the one-hot: (PERP + 256, b - 1)
    v = dict(b.values)
    v[f"s0_a_p{j}_asset"] = PERP + 256
    v[f"s0_a_p{j}_bal"] = (b.values[f"s0_a_p{j}_bal"] - 1) % R
    bad = violated(cs, v)
    assert not hit(bad, "slot0/account_a/merkle_update"), bad
    assert hit(bad, "slot0/account_a/positions"), bad


@pytest.mark.adversarial
def test_an_asset_in_two_slots_is_refused(venue, cs):
    """Slot selection assumes the traded asset sits in at most one slot; with it twice the
    slot indices (1, 1, -1) would still sum to 1 and write (-X, -nb) to the free slot, whose
    packed word is an in-range position of another asset. The circuit states the assumption."""
    seq = copy(venue)
    seq.submit(order(4, SELL, 50, 60_000, 7))
    _, b = make(seq, [order(1, BUY, 20, 60_000, 9)])
    assert any(b.values[f"s0_a_p{j}_asset"] == PERP for j in range(8))
    k = next(k for k in range(8) if b.values[f"s0_a_p{k}_asset"] == 0)
    v = dict(b.values)
    v[f"s0_a_p{k}_asset"] = PERP
    assert "slot0/account_a/positions/one_slot" in violated(cs, v)
    assert "slot0/account_a/positions/one_slot" not in violated(cs, dict(b.values))


# -- finding 4: the oracle key changes only with the old key's consent --------------------------

NEW_ORACLE = b"rotated-oracle".ljust(32, b"\0")


def _rotation(venue):
    """An honest batch: the oracle key rotated (signed by the old key), a price signed by the
    new one."""
    seq = copy(venue)
    new = tn.public_key(NEW_ORACLE)
    return make(seq, [SetOracleKey(new).signed(tn.ORACLE_KEY, DOMAIN),
                      OracleUpdate(PERP, 60_700, 6).signed(NEW_ORACLE, DOMAIN)])


@pytest.mark.adversarial
def test_oracle_key_rotation_without_the_old_keys_signature(venue, cs):
    """The operator replaces the oracle key with one it holds, unsigned or signed by the new key
    itself, then could sign any price. The circuit before the fix accepted both witnesses (an
    oracle-key slot checked no signature); the slot now verifies the running oracle key's
    signature over the new key."""
    pre, b = _rotation(venue)
    assert cs.check(values=cs.solve(b.values)) == []
    assert rebuilt_root(pre, b) == b.new_root
    for forged in (None, SetOracleKey(tn.public_key(NEW_ORACLE)).signed(NEW_ORACLE, DOMAIN).sig,
                   SetOracleKey(tn.public_key(tn.key(1))).signed(tn.ORACLE_KEY, DOMAIN).sig):
        v = dict(b.values)
        (r8x, r8y), s = forged or ((0, 0), 0)
        v.update(s0_sa_r8x=r8x, s0_sa_r8y=r8y, s0_sa_s=s)
        assert hit(violated(cs, v, "slot0/signature"), "slot0/signature"), forged


@pytest.mark.adversarial
def test_engine_refuses_an_oracle_key_change_without_the_old_keys_signature(venue):
    """Unsigned, signed by the new key, or signed by the old key over another key: each is
    refused with BadSignature and changes nothing (before the fix the engine took any)."""
    seq = copy(venue)
    new = tn.public_key(NEW_ORACLE)
    root = seq.state.root
    for bad in (SetOracleKey(new), SetOracleKey(new).signed(NEW_ORACLE, DOMAIN),
                SetOracleKey(tn.public_key(tn.key(1))).signed(tn.ORACLE_KEY, DOMAIN)):
        bad = SetOracleKey(new, sig=bad.sig)
        with pytest.raises(E.BadSignature):
            seq.submit(bad)
        assert isinstance(seq.submit_many([bad])[0], E.BadSignature)
    assert seq.state.root == root and seq.state.oracle_pk == tn.public_key(tn.ORACLE_KEY)
    seq.submit(SetOracleKey(new).signed(tn.ORACLE_KEY, DOMAIN))
    assert seq.state.oracle_pk == new


def test_first_oracle_key_is_set_unsigned_and_proven(cs):
    """While no oracle key is registered (a state before any), the first key needs no
    signature, in the engine and in the circuit alike."""
    seq = Sequencer(State(account_depth=DEPTH), DOMAIN)
    seq.submit(Deposit(FEE_ACCOUNT, tn.public_key(tn.key(0)), 0))
    _, b = make(seq, [SetOracleKey(tn.public_key(tn.ORACLE_KEY))])
    assert seq.state.oracle_pk == tn.public_key(tn.ORACLE_KEY)
    assert cs.check(values=cs.solve(b.values)) == []


# -- differential: what the circuit accepts, the records rebuild ------------------------------


def _random_requests(rng: random.Random, seq, t: int, kinds=()) -> tuple[list, int]:
    """Up to SLOTS requests the engine accepts, drawn from trades, transfers (account 0 among
    the parties), a withdrawal in the L1 slot, oracle prices and funding ticks; `kinds` forces
    the first draws."""
    reqs, used = [], 0
    oid = 100 + rng.randrange(100)
    kinds = list(kinds)
    for _ in range(20):
        if used >= SLOTS:
            break
        k = kinds.pop(0) if kinds else rng.randrange(6)
        if k == 0 and not used:
            i = rng.choice([0, 1, 3, 4])
            r = Withdrawal(i, rng.randrange(1, 1000), 0xAB, seq.state.account(i).nonce,
                           FAR).signed(tn.key(i), DOMAIN)
        elif k in (1, 2):  # a maker rests at a price (no record), a taker fills it
            mk, tk = rng.sample([1, 2, 3, 4], 2)
            side = rng.choice([BUY, SELL])
            price = 60_000 + rng.randrange(-300, 300)
            q = rng.randrange(1, 40)
            mo = order(mk, 1 - side, q, price, oid)
            oid += 1
            try:
                if seq.submit(mo).records:
                    break  # it crossed an earlier maker: keep the batch simple
            except E.EngineError:
                continue
            reqs.append(mo)
            r = order(tk, side, q, price + (300 if side == BUY else -300), oid)
            oid += 1
        elif k == 3:  # account 0 is one of the two parties half of the time
            i, j = rng.sample([0, 1, 3, 4], 2) if rng.random() < .5 else (0, rng.choice([1, 3]))
            if rng.random() < .5:
                i, j = j, i
            r = Transfer(i, j, rng.randrange(1, 5_000), seq.state.account(i).nonce,
                         FAR).signed(tn.key(i), DOMAIN)
        elif k == 4:
            t += 1
            r = oracle(OracleUpdate, rng.choice([PERP, CALL]),
                       (60_000 if rng.random() < .5 else 3_000) + rng.randrange(100), t)
        else:
            t += 1
            r = oracle(FundingTick, PERP, rng.randrange(-20, 20), t)
        try:
            rec = seq.submit(r).records
        except E.EngineError:
            continue
        if used + len(rec) > SLOTS:
            break
        used += len(rec)
        reqs.append(r)
    return reqs, t


@pytest.mark.adversarial
def test_circuit_and_rebuild_agree_on_random_batches(venue, cs):
    """Random small batches, some with account 0 moved after fees accrued (the builder refuses
    those; its strict=False mode writes the circuit's own witness) and some with account 0
    holding a position (an older engine's state): every one the circuit accepts is rebuilt from
    its public data to the very root it proves. Before the fix, those with a position and a
    funding move accepted a root the records do not rebuild."""
    rng = random.Random(20240611)
    accepted = rejected = touched_after_fees = 0
    t = 10
    for n in range(7):
        seq = copy(venue)
        if n % 3 == 2:
            _give_fee_account_a_position(seq, rng.randrange(1, 500))
            t += 1
            seq.submit(oracle(FundingTick, PERP, rng.randrange(1, 9), t))
        pre = copy(seq)
        # every other batch: a trade's fees, then account 0 moves collateral
        reqs, t = _random_requests(rng, seq, t, [1, 3] if n % 2 else [])
        try:
            b = build_batch(pre, reqs, slots=SLOTS, batch_number=1, l1_slots=L1, strict=False)
        except (Unsupported, ValueError):
            continue
        w = cs.solve(b.values)
        if cs.check(values=w):
            rejected += 1
            continue
        accepted += 1
        assert cs.witness(w)[1] == b.public_input
        assert rebuilt_root(pre, b) == b.new_root, reqs
        fees = False
        for r in b.records:
            ids = {int.from_bytes(r[1:5], "big"), int.from_bytes(r[5:9], "big")} \
                if r[0] in (3, 5) else {int.from_bytes(r[1:5], "big")} if r[0] == 2 else set()
            touched_after_fees += fees and FEE_ACCOUNT in ids
            fees = fees or r[0] == 5
    assert accepted >= 3 and rejected >= 1, (accepted, rejected)
    assert touched_after_fees >= 1
