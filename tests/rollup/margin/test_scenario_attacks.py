"""The scenario rule in the engine under attack: a row at the edge of the published range, a
replayed scenario chunk, hedged books whose value the float scan cannot resolve."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.checks import working
from rollup.engine.testnet import CALL, DOMAIN, PERP, PUT
from rollup.margin.liquidation import MarginMatrix
from rollup.margin.risk import account_risk, is_liquidatable
from rollup.margin.scenario import changed_rows
from rollup.transactions import OracleUpdate, scenario_chunks

pytestmark = pytest.mark.adversarial


@pytest.fixture(scope="module")
def venue():
    return tn.venue(n_accounts=4, depth=4, deposit=10**9)


def _publish(seq, asset, t, rows):
    for c in scenario_chunks(asset, t, rows):
        seq.submit(c.signed(tn.ORACLE_KEY, DOMAIN))


def test_a_row_the_engine_and_circuit_accept_does_not_break_the_scan(venue):
    # ScenarioChunk checks fits(dV, DV_BITS = 61): -2**60 <= dV < 2**60, and so does the
    # circuit (signed_bits at 61); scenario.requirements refuses dV <= -2**60 (BadOracle), so
    # the liquidation scan (and `rollup engine liquidations`) raises on a state the engine
    # itself produced
    seq = venue.clone()
    rows = list(seq.state.oracle[CALL].rows)
    rows[3] = -(1 << 60)
    _publish(seq, CALL, 5, rows)
    assert seq.state.oracle[CALL].rows[3] == -(1 << 60)  # accepted
    st = seq.state
    flagged = set(MarginMatrix(st).scan().tolist())  # no BadOracle, and the exact rule's answer
    assert flagged == {i for i, a in st.accounts.items() if is_liquidatable(st, a)}


def test_a_replayed_chunk_does_not_abort_the_update_in_progress(venue):
    # ScenarioChunk is a PUBLIC_TYPE and an oracle message has no nonce: any chunk 0 signed at
    # the state's current time can be resubmitted. Replayed between chunks of another asset's
    # update (same tick, same time), it would drop that update (its chunk 3 refused, stale rows
    # kept): the engine refuses a chunk already applied at the state's time (Replayed)
    seq = venue.clone()
    seq.submit(tn.oracle(OracleUpdate, PERP, 66_000, 20))  # +10%: every row changes
    ch = changed_rows(seq.state)
    perp = [c.signed(tn.ORACLE_KEY, DOMAIN) for c in scenario_chunks(PERP, 20, ch[PERP])]
    call = [c.signed(tn.ORACLE_KEY, DOMAIN) for c in scenario_chunks(CALL, 20, ch[CALL])]
    for c in perp + call[:3]:
        seq.submit(c)
    with pytest.raises(E.Replayed):
        seq.submit(perp[0])  # anyone's replay of the oracle's own message
    for c in call[3:]:
        seq.submit(c)  # the update in progress goes on
    assert seq.state.oracle[CALL].rows == tuple(ch[CALL])


def test_the_scan_flags_every_liquidatable_account_on_a_hedged_book(venue):
    # MarginMatrix computes the value in float64 and re-checks exactly only within 1e-9 of
    # |value| * 10**6 + risk. Under the linear rule risk >= notional x factor bounded the float
    # error; under the scenario rule a hedged book has R = 0 (here: a put whose published rows
    # are the perpetual's negated, long both), so the band shrinks to 1e-3 |value| while the
    # error grows with the notional: the band scales with the terms, so none is missed
    st = venue.clone().state
    st.begin()
    st.set_oracle(PUT, replace(st.oracle[PUT], rows=tuple(-x for x in st.oracle[PERP].rows)))
    st.commit()
    rng = random.Random(5)
    missed = []
    for _ in range(200):
        b = rng.randrange(1 << 40, 1 << 56)
        v = -rng.randrange(1, 5_000)
        st.begin()
        acc = working(st, 1)
        acc.positions = ([(PERP, b, st.oracle[PERP].funding_index), (PUT, b, 0)]
                         + [(0, 0, 0)] * 6)
        acc.collateral = v - b * (st.oracle[PERP].price + st.oracle[PUT].price)
        st.put_account(1, acc)
        st.commit()
        a = st.accounts[1]
        assert account_risk(st, a, True) == 0 and is_liquidatable(st, a)
        if 1 not in MarginMatrix(st).scan().tolist():
            missed.append((b, v))
    assert missed == []


def test_a_replayed_chunk_is_refused_after_a_snapshot_and_in_a_clone(venue):
    # the replay guard is engine memory: a snapshot (and a clone) carries the chunks applied at
    # the state's time, and forgets them once time moves on
    from tests.support.engine import through_snapshot

    seq = venue.clone()
    seq.submit(tn.oracle(OracleUpdate, PERP, 66_000, 20))
    ch = changed_rows(seq.state)
    perp = [c.signed(tn.ORACLE_KEY, DOMAIN) for c in scenario_chunks(PERP, 20, ch[PERP])]
    for c in perp:
        seq.submit(c)
    for other in (through_snapshot(seq), seq.clone()):
        root = other.state.root
        with pytest.raises(E.Replayed):
            other.submit(perp[0])
        assert other.state.root == root and other.state.stage == seq.state.stage
    seq.submit(tn.oracle(OracleUpdate, PERP, 66_000, 21))  # time moves on
    with pytest.raises(E.BadOracle, match="before state time"):
        seq.submit(perp[0])  # at time 20 < 21: refused as stale
