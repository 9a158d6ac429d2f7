"""Scenario updates (docs/state.md, "Scenario updates"): six signed chunks set an asset's rows;
the engine refuses a bad signature, a stale time, a chunk out of order or of another update,
rows outside the published range; the records rebuild the same root, the stage in progress
included; the journal replays them; state files of the linear rule are refused."""

from __future__ import annotations

import sqlite3

import pytest

from rollup import errors as E
from rollup.durability.journal import Journal
from rollup.engine import testnet as tn
from rollup.engine.restart import recover
from rollup.engine.testnet import CALL, DOMAIN, ORACLE_KEY, PERP
from rollup.margin.scenario import perp_row
from rollup.state import snapshot as state_snapshot
from rollup.state.rebuild import rebuild
from rollup.state.state import ZERO_ROWS
from rollup.transactions import (
    SCENARIO_UPDATE_CHUNKS,
    ScenarioChunk,
    decode_records,
    request_from_json,
    scenario_chunks,
)

PUBLISHED = tuple(perp_row(tn.PERP_PRICE))  # the venue's rows for the perpetual
ROWS = perp_row(61_000)  # the next update's


def chunks(asset=PERP, t=2, rows=ROWS, key=ORACLE_KEY):
    return [c.signed(key, DOMAIN) for c in scenario_chunks(asset, t, rows)]


@pytest.fixture(scope="module")
def base():
    return tn.venue(n_accounts=2)


def test_six_chunks_set_the_rows_and_the_records_rebuild_the_root(base):
    seq = base.clone()
    assert ZERO_ROWS != PUBLISHED != tuple(ROWS)
    n0 = len(seq.records)
    for k, c in enumerate(chunks()):
        assert seq.state.oracle[PERP].rows == PUBLISHED  # set by the last chunk only
        seq.submit(c)
        assert seq.state.stage.next == (k + 1) % SCENARIO_UPDATE_CHUNKS
    assert seq.state.oracle[PERP].rows == tuple(ROWS)
    assert seq.state.time == 2
    recs = decode_records(b"".join(seq.records[n0:]))
    assert [(t, f["chunk"]) for t, f in recs] == [(18, k) for k in range(6)]
    assert [f["dv0"] for _, f in recs] == ROWS[0::5]
    assert rebuild(b"".join(seq.records), 8).root == seq.state.root


def test_the_stage_in_progress_is_in_the_root_and_rebuilds(base):
    seq = base.clone()
    root0 = seq.state.root
    for c in chunks()[:3]:
        seq.submit(c)
    st = seq.state
    assert st.stage.next == 3 and st.stage.rows[:15] == tuple(ROWS[:15])
    assert st.oracle[PERP].rows == PUBLISHED and st.root != root0
    assert rebuild(b"".join(seq.records), 8).root == st.root


def test_chunk_zero_restarts_an_unfinished_update(base):
    seq = base.clone()
    first, second = chunks(t=2), chunks(t=3, rows=perp_row(62_000))
    for c in first[:2]:
        seq.submit(c)
    for c in second:
        seq.submit(c)
    assert seq.state.oracle[PERP].rows == tuple(perp_row(62_000))
    assert rebuild(b"".join(seq.records), 8).root == seq.state.root


@pytest.mark.adversarial
@pytest.mark.parametrize("case, error", [
    ("bad_signature", E.BadSignature),
    ("stale_time", E.BadOracle),
    ("out_of_order", E.BadOracle),
    ("other_asset", E.BadOracle),
    ("other_time", E.BadOracle),
    ("row_out_of_range", E.BadOracle),
    ("last_chunk_extra_row", E.BadOracle),
    ("unlisted", E.UnknownMarket),
])
def test_refused_chunks_change_nothing(base, case, error):
    seq = base.clone()
    good = chunks(t=5)
    seq.submit(good[0])
    root = seq.state.root
    bad = {
        "bad_signature": good[1].signed(tn.key(1), DOMAIN),
        "stale_time": ScenarioChunk(PERP, 0, 4, good[0].dv).signed(ORACLE_KEY, DOMAIN),
        "out_of_order": good[2],
        "other_asset": ScenarioChunk(CALL, 1, 5, good[1].dv).signed(ORACLE_KEY, DOMAIN),
        "other_time": ScenarioChunk(PERP, 1, 6, good[1].dv).signed(ORACLE_KEY, DOMAIN),
        "row_out_of_range": ScenarioChunk(PERP, 1, 5, (1 << 60, 0, 0, 0, 0)).signed(
            ORACLE_KEY, DOMAIN),
        "last_chunk_extra_row": ScenarioChunk(PERP, 5, 5, (1, 2, 0, 0, 0)).signed(
            ORACLE_KEY, DOMAIN),
        "unlisted": ScenarioChunk(9, 0, 5, good[0].dv).signed(ORACLE_KEY, DOMAIN),
    }[case]
    if case == "last_chunk_extra_row":
        for c in good[1:5]:
            seq.submit(c)
        root = seq.state.root
    with pytest.raises(error):
        seq.submit(bad)
    assert seq.state.root == root


def test_a_chunk_round_trips_through_json():
    c = chunks()[1]
    assert request_from_json(c.to_json()) == c


@pytest.mark.adversarial
def test_a_journal_of_the_linear_rule_is_refused(tmp_path):
    """The oracle leaves commit the scenario rows since the scenario rule: rows journaled
    under the linear rule (stamped so, or unstamped with rows) would replay into another
    root, so recovery and a sequencer given such a journal refuse it."""
    path = tmp_path / "j.db"
    seq = tn.venue(n_accounts=2, journal=Journal(path))
    for c in chunks():
        seq.submit(c)
    assert seq.journal._meta("margin") == "scenario"
    root = seq.state.root
    seq.journal.close()
    assert recover(path, DOMAIN, account_depth=8).state.root == root
    for stamp in ("linear", None):
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("DELETE FROM meta WHERE key = 'margin'")
        if stamp is not None:
            db.execute("INSERT INTO meta (key, value) VALUES ('margin', ?)", (stamp,))
        db.close()
        with pytest.raises(E.JournalError, match="margin = linear"):
            recover(path, DOMAIN, account_depth=8, use_snapshot=False)
        j = Journal(path)
        with pytest.raises(E.JournalError, match="margin = linear"):
            tn.venue(n_accounts=2, journal=j)
        j.close()


@pytest.mark.adversarial
def test_a_state_file_of_the_linear_rule_is_refused(base):
    meta, arrays = state_snapshot.state_tables(base.state)
    assert meta["margin"] == "scenario"
    assert state_snapshot.state_from_tables(meta, arrays).root == base.state.root
    for rule in ("linear", None):
        if rule is None:
            del meta["margin"]
        else:
            meta["margin"] = rule
        with pytest.raises(ValueError, match="linear margin rule"):
            state_snapshot.state_from_tables(meta, arrays)


@pytest.mark.adversarial
def test_a_state_file_of_the_old_positions_layout_is_refused(base):
    """A snapshot written before the positions root became H16 over packed words holds H8-over-H3
    leaves and positions roots: loading it would mix the two layouts in one tree."""
    meta, arrays = state_snapshot.state_tables(base.state)
    assert meta["positions"] == "h16"
    for layout in ("h3", None):
        if layout is None:
            del meta["positions"]
        else:
            meta["positions"] = layout
        with pytest.raises(ValueError, match="h3 positions roots"):
            state_snapshot.state_from_tables(meta, arrays)
